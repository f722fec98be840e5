/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * classify.h - the policy stages: failsafe list and rule classifier.
 *
 * API:
 *   bool lb_failsafe(pkt, copy)	source in lb_fs4/lb_fs6 with a matching
 *					(proto, dport) pair: never lock the
 *					operator out
 *   void lb_rule_stage(pkt, copy, ifc, d)
 *					the rule stage (lb_fw.h): address
 *					classes (host hash, else LPM), three
 *					array lookups, one hash lookup to a
 *					rule, else the interface default;
 *					counts the rule's hit
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

static __always_inline bool lb_failsafe(const struct lb_pkt *pkt, __u32 copy)
{
	struct lb_failsafe_val *v;
	__u32 i;

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
 * The class of an address: exact host entry first when this copy has any
 * (flags say which), else the longest prefix in the trie.
 */
static __always_inline struct lb_class_val *lb_addr_cls(void *h4, void *h6, __u32 hflag4,
							__u32 hflag6, void *map4, void *map6,
							const struct lb_pkt *pkt,
							const __u8 *addr, __u32 copy,
							__u32 flags)
{
	struct lb_class_val *v = NULL;

	if (pkt->family == 4 && (flags & hflag4)) {
		struct lb_host4_key k = { .copy = copy };

		__builtin_memcpy(k.addr, addr, 4);
		v = bpf_map_lookup_elem(h4, &k);
	} else if (pkt->family == 6 && (flags & hflag6)) {
		struct lb_host6_key k = { .copy = copy };

		__builtin_memcpy(k.addr, addr, 16);
		v = bpf_map_lookup_elem(h6, &k);
	}
	return v ?: lb_lpm_lookup(map4, map6, pkt, addr, copy);
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
 * Fill the classes of the rule key.  False when an address has no class: the
 * compiler always installs /0 for both families, so that only happens while
 * the copy is being (re)written, and the packet gets the default.
 */
static __always_inline bool lb_rule_key(const struct lb_pkt *pkt, __u32 copy,
					struct lb_rule_key *key)
{
	struct lb_class_val *src, *dst;
	struct lb_copy_info *ci;
	__u32 proto, dport, sport, flags;

	ci = bpf_map_lookup_elem(&lb_copy_info, &copy);
	flags = ci ? ci->flags : 0;
	src = lb_addr_cls(&lb_srch4, &lb_srch6, LB_CI_SRC_HOST4, LB_CI_SRC_HOST6, &lb_src4,
			  &lb_src6, pkt, pkt->saddr, copy, flags);
	dst = lb_addr_cls(&lb_dsth4, &lb_dsth6, LB_CI_DST_HOST4, LB_CI_DST_HOST6, &lb_dst4,
			  &lb_dst6, pkt, pkt->daddr, copy, flags);
	if (!src || !dst)
		return false;
	if (!lb_array_cls(&lb_proto_cls, copy * LB_PROTO_SPACE + pkt->proto, &proto) ||
	    !lb_array_cls(&lb_dport_cls, copy * LB_PORT_SPACE + pkt->cls_dport, &dport) ||
	    !lb_array_cls(&lb_sport_cls, copy * LB_PORT_SPACE + pkt->cls_sport, &sport))
		return false;

	key->src_cls = src->cls;
	key->dst_cls = dst->cls;
	key->dport_cls = dport;
	key->sport_cls = sport;
	key->proto_cls = proto;
	key->copy = copy;
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
					  const struct lb_iface *ifc, struct lb_decision *d)
{
	struct lb_rule_key key = {};
	struct lb_rule_val *rv;

	if (!lb_rule_key(pkt, copy, &key)) {
		d->reason = lb_default_reason(ifc, copy);
		return;
	}
	rv = bpf_map_lookup_elem(&lb_rules, &key);
	if (!rv) {
		d->reason = lb_default_reason(ifc, copy);
		return;
	}
	d->rule_idx = rv->rule_idx;
	d->reason = lb_action_reason(rv->action);
	lb_count_rule(copy, rv->rule_idx);
}

#endif /* LB_BPF_CLASSIFY_H */
