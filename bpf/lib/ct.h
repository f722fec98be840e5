/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ct.h - connection tracking: egress creates, ingress recognises replies.
 *
 * API:
 *   bool lb_ct_track_out(pkt, cfg, now)	TC egress: create or refresh the
 *						entry of an outbound packet
 *   bool lb_ct_reply(pkt, cfg, clk)		XDP: is this the reply of a
 *						tracked flow? (refreshes it)
 *   bool lb_ct_related(pkt, data, data_end, clk)
 *						XDP: is this an ICMP error about
 *						a tracked flow?
 *   __u32 lb_ctf_bit(key)			the key's bit in a filter half
 *   void lb_ctf_set(key, half)			set it in one half (the
 *						collector rebuilds with these)
 *
 * The XDP side asks the maps only when the key's bit in lb_ct_filter is set
 * (lb_fw.h): a packet that is no reply, the usual one on the drop path, costs
 * a multiply-fold and two array reads instead of a 40-byte jhash and an LRU
 * probe.  It reads the clock (clock.h) only when an entry is found.  Egress
 * sets the bit after every create or refresh, so the filter heals by itself
 * should it ever miss an entry.
 *
 * Keys are always in the direction of the outbound packet (lb_fw.h): saddr
 * is ours.  TCP lives in lb_ct_tcp, everything else in lb_ct_other.  What is
 * tracked: TCP, UDP, ICMP/ICMPv6 echo (key sport = echo id, dport = 0) and
 * any protocol the parser has no ports for (ports 0).  Other ICMP (errors,
 * neighbour discovery, our echo replies) is not.
 *
 * TCP states, kept basic on purpose (this is a host firewall, not a TCP
 * validator; the state only chooses the timeout):
 *   egress:  RST -> CLOSED; FIN -> FIN; SYN without ACK -> SYN_SENT;
 *	      a new entry from anything else (our SYN+ACK, or a flow picked up
 *	      mid-stream) -> ESTABLISHED; ACK while SYN_SENT -> ESTABLISHED;
 *	      otherwise the state stays.
 *   ingress: RST -> CLOSED; FIN -> FIN; SYN+ACK while SYN_SENT -> ESTABLISHED.
 * LB_CT_NEW is the state of every non-TCP entry.
 *
 * Entries are never deleted here: an expired one is ignored until egress
 * refreshes it or the collector (ct_gc.bpf.c) deletes it; the LRU maps
 * evict what nobody uses when they fill up.
 */
#ifndef LB_BPF_CT_H
#define LB_BPF_CT_H

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/clock.h"

/*
 * Timeout of one lb_ct_timeout slot.  Call it with a constant idx only: the
 * default then folds into an immediate instead of a .rodata table.
 */
static __always_inline __u64 lb_ct_timeout(const struct lb_config *cfg, __u32 idx)
{
	const __u64 defaults_s[LB_CTT_MAX] = LB_CT_DEFAULT_TIMEOUTS_S;
	__u64 t = cfg ? cfg->ct_timeout_ns[idx] : 0;

	return t ? t : defaults_s[idx] * LB_NSEC_PER_SEC;
}

static __always_inline __u64 lb_ct_state_timeout(const struct lb_config *cfg, __u8 proto,
						 __u8 state)
{
	switch (proto) {
	case LB_IPPROTO_TCP:
		if (state == LB_CT_SYN_SENT)
			return lb_ct_timeout(cfg, LB_CTT_TCP_SYN);
		if (state == LB_CT_FIN)
			return lb_ct_timeout(cfg, LB_CTT_TCP_FIN);
		if (state == LB_CT_CLOSED)
			return lb_ct_timeout(cfg, LB_CTT_TCP_CLOSE);
		return lb_ct_timeout(cfg, LB_CTT_TCP_EST);
	case LB_IPPROTO_UDP:
		return lb_ct_timeout(cfg, LB_CTT_UDP);
	case LB_IPPROTO_ICMP:
	case LB_IPPROTO_ICMPV6:
		return lb_ct_timeout(cfg, LB_CTT_ICMP);
	}
	return lb_ct_timeout(cfg, LB_CTT_OTHER);
}

static __always_inline void lb_ct_refresh(struct lb_ct_val *v, __u8 proto,
					  const struct lb_config *cfg, __u64 now)
{
	v->last_seen_ns = now;
	v->expires_ns = now + lb_ct_state_timeout(cfg, proto, v->state);
}

/* ---- the filter in front of the maps (lb_fw.h, lb_ct_filter) ---- */

/* The key's bit in a half of lb_ct_filter. */
static __always_inline __u32 lb_ctf_bit(const struct lb_ct_key *key)
{
	return lb_ctf_hash(key->saddr, key->daddr, key->sport, key->dport, key->proto,
			   key->family);
}

static __always_inline __u64 *lb_ctf_word(__u32 half, __u32 bit)
{
	__u32 k = (half & 1) * LB_CTF_WORDS + bit / 64;

	return bpf_map_lookup_elem(&lb_ct_filter, &k);
}

static __always_inline void lb_ctf_set(const struct lb_ct_key *key, __u32 half)
{
	__u32 bit = lb_ctf_bit(key);
	__u64 *w = lb_ctf_word(half, bit), m = 1ULL << (bit & 63);

	/* Read first: the shared line is written only the first time. */
	if (w && !(*w & m))
		__sync_fetch_and_or(w, m);
}

/* Egress, after the entry is written: then a rebuild cannot miss it. */
static __always_inline void lb_ctf_add(const struct lb_ct_key *key)
{
	lb_ctf_set(key, 0);
	lb_ctf_set(key, 1);
}

/* False only when no entry can have a key with this bit; a map error says maybe. */
static __always_inline bool lb_ctf_maybe(__u32 bit)
{
	__u32 k = LB_CTF_GEN_KEY;
	__u64 *gen, *w;

	gen = bpf_map_lookup_elem(&lb_ct_filter, &k);
	if (!gen)
		return true;
	w = lb_ctf_word(*gen & 1, bit);
	return !w || (*w >> (bit & 63)) & 1;
}

/* ---- the maps ---- */

static __always_inline struct lb_ct_val *lb_ct_lookup(const struct lb_ct_key *key)
{
	if (key->proto == LB_IPPROTO_TCP)
		return bpf_map_lookup_elem(&lb_ct_tcp, key);
	return bpf_map_lookup_elem(&lb_ct_other, key);
}

static __always_inline bool lb_is_icmp(const struct lb_pkt *pkt)
{
	return (pkt->family == 4 && pkt->proto == LB_IPPROTO_ICMP) ||
	       (pkt->family == 6 && pkt->proto == LB_IPPROTO_ICMPV6);
}

static __always_inline bool lb_is_echo_request(const struct lb_pkt *pkt)
{
	return lb_is_icmp(pkt) &&
	       pkt->icmp_type == (pkt->family == 4 ? LB_ICMP_ECHO : LB_ICMPV6_ECHO);
}

static __always_inline bool lb_is_echo_reply(const struct lb_pkt *pkt)
{
	return lb_is_icmp(pkt) &&
	       pkt->icmp_type == (pkt->family == 4 ? LB_ICMP_ECHOREPLY : LB_ICMPV6_ECHOREPLY);
}

static __always_inline void lb_ct_key_addrs(struct lb_ct_key *key, const __u8 *saddr,
					    const __u8 *daddr, const struct lb_pkt *pkt)
{
	__builtin_memcpy(key->saddr, saddr, 16);
	__builtin_memcpy(key->daddr, daddr, 16);
	key->proto = pkt->proto;
	key->family = pkt->family;
}

/* Key of an outbound packet; false when it is not something we track. */
static __always_inline bool lb_ct_key_out(const struct lb_pkt *pkt, struct lb_ct_key *key)
{
	if (lb_is_icmp(pkt) && !lb_is_echo_request(pkt))
		return false;
	lb_ct_key_addrs(key, pkt->saddr, pkt->daddr, pkt);
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	return true;
}

/*
 * Ports of the key the outbound packet this one answers would have had;
 * false when it cannot be an answer we track.
 */
static __always_inline bool lb_ct_reply_ports(const struct lb_pkt *pkt, __be16 *sport,
					      __be16 *dport)
{
	if (!lb_is_icmp(pkt)) {
		*sport = pkt->dport;
		*dport = pkt->sport;
		return true;
	}
	if (!lb_is_echo_reply(pkt))
		return false;
	*sport = pkt->sport;	/* the echo id, same both ways */
	*dport = 0;
	return true;
}

static __always_inline __u8 lb_ct_tcp_out(__u8 state, __u8 flags, bool created)
{
	if (flags & LB_TCP_RST)
		return LB_CT_CLOSED;
	if (flags & LB_TCP_FIN)
		return LB_CT_FIN;
	if ((flags & (LB_TCP_SYN | LB_TCP_ACK)) == LB_TCP_SYN)
		return LB_CT_SYN_SENT;
	if (created || (state == LB_CT_SYN_SENT && (flags & LB_TCP_ACK)))
		return LB_CT_ESTABLISHED;
	return state;
}

static __always_inline void lb_ct_tcp_in(struct lb_ct_val *v, __u8 flags)
{
	if (flags & LB_TCP_RST)
		v->state = LB_CT_CLOSED;
	else if (flags & LB_TCP_FIN)
		v->state = LB_CT_FIN;
	else if ((flags & (LB_TCP_SYN | LB_TCP_ACK)) == (LB_TCP_SYN | LB_TCP_ACK) &&
		 v->state == LB_CT_SYN_SENT)
		v->state = LB_CT_ESTABLISHED;
}

static __always_inline void lb_ct_create(const struct lb_ct_key *key, const struct lb_pkt *pkt,
					 const struct lb_config *cfg, __u64 now)
{
	struct lb_ct_val v = {
		.created_ns = now,
		.packets_out = 1,
		.state = LB_CT_NEW,
	};

	if (pkt->proto == LB_IPPROTO_TCP)
		v.state = lb_ct_tcp_out(LB_CT_NEW, pkt->tcp_flags, true);
	lb_ct_refresh(&v, pkt->proto, cfg, now);
	/* Losing a race with another CPU creating the same entry is harmless. */
	if (pkt->proto == LB_IPPROTO_TCP)
		bpf_map_update_elem(&lb_ct_tcp, key, &v, BPF_NOEXIST);
	else
		bpf_map_update_elem(&lb_ct_other, key, &v, BPF_NOEXIST);
}

static __always_inline bool lb_ct_track_out(const struct lb_pkt *pkt, const struct lb_config *cfg,
					    __u64 now)
{
	struct lb_ct_key key = {};
	struct lb_ct_val *v;

	if (!lb_ct_key_out(pkt, &key))
		return false;
	v = lb_ct_lookup(&key);
	if (!v) {
		lb_ct_create(&key, pkt, cfg, now);
	} else {
		if (pkt->proto == LB_IPPROTO_TCP)
			v->state = lb_ct_tcp_out(v->state, pkt->tcp_flags, false);
		lb_ct_refresh(v, pkt->proto, cfg, now);
		__sync_fetch_and_add(&v->packets_out, 1);
	}
	lb_ctf_add(&key);
	return true;
}

static __always_inline bool lb_ct_reply(const struct lb_pkt *pkt, const struct lb_config *cfg,
					struct lb_clock *clk)
{
	struct lb_ct_key key = {};
	__be16 sport, dport;
	struct lb_ct_val *v;
	__u64 now;

	if (!lb_ct_reply_ports(pkt, &sport, &dport) ||
	    !lb_ctf_maybe(lb_ctf_hash(pkt->daddr, pkt->saddr, sport, dport, pkt->proto,
				      pkt->family)))
		return false;
	lb_ct_key_addrs(&key, pkt->daddr, pkt->saddr, pkt);
	key.sport = sport;
	key.dport = dport;
	v = lb_ct_lookup(&key);
	if (!v)
		return false;
	now = lb_now(clk);
	if (v->expires_ns <= now)
		return false;
	if (pkt->proto == LB_IPPROTO_TCP)
		lb_ct_tcp_in(v, pkt->tcp_flags);
	lb_ct_refresh(v, pkt->proto, cfg, now);
	__sync_fetch_and_add(&v->packets_in, 1);
	if (!v->seen_reply)
		v->seen_reply = 1;
	return true;
}

/* ---- ICMP errors: the embedded packet is one of ours ---- */

static __always_inline bool lb_is_icmp_error(const struct lb_pkt *pkt)
{
	__u8 t = pkt->icmp_type;

	if (!lb_is_icmp(pkt))
		return false;
	if (pkt->family == 4)	/* unreachable, source quench, time exceeded, param problem */
		return t == 3 || t == 4 || t == 11 || t == 12;
	return t >= 1 && t <= 4;	/* unreachable, too big, time exceeded, param problem */
}

/*
 * Ports of the embedded L4 header: RFC 792 guarantees its first 8 bytes,
 * which hold both TCP/UDP ports and the ICMP echo id.
 */
static __always_inline bool lb_ct_inner_ports(struct lb_cursor *c, struct lb_ct_key *key)
{
	__u8 *l4 = c->pos;

	if ((void *)(l4 + 8) > c->end)
		return false;
	switch (key->proto) {
	case LB_IPPROTO_TCP:
	case LB_IPPROTO_UDP:
		__builtin_memcpy(&key->sport, l4, 2);
		__builtin_memcpy(&key->dport, l4 + 2, 2);
		return true;
	case LB_IPPROTO_ICMP:
		if (l4[0] != LB_ICMP_ECHO)
			return false;
		__builtin_memcpy(&key->sport, l4 + 4, 2);
		return true;
	case LB_IPPROTO_ICMPV6:
		if (l4[0] != LB_ICMPV6_ECHO)
			return false;
		__builtin_memcpy(&key->sport, l4 + 4, 2);
		return true;
	}
	return true;	/* no ports: the key keeps 0 and 0 */
}

static __always_inline bool lb_ct_inner4(struct lb_cursor *c, struct lb_ct_key *key)
{
	struct iphdr *ip = c->pos;
	__u32 hlen;

	if ((void *)(ip + 1) > c->end || ip->version != 4 || ip->ihl < 5)
		return false;
	/* A non-first fragment carries no ports to match. */
	if (bpf_ntohs(ip->frag_off) & LB_IP_OFFSET)
		return false;
	hlen = ip->ihl * 4;
	__builtin_memcpy(key->saddr, &ip->saddr, 4);
	__builtin_memcpy(key->daddr, &ip->daddr, 4);
	key->proto = ip->protocol;
	key->family = 4;
	c->pos += hlen;
	return lb_ct_inner_ports(c, key);
}

/*
 * The embedded IPv6 header must be followed directly by its L4 header: we do
 * not walk extension headers a second time (verifier budget); such errors
 * fall through to the rules.
 */
static __always_inline bool lb_ct_inner6(struct lb_cursor *c, struct lb_ct_key *key)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > c->end || ip6->version != 6)
		return false;
	__builtin_memcpy(key->saddr, &ip6->saddr, 16);
	__builtin_memcpy(key->daddr, &ip6->daddr, 16);
	key->proto = ip6->nexthdr;
	key->family = 6;
	if (lb_is_ipv6_ext(key->proto))
		return false;
	c->pos = ip6 + 1;
	return lb_ct_inner_ports(c, key);
}

/* The largest L4 offset the parser can produce, with room to spare. */
#define LB_L4_OFF_MAX 0x3fff

static __always_inline bool lb_ct_related(const struct lb_pkt *pkt, void *data, void *data_end,
					  struct lb_clock *clk)
{
	struct lb_cursor c = { .data = data, .pos = data, .end = data_end };
	struct lb_ct_key key = {};
	struct lb_ct_val *v;
	__u32 off = pkt->l4_off;
	bool ok;

	if (!lb_is_icmp_error(pkt) || !off || off > LB_L4_OFF_MAX)
		return false;
	c.pos += off + sizeof(struct icmphdr);
	ok = pkt->family == 4 ? lb_ct_inner4(&c, &key) : lb_ct_inner6(&c, &key);
	if (!ok || !lb_ctf_maybe(lb_ctf_bit(&key)))
		return false;
	v = lb_ct_lookup(&key);
	return v && v->expires_ns > lb_now(clk);
}

#endif /* LB_BPF_CT_H */
