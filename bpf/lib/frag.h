/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * frag.h - fragments follow the verdict of their first fragment.
 *
 * API:
 *   void lb_frag_follow(pkt, now, d)	non-first fragment: the first one's
 *					verdict (LB_R_FRAG_PASS / _DROP), or
 *					LB_R_FRAG_ORPHAN when it was never
 *					seen or is older than LB_FRAG_TIMEOUT_NS
 *   void lb_frag_record(pkt, now, d)	first fragment: remember its verdict
 *
 * Policy: only the first fragment carries the L4 header, so only it is judged
 * on ports; later fragments are never classified on their own (their "ports"
 * would be payload bytes).  An audit verdict is remembered as pass.  The key
 * is {saddr, daddr, id, proto, family}; for IPv6, proto is the fragment
 * header's next header, which every fragment of a packet repeats (the first
 * fragment's upper-layer protocol may sit behind more extension headers).
 * Fragments arriving before their first one are dropped as orphans: the
 * sender's retransmission (or PMTU discovery) copes, an attacker does not.
 */
#ifndef LB_BPF_FRAG_H
#define LB_BPF_FRAG_H

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/verdict.h"

static __always_inline void lb_frag_key(const struct lb_pkt *pkt, struct lb_frag_key *key)
{
	__builtin_memcpy(key->saddr, pkt->saddr, 16);
	__builtin_memcpy(key->daddr, pkt->daddr, 16);
	key->id = pkt->frag_id;
	key->proto = pkt->frag_proto;
	key->family = pkt->family;
}

static __always_inline void lb_frag_follow(const struct lb_pkt *pkt, __u64 now,
					   struct lb_decision *d)
{
	struct lb_frag_key key = {};
	struct lb_frag_val *v;

	lb_frag_key(pkt, &key);
	v = bpf_map_lookup_elem(&lb_frags, &key);
	if (!v || now - v->seen_ns > LB_FRAG_TIMEOUT_NS) {
		d->reason = LB_R_FRAG_ORPHAN;
		return;
	}
	d->rule_idx = v->rule_idx;
	d->reason = v->verdict == LB_VERDICT_DROP ? LB_R_FRAG_DROP : LB_R_FRAG_PASS;
}

static __always_inline void lb_frag_record(const struct lb_pkt *pkt, __u64 now,
					   const struct lb_decision *d)
{
	struct lb_frag_key key = {};
	struct lb_frag_val v = {
		.seen_ns = now,
		.rule_idx = d->rule_idx,
	};

	v.verdict = lb_reason_verdict(d->reason) == LB_VERDICT_DROP ? LB_VERDICT_DROP
								     : LB_VERDICT_PASS;
	lb_frag_key(pkt, &key);
	bpf_map_update_elem(&lb_frags, &key, &v, BPF_ANY);
}

#endif /* LB_BPF_FRAG_H */
