/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * chain.h - how a module program ends: count what it decided under its
 * revision's key, and hand a packet it passes to the next module of its
 * hook's chain (headers/lb_mod.h, userspace/module.c).
 *
 * API:
 *   int lb_chain_xdp_next(struct xdp_md *ctx, int action)
 *   int lb_chain_tc_next(struct __sk_buff *skb, int action)
 *	Count action in lb_mod_stats under this program's key; when it passes
 *	(XDP_PASS; TC_ACT_OK or TC_ACT_UNSPEC), tail-call the next slot of the
 *	chain.  Returns action when there is no next slot (the chain's end).
 *   void lb_mod_count(__u32 key, __u32 hook, __u32 verdict, __u64 bytes)
 *
 * The chain of a hook is a prog array, lb_chain_xdp or lb_chain_tc, that the
 * agent creates fresh for every generation and puts in place of the
 * object's own (bpf_map__reuse_fd) before load; a root program
 * (chain_root.bpf.c) tail-calls slot 0.  Where this program sits, and the
 * key it counts under, is lb_chain_self[hook], a map of this program
 * instance alone, also put in place by the agent: the key is the self-test
 * key while the generation is tested, the revision's own once it is not.
 * Nothing live is ever written: a generation is complete before any link
 * points at it (DESIGN.md: never refill a live tail-call map in place).
 *
 * Loaded alone (the unit tests, bench_prog) the maps are the object's own:
 * lb_chain_self is zero, key 0 (LB_MOD_KEY_UNCHAINED), slot 0, and the next
 * slot is empty, so the program simply returns its action.
 *
 * Cost: one inlined array lookup, one per-CPU counter add and, for a packet
 * that passes, a tail call into an empty slot or the next module.
 */
#ifndef LB_BPF_CHAIN_H
#define LB_BPF_CHAIN_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lb_mod.h"
#include "lib/chain_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_CHAIN_HOOKS);
	__type(key, __u32);
	__type(value, struct lb_chain_self);
} lb_chain_self SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_mod_ctr);
	__uint(max_entries, LB_MOD_STATS_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_mod_stats SEC(".maps");

#define LB_TC_ACT_OK		0
#define LB_TC_ACT_SHOT		2
#define LB_TC_ACT_REDIRECT	7
#define LB_TC_ACT_UNSPEC	(-1)	/* = TCX_NEXT */

static __always_inline void lb_mod_count(__u32 key, __u32 hook, __u32 verdict, __u64 bytes)
{
	struct lb_mod_ctr *c;
	__u32 idx;

	if (key >= LB_MOD_KEYS || hook >= LB_CHAIN_HOOKS || verdict >= LB_MV_MAX)
		return;
	idx = lb_mod_stats_idx(key, hook, verdict);
	c = bpf_map_lookup_elem(&lb_mod_stats, &idx);
	if (!c)
		return;
	c->packets++;
	c->bytes += bytes;
}

static __always_inline int lb_chain_xdp_next(struct xdp_md *ctx, int action)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 h = LB_CHAIN_HOOK_XDP;
	struct lb_chain_self *me = bpf_map_lookup_elem(&lb_chain_self, &h);

	if (!me)
		return action;
	lb_mod_count(me->key, h, (__u32)action < LB_MV_OTHER ? (__u32)action : LB_MV_OTHER,
		     data_end - data);
	if (action == XDP_PASS)
		bpf_tail_call(ctx, &lb_chain_xdp, me->slot + 1);
	return action;
}

static __always_inline __u32 lb_tc_verdict(int r)
{
	switch (r) {
	case LB_TC_ACT_OK:
	case LB_TC_ACT_UNSPEC:
		return LB_MV_PASS;
	case LB_TC_ACT_SHOT:
		return LB_MV_DROP;
	case LB_TC_ACT_REDIRECT:
		return LB_MV_REDIRECT;
	}
	return LB_MV_OTHER;
}

static __always_inline int lb_chain_tc_next(struct __sk_buff *skb, int action)
{
	__u32 h = LB_CHAIN_HOOK_TC;
	struct lb_chain_self *me = bpf_map_lookup_elem(&lb_chain_self, &h);

	if (!me)
		return action;
	lb_mod_count(me->key, h, lb_tc_verdict(action), skb->len);
	if (action == LB_TC_ACT_OK || action == LB_TC_ACT_UNSPEC)
		bpf_tail_call(skb, &lb_chain_tc, me->slot + 1);
	return action;
}

#endif /* LB_BPF_CHAIN_H */
