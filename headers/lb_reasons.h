/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lb_reasons.h - the one numbered table of verdicts and reasons.
 *
 * Every packet the firewall sees is counted under exactly one reason, and a
 * reason always implies one verdict.  The numbers are ABI: they index the
 * per-CPU counter map and travel in ring-buffer events.  Append only; never
 * renumber.
 *
 * Consumers (update all of them when adding a row):
 *   - bpf/fw_xdp.bpf.c, bpf/fw_tc.bpf.c   (set the reason)
 *   - userspace/fw_stats.c, fw_events.c    (names in tables and JSON)
 *   - tests/bpf/test_fw_xdp.c              (expected reasons)
 *   - README.md, section "Verdicts and reasons"
 */
#ifndef LB_REASONS_H
#define LB_REASONS_H

enum lb_verdict {
	LB_VERDICT_PASS = 0,	/* packet continues into the stack */
	LB_VERDICT_DROP = 1,	/* packet dropped */
	LB_VERDICT_AUDIT = 2,	/* packet continues, and an event is emitted */
	LB_VERDICT_MAX = 3,
};

/*
 * X(enum, number, verdict, name, description)
 */
#define LB_REASON_TABLE(X)                                                                         \
	X(LB_R_NO_POLICY, 0, PASS, "no_policy", "no policy applied yet: pass")                     \
	X(LB_R_NOT_IP, 1, PASS, "not_ip", "not IPv4/IPv6 (ARP, LLDP, ...): pass")                  \
	X(LB_R_FAILSAFE, 2, PASS, "failsafe", "matched the failsafe (anti-lockout) list")          \
	X(LB_R_CT_REPLY, 3, PASS, "ct_reply", "reply of a tracked outbound flow")                  \
	X(LB_R_CT_RELATED, 4, PASS, "ct_related", "ICMP error about a tracked flow")                \
	X(LB_R_ND, 5, PASS, "icmpv6_nd", "ICMPv6 neighbour/multicast listener discovery: pass")   \
	X(LB_R_RULE_ALLOW, 6, PASS, "rule_allow", "matched an allow rule")                         \
	X(LB_R_RULE_AUDIT, 7, AUDIT, "rule_audit", "matched an audit rule: pass and report")       \
	X(LB_R_RULE_DENY, 8, DROP, "rule_deny", "matched a deny rule")                             \
	X(LB_R_DEFAULT_ALLOW, 9, PASS, "default_allow", "no rule matched: interface default allow") \
	X(LB_R_DEFAULT_DENY, 10, DROP, "default_deny", "no rule matched: interface default deny")  \
	X(LB_R_FRAG_PASS, 11, PASS, "frag_follow_pass", "non-first fragment, first one passed")    \
	X(LB_R_FRAG_DROP, 12, DROP, "frag_follow_drop", "non-first fragment, first one dropped")   \
	X(LB_R_FRAG_ORPHAN, 13, DROP, "frag_orphan", "non-first fragment, first one never seen")   \
	X(LB_R_BAD_ETH, 14, DROP, "bad_eth", "truncated Ethernet header")                          \
	X(LB_R_BAD_VLAN, 15, DROP, "bad_vlan", "truncated VLAN tag, or more than 2 tags")          \
	X(LB_R_BAD_IPV4, 16, DROP, "bad_ipv4", "truncated IPv4, IHL < 5, bad total length")        \
	X(LB_R_BAD_IPV6, 17, DROP, "bad_ipv6", "truncated IPv6 or extension header")               \
	X(LB_R_IPV6_EXT_LIMIT, 18, DROP, "ipv6_ext_limit", "more IPv6 extension headers than walked") \
	X(LB_R_BAD_L4, 19, DROP, "bad_l4", "truncated TCP/UDP/ICMP header, TCP data offset < 5")   \
	X(LB_R_BAD_TCP_FLAGS, 20, DROP, "bad_tcp_flags", "impossible TCP flags (SYN+FIN, SYN+RST, none)") \
	X(LB_R_EGRESS, 21, PASS, "egress", "egress packet seen by the TC program")                 \
	X(LB_R_EGRESS_UNTRACKED, 22, PASS, "egress_untracked", "egress packet not tracked (not IP, malformed, fragment)")

enum lb_reason {
#define LB_X_ENUM(e, n, v, name, desc) e = n,
	LB_REASON_TABLE(LB_X_ENUM)
#undef LB_X_ENUM
	LB_REASON_COUNT,
};

/* Counter map rows reserve this many reasons per interface: room to grow. */
#define LB_REASON_SLOTS 32

#endif /* LB_REASONS_H */
