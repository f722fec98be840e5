/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb_fw.h - the contract between the firewall datapath and user space.
 *
 * Map names, keys, values and limits.  Every struct here is read or written by
 * both sides, so types are explicit and padding is spelled out.
 *
 * Consumers:
 *   - bpf/lib/maps.h (map definitions), bpf/fw_xdp.bpf.c, bpf/fw_tc.bpf.c
 *   - userspace/compile.c (builds map contents), userspace/fw_apply.c (writes
 *     them), userspace/fw_stats.c, fw_events.c, fw_ct.c (read them)
 *   - tests/bpf/test_fw_xdp.c
 *
 * Policy lookup (see README "Datapath"): the compiler turns the rule list into
 * equivalence classes per field, then one hash entry per combination of
 * classes that some rule covers, holding the winning rule.  A packet costs
 * five lookups whatever the number of rules:
 *
 *   src addr --LPM--> src class     dst addr --LPM--> dst class
 *   proto --array--> proto class    dport/sport --array--> port classes
 *   {classes, copy} --hash--> rule (index, action)
 *
 * Two copies of all policy maps coexist, told apart by a copy byte in each
 * key (or the array index).  Apply writes the inactive copy whole, then flips
 * the one u32 in lb_active.  No packet sees a half-applied policy.
 */
#ifndef LB_FW_H
#define LB_FW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "lb_reasons.h"

#define LB_POLICY_COPIES	2
#define LB_MAX_IFACES		64		/* counter slots */
#define LB_MAX_RULES		131072		/* per copy */
#define LB_MAX_RULE_ENTRIES	(1U << 21)	/* compiled (class combination) entries, both copies */
#define LB_MAX_PREFIXES		(1U << 18)	/* per LPM map, both copies */
#define LB_PORT_SPACE		65536
#define LB_PROTO_SPACE		256
#define LB_FAILSAFE_MAX		16		/* entries in the failsafe list */
#define LB_FAILSAFE_PER_PREFIX	8		/* (proto, port) pairs per source prefix */
#define LB_CT_TCP_MAX		262144
#define LB_CT_OTHER_MAX		131072
#define LB_FRAG_MAX		16384
#define LB_EVENTS_BYTES		(256 * 1024)
#define LB_IPV6_EXT_MAX		6		/* extension headers walked before giving up */

/* Rule actions, also the per-interface default actions. */
enum lb_action {
	LB_ACT_ALLOW = 0,
	LB_ACT_DENY = 1,
	LB_ACT_AUDIT = 2,
};

/* Pseudo rule index meaning "no rule" (defaults, failsafe, conntrack). */
#define LB_RULE_NONE 0xffffffffU

/*
 * The "port" fields of the classifier.  For TCP/UDP they are the ports.  For
 * ICMP and ICMPv6, dport is (type << 8 | code) and sport is 0, so one rule
 * field can name a type, a type and code, or a range of them.  Packets with
 * no L4 header the parser understands use 0 and 0.
 */

/* ---- policy maps (keys carry the copy) ---- */

/* LPM keys: prefixlen counts the 8 bits of copy, then address bits. */
struct lb_lpm4_key {
	__u32 prefixlen;
	__u8 copy;
	__u8 addr[4];
} __attribute__((packed));

struct lb_lpm6_key {
	__u32 prefixlen;
	__u8 copy;
	__u8 addr[16];
} __attribute__((packed));

/*
 * Full-length prefixes (/32, /128) live in exact-match hashes in front of the
 * tries (lb_srch4/6, lb_dsth4/6): a host match is the longest match there can
 * be, and a policy of 100,000 host addresses then costs one hash lookup, not a
 * walk down a deep trie.  The tries keep the shorter prefixes.
 */
struct lb_host4_key {
	__u8 copy;
	__u8 pad[3];
	__u8 addr[4];
};

struct lb_host6_key {
	__u8 copy;
	__u8 pad[3];
	__u8 addr[16];
};

/* lb_copy_info: ARRAY [copy] -> this; written before the flip to that copy. */
struct lb_copy_info {
	__u32 flags;		/* LB_CI_*: which host hashes hold entries */
	__u32 pad;
};

#define LB_CI_SRC_HOST4 (1U << 0)
#define LB_CI_SRC_HOST6 (1U << 1)
#define LB_CI_DST_HOST4 (1U << 2)
#define LB_CI_DST_HOST6 (1U << 3)

/* Value of the LPM maps and host hashes above: the address class. */
struct lb_class_val {
	__u32 cls;
};

/*
 * lb_proto_cls: ARRAY [copy * 256 + proto] -> class.
 * lb_dport_cls, lb_sport_cls: ARRAY [copy * 65536 + port] -> class.
 * Values are __u32.
 */

struct lb_rule_key {
	__u32 src_cls;
	__u32 dst_cls;
	__u16 dport_cls;
	__u16 sport_cls;
	__u8 proto_cls;
	__u8 copy;
	__u16 pad;
};

struct lb_rule_val {
	__u32 rule_idx;		/* index into the policy's rule list, for rule hits */
	__u8 action;		/* enum lb_action */
	__u8 pad[3];
};

/* lb_active: ARRAY [0] -> struct lb_active.  The flip. */
struct lb_active {
	__u32 copy;		/* copy packets use now */
	__u32 loaded;		/* 0 until the first policy is applied */
};

/* ---- failsafe (anti-lockout), checked before conntrack and rules ---- */

struct lb_failsafe_port {
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP, 0 = any */
	__u8 pad;
	__u16 dport;		/* host order, 0 = any */
};

/* lb_fs4 / lb_fs6 LPM (same keys as above, copy included) -> this. */
struct lb_failsafe_val {
	__u32 count;
	struct lb_failsafe_port ports[LB_FAILSAFE_PER_PREFIX];
};

/* ---- interfaces ---- */

/* lb_ifaces: HASH ifindex -> struct lb_iface.  Written at attach and apply. */
struct lb_iface {
	__u32 slot;				/* counter row, < LB_MAX_IFACES */
	__u8 default_action[LB_POLICY_COPIES];	/* per policy copy, enum lb_action */
	__u8 pad[2];
};

/* ---- counters ---- */

/* lb_stats: PERCPU_ARRAY [slot * LB_REASON_SLOTS + reason] -> struct lb_counter. */
struct lb_counter {
	__u64 packets;
	__u64 bytes;
};

/* lb_rule_hits: PERCPU_ARRAY [copy * LB_MAX_RULES + rule_idx] -> __u64 packets. */

/* ---- configuration ---- */

/* lb_config: ARRAY [0] -> struct lb_config.  Zero means "built-in default". */
struct lb_config {
	__u32 ev_rate;		/* events per second per CPU (token refill), default 100 */
	__u32 ev_burst;		/* bucket depth, default 50 */
	__u32 ev_flags;		/* LB_EVF_*, default drops and audits */
	__u32 gc_interval_ms;	/* conntrack collector period, default 10000 */
	__u64 ct_timeout_ns[8];	/* indexed by enum lb_ct_timeout */
};

#define LB_EVF_DROP	(1U << 0)	/* events for dropped packets */
#define LB_EVF_AUDIT	(1U << 1)	/* events for audit matches */
#define LB_EVF_DEFAULT	(LB_EVF_DROP | LB_EVF_AUDIT)

enum lb_ct_timeout {
	LB_CTT_TCP_SYN = 0,	/* default 60 s */
	LB_CTT_TCP_EST = 1,	/* default 7200 s */
	LB_CTT_TCP_FIN = 2,	/* default 60 s */
	LB_CTT_TCP_CLOSE = 3,	/* default 10 s (after RST) */
	LB_CTT_UDP = 4,		/* default 60 s */
	LB_CTT_ICMP = 5,	/* default 30 s */
	LB_CTT_OTHER = 6,	/* default 60 s */
	LB_CTT_MAX = 8,
};

#define LB_NSEC_PER_SEC 1000000000ULL
#define LB_CT_DEFAULT_TIMEOUTS_S { 60, 7200, 60, 10, 60, 30, 60, 60 }

/* ---- conntrack ---- */

/*
 * Key in the direction of the outbound packet that created it: saddr is the
 * local address.  IPv4 addresses sit in the first 4 bytes, rest zero.
 * ICMP echo: sport = echo id, dport = 0.
 */
struct lb_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;		/* network order */
	__u16 dport;		/* network order */
	__u8 proto;
	__u8 family;		/* 4 or 6 */
	__u16 pad;
};

enum lb_ct_state {
	LB_CT_NEW = 0,		/* non-TCP, or TCP seen without SYN (mid-stream) */
	LB_CT_SYN_SENT = 1,
	LB_CT_ESTABLISHED = 2,
	LB_CT_FIN = 3,
	LB_CT_CLOSED = 4,
};

/* lb_ct_tcp (TCP) and lb_ct_other (UDP, ICMP, rest): LRU_HASH key -> this. */
struct lb_ct_val {
	__u64 created_ns;
	__u64 last_seen_ns;	/* bpf_ktime_get_ns() */
	__u64 expires_ns;	/* last_seen + the state's timeout */
	__u64 packets_out;
	__u64 packets_in;
	__u8 state;		/* enum lb_ct_state */
	__u8 seen_reply;
	__u8 pad[6];
};

/*
 * The conntrack collector (bpf/ct_gc.bpf.c) is a bpf_timer in a pinned map:
 * it runs in the kernel every gc_interval_ms, with or without lbagent, and
 * deletes expired entries of lb_ct_tcp, lb_ct_other and lb_frags.
 * lb_gc_stats: ARRAY [0] -> this.
 */
struct lb_gc_stats {
	__u64 runs;
	__u64 deleted;
	__u64 last_run_ns;
};

#define LB_GC_DEFAULT_MS 10000

/* ---- fragments ---- */

/* lb_frags: LRU_HASH.  The first fragment's verdict, for the ones after it. */
struct lb_frag_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 id;		/* IPv4 id (16 bits) or IPv6 fragment id */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct lb_frag_val {
	__u64 seen_ns;
	__u32 rule_idx;
	__u8 verdict;		/* enum lb_verdict of the first fragment */
	__u8 pad[3];
};

#define LB_FRAG_TIMEOUT_NS (30ULL * LB_NSEC_PER_SEC)

/* ---- events ---- */

/* lb_ev_bucket: PERCPU_ARRAY [0] -> token bucket state. */
struct lb_ev_bucket {
	__u64 tokens_milli;	/* tokens * 1000 */
	__u64 last_ns;
};

/* lb_ev_stats: PERCPU_ARRAY [0] -> event counters. */
struct lb_ev_stats {
	__u64 emitted;
	__u64 suppressed;	/* no token: rate limit */
	__u64 lost;		/* ring buffer full */
};

/* Records in the lb_events ring buffer. */
struct lb_event {
	__u64 ts_ns;
	__u32 ifindex;
	__u32 rule_idx;		/* LB_RULE_NONE when no rule */
	__u16 reason;		/* enum lb_reason */
	__u8 verdict;		/* enum lb_verdict */
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__u8 tcp_flags;
	__u16 pkt_len;
	__u16 sport;		/* host order; ICMP: type << 8 | code in dport */
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif /* LB_FW_H */
