// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * abort_udp.bpf.c - a test module that misbehaves only on live traffic:
 * XDP_ABORTED for UDP to port 9001, XDP_PASS for everything else (so the
 * self-test vectors, ARP and malformed IPv4, pass).  The lifecycle test
 * installs it as a firewall update; the health window must roll it back.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/chain.h"
#include <bpf/bpf_endian.h>

SEC("xdp")
int lb_test_abort_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(0x0800) || ip->ihl != 5 ||
	    ip->protocol != 17)
		return lb_chain_xdp_next(ctx, XDP_PASS);
	return lb_chain_xdp_next(ctx, udp->dest == bpf_htons(9001) ? XDP_ABORTED : XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
