/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * counters.h - per-CPU packet and byte counters, per interface and reason.
 *
 * API:
 *   void lb_count(__u32 slot, __u32 reason, __u64 bytes)
 *	lb_stats[slot * LB_REASON_SLOTS + reason] += {1, bytes}
 *   void lb_count_rule(__u32 copy, __u32 rule_idx)
 *	lb_rule_hits[copy * LB_MAX_RULES + rule_idx] += 1
 *
 * Both maps are per-CPU arrays: the CPU owns its row, so plain adds suffice.
 * Out-of-range indexes are not counted (the lookup fails) rather than folded
 * into another row.
 */
#ifndef LB_BPF_COUNTERS_H
#define LB_BPF_COUNTERS_H

#include "lib/maps.h"

static __always_inline void lb_count(__u32 slot, __u32 reason, __u64 bytes)
{
	struct lb_counter *ctr;
	__u32 idx;

	if (slot >= LB_MAX_IFACES || reason >= LB_REASON_SLOTS)
		return;
	idx = slot * LB_REASON_SLOTS + reason;
	ctr = bpf_map_lookup_elem(&lb_stats, &idx);
	if (!ctr)
		return;
	ctr->packets++;
	ctr->bytes += bytes;
}

static __always_inline void lb_count_rule(__u32 copy, __u32 rule_idx)
{
	__u64 *hits;
	__u32 idx;

	if (copy >= LB_POLICY_COPIES || rule_idx >= LB_MAX_RULES)
		return;
	idx = copy * LB_MAX_RULES + rule_idx;
	hits = bpf_map_lookup_elem(&lb_rule_hits, &idx);
	if (hits)
		(*hits)++;
}

#endif /* LB_BPF_COUNTERS_H */
