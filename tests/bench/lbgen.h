/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lbgen.h - the contract between the traffic generator's BPF programs and
 * lbgen, its user space.
 *
 * Consumers: bpf/bench_gen.bpf.c (defines the maps), tests/bench/lbgen.c
 * (reads them after a run).
 *
 * gen_count, the receiving side's counting program, keys its flow table by
 * source address and port, so the number of entries is the number of distinct
 * flows that really arrived.
 */
#ifndef LB_BENCH_LBGEN_H
#define LB_BENCH_LBGEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Flow table capacity: one million flows and room to spare. */
#define LBGEN_MAX_FLOWS (1U << 21)

/* Key of the flow table: IPv4 sources use the first 4 bytes of addr. */
struct lbgen_flow {
	__u8 addr[16];
	__u16 sport;	/* network order */
	__u8 family;	/* 4 or 6 */
	__u8 proto;	/* IPPROTO_UDP or IPPROTO_TCP */
};

/* Per-CPU state of gen_redirect: all zero starts at flow 0. */
struct lbgen_seq {
	__u64 frames;	/* frames made on this CPU */
	__u64 flow;	/* the next frame's flow */
	__u32 addr;	/* its digits: flow % addrs */
	__u32 port;	/* and flow / addrs */
};

/* Per-CPU counters of gen_count. */
struct lbgen_rx {
	__u64 packets;	/* every frame seen */
	__u64 other;	/* not IPv4/IPv6 UDP/TCP: counted, not keyed */
	__u64 full;	/* new flow, but the flow table was full */
};

#endif
