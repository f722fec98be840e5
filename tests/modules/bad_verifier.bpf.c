// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bad_verifier.bpf.c - a test module that compiles, passes every ELF check,
 * and is refused by the verifier: it reads packet data without a bounds
 * check.  The lifecycle test installs it and expects the verifier's log.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/chain.h"

SEC("xdp")
int lb_test_bad_verifier(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return lb_chain_xdp_next(ctx, data[40] == 0x11 ? XDP_DROP : XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
