// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xdp_pass.bpf.c - the empty program: the baseline of the benchmarks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
