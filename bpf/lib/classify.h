/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * classify.h - the policy stages: failsafe list and rule classifier.
 *
 * API:
 *   bool lb_failsafe(pkt, copy, ci)	source in lb_fs4/lb_fs6 with a matching
 *					(proto, dport) pair: never lock the
 *					operator out
 *   void lb_rule_stage(pkt, copy, ci, ifc, d)
 *					the rule stage (lb_fw.h): address
 *					classes (the table of the longest
 *					prefix lengths, else LPM), three
 *					array lookups, one lookup to a rule
 *					(dense array, else hash), else the
 *					interface default; counts the rule's
 *					hit
 *
 * ci is the copy's lb_copy_info: it says which lookups cannot change the
 * answer for this copy (an empty host table or failsafe list, a trie that
 * holds only /0), and those are skipped.  A hash or LPM lookup is 20-50 ns
 * of a packet's budget; what is skipped is decided the same way either way.
 * The lookups that remain are inlined array reads where they can be: the
 * host tables and the dense rule table (lb_fw.h).
 *
 * Both read only the given policy copy, the one lb_active named when the
 * packet arrived, so a flip never mixes two policies in one verdict.
 */
#ifndef LB_BPF_CLASSIFY_H
#define LB_BPF_CLASSIFY_H

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/verdict.h"

/*
 * LPM lookup of one address in the copy's part of a v4/v6 map pair; the key
 * holds the copy byte before the address, so it counts in prefixlen.
 */
static __always_inline void *lb_lpm_lookup(void *map4, void *map6, const struct lb_pkt *pkt,
					   const __u8 *addr, __u32 copy)
{
	struct lb_lpm4_key k4 = { .prefixlen = 8 + 32, .copy = copy };
	struct lb_lpm6_key k6 = { .prefixlen = 8 + 128, .copy = copy };

	if (pkt->family == 4) {
		__builtin_memcpy(k4.addr, addr, 4);
		return bpf_map_lookup_elem(map4, &k4);
	}
	__builtin_memcpy(k6.addr, addr, 16);
	return bpf_map_lookup_elem(map6, &k6);
}

/*
 * proto 0 = any protocol, dport 0 = any port.  An entry names TCP, UDP or
 * any protocol, so only TCP/UDP packets match a named one; the port is
 * compared in the classifier view, exactly as compiled_failsafe() in user
 * space does (the lockout check relies on the two agreeing).
 */
static __always_inline bool lb_failsafe_port(const struct lb_failsafe_port *fp,
					     const struct lb_pkt *pkt)
{
	if (fp->proto && fp->proto != pkt->proto)
		return false;
	return !fp->dport || fp->dport == pkt->cls_dport;
}

static __always_inline bool lb_failsafe(const struct lb_pkt *pkt, __u32 copy,
					const struct lb_copy_info *ci)
{
	struct lb_failsafe_val *v;
	__u32 i;

	if (!(ci->flags & (pkt->family == 4 ? LB_CI_FS4 : LB_CI_FS6)))
		return false;
	v = lb_lpm_lookup(&lb_fs4, &lb_fs6, pkt, pkt->saddr, copy);
	if (!v)
		return false;
	for (i = 0; i < LB_FAILSAFE_PER_PREFIX; i++) {
		if (i >= v->count)
			break;
		if (lb_failsafe_port(&v->ports[i], pkt))
			return true;
	}
	return false;
}

/*
 * Host tables (lb_fw.h): the address masked to each of the table's prefix
 * lengths, longest first, in one of two buckets of four slots.  The probe
 * loops are unrolled: a bucket is four compares after one inlined array
 * lookup.  The second bucket is read only when the first says an entry of
 * its own went there (lb_ht4_bucket.more): with many sources, each bucket
 * is a cache miss of its own.  The loop over lengths is bounded by
 * LB_HT_LENGTHS.
 */
static __always_inline bool lb_ht4_probe(void *map, __u32 k, __u32 a, __u32 plen, __u32 *cls,
					 bool *more)
{
	struct lb_ht4_bucket *b = bpf_map_lookup_elem(map, &k);
	__u32 i, x;

	if (!b)
		return false;
	*more = b->more;
#pragma unroll
	for (i = 0; i < LB_HT_WAYS; i++) {
		__builtin_memcpy(&x, b->addr[i], 4);
		if (x == a && b->plen[i] == plen && b->cls1[i]) {
			*cls = b->cls1[i] - 1;
			return true;
		}
	}
	return false;
}

static __always_inline bool lb_ht4_lookup(void *map, const __u8 *addr,
					  const struct lb_copy_info *ci, __u32 t, __u32 copy,
					  __u32 *cls)
{
	__u32 a, x, m, plen, base = (copy & 1) * LB_HT_BUCKETS, bmask;
	__u32 n = ci->host_nlen[t & 3];
	bool more = false;
	__u64 h;
	__u32 j;

	bmask = ci->host_bmask[t & 3] & (LB_HT_BUCKETS - 1);
	__builtin_memcpy(&a, addr, 4);
	for (j = 0; j < LB_HT_LENGTHS; j++) {
		if (j >= n)
			break;
		__builtin_memcpy(&m, ci->host_mask[t & 3][j], 4);
		plen = ci->host_plen[t & 3][j];
		x = a & m;
		h = lb_ht_hash_len(x, 0, plen);
		if (lb_ht4_probe(map, base + lb_ht_bucket1(h, bmask), x, plen, cls, &more))
			return true;
		if (more && lb_ht4_probe(map, base + lb_ht_bucket2(h, bmask), x, plen, cls, &more))
			return true;
	}
	return false;
}

static __always_inline bool lb_ht6_probe(void *map, __u32 k, __u64 a0, __u64 a1, __u32 plen,
					 __u32 *cls, bool *more)
{
	struct lb_ht6_bucket *b = bpf_map_lookup_elem(map, &k);
	__u64 x0, x1;
	__u32 i;

	if (!b)
		return false;
	*more = b->more;
#pragma unroll
	for (i = 0; i < LB_HT_WAYS; i++) {
		__builtin_memcpy(&x0, b->addr[i], 8);
		__builtin_memcpy(&x1, b->addr[i] + 8, 8);
		if (x0 == a0 && x1 == a1 && b->plen[i] == plen && b->cls1[i]) {
			*cls = b->cls1[i] - 1;
			return true;
		}
	}
	return false;
}

static __always_inline bool lb_ht6_lookup(void *map, const __u8 *addr,
					  const struct lb_copy_info *ci, __u32 t, __u32 copy,
					  __u32 *cls)
{
	__u32 base = (copy & 1) * LB_HT_BUCKETS, bmask, plen, j;
	__u32 n = ci->host_nlen[t & 3];
	__u64 a0, a1, m0, m1, x0, x1, h;
	bool more = false;

	bmask = ci->host_bmask[t & 3] & (LB_HT_BUCKETS - 1);
	__builtin_memcpy(&a0, addr, 8);
	__builtin_memcpy(&a1, addr + 8, 8);
	for (j = 0; j < LB_HT_LENGTHS; j++) {
		if (j >= n)
			break;
		__builtin_memcpy(&m0, ci->host_mask[t & 3][j], 8);
		__builtin_memcpy(&m1, ci->host_mask[t & 3][j] + 8, 8);
		plen = ci->host_plen[t & 3][j];
		x0 = a0 & m0;
		x1 = a1 & m1;
		h = lb_ht_hash_len(x0, x1, plen);
		if (lb_ht6_probe(map, base + lb_ht_bucket1(h, bmask), x0, x1, plen, cls, &more))
			return true;
		if (more &&
		    lb_ht6_probe(map, base + lb_ht_bucket2(h, bmask), x0, x1, plen, cls, &more))
			return true;
	}
	return false;
}

/*
 * The class of an address in table t (LB_CI_T): the exact entries of the
 * table's longest prefix lengths first when the copy has any (a hit is the
 * longest match), then the longest prefix in the trie, or, when /0 is
 * the trie's only prefix, /0's class without asking the trie.  False when
 * nothing matches.
 */
static __always_inline bool lb_addr_cls(void *h4, void *h6, void *map4, void *map6,
					const struct lb_pkt *pkt, const __u8 *addr, __u32 copy,
					const struct lb_copy_info *ci, __u32 t, __u32 *cls)
{
	struct lb_class_val *v;

	if (ci->flags & LB_CI_HOST(t)) {
		if (pkt->family == 4 ? lb_ht4_lookup(h4, addr, ci, t, copy, cls)
				     : lb_ht6_lookup(h6, addr, ci, t, copy, cls))
			return true;
	}
	if (!(ci->flags & LB_CI_TRIE(t))) {
		*cls = ci->zero_cls[t & 3];
		return true;
	}
	v = lb_lpm_lookup(map4, map6, pkt, addr, copy);
	if (!v)
		return false;
	*cls = v->cls;
	return true;
}

static __always_inline bool lb_array_cls(void *map, __u32 idx, __u32 *cls)
{
	__u32 *v = bpf_map_lookup_elem(map, &idx);

	if (!v)
		return false;
	*cls = *v;
	return true;
}

/*
 * Fill the classes of the rule key.  A dimension no rule divides (every
 * source port in class 0, the usual case) is not looked up: with many
 * flows a port's class is a cache miss of its own in a 256 KiB array.
 * False when an address has no class: the
 * compiler always installs /0 for both families, so that only happens while
 * the copy is being (re)written, and the packet gets the default.
 */
static __always_inline bool lb_rule_key(const struct lb_pkt *pkt, __u32 copy,
					const struct lb_copy_info *ci, struct lb_rule_key *key)
{
	__u32 v6 = pkt->family == 6, src, dst, proto, dport, sport;

	if (!lb_addr_cls(&lb_srcx4, &lb_srcx6, &lb_src4, &lb_src6, pkt, pkt->saddr, copy, ci,
			 LB_CI_T(0, v6), &src) ||
	    !lb_addr_cls(&lb_dstx4, &lb_dstx6, &lb_dst4, &lb_dst6, pkt, pkt->daddr, copy, ci,
			 LB_CI_T(1, v6), &dst))
		return false;
	proto = dport = sport = 0;
	if ((!(ci->flags & LB_CI_PROTO1) &&
	     !lb_array_cls(&lb_proto_cls, copy * LB_PROTO_SPACE + pkt->proto, &proto)) ||
	    (!(ci->flags & LB_CI_DPORT1) &&
	     !lb_array_cls(&lb_dport_cls, copy * LB_PORT_SPACE + pkt->cls_dport, &dport)) ||
	    (!(ci->flags & LB_CI_SPORT1) &&
	     !lb_array_cls(&lb_sport_cls, copy * LB_PORT_SPACE + pkt->cls_sport, &sport)))
		return false;

	key->src_cls = src;
	key->dst_cls = dst;
	key->dport_cls = dport;
	key->sport_cls = sport;
	key->proto_cls = proto;
	key->copy = copy;
	return true;
}

/*
 * The dense slot of a class combination (lb_fw.h, lb_rules_dense).  False
 * when a class lies outside its family's block, which the writer rules out;
 * the hash lookup then answers, as for a copy without LB_CI_DENSE.
 */
static __always_inline bool lb_dense_slot(const struct lb_rule_key *key, __u32 copy,
					  const struct lb_copy_info *ci, __u32 v6, __u32 *slot)
{
	const struct lb_dense_dims *dm = &ci->dense[v6 & 1];
	__u32 s = key->src_cls - dm->src_lo, dst = key->dst_cls - dm->dst_lo;
	struct lb_dense_pair *pair;
	__u64 i;
	__u32 k;

	if (s >= dm->src_n || dst >= dm->dst_n || key->proto_cls >= ci->n_proto ||
	    key->dport_cls >= ci->n_dport || key->sport_cls >= ci->n_sport)
		return false;
	i = (((((__u64)s * dm->dst_n + dst) * ci->n_proto + key->proto_cls) * ci->n_dport +
	      key->dport_cls) * ci->n_sport + key->sport_cls) + dm->base;
	if (i >= LB_DENSE_MAX)
		return false;
	i += (__u64)(copy & 1) * LB_DENSE_MAX;
	k = (__u32)(i / 2);
	pair = bpf_map_lookup_elem(&lb_rules_dense, &k);
	if (!pair)
		return false;
	*slot = pair->slot[i & 1];
	return true;
}

/* The rule of a class combination: false for none. */
static __always_inline bool lb_rule_lookup(const struct lb_rule_key *key, __u32 copy,
					   const struct lb_copy_info *ci, __u32 v6,
					   struct lb_rule_val *rv)
{
	struct lb_rule_val *hv;
	__u32 slot;

	if ((ci->flags & LB_CI_DENSE) && lb_dense_slot(key, copy, ci, v6, &slot)) {
		if (!slot)
			return false;
		rv->rule_idx = LB_DENSE_IDX(slot);
		rv->action = LB_DENSE_ACT(slot);
		return true;
	}
	hv = bpf_map_lookup_elem(&lb_rules, key);
	if (!hv)
		return false;
	rv->rule_idx = hv->rule_idx;
	rv->action = hv->action;
	return true;
}

static __always_inline __u32 lb_action_reason(__u8 action)
{
	switch (action) {
	case LB_ACT_ALLOW:
		return LB_R_RULE_ALLOW;
	case LB_ACT_AUDIT:
		return LB_R_RULE_AUDIT;
	}
	return LB_R_RULE_DENY;	/* deny, and anything we do not know: fail closed */
}

/* User space only writes allow or deny as a default; audit there passes. */
static __always_inline __u32 lb_default_reason(const struct lb_iface *ifc, __u32 copy)
{
	__u8 action = ifc->default_action[copy & (LB_POLICY_COPIES - 1)];

	return action == LB_ACT_DENY ? LB_R_DEFAULT_DENY : LB_R_DEFAULT_ALLOW;
}

static __always_inline void lb_rule_stage(const struct lb_pkt *pkt, __u32 copy,
					  const struct lb_copy_info *ci,
					  const struct lb_iface *ifc, struct lb_decision *d)
{
	struct lb_rule_key key = {};
	struct lb_rule_val rv;

	if (!lb_rule_key(pkt, copy, ci, &key) ||
	    !lb_rule_lookup(&key, copy, ci, pkt->family == 6, &rv)) {
		d->reason = lb_default_reason(ifc, copy);
		return;
	}
	d->rule_idx = rv.rule_idx;
	d->reason = lb_action_reason(rv.action);
	lb_count_rule(copy, rv.rule_idx);
}

#endif /* LB_BPF_CLASSIFY_H */
