// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_apply.c - write a compiled policy into one copy of the maps, then flip.
 *
 * Order matters: the inactive copy is emptied and written whole (classes,
 * entries, failsafe, hit counters, interface defaults) before the one u32 in
 * lb_active names it, so no packet sees half a policy.  The copy that was
 * active stays intact: packets that read lb_active just before the flip still
 * use it, and it is emptied at the start of the write after next (or by the
 * caller once it has waited them out).
 *
 * Bulk writes use the batch syscalls in chunks, falling back to one element at
 * a time on kernels or map types without them.  The host tables and the dense
 * rule table are arrays the datapath reads in place of hash lookups (lb_fw.h);
 * they are written through mmap, the copy's part at a time, then fenced
 * before the flip.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fwmaps.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, yet what a map without batch ops returns */
#endif

#define CHUNK 8192	/* elements per batch call: bounded buffers, few syscalls */

static bool batch_unsupported(int r)
{
	return r == -EINVAL || r == -ENOTSUPP || r == -EOPNOTSUPP;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int map_err(struct lb_err *err, int r, const char *op, const char *name)
{
	return lb_errf(err, r, "%s %s: %s", op, name, strerror(-r));
}

/* ---- bulk updates and deletes ---- */

static int update_each(int fd, const char *name, const char *keys, size_t ksz, const char *vals,
		       size_t vsz, size_t n, struct lb_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = bpf_map_update_elem(fd, keys + i * ksz, vals + i * vsz, BPF_ANY);
		if (r)
			return map_err(err, r, "updating", name);
	}
	return 0;
}

static int update_many(int fd, const char *name, const void *keys, size_t ksz, const void *vals,
		       size_t vsz, size_t n, struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const char *k = keys, *v = vals;
	size_t done = 0;
	__u32 cnt;
	int r;

	while (done < n) {
		cnt = (__u32)min_sz(n - done, CHUNK);
		r = bpf_map_update_batch(fd, k + done * ksz, v + done * vsz, &cnt, &opts);
		/* Unsupported: cnt may still hold the request; redo this chunk on. */
		if (r && batch_unsupported(r))
			return update_each(fd, name, k + done * ksz, ksz, v + done * vsz, vsz,
					   n - done, err);
		if (r)
			return map_err(err, r, "updating", name);
		done += cnt;
	}
	return 0;
}

/* Keys may already be gone (a concurrent clear): that is success. */
static int delete_each(int fd, const char *name, const char *keys, size_t ksz, size_t n,
		       struct lb_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = bpf_map_delete_elem(fd, keys + i * ksz);
		if (r && r != -ENOENT)
			return map_err(err, r, "deleting from", name);
	}
	return 0;
}

static int delete_many(int fd, const char *name, const void *keys, size_t ksz, size_t n,
		       struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const char *k = keys;
	size_t done = 0;
	__u32 cnt;
	int r;

	while (done < n) {
		cnt = (__u32)min_sz(n - done, CHUNK);
		r = bpf_map_delete_batch(fd, k + done * ksz, &cnt, &opts);
		/* Unsupported: cnt may still hold the request; nothing was done. */
		if (r && batch_unsupported(r))
			return delete_each(fd, name, k + done * ksz, ksz, n - done, err);
		done += cnt;
		/* A missing key stopped the batch after cnt deletions: finish one by one. */
		if (r == -ENOENT)
			return delete_each(fd, name, k + done * ksz, ksz, n - done, err);
		if (r)
			return map_err(err, r, "deleting from", name);
	}
	return 0;
}

/* ---- the dense rule table (lb_fw.h, lb_rules_dense) ---- */

/* One past the largest class in a class array. */
static uint32_t class_count(const uint32_t *cls, size_t n)
{
	uint32_t max = 0;
	size_t i;

	for (i = 0; i < n; i++)
		max = cls[i] > max ? cls[i] : max;
	return n ? max + 1 : 0;
}

/* The classes of one family's prefixes: [*lo, *lo + *n). */
static void family_range(const struct lb_prefix_cls *v, size_t n, unsigned int family,
			 uint32_t *lo, uint32_t *cnt)
{
	uint32_t min = UINT32_MAX, max = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].cidr.family != family)
			continue;
		min = v[i].cls < min ? v[i].cls : min;
		max = v[i].cls > max ? v[i].cls : max;
	}
	*lo = min == UINT32_MAX ? 0 : min;
	*cnt = min == UINT32_MAX ? 0 : max - min + 1;
}

/* A slot holds rule indexes below 2^24 - 1 (LB_DENSE_RULE). */
static bool dense_fits_rules(const struct lb_compiled *c)
{
	size_t i;

	for (i = 0; i < c->n_entries; i++)
		if (c->entries[i].val.rule_idx >= 0xfffffeU)
			return false;
	return true;
}

/*
 * Lay the families' blocks out one after the other; LB_CI_DENSE when all of
 * them fit in a copy's LB_DENSE_MAX slots.  A packet's classes come from its
 * own family's prefixes, so its block covers every combination it can have.
 */
static void dense_plan(const struct lb_compiled *c, struct lb_copy_info *ci)
{
	uint64_t per, base = 0;
	unsigned int f;

	ci->n_proto = class_count(c->proto_cls, LB_PROTO_SPACE);
	ci->n_dport = class_count(c->dport_cls, c->dport_cls ? LB_PORT_SPACE : 0);
	ci->n_sport = class_count(c->sport_cls, c->sport_cls ? LB_PORT_SPACE : 0);
	per = (uint64_t)ci->n_proto * ci->n_dport * ci->n_sport;
	for (f = 0; f < 2; f++) {
		struct lb_dense_dims *d = &ci->dense[f];

		family_range(c->src, c->n_src, f ? 6 : 4, &d->src_lo, &d->src_n);
		family_range(c->dst, c->n_dst, f ? 6 : 4, &d->dst_lo, &d->dst_n);
		d->base = (uint32_t)min_sz(base, LB_DENSE_MAX);
		base += (uint64_t)d->src_n * d->dst_n * per;
	}
	if (per && base <= LB_DENSE_MAX && dense_fits_rules(c))
		ci->flags |= LB_CI_DENSE;
}

/*
 * The slot of an entry's combination in family f's block (0: IPv4), or -1
 * when no packet of that family can have it.
 */
static int64_t dense_slot(const struct lb_copy_info *ci, const struct lb_rule_key *k,
			  unsigned int f)
{
	const struct lb_dense_dims *d = &ci->dense[f];
	uint32_t s = k->src_cls - d->src_lo, t = k->dst_cls - d->dst_lo;

	if (k->proto_cls >= ci->n_proto || k->dport_cls >= ci->n_dport ||
	    k->sport_cls >= ci->n_sport || s >= d->src_n || t >= d->dst_n)
		return -1;
	return d->base + ((((int64_t)s * d->dst_n + t) * ci->n_proto + k->proto_cls) * ci->n_dport +
			  k->dport_cls) * ci->n_sport + k->sport_cls;
}

/*
 * Every slot of the copy to "no rule" (one memset, no syscall per slot), then
 * the entries into theirs, through mmap.
 */
static int write_dense(int fd, const struct lb_compiled *c, const struct lb_copy_info *ci,
		       uint8_t copy, struct lb_err *err)
{
	size_t len = (size_t)LB_DENSE_SLOTS * sizeof(uint32_t), i;
	uint32_t *slots, *mine;
	unsigned int f;
	int64_t k;

	slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (slots == MAP_FAILED)
		return lb_errf(err, errno, "mapping lb_rules_dense: %s", strerror(errno));
	mine = slots + (size_t)copy * LB_DENSE_MAX;
	memset(mine, 0, LB_DENSE_MAX * sizeof(*mine));
	for (i = 0; i < c->n_entries; i++) {
		const struct lb_rule_entry *e = &c->entries[i];

		/* In each family's block that can reach it (only one, as compile.c numbers). */
		for (f = 0; f < 2; f++) {
			k = dense_slot(ci, &e->key, f);
			if (k >= 0)
				mine[k] = LB_DENSE_RULE(e->val.rule_idx, e->val.action);
		}
	}
	/* The slots land before the flip that makes them reachable, on any CPU. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	munmap(slots, len);
	return 0;
}

/* ---- clearing a copy ---- */

struct keybuf {
	char *v;
	size_t n, cap, ksz;
};

static int keybuf_add(struct keybuf *kb, const void *key)
{
	char *nv;

	if (kb->n == kb->cap) {
		kb->cap = kb->cap ? 2 * kb->cap : 1024;
		nv = realloc(kb->v, kb->cap * kb->ksz);
		if (!nv)
			return -ENOMEM;
		kb->v = nv;
	}
	memcpy(kb->v + kb->n++ * kb->ksz, key, kb->ksz);
	return 0;
}

/*
 * Every key whose copy byte (at copy_off) is copy, found by walking the keys:
 * collect first, delete after, as deleting under get_next_key restarts it.
 */
static int clear_by_walk(int fd, const char *name, size_t ksz, size_t copy_off, uint8_t copy,
			 struct lb_err *err)
{
	struct keybuf kb = { .ksz = ksz };
	char key[64], next[64];
	void *prev = NULL;
	int r;

	while (!(r = bpf_map_get_next_key(fd, prev, next))) {
		if ((uint8_t)next[copy_off] == copy && keybuf_add(&kb, next)) {
			free(kb.v);
			return lb_errf(err, ENOMEM, "clearing %s: out of memory", name);
		}
		memcpy(key, next, ksz);
		prev = key;
	}
	if (r != -ENOENT) {
		free(kb.v);
		return map_err(err, r, "walking", name);
	}
	r = delete_many(fd, name, kb.v, ksz, kb.n, err);
	free(kb.v);
	return r;
}

/* Keep only the keys of this copy; returns how many. */
static __u32 filter_copy(struct lb_rule_key *keys, __u32 n, uint8_t copy)
{
	__u32 i, k = 0;

	for (i = 0; i < n; i++)
		if (keys[i].copy == copy)
			keys[k++] = keys[i];
	return k;
}

/*
 * The hash batch cursor is a bucket index, so deleting keys of buckets
 * already returned does not disturb the walk: read a chunk, delete its
 * matches, go on.
 */
static int clear_rules(int fd, uint8_t copy, struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct lb_rule_key *keys = calloc(CHUNK, sizeof(*keys));
	struct lb_rule_val *vals = calloc(CHUNK, sizeof(*vals));
	struct lb_rule_key in, out;	/* the cursor: a bucket index for a hash */
	bool first = true;
	__u32 cnt;
	int r, r2;

	if (!keys || !vals) {
		r = lb_errf(err, ENOMEM, "clearing lb_rules: out of memory");
		goto out;
	}
	do {
		cnt = CHUNK;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, &opts);
		if (r && first && batch_unsupported(r)) {
			r = clear_by_walk(fd, "lb_rules", sizeof(*keys),
					  offsetof(struct lb_rule_key, copy), copy, err);
			goto out;
		}
		if (r && r != -ENOENT) {
			r = map_err(err, r, "reading", "lb_rules");
			goto out;
		}
		cnt = filter_copy(keys, cnt, copy);
		r2 = delete_many(fd, "lb_rules", keys, sizeof(*keys), cnt, err);
		if (r2) {
			r = r2;
			goto out;
		}
		in = out;
		first = false;
	} while (!r);
	r = 0;
out:
	free(keys);
	free(vals);
	return r;
}

int policy_clear_copy(const struct lb_maps *m, uint32_t copy, struct lb_err *err)
{
	const struct {
		int fd;
		const char *name;
		size_t ksz;
	} lpm[] = {
		{ m->src4, "lb_src4", sizeof(struct lb_lpm4_key) },
		{ m->src6, "lb_src6", sizeof(struct lb_lpm6_key) },
		{ m->dst4, "lb_dst4", sizeof(struct lb_lpm4_key) },
		{ m->dst6, "lb_dst6", sizeof(struct lb_lpm6_key) },
		{ m->fs4, "lb_fs4", sizeof(struct lb_lpm4_key) },
		{ m->fs6, "lb_fs6", sizeof(struct lb_lpm6_key) },
	};
	size_t i;
	int r;

	if (copy >= LB_POLICY_COPIES)
		return lb_errf(err, EINVAL, "policy copy %u does not exist", copy);
	for (i = 0; i < sizeof(lpm) / sizeof(lpm[0]); i++) {
		r = clear_by_walk(lpm[i].fd, lpm[i].name, lpm[i].ksz,
				  offsetof(struct lb_lpm4_key, copy), (uint8_t)copy, err);
		if (r)
			return r;
	}
	return clear_rules(m->rules, (uint8_t)copy, err);
}

/* ---- writing a copy ---- */

static void lpm_key(void *key, const struct lb_cidr *c, uint8_t copy)
{
	struct lb_lpm4_key *k4 = key;
	struct lb_lpm6_key *k6 = key;

	if (c->family == 4) {
		*k4 = (struct lb_lpm4_key){ .prefixlen = 8 + c->plen, .copy = copy };
		memcpy(k4->addr, c->addr, sizeof(k4->addr));
	} else {
		*k6 = (struct lb_lpm6_key){ .prefixlen = 8 + c->plen, .copy = copy };
		memcpy(k6->addr, c->addr, sizeof(k6->addr));
	}
}

/* ---- host tables (lb_fw.h): bucketized cuckoo, written through mmap ---- */

#define HT_KICKS 512	/* displacements tried before an entry goes to the trie */

struct host_table {
	void *map;		/* the whole map, mapped */
	size_t len;
	uint8_t *buckets;	/* this copy's part */
	size_t bsz, cls_off, plen_off, more_off;	/* bucket size, offsets of fields in it */
	unsigned int alen;	/* address bytes: 4 or 16 */
	uint32_t bmask;
	uint32_t rng;		/* the random walk's; a fixed seed, so placement is reproducible */
};

static uint8_t *ht_addr(const struct host_table *t, uint32_t b, unsigned int way)
{
	return t->buckets + (size_t)b * t->bsz + (size_t)way * t->alen;
}

static uint32_t *ht_cls1(const struct host_table *t, uint32_t b, unsigned int way)
{
	return (uint32_t *)(t->buckets + (size_t)b * t->bsz + t->cls_off) + way;
}

static uint8_t *ht_plen(const struct host_table *t, uint32_t b, unsigned int way)
{
	return t->buckets + (size_t)b * t->bsz + t->plen_off + way;
}

static uint8_t *ht_more(const struct host_table *t, uint32_t b)
{
	return t->buckets + (size_t)b * t->bsz + t->more_off;
}

/* An entry: a masked address, its prefix length and class + 1. */
struct ht_entry {
	uint8_t addr[16];
	uint8_t plen;
	uint32_t cls1;
};

/* As the datapath hashes it (bpf/lib/classify.h). */
static uint64_t ht_hash(const struct host_table *t, const uint8_t *addr, unsigned int plen)
{
	uint64_t a0 = 0, a1 = 0;
	uint32_t a;

	if (t->alen == 4) {
		memcpy(&a, addr, 4);
		a0 = a;
	} else {
		memcpy(&a0, addr, 8);
		memcpy(&a1, addr + 8, 8);
	}
	return lb_ht_hash_len(a0, a1, plen);
}

static bool ht_put_free(struct host_table *t, uint32_t b, const struct ht_entry *e)
{
	unsigned int w;

	for (w = 0; w < LB_HT_WAYS; w++) {
		if (!*ht_cls1(t, b, w)) {
			memcpy(ht_addr(t, b, w), e->addr, t->alen);
			*ht_cls1(t, b, w) = e->cls1;
			*ht_plen(t, b, w) = e->plen;
			return true;
		}
	}
	return false;
}

/*
 * Cuckoo insertion by random walk: with both buckets full, evict a random
 * slot of one and place the evicted entry next.  False when the walk gives
 * up; *e then holds the entry left without a slot, which need not be the
 * one passed in, nor of its length.
 */
static bool ht_insert(struct host_table *t, struct ht_entry *e)
{
	struct ht_entry old = { 0 };
	uint32_t b, w;
	uint64_t h;
	int kick;

	for (kick = 0; kick < HT_KICKS; kick++) {
		h = ht_hash(t, e->addr, e->plen);
		if (ht_put_free(t, lb_ht_bucket1(h, t->bmask), e) ||
		    ht_put_free(t, lb_ht_bucket2(h, t->bmask), e))
			return true;
		t->rng = t->rng * 1103515245U + 12345U;
		b = (t->rng >> 16) & 1 ? lb_ht_bucket2(h, t->bmask) : lb_ht_bucket1(h, t->bmask);
		w = (t->rng >> 8) % LB_HT_WAYS;
		memcpy(old.addr, ht_addr(t, b, w), t->alen);
		old.cls1 = *ht_cls1(t, b, w);
		old.plen = *ht_plen(t, b, w);
		memcpy(ht_addr(t, b, w), e->addr, t->alen);
		*ht_cls1(t, b, w) = e->cls1;
		*ht_plen(t, b, w) = e->plen;
		*e = old;
	}
	return false;
}

/* Map the copy's part for n entries: buckets for a load of at most 3/4, emptied. */
static int ht_open(struct host_table *t, int fd, unsigned int family, uint8_t copy, size_t n,
		   struct lb_err *err)
{
	uint32_t nb = 1;

	t->alen = family == 4 ? 4 : 16;
	t->bsz = family == 4 ? sizeof(struct lb_ht4_bucket) : sizeof(struct lb_ht6_bucket);
	t->cls_off = family == 4 ? offsetof(struct lb_ht4_bucket, cls1)
				 : offsetof(struct lb_ht6_bucket, cls1);
	t->plen_off = family == 4 ? offsetof(struct lb_ht4_bucket, plen)
				  : offsetof(struct lb_ht6_bucket, plen);
	t->more_off = family == 4 ? offsetof(struct lb_ht4_bucket, more)
				  : offsetof(struct lb_ht6_bucket, more);
	while (nb < LB_HT_BUCKETS && (size_t)nb * LB_HT_WAYS * 3 < n * 4)
		nb *= 2;
	t->bmask = nb - 1;
	t->rng = 1;
	t->len = (size_t)LB_HT_BUCKETS * LB_POLICY_COPIES * t->bsz;
	t->map = mmap(NULL, t->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		return lb_errf(err, errno, "mapping a host table: %s", strerror(errno));
	}
	t->buckets = (uint8_t *)t->map + (size_t)copy * LB_HT_BUCKETS * t->bsz;
	memset(t->buckets, 0, (size_t)nb * t->bsz);
	return 0;
}

/*
 * Once every entry has its slot: flag each first bucket one of whose entries
 * sits in its second bucket (lb_fw.h, lb_ht4_bucket.more), so that a lookup
 * reads the second bucket only then.
 */
static void ht_mark_more(struct host_table *t)
{
	uint32_t b, b1;
	unsigned int w;

	for (b = 0; b <= t->bmask; b++)
		*ht_more(t, b) = 0;
	for (b = 0; b <= t->bmask; b++) {
		for (w = 0; w < LB_HT_WAYS; w++) {
			if (!*ht_cls1(t, b, w))
				continue;
			b1 = lb_ht_bucket1(ht_hash(t, ht_addr(t, b, w), *ht_plen(t, b, w)), t->bmask);
			if (b1 != b)
				*ht_more(t, b1) = 1;
		}
	}
}

static void ht_close(struct host_table *t)
{
	if (!t->map)
		return;
	ht_mark_more(t);
	/* The buckets land before the flip that makes them reachable, on any CPU. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	munmap(t->map, t->len);
	t->map = NULL;
}

struct prefix_maps {
	int lpm, ht;
	const char *lpm_name;
	unsigned int family;
	uint32_t t;		/* LB_CI_T(): the table's index in struct lb_copy_info */
};

/*
 * What the datapath may skip in this table (lb_fw.h, struct lb_copy_info):
 * the host table when it is empty, the trie when /0 is its only prefix.
 */
static void copy_info_table(struct lb_copy_info *ci, uint32_t t, size_t n_host, size_t n_short,
			    const uint32_t *zero_cls)
{
	if (n_host)
		ci->flags |= LB_CI_HOST(t);
	if (n_short || !zero_cls)
		ci->flags |= LB_CI_TRIE(t);
	else
		ci->zero_cls[t] = *zero_cls;
}

/*
 * The host table of a table takes the prefixes of its LB_HT_LENGTHS longest
 * distinct lengths (lb_fw.h), /0 aside: into lens[], longest first; returns
 * how many.
 */
static unsigned int host_lengths(const struct lb_prefix_cls *v, size_t n, unsigned int family,
				 uint8_t lens[LB_HT_LENGTHS])
{
	bool seen[129] = { false };
	unsigned int k = 0;
	int plen;
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].cidr.family == family && v[i].cidr.plen <= 128)
			seen[v[i].cidr.plen] = true;
	for (plen = 128; plen > 0 && k < LB_HT_LENGTHS; plen--)
		if (seen[plen])
			lens[k++] = (uint8_t)plen;
	return k;
}

static void mask_of(uint8_t mask[16], unsigned int plen)
{
	unsigned int i;

	for (i = 0; i < 16; i++)
		mask[i] = plen >= 8 * (i + 1) ? 0xff
			  : plen > 8 * i ? (uint8_t)(0xff << (8 * (i + 1) - plen)) : 0;
}

static void host_lengths_info(struct lb_copy_info *ci, uint32_t t, const uint8_t *lens,
			      unsigned int k)
{
	unsigned int i;

	ci->host_nlen[t] = (uint8_t)k;
	memset(ci->host_plen[t], 0, sizeof(ci->host_plen[t]));
	memset(ci->host_mask[t], 0, sizeof(ci->host_mask[t]));
	for (i = 0; i < k; i++) {
		ci->host_plen[t][i] = lens[i];
		mask_of(ci->host_mask[t][i], lens[i]);
	}
}

static int len_index(const uint8_t *lens, unsigned int k, unsigned int plen)
{
	unsigned int i;

	for (i = 0; i < k; i++)
		if (lens[i] == plen)
			return (int)i;
	return -1;
}

/*
 * One family of one direction's class table: the prefixes of its longest
 * lengths (hosts, /32 or /128, in a host list) into the host table, length
 * by length, longest first; the others, and any the table has no slot for,
 * into the LPM trie.  A spilled entry of length L in the trie must not be
 * hidden by a table hit of a shorter length: once an entry spills, no
 * shorter length is placed, and the lengths below the longest spilled one
 * are not listed, their prefixes go to the trie (lb_fw.h).  Records in *ci
 * what the datapath may skip.
 */
static int write_prefixes(const struct prefix_maps *pm, const struct lb_prefix_cls *v, size_t n,
			  uint8_t copy, struct lb_copy_info *ci, struct lb_err *err)
{
	size_t lsz = pm->family == 4 ? sizeof(struct lb_lpm4_key) : sizeof(struct lb_lpm6_key);
	uint8_t lens[LB_HT_LENGTHS];
	unsigned int k = host_lengths(v, n, pm->family, lens), listed = 0, j, spill_plen = 0;
	struct lb_class_val *lvals = calloc(n + 1, sizeof(*lvals));
	struct ht_entry *spill = calloc(n + 1, sizeof(*spill));
	char *lkeys = calloc(n + 1, lsz);
	const uint32_t *zero_cls = NULL;
	struct host_table ht = { 0 };
	size_t i, nl = 0, nh = 0, n_tab = 0, n_spill = 0;
	int r = 0;

	if (!lkeys || !lvals || !spill) {
		r = lb_errf(err, ENOMEM, "writing %s: out of memory", pm->lpm_name);
		goto out;
	}
	for (i = 0; i < n; i++)
		n_tab += v[i].cidr.family == pm->family && len_index(lens, k, v[i].cidr.plen) >= 0;
	if (n_tab)
		r = ht_open(&ht, pm->ht, pm->family, copy, n_tab, err);
	/* Length by length, longest first, until one spills. */
	for (j = 0; j < k && n_tab && !r && !n_spill; j++) {
		for (i = 0; i < n; i++) {
			struct ht_entry e = { .plen = lens[j], .cls1 = v[i].cls + 1 };

			if (v[i].cidr.family != pm->family || v[i].cidr.plen != lens[j])
				continue;
			memcpy(e.addr, v[i].cidr.addr, sizeof(e.addr));
			if (ht_insert(&ht, &e))
				continue;
			/* No slot for one of them: the trie's longest match finds it there. */
			spill[n_spill++] = e;
			if (e.plen > spill_plen)
				spill_plen = e.plen;
		}
		listed = j + 1;
	}
	/* No listed length below a spilled one (nor any length not placed). */
	while (listed && lens[listed - 1] < spill_plen)
		listed--;
	ht_close(&ht);
	for (i = 0; i < n; i++) {
		struct lb_cidr c = v[i].cidr;

		if (c.family != pm->family)
			continue;
		if (len_index(lens, listed, c.plen) >= 0) {
			nh++;
			continue;
		}
		if (!c.plen)
			zero_cls = &v[i].cls;
		lpm_key(lkeys + nl * lsz, &c, copy);
		lvals[nl++].cls = v[i].cls;
	}
	for (i = 0; i < n_spill; i++) {
		struct lb_cidr c = { .family = (uint8_t)pm->family, .plen = spill[i].plen };

		if (len_index(lens, listed, c.plen) < 0)
			continue;	/* its length is in the trie already */
		nh--;
		memcpy(c.addr, spill[i].addr, pm->family == 4 ? 4 : 16);
		lpm_key(lkeys + nl * lsz, &c, copy);
		lvals[nl++].cls = spill[i].cls1 - 1;
	}
	if (!r)
		r = update_many(pm->lpm, pm->lpm_name, lkeys, lsz, lvals, sizeof(*lvals), nl, err);
	copy_info_table(ci, pm->t, nh, nl - (zero_cls != NULL), zero_cls);
	host_lengths_info(ci, pm->t, lens, nh ? listed : 0);
	ci->host_bmask[pm->t] = ht.bmask;
out:
	free(lkeys);
	free(lvals);
	free(spill);
	return r;
}

static int write_class_array(int fd, const char *name, const uint32_t *cls, size_t space,
			     uint32_t copy, struct lb_err *err)
{
	__u32 *keys = calloc(space, sizeof(*keys));
	size_t i;
	int r;

	if (!keys)
		return lb_errf(err, ENOMEM, "writing %s: out of memory", name);
	for (i = 0; i < space; i++)
		keys[i] = (__u32)(copy * space + i);
	r = update_many(fd, name, keys, sizeof(*keys), cls, sizeof(*cls), space, err);
	free(keys);
	return r;
}

static int write_classes(const struct lb_maps *m, const struct lb_compiled *c, uint8_t copy,
			 struct lb_copy_info *ci_out, struct lb_err *err)
{
	const struct prefix_maps src4 = { m->src4, m->srcx4, "lb_src4", 4, LB_CI_T(0, 0) };
	const struct prefix_maps src6 = { m->src6, m->srcx6, "lb_src6", 6, LB_CI_T(0, 1) };
	const struct prefix_maps dst4 = { m->dst4, m->dstx4, "lb_dst4", 4, LB_CI_T(1, 0) };
	const struct prefix_maps dst6 = { m->dst6, m->dstx6, "lb_dst6", 6, LB_CI_T(1, 1) };
	struct lb_copy_info ci = { 0 };
	__u32 key = copy;
	size_t i;
	int r;

	for (i = 0; i < c->n_fs; i++)
		ci.flags |= c->fs[i].cidr.family == 4 ? LB_CI_FS4 : LB_CI_FS6;
	/* A dimension with one class: the datapath skips its array (classify.h). */
	if (class_count(c->proto_cls, LB_PROTO_SPACE) <= 1)
		ci.flags |= LB_CI_PROTO1;
	if (class_count(c->dport_cls, c->dport_cls ? LB_PORT_SPACE : 0) <= 1)
		ci.flags |= LB_CI_DPORT1;
	if (class_count(c->sport_cls, c->sport_cls ? LB_PORT_SPACE : 0) <= 1)
		ci.flags |= LB_CI_SPORT1;
	r = write_prefixes(&src4, c->src, c->n_src, copy, &ci, err);
	if (!r)
		r = write_prefixes(&src6, c->src, c->n_src, copy, &ci, err);
	if (!r)
		r = write_prefixes(&dst4, c->dst, c->n_dst, copy, &ci, err);
	if (!r)
		r = write_prefixes(&dst6, c->dst, c->n_dst, copy, &ci, err);
	dense_plan(c, &ci);
	*ci_out = ci;
	/* Only packets of this copy read its info, and none will until the flip. */
	if (!r && bpf_map_update_elem(m->copy_info, &key, &ci, BPF_ANY))
		r = map_err(err, -errno, "updating", "lb_copy_info");
	if (!r)
		r = write_class_array(m->proto_cls, "lb_proto_cls", c->proto_cls,
				      LB_PROTO_SPACE, copy, err);
	if (!r)
		r = write_class_array(m->dport_cls, "lb_dport_cls", c->dport_cls, LB_PORT_SPACE,
				      copy, err);
	if (!r)
		r = write_class_array(m->sport_cls, "lb_sport_cls", c->sport_cls, LB_PORT_SPACE,
				      copy, err);
	return r;
}

/* The entries carry copy 0; stamp ours on them a chunk at a time. */
static int write_entries(int fd, const struct lb_compiled *c, uint8_t copy, struct lb_err *err)
{
	struct lb_rule_key *keys = calloc(CHUNK, sizeof(*keys));
	struct lb_rule_val *vals = calloc(CHUNK, sizeof(*vals));
	size_t done, i, n;
	int r = 0;

	if (!keys || !vals) {
		r = lb_errf(err, ENOMEM, "writing lb_rules: out of memory");
		goto out;
	}
	for (done = 0; done < c->n_entries && !r; done += n) {
		n = min_sz(c->n_entries - done, CHUNK);
		for (i = 0; i < n; i++) {
			keys[i] = c->entries[done + i].key;
			keys[i].copy = copy;
			vals[i] = c->entries[done + i].val;
		}
		r = update_many(fd, "lb_rules", keys, sizeof(*keys), vals, sizeof(*vals), n, err);
	}
out:
	free(keys);
	free(vals);
	return r;
}

static int write_failsafe(const struct lb_maps *m, const struct lb_compiled *c, uint8_t copy,
			  struct lb_err *err)
{
	struct lb_lpm6_key key;	/* room for either family */
	size_t i;
	int fd, r;

	for (i = 0; i < c->n_fs; i++) {
		fd = c->fs[i].cidr.family == 4 ? m->fs4 : m->fs6;
		lpm_key(&key, &c->fs[i].cidr, copy);
		r = bpf_map_update_elem(fd, &key, &c->fs[i].val, BPF_ANY);
		if (r)
			return map_err(err, r, "updating", c->fs[i].cidr.family == 4 ? "lb_fs4" :
							   "lb_fs6");
	}
	return 0;
}

/* Hit counters of this copy start at zero: per-CPU values, all CPUs. */
static int zero_rule_hits(int fd, uint32_t n_rules, uint32_t copy, struct lb_err *err)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n = min_sz(n_rules, LB_MAX_RULES), done, step, i;
	__u32 *keys;
	__u64 *zero;
	int r = 0;

	if (ncpu <= 0)
		return map_err(err, ncpu ? ncpu : -EINVAL, "counting CPUs for", "lb_rule_hits");
	keys = calloc(CHUNK, sizeof(*keys));
	zero = calloc((size_t)CHUNK * (size_t)ncpu, sizeof(*zero));
	if (!keys || !zero) {
		free(keys);
		free(zero);
		return lb_errf(err, ENOMEM, "zeroing lb_rule_hits: out of memory");
	}
	for (done = 0; done < n && !r; done += step) {
		step = min_sz(n - done, CHUNK);
		for (i = 0; i < step; i++)
			keys[i] = (__u32)((size_t)copy * LB_MAX_RULES + done + i);
		r = update_many(fd, "lb_rule_hits", keys, sizeof(*keys), zero,
				sizeof(*zero) * (size_t)ncpu, step, err);
	}
	free(keys);
	free(zero);
	return r;
}

/*
 * Only interfaces the datapath knows (attached) get a default; others are
 * skipped.  Attach and detach hold the same lock as apply, so a row read here
 * is not removed before it is written back.
 */
static int write_iface_defaults(const struct lb_maps *m, const struct lb_iface_action *ifa,
				size_t n, uint32_t copy, struct lb_err *err)
{
	struct lb_iface v;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = iface_row_get(m, ifa[i].ifindex, &v);
		if (r == -ENOENT)
			continue;
		if (!r) {
			v.default_action[copy] = (__u8)ifa[i].action;
			r = iface_row_put(m, ifa[i].ifindex, &v);
		}
		if (r && r != -ENOENT)
			return lb_errf(err, r, "updating lb_ifaces[%u]: %s", ifa[i].ifindex,
				       strerror(-r));
	}
	return 0;
}

static int flip(int fd, uint32_t copy, struct lb_err *err)
{
	struct lb_active a = { .copy = copy, .loaded = 1 };
	__u32 zero = 0;
	int r;

	r = bpf_map_update_elem(fd, &zero, &a, BPF_ANY);
	return r ? map_err(err, r, "updating", "lb_active") : 0;
}

int policy_stage(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err)
{
	struct lb_copy_info ci;
	struct lb_active act;
	uint32_t n_rules;
	size_t i;
	int r;

	if (copy >= LB_POLICY_COPIES)
		return lb_errf(err, EINVAL, "policy copy %u does not exist", copy);
	r = policy_active(m, &act);
	if (r)
		return map_err(err, r, "reading", "lb_active");
	if (act.loaded && act.copy == copy)
		return lb_errf(err, EBUSY, "policy copy %u is the active one; write the other",
			       copy);
	/* A hand-built struct may lack n_rules: the entries name the rules in use. */
	n_rules = c->n_rules;
	for (i = 0; i < c->n_entries; i++)
		if (c->entries[i].val.rule_idx >= n_rules)
			n_rules = c->entries[i].val.rule_idx + 1;
	r = policy_clear_copy(m, copy, err);
	if (!r)
		r = write_classes(m, c, (uint8_t)copy, &ci, err);
	if (!r && (ci.flags & LB_CI_DENSE))
		r = write_dense(m->rules_dense, c, &ci, (uint8_t)copy, err);
	else if (!r)
		r = write_entries(m->rules, c, (uint8_t)copy, err);
	if (!r)
		r = write_failsafe(m, c, (uint8_t)copy, err);
	if (!r)
		r = zero_rule_hits(m->rule_hits, n_rules, copy, err);
	if (!r)
		r = write_iface_defaults(m, ifa, n_ifa, copy, err);
	return r;
}

int policy_flip(const struct lb_maps *m, uint32_t copy, struct lb_err *err)
{
	return flip(m->active, copy, err);
}

int policy_write(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err)
{
	return policy_stage(m, c, copy, ifa, n_ifa, err) ?: policy_flip(m, copy, err);
}

int policy_active(const struct lb_maps *m, struct lb_active *out)
{
	struct lb_active a;
	__u32 zero = 0;
	int r;

	r = bpf_map_lookup_elem(m->active, &zero, &a);
	if (r)
		return r;
	*out = a;
	return 0;
}
