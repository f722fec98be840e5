// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_tc.bpf.c - the egress half of the firewall (TC / tcx).
 *
 * Egress is never filtered: every packet leaves (TC_ACT_OK).  What this
 * program does is record conntrack entries for outbound flows, and their
 * bits in the conntrack filter, so that fw_xdp lets their replies in
 * (lib/ct.h), and count egress packets under
 * LB_R_EGRESS (tracked) or LB_R_EGRESS_UNTRACKED (not IP, malformed, a
 * non-first fragment, ICMP other than echo requests).  Interfaces without a
 * row (lib/iface.h) are not ours and are not counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/counters.h"
#include "lib/iface.h"
#include "lib/ct.h"
#include "lib/chain.h"

/* Ethernet, VLANs, IP and TCP with options; rarer longer chains stay untracked. */
#define LB_TC_PULL_LEN	256

static __always_inline bool lb_tc_truncated(__u32 reason)
{
	return reason == LB_R_BAD_ETH || reason == LB_R_BAD_VLAN || reason == LB_R_BAD_IPV4 ||
	       reason == LB_R_BAD_IPV6 || reason == LB_R_BAD_L4;
}

/*
 * Global, so the verifier checks the parser once on its own (see
 * fw_xdp.bpf.c).  Parse; if that failed because the headers are not all in
 * the linear part of the skb, pull them in and parse again.  Only then:
 * pulling makes the head private, which copies it for every cloned (TCP) skb.
 */
__noinline int fw_tc_parse(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;
	__u32 reason, linear;

	if (!pkt)
		return LB_R_BAD_ETH;
	reason = lb_parse(data, data_end, pkt);
	linear = data_end - data;
	if (!lb_tc_truncated(reason) || linear >= skb->len)
		return reason;
	if (bpf_skb_pull_data(skb, skb->len < LB_TC_PULL_LEN ? skb->len : LB_TC_PULL_LEN))
		return reason;
	__builtin_memset(pkt, 0, sizeof(*pkt));
	data_end = (void *)(long)skb->data_end;
	data = (void *)(long)skb->data;
	return lb_parse(data, data_end, pkt);
}

SEC("tc")
int lb_fw_tc_egress(struct __sk_buff *skb)
{
	__u32 reason = LB_R_EGRESS_UNTRACKED;
	__u32 ifindex = skb->ifindex;
	struct lb_pkt pkt = {};
	struct lb_config *cfg;
	struct lb_iface *ifc;
	__u32 zero = 0;

	ifc = lb_iface_lookup(ifindex);
	if (!ifc)
		return lb_chain_tc_next(skb, LB_TC_ACT_UNSPEC);
	cfg = bpf_map_lookup_elem(&lb_config, &zero);

	if (fw_tc_parse(skb, &pkt) == LB_PARSE_OK && pkt.frag != LB_FRAG_LATER &&
	    lb_ct_track_out(&pkt, cfg, bpf_ktime_get_ns()))
		reason = LB_R_EGRESS;
	lb_count(ifc->slot, reason, skb->len);
	/* Never a verdict: the next module, then whoever is after us on the hook. */
	return lb_chain_tc_next(skb, LB_TC_ACT_UNSPEC);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
