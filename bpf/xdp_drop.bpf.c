// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xdp_drop.bpf.c - drops everything: the cheapest verdict, for benchmarks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop_prog(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
