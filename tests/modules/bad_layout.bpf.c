// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bad_layout.bpf.c - a test module whose lb_stats map has another value
 * size than the pinned one: installing it must be refused (a layout change
 * needs a migration), never reset the counters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/chain.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_stats SEC(".maps");

SEC("xdp")
int lb_test_bad_layout(struct xdp_md *ctx)
{
	__u32 zero = 0, *v = bpf_map_lookup_elem(&lb_stats, &zero);

	if (v)
		(*v)++;
	return lb_chain_xdp_next(ctx, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
