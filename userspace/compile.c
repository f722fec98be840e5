// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * compile.c - struct lb_policy -> the classifier's map contents (lb_fw.h).
 *
 * The datapath does five lookups and no scan, so all the work is here:
 *
 *  - Address classes, per direction: every distinct rule prefix, plus
 *    0.0.0.0/0 and ::/0, is a class.  A packet's class is its longest
 *    matching prefix, so a rule with prefix Q covers exactly the classes whose
 *    prefix lies inside Q.  Prefixes are sorted by (family, address, length);
 *    those inside Q then form one contiguous run starting at Q, found by a
 *    binary search, and class ids are positions in that order, so a rule's
 *    coverage is an id interval.
 *  - Protocol classes: one per protocol some rule names; the rest share one.
 *  - Port classes (dport, sport): two ports share a class when exactly the
 *    same rule ranges contain them.  Each port gets a 128-bit signature, the
 *    sum of a hash of every range containing it (a difference array makes
 *    that one pass over the port space), and equal signatures mean one class.
 *    Merging gaps and repeated intervals keeps the cross products small.
 *  - Entries: rules in precedence order; each adds {class combination} ->
 *    {rule, action} for every combination it covers that no better rule took.
 *
 * Memory is proportional to the output: the entries, the prefixes, two port
 * tables, and per distinct port range the list of classes it covers.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "compile.h"

#define ENTRIES_MAX (LB_MAX_RULE_ENTRIES / 2)	/* per copy */
#define PREFIXES_MAX (LB_MAX_PREFIXES / 2)	/* per LPM map, per copy */
#define ENTRIES_COUNTED ((size_t)4 * ENTRIES_MAX)	/* counted exactly up to here */
#define WORK_MAX (1ULL << 27)			/* class combinations visited, at most */

struct span {
	uint32_t lo, hi;	/* class ids [lo, hi) */
};

struct addr_tab {
	const struct lb_prefix_cls *v;
	size_t n, n4;		/* v[0..n4) are IPv4, v[n4..n) IPv6 */
};

struct range_slot {
	uint32_t key;		/* lo << 16 | hi */
	uint32_t used;
	uint32_t off, n;	/* the range's class list in pool */
};

struct port_tab {
	uint32_t *cls;		/* port -> class; ends up in struct lb_compiled */
	uint32_t n_cls;
	uint32_t *runs;		/* first port of each run of equal class */
	uint32_t n_runs;
	uint16_t *pool;		/* class lists of the ranges met so far */
	size_t pool_n, pool_cap;
	struct range_slot *cache;
	size_t cache_mask;
	uint32_t *stamp;	/* per class: the list that took it last */
	uint32_t gen;
};

struct entry_set {
	struct lb_rule_entry *v;
	size_t n, cap;
	uint32_t *slots;	/* entry index + 1; 0 = empty */
	size_t mask;
};

struct cstate {
	const struct lb_policy *p;
	struct lb_compiled *c;
	struct lb_err *err;
	struct addr_tab src, dst;
	struct port_tab dport, sport;
	struct entry_set es;
	uint64_t work;
};

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static size_t pow2_at_least(size_t n)
{
	size_t v = 16;

	while (v < n)
		v <<= 1;
	return v;
}

static int enomem(struct cstate *st)
{
	return lb_errf(st->err, ENOMEM, "compiling the policy: out of memory");
}

/* ---- address classes ---- */

static int pfx_cmp(const void *pa, const void *pb)
{
	const struct lb_cidr *a = &((const struct lb_prefix_cls *)pa)->cidr;
	const struct lb_cidr *b = &((const struct lb_prefix_cls *)pb)->cidr;
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r;
	return (int)a->plen - (int)b->plen;
}

/* Distinct prefixes of one direction plus both /0, sorted; class = position. */
static int build_addr(struct cstate *st, bool src, struct lb_prefix_cls **out, size_t *n_out)
{
	const struct lb_policy *p = st->p;
	struct lb_prefix_cls *v = calloc(p->n_rules + 2, sizeof(*v));
	size_t i, k = 2, n = 0;

	if (!v)
		return enomem(st);
	v[0].cidr.family = 4;
	v[1].cidr.family = 6;
	for (i = 0; i < p->n_rules; i++) {
		const struct lb_cidr *c = src ? &p->rules[i].src : &p->rules[i].dst;

		if (c->family)
			v[k++].cidr = *c;
	}
	qsort(v, k, sizeof(*v), pfx_cmp);
	for (i = 0; i < k; i++) {
		if (n && !pfx_cmp(&v[n - 1], &v[i]))
			continue;
		v[n] = v[i];
		v[n].cls = (uint32_t)n;
		n++;
	}
	*out = v;
	*n_out = n;
	return 0;
}

static void addr_tab_init(struct addr_tab *t, const struct lb_prefix_cls *v, size_t n)
{
	t->v = v;
	t->n = n;
	for (t->n4 = 0; t->n4 < n && v[t->n4].cidr.family == 4; t->n4++)
		;
}

static int fam_addr_cmp(const struct lb_cidr *a, unsigned int family, const uint8_t *addr)
{
	if (a->family != family)
		return a->family < family ? -1 : 1;
	return memcmp(a->addr, addr, sizeof(a->addr));
}

/* First position whose (family, address) is above (family, addr). */
static size_t upper_bound(const struct addr_tab *t, unsigned int family, const uint8_t *addr)
{
	size_t lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (fam_addr_cmp(&t->v[mid].cidr, family, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Position of exactly c, which the table holds; or n. */
static size_t find_prefix(const struct lb_prefix_cls *v, size_t n, const struct lb_cidr *c)
{
	struct lb_prefix_cls key = { .cidr = *c };
	const struct lb_prefix_cls *hit = bsearch(&key, v, n, sizeof(*v), pfx_cmp);

	return hit ? (size_t)(hit - v) : n;
}

/*
 * Classes covered by one side of a rule, for packets of one family: all of
 * that family's for "any"; for a prefix, the run of prefixes inside it.
 */
static struct span addr_span(const struct addr_tab *t, const struct lb_cidr *c,
			     unsigned int family)
{
	uint8_t last[16];
	unsigned int i;
	size_t lo;

	if (!c->family && family == 4)
		return (struct span){ 0, (uint32_t)t->n4 };
	if (!c->family)
		return (struct span){ (uint32_t)t->n4, (uint32_t)t->n };
	lo = find_prefix(t->v, t->n, c);
	memcpy(last, c->addr, sizeof(last));
	for (i = c->plen; i < cidr_max_plen(c->family); i++)
		last[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return (struct span){ (uint32_t)lo, (uint32_t)upper_bound(t, c->family, last) };
}

static int check_prefix_counts(struct cstate *st)
{
	static const char *const what[] = { "IPv4 source", "IPv6 source", "IPv4 destination",
					     "IPv6 destination" };
	size_t n[] = { st->src.n4, st->src.n - st->src.n4, st->dst.n4, st->dst.n - st->dst.n4 };
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (n[i] > PREFIXES_MAX)
			return lb_errf(st->err, E2BIG,
				       "policy has %zu distinct %s prefixes, the datapath holds %u",
				       n[i], what[i], PREFIXES_MAX);
	return 0;
}

/* ---- protocol classes ---- */

static void build_proto(const struct lb_policy *p, struct lb_compiled *c)
{
	bool named[LB_PROTO_SPACE] = { false };
	unsigned int i, n_named = 0, next;

	for (i = 0; i < p->n_rules; i++) {
		if (p->rules[i].proto == LB_PROTO_ANY || named[p->rules[i].proto])
			continue;
		named[p->rules[i].proto] = true;
		n_named++;
	}
	/* Class 0 is "every protocol no rule names", unless there is none. */
	next = n_named == LB_PROTO_SPACE ? 0 : 1;
	for (i = 0; i < LB_PROTO_SPACE; i++)
		c->proto_cls[i] = named[i] ? next++ : 0;
	c->n_proto_cls = next;
}

static struct span proto_span(const struct lb_compiled *c, int proto)
{
	if (proto == LB_PROTO_ANY)
		return (struct span){ 0, c->n_proto_cls };
	return (struct span){ c->proto_cls[proto], c->proto_cls[proto] + 1 };
}

/* ---- port classes ---- */

static const struct lb_range *rule_range(const struct lb_rule *r, bool dport)
{
	return dport ? &r->dport : &r->sport;
}

/* sig[port] = sum of both hashes of every range containing port (full ranges aside). */
static void port_signatures(const struct lb_policy *p, bool dport, uint64_t *sa, uint64_t *sb)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++) {
		const struct lb_range *r = rule_range(&p->rules[i], dport);
		uint64_t code = (uint64_t)r->lo << 16 | r->hi;
		uint64_t ha = mix64(code), hb = mix64(code | 1ULL << 40);

		if (r->lo == 0 && r->hi == LB_PORT_SPACE - 1)
			continue;
		sa[r->lo] += ha;
		sb[r->lo] += hb;
		sa[r->hi + 1] -= ha;
		sb[r->hi + 1] -= hb;
	}
	for (i = 1; i < LB_PORT_SPACE; i++) {
		sa[i] += sa[i - 1];
		sb[i] += sb[i - 1];
	}
}

struct sig_slot {
	uint64_t a, b;
	uint32_t cls_plus1;
};

/* Equal signatures, equal class; ids in order of first appearance. */
static int assign_port_classes(struct port_tab *pt, const uint64_t *sa, const uint64_t *sb)
{
	const size_t mask = 2 * LB_PORT_SPACE - 1;
	struct sig_slot *tab = calloc(mask + 1, sizeof(*tab));
	uint32_t port;
	size_t h;

	if (!tab)
		return -ENOMEM;
	for (port = 0; port < LB_PORT_SPACE; port++) {
		if (port && sa[port] == sa[port - 1] && sb[port] == sb[port - 1]) {
			pt->cls[port] = pt->cls[port - 1];
			continue;
		}
		h = (size_t)(sa[port] ^ mix64(sb[port])) & mask;
		while (tab[h].cls_plus1 && (tab[h].a != sa[port] || tab[h].b != sb[port]))
			h = (h + 1) & mask;
		if (!tab[h].cls_plus1)
			tab[h] = (struct sig_slot){ sa[port], sb[port], ++pt->n_cls };
		pt->cls[port] = tab[h].cls_plus1 - 1;
		if (!port || pt->cls[port] != pt->cls[port - 1])
			pt->runs[pt->n_runs++] = port;
	}
	free(tab);
	return 0;
}

static int build_ports(struct cstate *st, struct port_tab *pt, bool dport)
{
	uint64_t *sa = calloc(LB_PORT_SPACE + 1, sizeof(*sa));
	uint64_t *sb = calloc(LB_PORT_SPACE + 1, sizeof(*sb));
	size_t slots = pow2_at_least(2 * (st->p->n_rules + 1));
	int ret = -ENOMEM;

	pt->cls = calloc(LB_PORT_SPACE, sizeof(*pt->cls));
	pt->runs = calloc(LB_PORT_SPACE, sizeof(*pt->runs));
	pt->stamp = calloc(LB_PORT_SPACE, sizeof(*pt->stamp));
	pt->cache = calloc(slots, sizeof(*pt->cache));
	pt->cache_mask = slots - 1;
	if (sa && sb && pt->cls && pt->runs && pt->stamp && pt->cache) {
		port_signatures(st->p, dport, sa, sb);
		ret = assign_port_classes(pt, sa, sb);
	}
	free(sa);
	free(sb);
	return ret ? enomem(st) : 0;
}

static void port_tab_free(struct port_tab *pt)
{
	free(pt->cls);
	free(pt->runs);
	free(pt->pool);
	free(pt->cache);
	free(pt->stamp);
}

static int pool_push(struct port_tab *pt, uint16_t cls)
{
	uint16_t *np;

	if (pt->pool_n == pt->pool_cap) {
		pt->pool_cap = pt->pool_cap ? 2 * pt->pool_cap : 4096;
		np = realloc(pt->pool, pt->pool_cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		pt->pool = np;
	}
	pt->pool[pt->pool_n++] = cls;
	return 0;
}

/* Index of the run holding port. */
static uint32_t run_of(const struct port_tab *pt, uint32_t port)
{
	uint32_t lo = 0, hi = pt->n_runs, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (pt->runs[mid] <= port)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The classes a port range covers, each once; computed once per distinct range. */
static int range_classes(struct port_tab *pt, const struct lb_range *r, struct range_slot **out)
{
	uint32_t key = (uint32_t)r->lo << 16 | r->hi, i, c;
	size_t h = (size_t)mix64(key) & pt->cache_mask;
	struct range_slot *s;

	while (pt->cache[h].used && pt->cache[h].key != key)
		h = (h + 1) & pt->cache_mask;
	s = &pt->cache[h];
	if (!s->used) {
		*s = (struct range_slot){ .key = key, .used = 1, .off = (uint32_t)pt->pool_n };
		pt->gen++;
		for (i = run_of(pt, r->lo); i < pt->n_runs && pt->runs[i] <= r->hi; i++) {
			c = pt->cls[pt->runs[i]];
			if (pt->stamp[c] == pt->gen)
				continue;
			pt->stamp[c] = pt->gen;
			if (pool_push(pt, (uint16_t)c))
				return -ENOMEM;
		}
		s->n = (uint32_t)(pt->pool_n - s->off);
	}
	*out = s;
	return 0;
}

/* ---- entries ---- */

static uint64_t key_hash(const struct lb_rule_key *k)
{
	uint64_t a, b;

	memcpy(&a, k, sizeof(a));
	memcpy(&b, (const char *)k + sizeof(a), sizeof(b));
	return mix64(a ^ mix64(b));
}

static int es_grow(struct entry_set *es)
{
	size_t i, h, n_slots = es->mask ? 2 * (es->mask + 1) : 1024;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));
	struct lb_rule_entry *v;

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < es->n; i++) {
		h = (size_t)key_hash(&es->v[i].key) & (n_slots - 1);
		while (slots[h])
			h = (h + 1) & (n_slots - 1);
		slots[h] = (uint32_t)i + 1;
	}
	free(es->slots);
	es->slots = slots;
	es->mask = n_slots - 1;
	v = realloc(es->v, n_slots / 2 * sizeof(*v));
	if (!v)
		return -ENOMEM;
	es->v = v;
	es->cap = n_slots / 2;
	return 0;
}

/* Adds key -> val unless a better rule holds key already.  -E2BIG past counting. */
static int es_add(struct entry_set *es, const struct lb_rule_key *key,
		  const struct lb_rule_val *val)
{
	size_t h;

	if (es->n == es->cap) {
		if (es->n >= ENTRIES_COUNTED)
			return -E2BIG;
		if (es_grow(es))
			return -ENOMEM;
	}
	h = (size_t)key_hash(key) & es->mask;
	while (es->slots[h]) {
		if (!memcmp(&es->v[es->slots[h] - 1].key, key, sizeof(*key)))
			return 0;
		h = (h + 1) & es->mask;
	}
	es->v[es->n] = (struct lb_rule_entry){ .key = *key, .val = *val };
	es->slots[h] = (uint32_t)++es->n;
	return 0;
}

struct cover {
	struct span src, dst, proto;
	const uint16_t *dport, *sport;
	uint32_t n_dport, n_sport;
};

/* The port class pairs of one (src, dst, proto) class triple. */
static int emit_ports(struct entry_set *es, const struct cover *cv, struct lb_rule_key *k,
		      const struct lb_rule_val *val)
{
	uint32_t i, j;
	int ret;

	for (i = 0; i < cv->n_dport; i++) {
		for (j = 0; j < cv->n_sport; j++) {
			k->dport_cls = cv->dport[i];
			k->sport_cls = cv->sport[j];
			ret = es_add(es, k, val);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int emit_cover(struct entry_set *es, const struct cover *cv, const struct lb_rule_val *val)
{
	struct lb_rule_key k = { 0 };
	uint32_t s, d, p;
	int ret;

	for (s = cv->src.lo; s < cv->src.hi; s++) {
		for (d = cv->dst.lo; d < cv->dst.hi; d++) {
			for (p = cv->proto.lo; p < cv->proto.hi; p++) {
				k.src_cls = s;
				k.dst_cls = d;
				k.proto_cls = (uint8_t)p;
				ret = emit_ports(es, cv, &k, val);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

static int too_big(struct cstate *st, int ret, const struct lb_rule *r)
{
	if (ret == -ENOMEM)
		return enomem(st);
	if (st->work > WORK_MAX)
		return lb_errf(st->err, E2BIG,
			       "policy compiles to more than %llu class combinations (at rule "
			       "\"%s\"), the datapath holds %u entries; use fewer distinct "
			       "prefixes and port ranges", WORK_MAX, r->id, ENTRIES_MAX);
	return lb_errf(st->err, E2BIG,
		       "policy compiles to more than %zu entries (at rule \"%s\"), the datapath "
		       "holds %u; use fewer distinct prefixes and port ranges", ENTRIES_COUNTED,
		       r->id, ENTRIES_MAX);
}

static uint64_t span_len(struct span s)
{
	return s.hi - s.lo;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The classes a rule covers for packets of one family. */
static int emit_family(struct cstate *st, const struct lb_rule *r, unsigned int family)
{
	struct lb_rule_val val = { .rule_idx = r->idx, .action = (uint8_t)r->action };
	struct range_slot *dp, *sp;
	struct cover cv;
	uint64_t w;
	int ret;

	cv.src = addr_span(&st->src, &r->src, family);
	cv.dst = addr_span(&st->dst, &r->dst, family);
	cv.proto = proto_span(st->c, r->proto);
	ret = range_classes(&st->dport, &r->dport, &dp);
	if (!ret)
		ret = range_classes(&st->sport, &r->sport, &sp);
	if (ret)
		return too_big(st, ret, r);
	cv.dport = st->dport.pool + dp->off;
	cv.n_dport = dp->n;
	cv.sport = st->sport.pool + sp->off;
	cv.n_sport = sp->n;
	/* Refuse before the loops: their cost is this product. */
	w = mul_sat(mul_sat(span_len(cv.src) * span_len(cv.dst), span_len(cv.proto)),
		    (uint64_t)dp->n * sp->n);
	if (w > WORK_MAX - st->work) {
		st->work = WORK_MAX + 1;
		return too_big(st, -E2BIG, r);
	}
	st->work += w;
	ret = emit_cover(&st->es, &cv, &val);
	return ret ? too_big(st, ret, r) : 0;
}

/*
 * A packet's source and destination are of one family, so a rule with both
 * sides "any" covers v4 x v4 and v6 x v6 class pairs, never a mix.
 */
static int emit_rule(struct cstate *st, const struct lb_rule *r)
{
	unsigned int family = r->src.family ? r->src.family : r->dst.family;
	int ret;

	if (family)
		return emit_family(st, r, family);
	ret = emit_family(st, r, 4);
	return ret ? ret : emit_family(st, r, 6);
}

/* ---- precedence ---- */

static int plen_rank(const struct lb_cidr *c)
{
	return c->family ? c->plen : -1;	/* "any" is broader than /0 */
}

static int range_width(const struct lb_range *r)
{
	return r->hi - r->lo;
}

struct ranked {
	const struct lb_rule *r;
	size_t pos;		/* in precedence order */
};

static int prec_cmp(const void *pa, const void *pb)
{
	const struct lb_rule *a = ((const struct ranked *)pa)->r;
	const struct lb_rule *b = ((const struct ranked *)pb)->r;
	int d;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	d = plen_rank(&b->src) - plen_rank(&a->src);
	if (!d)
		d = plen_rank(&b->dst) - plen_rank(&a->dst);
	if (!d)
		d = (a->proto == LB_PROTO_ANY) - (b->proto == LB_PROTO_ANY);
	if (!d)
		d = range_width(&a->dport) - range_width(&b->dport);
	if (!d)
		d = range_width(&a->sport) - range_width(&b->sport);
	if (!d)
		d = a->idx < b->idx ? -1 : a->idx > b->idx;
	return d;
}

static int match_cmp(const struct lb_rule *a, const struct lb_rule *b)
{
	int d = memcmp(&a->src, &b->src, sizeof(a->src));

	if (!d)
		d = memcmp(&a->dst, &b->dst, sizeof(a->dst));
	if (!d)
		d = a->proto - b->proto;
	if (!d)
		d = a->dport.lo != b->dport.lo ? a->dport.lo - b->dport.lo
					       : a->dport.hi - b->dport.hi;
	if (!d)
		d = a->sport.lo != b->sport.lo ? a->sport.lo - b->sport.lo
					       : a->sport.hi - b->sport.hi;
	return d;
}

/* Equal match fields together, the best (first in precedence) first. */
static int ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	int d = match_cmp(a->r, b->r);

	return d ? d : a->pos < b->pos ? -1 : 1;
}

/*
 * Rules in precedence order, less those whose match fields repeat a better
 * rule's: they can never win, and skipping them bounds the work.
 */
static struct ranked *rules_in_order(const struct lb_policy *p, size_t *n_out)
{
	struct ranked *v = calloc(p->n_rules + 1, sizeof(*v));
	struct ranked *m = calloc(p->n_rules + 1, sizeof(*m));
	bool *skip = calloc(p->n_rules + 1, sizeof(*skip));
	size_t i, k = 0;

	if (!v || !m || !skip) {
		free(v);
		v = NULL;
		goto out;
	}
	for (i = 0; i < p->n_rules; i++)
		v[i].r = &p->rules[i];
	qsort(v, p->n_rules, sizeof(*v), prec_cmp);
	for (i = 0; i < p->n_rules; i++) {
		v[i].pos = i;
		m[i] = v[i];
	}
	qsort(m, p->n_rules, sizeof(*m), ranked_cmp);
	for (i = 1; i < p->n_rules; i++)
		if (!match_cmp(m[i - 1].r, m[i].r))
			skip[m[i].pos] = true;
	for (i = 0; i < p->n_rules; i++)
		if (!skip[i])
			v[k++] = v[i];
	*n_out = k;
out:
	free(m);
	free(skip);
	return v;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct lb_rule_key *a = &((const struct lb_rule_entry *)pa)->key;
	const struct lb_rule_key *b = &((const struct lb_rule_entry *)pb)->key;

	if (a->src_cls != b->src_cls)
		return a->src_cls < b->src_cls ? -1 : 1;
	if (a->dst_cls != b->dst_cls)
		return a->dst_cls < b->dst_cls ? -1 : 1;
	if (a->proto_cls != b->proto_cls)
		return a->proto_cls < b->proto_cls ? -1 : 1;
	if (a->dport_cls != b->dport_cls)
		return a->dport_cls < b->dport_cls ? -1 : 1;
	return (int)a->sport_cls - (int)b->sport_cls;
}

static int emit_all(struct cstate *st)
{
	struct ranked *order;
	size_t i, n;
	int ret = 0;

	order = rules_in_order(st->p, &n);
	if (!order)
		return enomem(st);
	for (i = 0; i < n && !ret; i++)
		ret = emit_rule(st, order[i].r);
	free(order);
	if (ret)
		return ret;
	if (st->es.n > ENTRIES_MAX)
		return lb_errf(st->err, E2BIG,
			       "policy compiles to %zu entries, the datapath holds %u; use fewer "
			       "distinct prefixes and port ranges", st->es.n, ENTRIES_MAX);
	/* Sorted, so compiled_classify() can binary-search them. */
	if (st->es.n)
		qsort(st->es.v, st->es.n, sizeof(*st->es.v), entry_cmp);
	st->c->entries = st->es.v;
	st->c->n_entries = st->es.n;
	st->es.v = NULL;
	return 0;
}

/* ---- failsafe ---- */

static bool fs_has(const struct lb_compiled *c, const struct lb_cidr *pfx)
{
	size_t i;

	for (i = 0; i < c->n_fs; i++)
		if (!memcmp(&c->fs[i].cidr, pfx, sizeof(*pfx)))
			return true;
	return false;
}

static void fs_add_prefix(struct lb_compiled *c, const struct lb_cidr *pfx)
{
	if (!fs_has(c, pfx))
		c->fs[c->n_fs++].cidr = *pfx;
}

/* Every entry whose source contains the prefix: the datapath sees one match. */
static int fs_fill(struct cstate *st, struct lb_fs_prefix *fp)
{
	const struct lb_policy *p = st->p;
	struct lb_failsafe_val *v = &fp->val;
	struct lb_failsafe_port port;
	size_t i, j;
	char net[64];

	for (i = 0; i < p->n_failsafe; i++) {
		if (!cidr_contains(&p->failsafe[i].src, &fp->cidr))
			continue;
		port = (struct lb_failsafe_port){ .proto = p->failsafe[i].proto,
						  .dport = p->failsafe[i].dport };
		for (j = 0; j < v->count && memcmp(&v->ports[j], &port, sizeof(port)) != 0; j++)
			;
		if (j < v->count)
			continue;
		if (v->count == LB_FAILSAFE_PER_PREFIX) {
			cidr_format(&fp->cidr, net, sizeof(net));
			return lb_errf(st->err, E2BIG,
				       "failsafe: %s is covered by more than %d (proto, port) "
				       "pairs, its own and its enclosing prefixes'", net,
				       LB_FAILSAFE_PER_PREFIX);
		}
		v->ports[v->count++] = port;
	}
	return 0;
}

static int build_failsafe(struct cstate *st)
{
	static const struct lb_cidr any4 = { .family = 4 }, any6 = { .family = 6 };
	const struct lb_policy *p = st->p;
	struct lb_compiled *c = st->c;
	size_t i;
	int ret;

	c->fs = calloc(p->n_failsafe + 2, sizeof(*c->fs));
	if (!c->fs)
		return enomem(st);
	for (i = 0; i < p->n_failsafe; i++) {
		if (p->failsafe[i].src.family) {
			fs_add_prefix(c, &p->failsafe[i].src);
			continue;
		}
		fs_add_prefix(c, &any4);
		fs_add_prefix(c, &any6);
	}
	for (i = 0; i < c->n_fs; i++) {
		ret = fs_fill(st, &c->fs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the compiler ---- */

/* Hit counters are indexed by rule_idx within a copy's LB_MAX_RULES slots. */
static int check_rule_count(struct cstate *st)
{
	size_t i;

	if (st->p->n_rules > LB_MAX_RULES)
		return lb_errf(st->err, E2BIG, "policy has %zu rules, the datapath counts %u",
			       st->p->n_rules, LB_MAX_RULES);
	for (i = 0; i < st->p->n_rules; i++)
		if (st->p->rules[i].idx >= LB_MAX_RULES)
			return lb_errf(st->err, E2BIG, "rule \"%s\" has index %u, at most %u",
				       st->p->rules[i].id, st->p->rules[i].idx, LB_MAX_RULES - 1);
	return 0;
}

static int compile_classes(struct cstate *st)
{
	struct lb_compiled *c = st->c;
	int ret;

	ret = check_rule_count(st);
	if (!ret)
		ret = build_addr(st, true, &c->src, &c->n_src);
	if (!ret)
		ret = build_addr(st, false, &c->dst, &c->n_dst);
	if (ret)
		return ret;
	addr_tab_init(&st->src, c->src, c->n_src);
	addr_tab_init(&st->dst, c->dst, c->n_dst);
	ret = check_prefix_counts(st);
	if (ret)
		return ret;
	build_proto(st->p, c);
	ret = build_ports(st, &st->dport, true);
	if (!ret)
		ret = build_ports(st, &st->sport, false);
	if (ret)
		return ret;
	c->n_src_cls = (uint32_t)c->n_src;
	c->n_dst_cls = (uint32_t)c->n_dst;
	c->n_dport_cls = st->dport.n_cls;
	c->n_sport_cls = st->sport.n_cls;
	return 0;
}

int policy_compile(const struct lb_policy *p, struct lb_compiled **out, struct lb_err *err)
{
	struct cstate st = { .p = p, .err = err };
	int ret;

	st.c = calloc(1, sizeof(*st.c));
	if (!st.c)
		return enomem(&st);
	st.c->n_rules = (uint32_t)p->n_rules;
	ret = compile_classes(&st);
	if (!ret)
		ret = emit_all(&st);
	if (!ret)
		ret = build_failsafe(&st);
	/* The port tables move into the result; the caches die here. */
	st.c->dport_cls = st.dport.cls;
	st.c->sport_cls = st.sport.cls;
	st.dport.cls = st.sport.cls = NULL;
	port_tab_free(&st.dport);
	port_tab_free(&st.sport);
	free(st.es.v);
	free(st.es.slots);
	if (ret) {
		compiled_free(st.c);
		return ret;
	}
	*out = st.c;
	return 0;
}

void compiled_free(struct lb_compiled *c)
{
	if (!c)
		return;
	free(c->src);
	free(c->dst);
	free(c->dport_cls);
	free(c->sport_cls);
	free(c->entries);
	free(c->fs);
	free(c);
}

/* ---- evaluation, as the datapath does it ---- */

/* Longest prefix of (family, addr) in a sorted class table, like an LPM trie. */
static bool lpm_lookup(const struct lb_prefix_cls *v, size_t n, unsigned int family,
		       const uint8_t *addr, uint32_t *cls)
{
	struct lb_cidr key = { .family = (uint8_t)family };
	int plen;
	size_t i;

	for (plen = (int)cidr_max_plen(family); plen >= 0 && family; plen--) {
		memset(key.addr, 0, sizeof(key.addr));
		memcpy(key.addr, addr, (size_t)(plen + 7) / 8);
		if (plen % 8)
			key.addr[plen / 8] &= (uint8_t)(0xff << (8 - plen % 8));
		key.plen = (uint8_t)plen;
		i = find_prefix(v, n, &key);
		if (i < n) {
			*cls = v[i].cls;
			return true;
		}
	}
	return false;
}

bool compiled_classify(const struct lb_compiled *c, const struct lb_tuple *t,
		       struct lb_rule_val *val)
{
	struct lb_rule_entry key = { 0 }, *hit;

	if (!c->n_entries)
		return false;
	if (!lpm_lookup(c->src, c->n_src, t->family, t->saddr, &key.key.src_cls) ||
	    !lpm_lookup(c->dst, c->n_dst, t->family, t->daddr, &key.key.dst_cls))
		return false;
	key.key.proto_cls = (uint8_t)c->proto_cls[t->proto];
	key.key.dport_cls = (uint16_t)c->dport_cls[t->dport];
	key.key.sport_cls = (uint16_t)c->sport_cls[t->sport];
	hit = bsearch(&key, c->entries, c->n_entries, sizeof(key), entry_cmp);
	if (!hit)
		return false;
	*val = hit->val;
	return true;
}

bool compiled_failsafe(const struct lb_compiled *c, const struct lb_tuple *t)
{
	bool has_ports = t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP;
	const struct lb_fs_prefix *best = NULL;
	const struct lb_failsafe_port *fp;
	size_t i;

	for (i = 0; i < c->n_fs; i++) {
		if (!cidr_match(&c->fs[i].cidr, t->family, t->saddr))
			continue;
		if (!best || c->fs[i].cidr.plen > best->cidr.plen)
			best = &c->fs[i];
	}
	for (i = 0; best && i < best->val.count; i++) {
		fp = &best->val.ports[i];
		if ((!fp->proto || fp->proto == t->proto) &&
		    (!fp->dport || (has_ports && fp->dport == t->dport)))
			return true;
	}
	return false;
}
