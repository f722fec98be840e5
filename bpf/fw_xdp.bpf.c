// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_xdp.bpf.c - the ingress firewall (XDP).
 *
 * Stages, in order (the reasons are in lb_reasons.h):
 *   1. interface not in lb_ifaces: XDP_PASS, not counted (not ours)
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
 * The parser and the policy stages are global functions: the verifier checks
 * each once, on its own.  Inlined into one body, every header chain the
 * parser accepts (VLANs x IPv4 options x IPv6 extension headers x L4) would
 * be a separate path through all the stages after it, far past the
 * verifier's budget.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/verdict.h"
#include "lib/counters.h"
#include "lib/frag.h"
#include "lib/ct.h"
#include "lib/classify.h"
#include "lib/events.h"

/*
 * ICMPv6 the link needs whatever the policy says: neighbour discovery
 * (133-137) and multicast listener discovery (130-132, MLDv2 report 143),
 * else a default deny breaks IPv6 neighbours and MLD-snooping switches.
 */
static __always_inline bool lb_is_nd(const struct lb_pkt *pkt)
{
	__u8 t = pkt->icmp_type;

	if (pkt->family != 6 || pkt->proto != LB_IPPROTO_ICMPV6)
		return false;
	return (t >= 130 && t <= 137) || t == 143;
}

/* Stages 5-9 for a whole packet or a first fragment. */
static __always_inline void fw_judge(struct xdp_md *ctx, const struct lb_pkt *pkt, __u32 copy,
				     const struct lb_iface *ifc, __u64 now, struct lb_decision *d)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	if (lb_is_nd(pkt))
		d->reason = LB_R_ND;
	else if (lb_failsafe(pkt, copy))
		d->reason = LB_R_FAILSAFE;
	else if (lb_ct_reply(pkt, cfg, now))
		d->reason = LB_R_CT_REPLY;
	else if (lb_ct_related(pkt, data, data_end, now))
		d->reason = LB_R_CT_RELATED;
	else
		lb_rule_stage(pkt, copy, ifc, d);
}

/* Global: verified once.  Returns LB_PARSE_OK or the reason. */
__noinline int fw_xdp_parse(struct xdp_md *ctx, struct lb_pkt *pkt)
{
	if (!pkt)
		return LB_R_BAD_ETH;
	return lb_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, pkt);
}

/* Global: stages 3-9 for a packet that parsed; fills *d. */
__noinline int fw_xdp_ingress(struct xdp_md *ctx, const struct lb_pkt *pkt,
			      const struct lb_iface *ifc, __u64 now, struct lb_decision *d)
{
	struct lb_active *act;
	__u32 zero = 0;

	if (!pkt || !ifc || !d)
		return 0;
	act = bpf_map_lookup_elem(&lb_active, &zero);
	if (!act || !act->loaded || act->copy >= LB_POLICY_COPIES) {
		d->reason = LB_R_NO_POLICY;
		return 0;
	}
	if (pkt->frag == LB_FRAG_LATER) {
		lb_frag_follow(pkt, now, d);
		return 0;
	}
	fw_judge(ctx, pkt, act->copy, ifc, now, d);
	if (pkt->frag == LB_FRAG_FIRST)
		lb_frag_record(pkt, now, d);
	return 0;
}

SEC("xdp")
int lb_fw_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct lb_decision d = { .rule_idx = LB_RULE_NONE };
	__u32 ifindex = ctx->ingress_ifindex;
	struct lb_pkt pkt = {};
	struct lb_config *cfg;
	struct lb_iface *ifc;
	__u32 zero = 0;
	__u64 now, len;

	ifc = bpf_map_lookup_elem(&lb_ifaces, &ifindex);
	if (!ifc)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	len = data_end - data;

	d.reason = fw_xdp_parse(ctx, &pkt);
	if (d.reason == LB_PARSE_OK)
		fw_xdp_ingress(ctx, &pkt, ifc, now, &d);

	lb_count(ifc->slot, d.reason, len);
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	lb_event(cfg, &pkt, &d, ifindex, len, now);
	return lb_reason_verdict(d.reason) == LB_VERDICT_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
