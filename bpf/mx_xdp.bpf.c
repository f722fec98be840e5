// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mx_xdp.bpf.c - the metrics module, ingress half (XDP).
 *
 * Counts every frame by interface slot, class and size into lb_mx_stats
 * (layout: headers/lb_mod.h, datapath: lib/mx.h) and always returns
 * XDP_PASS: it observes, never decides.  It runs alone (tests), or as a
 * module of a chain (lib/chain.h), before the firewall.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/mx.h"
#include "lib/chain.h"

SEC("xdp")
int lb_mx_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;

	lb_mx_count(data, data_end, ctx->ingress_ifindex, LB_MX_INGRESS, data_end - data);
	return lb_chain_xdp_next(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
