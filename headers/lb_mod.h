/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb_mod.h - the contract of module chains and of the metrics module,
 * between the datapath and user space.
 *
 * Consumers:
 *   - bpf/lib/chain.h (every module program ends through it),
 *     bpf/chain_root.bpf.c, bpf/lib/mx.h, bpf/mx_xdp.bpf.c, bpf/mx_tc.bpf.c
 *   - the agent's module lifecycle (userspace/module.c): builds chains,
 *     sets each program's slot and revision key, reads lb_mod_stats for the
 *     health window, and lb_mx_stats for /metrics
 *   - tests/bpf/test_chain.c
 *
 * A hook (XDP ingress, TC egress) runs a chain of up to LB_CHAIN_SLOTS
 * modules: the interface's link runs a root program that tail-calls slot 0
 * of the chain's prog array; each module program ends in lib/chain.h, which
 * counts its verdict under its revision key and, when it passes, tail-calls
 * the next slot.  A chain belongs to one generation and is complete before
 * any link points at it (userspace/module.h).  (The kernels this agent runs
 * on may refuse BPF_PROG_TYPE_EXT, e.g. under lockdown, so the chain uses
 * tail calls, not freplace.)
 *
 * Every counter map here is a per-CPU array of struct lb_mod_ctr (or rows of
 * them): the CPU owns its element, so plain adds suffice, and a reader sums
 * the CPUs.  Maps are pinned by name in the version-free map directory and
 * outlive every revision and every chain.
 */
#ifndef LB_MOD_H
#define LB_MOD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "lb_fw.h"	/* LB_MAX_IFACES: the metrics use the firewall's interface slots */

/* ---- chains ---- */

#define LB_CHAIN_SLOTS	4	/* modules per hook */
#define LB_CHAIN_HOOKS	2
#define LB_CHAIN_HOOK_XDP	0
#define LB_CHAIN_HOOK_TC	1
#define LB_CHAIN_NO_SLOT	0xffffffffU	/* lb_chain_self: the program has no such hook */

/*
 * Revision keys: 1 .. LB_MOD_KEYS - 2 are revisions (1 + serial % 1022);
 * 0 is a program loaded alone, outside any chain; the last is self-tests.
 */
#define LB_MOD_KEYS		1024
#define LB_MOD_KEY_UNCHAINED	0
#define LB_MOD_KEY_SELFTEST	(LB_MOD_KEYS - 1)

/*
 * lb_chain_self: ARRAY of LB_CHAIN_HOOKS, one map per loaded program
 * instance (never pinned, never shared): [hook] = where the program sits in
 * that hook's chain and the key it counts under.
 */
struct lb_chain_self {
	__u32 slot;
	__u32 key;
};

/*
 * What a module returned, as counted in lb_mod_stats.  The first five are
 * the XDP action numbers (XDP_ABORTED .. XDP_REDIRECT).  TC codes:
 * TC_ACT_SHOT -> DROP, TC_ACT_OK and TC_ACT_UNSPEC -> PASS,
 * TC_ACT_REDIRECT -> REDIRECT, anything else -> OTHER; ABORTED and TX are
 * never counted at TC.  LB_MV_MAX is the stride of a key's row, with room
 * left for more verdicts without a layout change.
 */
enum lb_mod_verdict {
	LB_MV_ABORTED = 0,
	LB_MV_DROP = 1,
	LB_MV_PASS = 2,
	LB_MV_TX = 3,
	LB_MV_REDIRECT = 4,
	LB_MV_OTHER = 5,
	LB_MV_MAX = 8,
};

/* A packet and byte counter; the value of lb_mod_stats and of lb_mx_stats' cells. */
struct lb_mod_ctr {
	__u64 packets;
	__u64 bytes;	/* XDP: data_end - data (the linear frame); TC: skb->len */
};

/*
 * lb_mod_stats: PERCPU_ARRAY, pinned by name, max_entries LB_MOD_KEYS *
 * LB_CHAIN_HOOKS * LB_MV_MAX, index lb_mod_stats_idx(key, hook, verdict):
 * what each module revision returned on each hook, counted by the module's
 * own program (lib/chain.h).  Per hook, so that XDP counts are every packet
 * the interface received, exactly once per module.  Two
 * revisions that share a key (serials 1022 apart) would share counters, so
 * the agent zeroes a key's row before it hands the key to a new revision.
 * Bytes are the frame's length when the module decided.
 */
#define LB_MOD_STATS_ENTRIES	(LB_MOD_KEYS * LB_CHAIN_HOOKS * LB_MV_MAX)

static inline __attribute__((always_inline)) __u32 lb_mod_stats_idx(__u32 key, __u32 hook,
								   __u32 verdict)
{
	return (key * LB_CHAIN_HOOKS + hook) * LB_MV_MAX + verdict;
}

/* ---- the metrics module (bpf/mx_xdp.bpf.c, bpf/mx_tc.bpf.c) ---- */

/*
 * lb_mx_stats: PERCPU_ARRAY, pinned by name, max_entries LB_MX_ROWS, index
 * lb_mx_key(slot, dir) -> struct lb_mx_row: one row per interface counter
 * slot and direction, so a packet costs one (inlined) lookup and user space
 * reads a whole interface-direction in one call.
 *
 * slot: the firewall's counter slot of the interface (struct lb_iface.slot,
 * rows of lb_ifaces / lb_ifaces_hi, LB_IF_MANAGED), or LB_MX_SLOT_OTHER for
 * every interface without a managed row (and a row whose slot is out of
 * range).  dir: LB_MX_INGRESS (XDP) or LB_MX_EGRESS (TC).
 *
 * Classes.  l3 from the EtherType after at most LB_MX_VLAN_MAX VLAN tags
 * (802.1Q or 802.1ad): IPv4, IPv6, ARP, or OTHER (anything else, a third
 * tag, a frame too short for its Ethernet or VLAN header).  l4 from the IPv4
 * protocol or the IPv6 fixed header's next header, without walking IPv6
 * extension headers (a packet behind a hop-by-hop or fragment header counts
 * as OTHER): TCP, UDP, ICMP (ICMP over IPv4, ICMPv6 over IPv6), or OTHER.
 * A non-first IPv4 fragment still names its protocol and counts under it.
 * An IP packet whose fixed header is not all there counts as l4 OTHER;
 * ARP and OTHER L2 are always l4 OTHER.  The TC program sees only the
 * skb's linear part and does not pull: headers beyond it count as above.
 *
 * Sizes: frame length (no FCS) in buckets up to 64, 128, 256, 512, 1024,
 * 1518 bytes and larger (LB_MX_SIZE_*); lb_mx_size_bucket() is the rule.
 * A packet is counted once in cls[][] and once in size[].
 */
#define LB_MX_SLOT_OTHER	LB_MAX_IFACES	/* unmanaged interfaces */
#define LB_MX_SLOTS		(LB_MAX_IFACES + 1)
#define LB_MX_VLAN_MAX		2

enum lb_mx_dir {
	LB_MX_INGRESS = 0,
	LB_MX_EGRESS = 1,
	LB_MX_DIRS = 2,
};

enum lb_mx_l3 {
	LB_MX_IPV4 = 0,
	LB_MX_IPV6 = 1,
	LB_MX_ARP = 2,
	LB_MX_L2_OTHER = 3,
	LB_MX_L3 = 4,
};

enum lb_mx_l4 {
	LB_MX_TCP = 0,
	LB_MX_UDP = 1,
	LB_MX_ICMP = 2,
	LB_MX_L4_OTHER = 3,
	LB_MX_L4 = 4,
};

enum lb_mx_size {
	LB_MX_SIZE_64 = 0,	/* <= 64 bytes */
	LB_MX_SIZE_128 = 1,
	LB_MX_SIZE_256 = 2,
	LB_MX_SIZE_512 = 3,
	LB_MX_SIZE_1024 = 4,
	LB_MX_SIZE_1518 = 5,
	LB_MX_SIZE_JUMBO = 6,	/* > 1518 */
	LB_MX_SIZES = 7,
};

struct lb_mx_row {
	struct lb_mod_ctr cls[LB_MX_L3][LB_MX_L4];	/* [enum lb_mx_l3][enum lb_mx_l4] */
	struct lb_mod_ctr size[LB_MX_SIZES];		/* [enum lb_mx_size] */
};

#define LB_MX_ROWS	(LB_MX_SLOTS * LB_MX_DIRS)

_Static_assert(sizeof(struct lb_mx_row) == (LB_MX_L3 * LB_MX_L4 + LB_MX_SIZES) * 16,
	       "no padding: user space reads rows as arrays of counters");

static inline __attribute__((always_inline)) __u32 lb_mx_key(__u32 slot, __u32 dir)
{
	return slot * LB_MX_DIRS + dir;
}

static inline __attribute__((always_inline)) __u32 lb_mx_size_bucket(__u64 len)
{
	if (len <= 64)
		return LB_MX_SIZE_64;
	if (len <= 128)
		return LB_MX_SIZE_128;
	if (len <= 256)
		return LB_MX_SIZE_256;
	if (len <= 512)
		return LB_MX_SIZE_512;
	if (len <= 1024)
		return LB_MX_SIZE_1024;
	return len <= 1518 ? LB_MX_SIZE_1518 : LB_MX_SIZE_JUMBO;
}

#endif /* LB_MOD_H */
