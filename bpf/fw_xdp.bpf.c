// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_xdp.bpf.c - the ingress firewall (XDP).
 *
 * Stages, in order (the reasons are in lb_reasons.h):
 *   1. interface not managed (lib/iface.h): XDP_PASS, not counted (not ours)
 *   2. parse (lib/parse.h); malformed or not IP ends here
 *   3. no policy applied yet: pass
 *   4. non-first fragment: the first fragment's verdict (lib/frag.h)
 *   5. ICMPv6 neighbour discovery: pass, or default-deny would break IPv6
 *   6. failsafe list (lib/classify.h)
 *   7. reply of a tracked outbound flow (lib/ct.h)
 *   8. ICMP error about a tracked flow (lib/ct.h)
 *   9. rules, else the interface default (lib/classify.h)
 * then: a first fragment's verdict is remembered for the rest of its packet;
 * every packet is counted under its reason; drops and audits are sampled
 * into the event ring buffer.
 *
 * The parser is a global function: the verifier checks it once, on its own.
 * Inlined, every header chain it accepts (VLANs x IPv4 options x IPv6
 * extension headers x L4) would be a separate path through all the stages
 * after it: ten times the verification time, and slower code.  The stages
 * after it are inlined: once the parser's result is opaque they verify in a
 * few paths, and a BPF-to-BPF call and its return cost ~8 ns a packet here.
 *
 * Where a packet's nanoseconds go is in README "Performance"; the costly
 * things are avoided on the common path: hash and LPM lookups (20-50 ns each)
 * where an inlined array read can answer (lib/iface.h, the host tables and
 * the dense rule table in lib/classify.h, the conntrack filter in lib/ct.h),
 * and the clock (~35 ns), read only by the stages that need it (lib/clock.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/clock.h"
#include "lib/verdict.h"
#include "lib/counters.h"
#include "lib/iface.h"
#include "lib/frag.h"
#include "lib/ct.h"
#include "lib/classify.h"
#include "lib/events.h"
#include "lib/chain.h"

/*
 * ICMPv6 the link needs whatever the policy says: neighbour discovery
 * (133-137) and multicast listener discovery (130-132, MLDv2 report 143),
 * else a default deny breaks IPv6 neighbours and MLD-snooping switches.
 * Only as the RFCs send them, which also proves they are link-local: ND
 * with hop limit 255 (RFC 4861), MLD with hop limit 1 (RFC 2710, 3810).
 * Anything else of those types goes through failsafe, conntrack and rules.
 */
static __always_inline bool lb_is_nd(const struct lb_pkt *pkt)
{
	__u8 t = pkt->icmp_type;

	if (pkt->family != 6 || pkt->proto != LB_IPPROTO_ICMPV6)
		return false;
	if (t >= 133 && t <= 137)
		return pkt->hop_limit == 255;
	return (t >= 130 && t <= 132) || t == 143 ? pkt->hop_limit == 1 : false;
}

/* Stages 5-9 for a whole packet or a first fragment. */
static __always_inline void fw_judge(struct xdp_md *ctx, const struct lb_pkt *pkt, __u32 copy,
				     const struct lb_iface *ifc, const struct lb_config *cfg,
				     struct lb_clock *clk, struct lb_decision *d)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_copy_info *ci;

	/* Never NULL (copy < LB_POLICY_COPIES), but the verifier must see it checked. */
	ci = bpf_map_lookup_elem(&lb_copy_info, &copy);
	if (lb_is_nd(pkt))
		d->reason = LB_R_ND;
	else if (!ci)
		d->reason = lb_default_reason(ifc, copy);
	else if (lb_failsafe(pkt, copy, ci))
		d->reason = LB_R_FAILSAFE;
	else if (lb_ct_reply(pkt, cfg, clk))
		d->reason = LB_R_CT_REPLY;
	else if (lb_ct_related(pkt, data, data_end, clk))
		d->reason = LB_R_CT_RELATED;
	else
		lb_rule_stage(pkt, copy, ci, ifc, d);
}

/* Global: verified once.  Returns LB_PARSE_OK or the reason. */
__noinline int fw_xdp_parse(struct xdp_md *ctx, struct lb_pkt *pkt)
{
	if (!pkt)
		return LB_R_BAD_ETH;
	return lb_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, pkt);
}

/* Stages 3-9 for a packet that parsed; fills *d. */
static __always_inline void fw_xdp_ingress(struct xdp_md *ctx, const struct lb_pkt *pkt,
					   const struct lb_iface *ifc,
					   const struct lb_config *cfg, struct lb_clock *clk,
					   struct lb_decision *d)
{
	struct lb_active *act;
	__u32 zero = 0;

	act = bpf_map_lookup_elem(&lb_active, &zero);
	if (!act || !act->loaded || act->copy >= LB_POLICY_COPIES) {
		d->reason = LB_R_NO_POLICY;
		return;
	}
	if (pkt->frag == LB_FRAG_LATER) {
		lb_frag_follow(pkt, lb_now(clk), d);
		return;
	}
	fw_judge(ctx, pkt, act->copy, ifc, cfg, clk, d);
	if (pkt->frag == LB_FRAG_FIRST)
		lb_frag_record(pkt, lb_now(clk), d);
}

SEC("xdp")
int lb_fw_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_decision d = { .rule_idx = LB_RULE_NONE };
	__u32 ifindex = ctx->ingress_ifindex;
	struct lb_clock clk = {};
	struct lb_pkt pkt = {};
	struct lb_config *cfg;
	struct lb_iface *ifc;
	__u32 zero = 0;
	__u64 len;

	ifc = lb_iface_lookup(ifindex);
	if (!ifc)
		return lb_chain_xdp_next(ctx, XDP_PASS);
	len = data_end - data;
	cfg = bpf_map_lookup_elem(&lb_config, &zero);

	d.reason = fw_xdp_parse(ctx, &pkt);
	if (d.reason == LB_PARSE_OK)
		fw_xdp_ingress(ctx, &pkt, ifc, cfg, &clk, &d);

	lb_count(ifc->slot, d.reason, len);
	lb_event(cfg, &pkt, &d, ifindex, len, &clk);
	/* Counted as this revision's verdict; a pass goes on to the next module. */
	return lb_chain_xdp_next(ctx, lb_reason_verdict(d.reason) == LB_VERDICT_DROP ? XDP_DROP
										   : XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
