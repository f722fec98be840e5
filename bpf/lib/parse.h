/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * parse.h - the packet parser shared by the XDP and TC programs.
 *
 * API:
 *   int lb_parse(void *data, void *data_end, struct lb_pkt *pkt)
 *	Walks Ethernet, up to LB_VLAN_MAX VLAN tags, IPv4 (with options) or
 *	IPv6 (bounded walk over extension headers), then TCP/UDP/ICMP/ICMPv6,
 *	and fills *pkt.  Returns LB_PARSE_OK, or the reason that ends the
 *	packet's journey (LB_R_NOT_IP, LB_R_BAD_*, LB_R_IPV6_EXT_LIMIT).
 *	It works on (data, data_end) so that xdp_md and __sk_buff share it.
 *	Call it from a global (__noinline, non-static) function of the
 *	program: the verifier then checks the parser once, on its own, instead
 *	of once per header chain for everything after it.
 *
 * Every access is bounds-checked against data_end right before it, with a
 * cursor that only moves forward, in the manner of xdp-tools'
 * parsing_helpers.h.
 *
 * Fragments: a non-first fragment (IPv4 offset != 0, IPv6 fragment header
 * with offset != 0) carries no L4 header, so it is never parsed past L3 and
 * never matched on ports; it is flagged LB_FRAG_LATER and the firewall gives
 * it the verdict its first fragment got (frag.h).  A first fragment (MF set,
 * offset 0) is parsed like any packet and flagged LB_FRAG_FIRST.  An IPv6
 * "atomic" fragment (offset 0, M clear, RFC 6946) is a whole packet.
 */
#ifndef LB_BPF_PARSE_H
#define LB_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "lb_fw.h"

#define LB_PARSE_OK		0	/* LB_R_NO_POLICY is never a parser result */
#define LB_VLAN_MAX		2

#define LB_ETH_P_IP		0x0800
#define LB_ETH_P_IPV6		0x86DD
#define LB_ETH_P_8021Q		0x8100
#define LB_ETH_P_8021AD		0x88A8

#define LB_IPPROTO_HOPOPTS	0
#define LB_IPPROTO_ICMP		1
#define LB_IPPROTO_TCP		6
#define LB_IPPROTO_UDP		17
#define LB_IPPROTO_ROUTING	43
#define LB_IPPROTO_FRAGMENT	44
#define LB_IPPROTO_AH		51
#define LB_IPPROTO_ICMPV6	58
#define LB_IPPROTO_DSTOPTS	60

#define LB_IP_MF		0x2000
#define LB_IP_OFFSET		0x1fff

#define LB_TCP_FIN		0x01
#define LB_TCP_SYN		0x02
#define LB_TCP_RST		0x04
#define LB_TCP_ACK		0x10

#define LB_ICMP_ECHOREPLY	0
#define LB_ICMP_ECHO		8
#define LB_ICMPV6_ECHO		128
#define LB_ICMPV6_ECHOREPLY	129

enum lb_frag {
	LB_FRAG_NONE = 0,
	LB_FRAG_FIRST = 1,	/* MF set, offset 0: parsed and judged normally */
	LB_FRAG_LATER = 2,	/* offset != 0: no L4 header, follows the first */
};

/* What the rest of the datapath knows about a packet. */
struct lb_pkt {
	__u8 saddr[16];		/* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u32 frag_id;		/* IPv4 id or IPv6 fragment id, host order */
	__be16 sport;		/* conntrack view: TCP/UDP ports; ICMP echo: id in sport */
	__be16 dport;
	__u16 cls_sport;	/* classifier view, host order (lb_fw.h) */
	__u16 cls_dport;
	__u8 family;		/* 4 or 6, 0 before L3 */
	__u8 proto;		/* upper-layer protocol */
	__u8 frag_proto;	/* protocol named next to the fragment fields */
	__u8 frag;		/* enum lb_frag */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 hop_limit;		/* IPv6 hop limit (ND must carry 255, MLD 1) */
	__u16 l4_off;		/* L4 header offset from data; 0 when there is none */
	__u16 pad2;
} __attribute__((aligned(8)));	/* addresses are read as 64-bit words (ct.h) */

struct lb_cursor {
	void *data;		/* start of the frame */
	void *pos;
	void *end;
};

/* Headers end before this offset, or the packet is not one we parse. */
#define LB_HDR_OFF_MAX 0x3fff

/*
 * Forget how the cursor got where it is.  Every header chain reaching this
 * point then looks alike to the verifier (an offset in [0, LB_HDR_OFF_MAX]),
 * so it checks what follows once rather than once per chain: without this,
 * each IPv6 extension header doubles the states to explore.  The barrier
 * keeps the compiler from folding data + (pos - data) back into pos.
 * Subtracting packet pointers needs CAP_PERFMON, which the loader has.
 */
static __always_inline int lb_cursor_settle(struct lb_cursor *c)
{
	__u64 off = c->pos - c->data;

	asm volatile("" : "+r"(off));
	if (off > LB_HDR_OFF_MAX)
		return -1;
	c->pos = c->data + off;
	return 0;
}

struct lb_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct lb_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset in 8-byte units << 3, M flag in bit 0 */
	__be32 id;
};

static __always_inline bool lb_is_vlan(__be16 proto)
{
	return proto == bpf_htons(LB_ETH_P_8021Q) || proto == bpf_htons(LB_ETH_P_8021AD);
}

static __always_inline int lb_parse_eth(struct lb_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	struct lb_vlan_hdr *vh;
	int i;

	if ((void *)(eth + 1) > c->end)
		return LB_R_BAD_ETH;
	c->pos = eth + 1;
	*proto = eth->h_proto;

	for (i = 0; i < LB_VLAN_MAX; i++) {
		if (!lb_is_vlan(*proto))
			return LB_PARSE_OK;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return LB_R_BAD_VLAN;
		c->pos = vh + 1;
		*proto = vh->encap_proto;
	}
	/* A third tag: QinQinQ is not something we expect, so not something we pass. */
	return lb_is_vlan(*proto) ? LB_R_BAD_VLAN : LB_PARSE_OK;
}

static __always_inline int lb_parse_ipv4(struct lb_cursor *c, struct lb_pkt *pkt)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot_len;
	__u16 frag_off;

	if ((void *)(ip + 1) > c->end)
		return LB_R_BAD_IPV4;
	if (ip->version != 4 || ip->ihl < 5)
		return LB_R_BAD_IPV4;
	hlen = ip->ihl * 4;
	if (c->pos + hlen > c->end)
		return LB_R_BAD_IPV4;
	/* Shorter than the packet is fine (Ethernet padding); longer is a lie. */
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < hlen || c->pos + tot_len > c->end)
		return LB_R_BAD_IPV4;

	pkt->family = 4;
	pkt->proto = ip->protocol;
	pkt->frag_proto = ip->protocol;
	__builtin_memcpy(pkt->saddr, &ip->saddr, 4);
	__builtin_memcpy(pkt->daddr, &ip->daddr, 4);

	frag_off = bpf_ntohs(ip->frag_off);
	if (frag_off & LB_IP_OFFSET)
		pkt->frag = LB_FRAG_LATER;
	else if (frag_off & LB_IP_MF)
		pkt->frag = LB_FRAG_FIRST;
	pkt->frag_id = bpf_ntohs(ip->id);

	c->pos += hlen;
	return LB_PARSE_OK;
}

/* Length of the extension header at the cursor, 0 if nh is not one we walk. */
static __always_inline __u32 lb_ipv6_ext_len(__u8 nh, const struct ipv6_opt_hdr *h)
{
	switch (nh) {
	case LB_IPPROTO_HOPOPTS:
	case LB_IPPROTO_ROUTING:
	case LB_IPPROTO_DSTOPTS:
		return ((__u32)h->hdrlen + 1) * 8;
	case LB_IPPROTO_AH:
		return ((__u32)h->hdrlen + 2) * 4;
	case LB_IPPROTO_FRAGMENT:
		return sizeof(struct lb_frag_hdr);
	}
	return 0;
}

static __always_inline bool lb_is_ipv6_ext(__u8 nh)
{
	return nh == LB_IPPROTO_HOPOPTS || nh == LB_IPPROTO_ROUTING || nh == LB_IPPROTO_DSTOPTS ||
	       nh == LB_IPPROTO_AH || nh == LB_IPPROTO_FRAGMENT;
}

/*
 * Fill the fragment fields from the fragment header at the cursor.  Returns
 * 1 when the walk must stop here (a non-first fragment), 0 to go on, or a
 * reason.
 */
static __always_inline int lb_ipv6_frag(struct lb_cursor *c, struct lb_pkt *pkt)
{
	struct lb_frag_hdr *fh = c->pos;
	__u16 off;

	if ((void *)(fh + 1) > c->end)
		return LB_R_BAD_IPV6;
	off = bpf_ntohs(fh->frag_off);
	pkt->frag_proto = fh->nexthdr;
	pkt->frag_id = bpf_ntohl(fh->id);
	if (off & ~7U) {
		pkt->frag = LB_FRAG_LATER;
		pkt->proto = fh->nexthdr;
		return 1;
	}
	if (off & 1)
		pkt->frag = LB_FRAG_FIRST;
	return 0;
}

/*
 * Walk at most LB_IPV6_EXT_MAX extension headers; leaves pkt->proto as the
 * upper-layer protocol (for a non-first fragment: the fragment header's next).
 */
static __always_inline int lb_parse_ipv6_ext(struct lb_cursor *c, struct lb_pkt *pkt, __u8 nh)
{
	struct ipv6_opt_hdr *h;
	__u32 len;
	int i, ret;

	for (i = 0; i < LB_IPV6_EXT_MAX; i++) {
		if (!lb_is_ipv6_ext(nh))
			break;
		if (lb_cursor_settle(c))
			return LB_R_BAD_IPV6;
		h = c->pos;
		if ((void *)(h + 1) > c->end)
			return LB_R_BAD_IPV6;
		len = lb_ipv6_ext_len(nh, h);
		if (c->pos + len > c->end)
			return LB_R_BAD_IPV6;
		if (nh == LB_IPPROTO_FRAGMENT) {
			ret = lb_ipv6_frag(c, pkt);
			if (ret)
				return ret == 1 ? LB_PARSE_OK : ret;
		}
		nh = h->nexthdr;
		c->pos += len;
	}
	if (lb_is_ipv6_ext(nh))
		return LB_R_IPV6_EXT_LIMIT;
	pkt->proto = nh;
	return LB_PARSE_OK;
}

static __always_inline int lb_parse_ipv6(struct lb_cursor *c, struct lb_pkt *pkt)
{
	struct ipv6hdr *ip6 = c->pos;
	__u32 plen;

	if ((void *)(ip6 + 1) > c->end)
		return LB_R_BAD_IPV6;
	if (ip6->version != 6)
		return LB_R_BAD_IPV6;
	/* 0 is a jumbogram's payload length; otherwise it must fit. */
	plen = bpf_ntohs(ip6->payload_len);
	if (plen && (void *)(ip6 + 1) + plen > c->end)
		return LB_R_BAD_IPV6;

	pkt->family = 6;
	__builtin_memcpy(pkt->saddr, &ip6->saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6->daddr, 16);
	pkt->hop_limit = ip6->hop_limit;
	c->pos = ip6 + 1;
	return lb_parse_ipv6_ext(c, pkt, ip6->nexthdr);
}

/* TCP flags that no legitimate stack sends together, or no flags at all. */
static __always_inline bool lb_tcp_flags_bad(__u8 f)
{
	if (!f)
		return true;
	return (f & LB_TCP_SYN) && (f & (LB_TCP_FIN | LB_TCP_RST));
}

static __always_inline int lb_parse_tcp(struct lb_cursor *c, struct lb_pkt *pkt)
{
	struct tcphdr *th = c->pos;

	if ((void *)(th + 1) > c->end)
		return LB_R_BAD_L4;
	if (th->doff < 5 || c->pos + th->doff * 4 > c->end)
		return LB_R_BAD_L4;
	pkt->sport = th->source;
	pkt->dport = th->dest;
	pkt->cls_sport = bpf_ntohs(th->source);
	pkt->cls_dport = bpf_ntohs(th->dest);
	/* Byte 13 of the header: CWR ECE URG ACK PSH RST SYN FIN. */
	pkt->tcp_flags = ((__u8 *)th)[13];
	return lb_tcp_flags_bad(pkt->tcp_flags) ? LB_R_BAD_TCP_FLAGS : LB_PARSE_OK;
}

static __always_inline int lb_parse_udp(struct lb_cursor *c, struct lb_pkt *pkt)
{
	struct udphdr *uh = c->pos;

	if ((void *)(uh + 1) > c->end)
		return LB_R_BAD_L4;
	pkt->sport = uh->source;
	pkt->dport = uh->dest;
	pkt->cls_sport = bpf_ntohs(uh->source);
	pkt->cls_dport = bpf_ntohs(uh->dest);
	return LB_PARSE_OK;
}

/*
 * ICMP and ICMPv6 share the first 8 bytes: type, code, checksum, then the
 * echo id and sequence for echo messages.
 */
static __always_inline int lb_parse_icmp(struct lb_cursor *c, struct lb_pkt *pkt, __u8 req,
					 __u8 rep)
{
	struct icmphdr *ih = c->pos;

	if ((void *)(ih + 1) > c->end)
		return LB_R_BAD_L4;
	pkt->icmp_type = ih->type;
	pkt->icmp_code = ih->code;
	pkt->cls_dport = (__u16)ih->type << 8 | ih->code;
	if (ih->type == req || ih->type == rep)
		pkt->sport = ih->un.echo.id;
	return LB_PARSE_OK;
}

static __always_inline int lb_parse_l4(struct lb_cursor *c, struct lb_pkt *pkt)
{
	pkt->l4_off = c->pos - c->data;
	switch (pkt->proto) {
	case LB_IPPROTO_TCP:
		return lb_parse_tcp(c, pkt);
	case LB_IPPROTO_UDP:
		return lb_parse_udp(c, pkt);
	case LB_IPPROTO_ICMP:
		if (pkt->family == 4)
			return lb_parse_icmp(c, pkt, LB_ICMP_ECHO, LB_ICMP_ECHOREPLY);
		break;
	case LB_IPPROTO_ICMPV6:
		if (pkt->family == 6)
			return lb_parse_icmp(c, pkt, LB_ICMPV6_ECHO, LB_ICMPV6_ECHOREPLY);
		break;
	}
	/* GRE, ESP, SCTP, no-next-header...: judged on addresses and protocol. */
	return LB_PARSE_OK;
}

static __always_inline int lb_parse(void *data, void *data_end, struct lb_pkt *pkt)
{
	struct lb_cursor c = { .data = data, .pos = data, .end = data_end };
	__be16 proto;
	int ret;

	ret = lb_parse_eth(&c, &proto);
	if (ret != LB_PARSE_OK)
		return ret;

	if (proto == bpf_htons(LB_ETH_P_IP))
		ret = lb_parse_ipv4(&c, pkt);
	else if (proto == bpf_htons(LB_ETH_P_IPV6))
		ret = lb_parse_ipv6(&c, pkt);
	else
		return LB_R_NOT_IP;
	if (ret != LB_PARSE_OK)
		return ret;

	if (pkt->frag == LB_FRAG_LATER)
		return LB_PARSE_OK;
	if (lb_cursor_settle(&c))
		return LB_R_BAD_L4;
	return lb_parse_l4(&c, pkt);
}

#endif /* LB_BPF_PARSE_H */
