// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * drop_all.bpf.c - a test module that passes a self-test of malformed
 * packets (it drops them, as the firewall does) and drops everything else
 * too.  The lifecycle test installs it as a firewall update; the health
 * window must see the drop share jump and roll it back.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/chain.h"

SEC("xdp")
int lb_test_drop_all(struct xdp_md *ctx)
{
	return lb_chain_xdp_next(ctx, XDP_DROP);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
