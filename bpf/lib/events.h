/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * events.h - sampled drop and audit events into the lb_events ring buffer.
 *
 * API:
 *   void lb_event(cfg, pkt, d, ifindex, pkt_len, clk)
 *	For a DROP or AUDIT verdict enabled in lb_config.ev_flags, take a token
 *	from this CPU's bucket and, with one, write a struct lb_event.
 *	lb_ev_stats counts emitted, suppressed (no token) and lost (ring full).
 *
 * The token bucket is per CPU (no atomics, no shared cache line): rate
 * lb_config.ev_rate tokens per second, depth ev_burst, 0 meaning the
 * defaults below; tokens are counted in thousandths (lb_fw.h).  A drop flood
 * therefore costs at most one ring buffer write per token, never one per
 * packet.
 *
 * Nor one clock read per packet: the bucket refills at most once per jiffy
 * (bpf_jiffies64() is inlined into a load; bpf_ktime_get_ns() costs ~35 ns).
 * Within one tick a refill is not tried; the time is not lost, as last_ns
 * only moves by what was converted into tokens, so the rate holds and a token
 * comes at most one tick late.
 */
#ifndef LB_BPF_EVENTS_H
#define LB_BPF_EVENTS_H

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/verdict.h"
#include "lib/clock.h"

#define LB_EV_RATE_DEFAULT	100
#define LB_EV_BURST_DEFAULT	50
#define LB_MILLI		1000ULL
/* Nanoseconds per thousandth of a token, at one token per second. */
#define LB_NSEC_PER_MILLI_TOKEN	(LB_NSEC_PER_SEC / LB_MILLI)

/*
 * Add what the time since last_ns is worth.  Overflow: past the time that
 * fills an empty bucket the bucket is simply full, and below it
 * elapsed * rate < burst * 10^9 <= 2^32 * 10^9 < 2^64.  last_ns only moves
 * by the time actually converted into tokens, so frequent packets do not
 * round the refill away.
 */
static __always_inline void lb_ev_refill(struct lb_ev_bucket *b, __u64 rate, __u64 max_milli,
					 __u64 now)
{
	__u64 elapsed, full_ns, add;

	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	full_ns = max_milli * LB_NSEC_PER_MILLI_TOKEN / rate;
	if (elapsed >= full_ns) {
		b->tokens_milli = max_milli;
		b->last_ns = now;
		return;
	}
	add = elapsed * rate / LB_NSEC_PER_MILLI_TOKEN;
	if (add) {
		b->tokens_milli += add;
		b->last_ns += add * LB_NSEC_PER_MILLI_TOKEN / rate;
	}
	/* The depth may have shrunk since the tokens were added. */
	if (b->tokens_milli > max_milli)
		b->tokens_milli = max_milli;
}

static __always_inline bool lb_ev_token(const struct lb_config *cfg, struct lb_clock *clk)
{
	__u64 rate = LB_EV_RATE_DEFAULT, burst = LB_EV_BURST_DEFAULT, tick;
	struct lb_ev_bucket *b;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&lb_ev_bucket, &zero);
	if (!b)
		return false;
	if (cfg && cfg->ev_rate)
		rate = cfg->ev_rate;
	if (cfg && cfg->ev_burst)
		burst = cfg->ev_burst;
	tick = bpf_jiffies64();
	if (tick != b->last_tick) {
		b->last_tick = tick;
		lb_ev_refill(b, rate, burst * LB_MILLI, lb_now(clk));
	}
	if (b->tokens_milli < LB_MILLI)
		return false;
	b->tokens_milli -= LB_MILLI;
	return true;
}

static __always_inline bool lb_ev_wanted(const struct lb_config *cfg, enum lb_verdict verdict)
{
	__u32 flags = cfg && cfg->ev_flags ? cfg->ev_flags : LB_EVF_DEFAULT;

	if (verdict == LB_VERDICT_DROP)
		return flags & LB_EVF_DROP;
	if (verdict == LB_VERDICT_AUDIT)
		return flags & LB_EVF_AUDIT;
	return false;
}

static __always_inline void lb_ev_fill(struct lb_event *e, const struct lb_pkt *pkt,
				       const struct lb_decision *d, __u32 ifindex, __u64 pkt_len,
				       __u64 now)
{
	e->ts_ns = now;
	e->ifindex = ifindex;
	e->rule_idx = d->rule_idx;
	e->reason = d->reason;
	e->verdict = lb_reason_verdict(d->reason);
	e->family = pkt->family;
	e->proto = pkt->proto;
	e->tcp_flags = pkt->tcp_flags;
	e->pkt_len = pkt_len > 0xffff ? 0xffff : pkt_len;
	e->sport = pkt->cls_sport;
	e->dport = pkt->cls_dport;
	__builtin_memcpy(e->saddr, pkt->saddr, 16);
	__builtin_memcpy(e->daddr, pkt->daddr, 16);
}

static __always_inline void lb_event(const struct lb_config *cfg, const struct lb_pkt *pkt,
				     const struct lb_decision *d, __u32 ifindex, __u64 pkt_len,
				     struct lb_clock *clk)
{
	struct lb_ev_stats *st;
	struct lb_event *e;
	__u32 zero = 0;

	if (!lb_ev_wanted(cfg, lb_reason_verdict(d->reason)))
		return;
	st = bpf_map_lookup_elem(&lb_ev_stats, &zero);
	if (!st)
		return;
	if (!lb_ev_token(cfg, clk)) {
		st->suppressed++;
		return;
	}
	e = bpf_ringbuf_reserve(&lb_events, sizeof(*e), 0);
	if (!e) {
		st->lost++;
		return;
	}
	lb_ev_fill(e, pkt, d, ifindex, pkt_len, lb_now(clk));
	bpf_ringbuf_submit(e, 0);
	st->emitted++;
}

#endif /* LB_BPF_EVENTS_H */
