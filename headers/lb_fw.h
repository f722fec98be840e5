/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb_fw.h - the contract between the firewall datapath and user space.
 *
 * Map names, keys, values and limits.  Every struct here is read or written by
 * both sides, so types are explicit and padding is spelled out.
 *
 * Consumers:
 *   - bpf/lib/maps.h (map definitions), bpf/fw_xdp.bpf.c, bpf/fw_tc.bpf.c,
 *     bpf/ct_gc.bpf.c (conntrack collector, lb_ct_filter rebuild)
 *   - userspace/compile.c (builds map contents), userspace/fw_apply.c (writes
 *     them), userspace/fwmaps.c (interface rows), userspace/fw_stats.c,
 *     fw_events.c (read them)
 *   - tests/bpf/test_fw_xdp.c, tests/bench/bench_prog.c
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
 * Each of them is skipped or made cheaper where the policy allows (struct
 * lb_copy_info): the longest prefixes in an exact-match table, no trie lookup
 * when /0 is its only prefix, and the rule from an array indexed by the
 * classes (lb_rules_dense) when their combinations fit.
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
 * Host tables (lb_srcx4, lb_srcx6, lb_dstx4, lb_dstx6): the longest prefixes
 * of each prefix table, in front of its trie.  All the prefixes of the
 * table's LB_HT_LENGTHS longest distinct prefix lengths (other than /0) are
 * kept there, each by its address masked to its length and by that length
 * (lb_copy_info.host_plen[t][], longest first: /32 or /128 for a host list,
 * /56 for a list of /56s, /64 and /56 for /56s with a few /64s).  A lookup
 * masks the address to each listed length in turn, longest first, and the
 * first hit is the longest match there can be: the trie then holds only
 * shorter prefixes (and the entries that found no slot, see below).  So a
 * policy of 100,000 host addresses, or of 100,000 /56s and a /64, costs a
 * probe or two per listed length, not a walk down a deep trie.
 *
 * Each is an ARRAY (BPF_F_MMAPABLE, written through mmap) of buckets of
 * LB_HT_WAYS slots, LB_HT_BUCKETS buckets per copy from copy * LB_HT_BUCKETS,
 * of which a copy uses host_bmask[t] + 1 (a power of two): a bucketized
 * cuckoo table.  An entry sits in one of two buckets, lb_ht_bucket1() and
 * lb_ht_bucket2() of lb_ht_hash_len(), so a probe reads at most two buckets,
 * each an inlined array lookup: no jhash and no call, a few ns where a hash
 * map costs ~33.  The writer (userspace/fw_apply.c) places entries by cuckoo
 * displacement, lengths longest first; one it cannot place (a table near
 * full) goes into the trie instead, where the longest match still finds it.
 * A trie entry of length L would be missed behind a table hit of a shorter
 * length, so after a spill of length L the writer lists no length below L
 * and puts the prefixes of those lengths into the trie too.  Memory: 2.5 MiB
 * per IPv4 table, 5.5 MiB per IPv6 table, both copies.
 */
#define LB_HT_LENGTHS	4	/* prefix lengths a host table holds, at most */
#define LB_HT_WAYS	4
#define LB_HT_BUCKETS	(1U << 15)	/* per copy: 131,072 slots, the per-copy prefix limit */

/*
 * more: some entry whose first bucket this is sits in its second one.  A
 * miss in a first bucket without it is a miss: the second bucket, another
 * random cache line, is read only when it may hold the entry.  The writer
 * sets it after placing every entry (kicks move entries between buckets).
 */
struct lb_ht4_bucket {
	__u8 addr[LB_HT_WAYS][4];	/* network order, masked to plen */
	__u32 cls1[LB_HT_WAYS];		/* class + 1; 0: an empty slot */
	__u8 plen[LB_HT_WAYS];		/* the entry's prefix length */
	__u8 more;
	__u8 pad[3];			/* an array spaces its values 8 bytes apart */
};

struct lb_ht6_bucket {
	__u8 addr[LB_HT_WAYS][16];
	__u32 cls1[LB_HT_WAYS];
	__u8 plen[LB_HT_WAYS];
	__u8 more;
	__u8 pad[3];
};

_Static_assert(sizeof(struct lb_ht4_bucket) % 8 == 0 && sizeof(struct lb_ht6_bucket) % 8 == 0,
	       "the writer strides buckets as the array spaces them, 8-byte aligned");

/* A fold of the masked address; both buckets come from it. */
static inline __attribute__((always_inline)) __u64 lb_ht_hash(__u64 a0, __u64 a1)
{
	__u64 h = (a0 * 0x9e3779b97f4a7c15ULL) ^ (a1 * 0xc2b2ae3d27d4eb4fULL);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

/* The hash of an entry: its masked address and its prefix length. */
static inline __attribute__((always_inline)) __u64 lb_ht_hash_len(__u64 a0, __u64 a1,
								   __u32 plen)
{
	return lb_ht_hash(a0, a1 ^ ((__u64)(plen + 1) * 0xff51afd7ed558ccdULL));
}

static inline __attribute__((always_inline)) __u32 lb_ht_bucket1(__u64 h, __u32 bmask)
{
	return (__u32)h & bmask;
}

/* Never the first bucket, unless there is only one. */
static inline __attribute__((always_inline)) __u32 lb_ht_bucket2(__u64 h, __u32 bmask)
{
	__u32 b1 = (__u32)h & bmask, b2 = (__u32)(h >> 32) & bmask;

	return b2 == b1 ? (b1 ^ 1) & bmask : b2;
}

/*
 * lb_copy_info: ARRAY [copy] -> this; written before the flip to that copy.
 *
 * What the datapath may skip for this copy, so that a packet pays only for
 * the lookups that can change its class (each hash or LPM lookup costs 20-50
 * ns).  There are four prefix tables, t = LB_CI_T(dir, family): source v4,
 * source v6, destination v4, destination v6.  For each:
 *   LB_CI_HOST(t)	the host table holds entries: look the address up there
 *			first, for each of its host_nlen[t] lengths, longest
 *			first: masked with host_mask[t][i] (host_plen[t][i]
 *			bits), keyed by host_plen[t][i];
 *   LB_CI_TRIE(t)	the trie must be looked up: it holds a prefix other than
 *			/0, or no /0.  Clear: /0 is the trie's only prefix, so
 *			every address that misses the host hash has the class
 *			zero_cls[t], with no lookup.
 * LB_CI_FS4, LB_CI_FS6: the failsafe list has entries of that family; clear,
 * the failsafe lookup is skipped.
 * LB_CI_DENSE: the copy's rule entries are in lb_rules_dense (below), not in
 * lb_rules.
 */
struct lb_dense_dims {
	__u32 src_lo, src_n;	/* this family's source classes: [src_lo, src_lo + src_n) */
	__u32 dst_lo, dst_n;	/* its destination classes */
	__u32 base;		/* its first slot in the copy's part of lb_rules_dense */
};

struct lb_copy_info {
	__u32 flags;		/* LB_CI_* */
	__u8 host_nlen[4];	/* [t]: lengths the host table holds, 0..LB_HT_LENGTHS */
	__u8 host_plen[4][LB_HT_LENGTHS];	/* [t][i]: those lengths, longest first */
	__u8 host_mask[4][LB_HT_LENGTHS][16];	/* [t][i]: the same as masks, network order */
	__u32 host_bmask[4];	/* [t]: buckets the host table uses, minus one */
	__u32 zero_cls[4];	/* [t]: class of the /0 prefix, valid when !LB_CI_TRIE(t) */
	__u32 n_proto, n_dport, n_sport;	/* class counts, with LB_CI_DENSE */
	struct lb_dense_dims dense[2];		/* [0] IPv4, [1] IPv6, with LB_CI_DENSE */
	__u32 pad;
};

#define LB_CI_T(dst, v6)	((dst) * 2 + (v6))	/* dst, v6: 0 or 1 */
#define LB_CI_HOST(t)		(1U << (t))
#define LB_CI_TRIE(t)		(1U << (4 + (t)))
#define LB_CI_FS4		(1U << 8)
#define LB_CI_FS6		(1U << 9)
#define LB_CI_DENSE		(1U << 10)
/* Every protocol / destination port / source port is in class 0: no lookup. */
#define LB_CI_PROTO1		(1U << 11)
#define LB_CI_DPORT1		(1U << 12)
#define LB_CI_SPORT1		(1U << 13)

#define LB_CI_SRC_HOST4 LB_CI_HOST(LB_CI_T(0, 0))
#define LB_CI_SRC_HOST6 LB_CI_HOST(LB_CI_T(0, 1))
#define LB_CI_DST_HOST4 LB_CI_HOST(LB_CI_T(1, 0))
#define LB_CI_DST_HOST6 LB_CI_HOST(LB_CI_T(1, 1))

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

/*
 * lb_rules_dense: ARRAY (BPF_F_MMAPABLE) of LB_DENSE_SLOTS __u32 slots, two
 * per 8-byte element (an array spaces its values 8 bytes apart, so one
 * __u32 per element would waste half), LB_DENSE_MAX slots per copy from
 * copy * LB_DENSE_MAX.  When the combinations of a copy's classes fit, the
 * writer (userspace/fw_apply.c, through mmap) puts the winning rule of every
 * combination into a slot instead of lb_rules, and sets LB_CI_DENSE: the rule
 * then costs a multiply-add and an array load, not a 16-byte jhash and a hash
 * probe (~30 ns).  Each family has its block (struct lb_dense_dims):
 *
 *   slot = base + ((((src - src_lo) * dst_n + dst - dst_lo) * n_proto + proto)
 *			* n_dport + dport) * n_sport + sport
 *
 * holding 0 (no rule: the interface default) or LB_DENSE_RULE(rule_idx,
 * action).
 */
#define LB_DENSE_MAX		(1U << 20)		/* slots per copy */
#define LB_DENSE_SLOTS		(LB_DENSE_MAX * LB_POLICY_COPIES)
#define LB_DENSE_RULE(idx, act)	((__u32)(act) << 24 | ((idx) + 1))
#define LB_DENSE_IDX(v)		(((v) & 0xffffffU) - 1)
#define LB_DENSE_ACT(v)		((v) >> 24)

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

/*
 * An interface's row lives in one of two maps, by its ifindex:
 *   ifindex < LB_IFINDEX_ARRAY:	lb_ifaces, ARRAY [ifindex] -> struct lb_iface;
 *					a row without LB_IF_MANAGED is no interface
 *   otherwise:				lb_ifaces_hi, HASH ifindex -> struct lb_iface
 * Every packet looks its interface up first: an array lookup is a few
 * instructions, a hash lookup ~30 ns, and ifindexes are small on nearly every
 * host.  Written at attach, apply and detach, by writers holding the bpffs
 * lock, through fwmaps.c (iface_row_get/put/del), which picks the map.
 */
#define LB_IFINDEX_ARRAY	4096

struct lb_iface {
	__u32 slot;				/* counter row, < LB_MAX_IFACES */
	__u8 default_action[LB_POLICY_COPIES];	/* per policy copy, enum lb_action */
	__u8 flags;				/* LB_IF_* */
	__u8 pad;
};

#define LB_IF_MANAGED	(1U << 0)	/* the row is an attached interface */

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
} __attribute__((aligned(8)));	/* hashed as five __u64 words (lb_ct_filter) */

/*
 * lb_ct_filter: ARRAY [LB_CTF_KEYS] -> __u64.  A one-hash bit filter over the
 * keys of lb_ct_tcp and lb_ct_other, so that ingress skips the conntrack
 * lookup (a 40-byte jhash and an LRU probe, ~35 ns) for the packets that
 * cannot be replies: a clear bit means no entry has that key, a set bit means
 * maybe.  The bit of a key is lb_ctf_hash() below, of the key's fields.
 *
 * Two halves of LB_CTF_WORDS words, [0, W) and [W, 2W); element
 * LB_CTF_GEN_KEY says which half ingress reads (bit 0) and whether a rebuild
 * is running (LB_CTF_BUSY).  Writers:
 *   - TC egress sets the bit of every entry it creates or refreshes in both
 *     halves, after the map update;
 *   - the collector (ct_gc.bpf.c) clears the half ingress does not read,
 *     sets the bits of the entries it keeps, then points ingress at it; so
 *     bits of deleted and evicted entries go at the next run.  Arming the
 *     collector rebuilds too: arm it before a datapath whose lb_ct_filter is
 *     new serves conntrack maps that already hold entries.
 * Anything else that creates conntrack entries must set their bits likewise.
 * With both tables full (393,216 entries) 17% of the bits are set, so even
 * then a non-reply skips the lookup more than four times in five.
 */
#define LB_CTF_BITS_LOG2	21			/* bits per half */
#define LB_CTF_WORDS		(1U << (LB_CTF_BITS_LOG2 - 6))
#define LB_CTF_GEN_KEY		(2 * LB_CTF_WORDS)
#define LB_CTF_KEYS		(2 * LB_CTF_WORDS + 1)
#define LB_CTF_BUSY		2ULL			/* in the gen element */

/*
 * The bit of a key in a filter half; every writer and reader uses this one.
 * Each word of the key is multiplied by its own odd constant, so the products
 * are computed side by side rather than in a chain, then folded, mixed once
 * more, and the top bits taken.  Not a cryptographic hash: a crafted
 * collision costs a lookup, never a verdict.  It takes the fields, not a
 * struct lb_ct_key: the datapath hashes a packet before it builds a key (and
 * reading back as 64-bit words what narrower stores wrote a moment ago
 * stalls store forwarding).
 */
static inline __attribute__((always_inline)) __u32
lb_ctf_hash(const __u8 *saddr, const __u8 *daddr, __u16 sport, __u16 dport, __u8 proto,
	    __u8 family)
{
	__u64 s0, s1, d0, d1, h;

	__builtin_memcpy(&s0, saddr, 8);
	__builtin_memcpy(&s1, saddr + 8, 8);
	__builtin_memcpy(&d0, daddr, 8);
	__builtin_memcpy(&d1, daddr + 8, 8);
	h = (s0 * 0x9e3779b97f4a7c15ULL) ^ (s1 * 0xc2b2ae3d27d4eb4fULL) ^
	    (d0 * 0x165667b19e3779f9ULL) ^ (d1 * 0xd6e8feb86659fd93ULL) ^
	    (((__u64)sport | (__u64)dport << 16 | (__u64)proto << 32 | (__u64)family << 40) *
	     0xff51afd7ed558ccdULL);
	h = (h ^ (h >> 32)) * 0x9e3779b97f4a7c15ULL;
	return (__u32)(h >> (64 - LB_CTF_BITS_LOG2));
}

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

/* lb_ev_bucket: PERCPU_ARRAY [0] -> token bucket state.  All zero: a full bucket. */
struct lb_ev_bucket {
	__u64 tokens_milli;	/* tokens * 1000 */
	__u64 last_ns;		/* time counted into tokens up to here */
	__u64 last_tick;	/* jiffies of the last refill: one try per tick */
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
