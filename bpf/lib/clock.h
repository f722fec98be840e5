/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * clock.h - the packet's clock: read once, and only by a stage that needs it.
 *
 * API:
 *   struct lb_clock clk = {};		one per packet
 *   __u64 lb_now(struct lb_clock *clk)	bpf_ktime_get_ns(), read on first use
 *
 * bpf_ktime_get_ns() costs about 35 ns on the machines we measure (a TSC read
 * behind the clocksource's indirect call), more than any map lookup.  Most
 * packets need no time at all: a rule verdict reads no clock.  Only a
 * conntrack hit (expiry, refresh), a fragment and an emitted event do.  The
 * event token bucket gates its refill on jiffies instead (events.h).
 */
#ifndef LB_BPF_CLOCK_H
#define LB_BPF_CLOCK_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct lb_clock {
	__u64 ns;	/* 0 until read; the monotonic clock is never 0 after boot */
};

static __always_inline __u64 lb_now(struct lb_clock *clk)
{
	if (!clk->ns)
		clk->ns = bpf_ktime_get_ns();
	return clk->ns;
}

#endif /* LB_BPF_CLOCK_H */
