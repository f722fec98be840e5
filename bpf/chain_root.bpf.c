// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * chain_root.bpf.c - the program every interface's link runs: a tail call
 * into slot 0 of its hook's chain (lib/chain.h, userspace/module.c).
 *
 * The agent loads one pair per generation, with the generation's fresh prog
 * arrays in place of these (bpf_map__reuse_fd), fills the arrays, tests the
 * chain through the roots, and only then swaps the links to them
 * (bpf_link_update, BPF_F_REPLACE).  A packet runs wholly in the old
 * generation or wholly in the new one.
 *
 * An empty chain (every module disabled) passes: XDP_PASS, and at TC
 * TC_ACT_UNSPEC, which is tcx's TCX_NEXT and cls_bpf's "next filter", so
 * whoever is attached after us still runs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/chain_maps.h"

SEC("xdp")
int lb_root_xdp(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &lb_chain_xdp, 0);
	return XDP_PASS;
}

SEC("tc")
int lb_root_tc(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &lb_chain_tc, 0);
	return -1;	/* TC_ACT_UNSPEC / TCX_NEXT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
