/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.h - build test packets from a declarative description.
 *
 *   struct pkt_spec s = { .family = 4, .src = "198.18.1.5", .dst = "198.18.0.1",
 *			   .proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
 *			   .tcp_flags = PKT_SYN };
 *   size_t len = pkt_build(&s, buf, sizeof(buf));
 *
 * Ethernet, 0-3 VLAN tags, IPv4 (options, fragment fields, valid header
 * checksum) or IPv6 (extension headers, fragment header), TCP/UDP/ICMP/ICMPv6
 * with valid checksums, an embedded packet for ICMP errors, and the knobs the
 * firewall tests need to make each of them wrong: IHL, total length, TCP data
 * offset, and `cut`, which removes bytes from the end (lengths in the IP
 * header then describe what is left, so only the cut header is truncated).
 * pkt_build() returns the length, or 0 if the packet does not fit in cap.
 * pkt_udp4() is the short form for an IPv4/UDP packet (the benchmarks').
 */
#ifndef LB_TEST_PKT_H
#define LB_TEST_PKT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

#define PKT_EXT_MAX 8

struct pkt_spec {
	uint8_t family;			/* 4 or 6; 0: not IP, see ethertype */
	uint16_t ethertype;		/* family 0 only, e.g. 0x0806 */
	uint8_t vlans;			/* VLAN tags, 0-3 */
	const char *src, *dst;		/* addresses as text; NULL: saddr/daddr below */
	uint8_t saddr[16], daddr[16];	/* network order, IPv4 in the first 4 */

	/* IPv4 */
	uint8_t ip_opt_len;		/* options (NOPs), multiple of 4 */
	uint8_t ihl;			/* 0: computed */
	uint8_t version;		/* 0: 4 or 6 */
	uint16_t tot_len;		/* 0: computed (after the cut) */
	int tot_len_adj;		/* added to the computed IPv4 tot_len / IPv6 payload_len */

	/* fragments: IPv4 fields, or IPv6 fragment header (put 44 in ext) */
	bool mf;			/* more fragments */
	uint16_t frag_off;		/* offset in 8-byte units */
	uint32_t frag_id;

	uint8_t ext[PKT_EXT_MAX];	/* IPv6 extension headers in order: 0 43 44 51 60 */
	uint8_t n_ext;

	/* L4 */
	uint8_t proto;
	uint16_t sport, dport;		/* TCP/UDP, host order */
	uint8_t tcp_flags;		/* PKT_*, written as given (0 is "no flags") */
	uint8_t tcp_doff;		/* 0: 5 (20 bytes) */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;		/* echo id, host order */
	const struct pkt_spec *inner;	/* ICMP error: the packet it is about */

	uint8_t hop_limit;		/* IPv6 hop limit; 0: 64 */
	uint16_t payload;		/* bytes after the L4 header */
	uint16_t cut;			/* bytes removed from the end */
};

/* Network-order stores that do not care about alignment. */
static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pkt_put32(uint8_t *p, uint32_t v)
{
	pkt_put16(p, (uint16_t)(v >> 16));
	pkt_put16(p + 2, (uint16_t)v);
}

/* An address from its text, or else from its bytes. */
static inline bool pkt_addr(int af, const char *text, const uint8_t *bytes, uint8_t *out)
{
	if (text)
		return inet_pton(af, text, out) == 1;
	memcpy(out, bytes, af == AF_INET ? 4 : 16);
	return true;
}

/* ---- checksums ---- */

static inline uint32_t pkt_sum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static inline uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Pseudo-header sum for TCP/UDP/ICMPv6 over IPv4 or IPv6. */
static inline uint32_t pkt_pseudo(const struct pkt_spec *s, const uint8_t *src,
				  const uint8_t *dst, uint8_t proto, size_t l4len)
{
	size_t alen = s->family == 4 ? 4 : 16;
	uint32_t sum = 0;

	sum = pkt_sum(sum, src, alen);
	sum = pkt_sum(sum, dst, alen);
	return sum + proto + (uint32_t)l4len;
}

/* ---- L4 ---- */

static inline size_t pkt_ip(const struct pkt_spec *s, uint8_t *p, size_t cap);

/* The embedded packet of an ICMP error: its IP header and 8 bytes of L4. */
static inline size_t pkt_inner(const struct pkt_spec *in, uint8_t *p, size_t cap)
{
	uint8_t tmp[512];
	size_t len = pkt_ip(in, tmp, sizeof(tmp)), keep;

	if (!len)
		return 0;
	keep = (in->family == 4 ? (size_t)(tmp[0] & 0xf) * 4 : 40) + 8;
	if (keep > len)
		keep = len;
	if (keep > cap)
		return 0;
	memcpy(p, tmp, keep);
	return keep;
}

static inline size_t pkt_tcp(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	uint8_t doff = s->tcp_doff ? s->tcp_doff : 5;
	size_t hlen = doff > 5 ? (size_t)doff * 4 : 20;

	if (hlen > cap)
		return 0;
	memset(p, 0, hlen);
	memset(p + 20, 1, hlen - 20);	/* NOP options */
	pkt_put16(p + 0, s->sport);
	pkt_put16(p + 2, s->dport);
	pkt_put32(p + 4, 1000);
	pkt_put32(p + 8, s->tcp_flags & PKT_ACK ? 2000 : 0);
	p[12] = (uint8_t)(doff << 4);
	p[13] = s->tcp_flags;
	pkt_put16(p + 14, 65535);
	return hlen;
}

static inline size_t pkt_udp(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	if (cap < 8)
		return 0;
	pkt_put16(p + 0, s->sport);
	pkt_put16(p + 2, s->dport);
	pkt_put16(p + 4, (uint16_t)(8 + s->payload));
	pkt_put16(p + 6, 0);
	return 8;
}

/* ICMP and ICMPv6: type, code, checksum, id, sequence, then the inner packet. */
static inline size_t pkt_icmp(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	size_t n;

	if (cap < 8)
		return 0;
	memset(p, 0, 8);
	p[0] = s->icmp_type;
	p[1] = s->icmp_code;
	pkt_put16(p + 4, s->icmp_id);
	pkt_put16(p + 6, 1);
	if (!s->inner)
		return 8;
	n = pkt_inner(s->inner, p + 8, cap - 8);
	return n ? 8 + n : 0;
}

/* L4 header (none for a non-first fragment) and payload; sets the checksum; -1: no room. */
static inline long pkt_l4(const struct pkt_spec *s, uint8_t *p, size_t cap, const uint8_t *src,
			  const uint8_t *dst)
{
	size_t n = 0, i;
	int csum_off = -1;

	if (!s->frag_off) {
		switch (s->proto) {
		case IPPROTO_TCP:
			n = pkt_tcp(s, p, cap);
			csum_off = 16;
			break;
		case IPPROTO_UDP:
			n = pkt_udp(s, p, cap);
			csum_off = 6;
			break;
		case IPPROTO_ICMP:
		case IPPROTO_ICMPV6:
			n = pkt_icmp(s, p, cap);
			csum_off = 2;
			break;
		}
		if (csum_off >= 0 && !n)
			return -1;
	}
	if (n + s->payload > cap)
		return -1;
	for (i = 0; i < s->payload; i++)
		p[n + i] = (uint8_t)i;
	n += s->payload;
	if (csum_off < 0)
		return (long)n;

	uint32_t sum = s->proto == IPPROTO_ICMP ? 0 : pkt_pseudo(s, src, dst, s->proto, n);
	uint16_t c = pkt_fold(pkt_sum(sum, p, n));

	if (s->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	memcpy(p + csum_off, &c, 2);
	return (long)n;
}

/* ---- IPv4 ---- */

/* Header checksum over what IHL says, within the avail bytes written. */
static inline void pkt_ipv4_csum(uint8_t *ip, size_t avail)
{
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;
	uint16_t c;

	if (hlen > avail)
		hlen = avail;
	ip[10] = ip[11] = 0;
	c = pkt_fold(pkt_sum(0, ip, hlen));
	memcpy(ip + 10, &c, 2);
}

static inline size_t pkt_ipv4(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	size_t hlen = 20 + s->ip_opt_len;
	long n;
	uint16_t frag = (uint16_t)((s->mf ? 0x2000 : 0) | (s->frag_off & 0x1fff));

	if (hlen > cap)
		return 0;
	memset(p, 0, hlen);
	memset(p + 20, 1, s->ip_opt_len);	/* NOP options */
	p[0] = (uint8_t)((s->version ? s->version : 4) << 4 | (s->ihl ? s->ihl : hlen / 4));
	pkt_put16(p + 4, (uint16_t)s->frag_id);
	pkt_put16(p + 6, frag);
	p[8] = 64;
	p[9] = s->proto;
	if (!pkt_addr(AF_INET, s->src, s->saddr, p + 12) ||
	    !pkt_addr(AF_INET, s->dst, s->daddr, p + 16))
		return 0;
	n = pkt_l4(s, p + hlen, cap - hlen, p + 12, p + 16);
	if (n < 0)
		return 0;
	pkt_put16(p + 2, (uint16_t)(hlen + (size_t)n));
	pkt_ipv4_csum(p, hlen);
	return hlen + (size_t)n;
}

/* ---- IPv6 ---- */

/* One extension header; returns its length.  next is what follows it. */
static inline size_t pkt_ext(const struct pkt_spec *s, uint8_t type, uint8_t next, uint8_t *p,
			     size_t cap)
{
	size_t len = type == 51 ? 16 : 8;

	if (len > cap)
		return 0;
	memset(p, 0, len);
	p[0] = next;
	switch (type) {
	case 0:
	case 60:
		p[2] = 1;	/* PadN, 4 bytes of padding */
		p[3] = 4;
		break;
	case 43:
		break;		/* type 0, segments left 0 */
	case 51:
		p[1] = (uint8_t)(len / 4 - 2);
		pkt_put32(p + 4, 0x100);	/* SPI */
		pkt_put32(p + 8, 1);	/* sequence */
		break;
	case 44:
		pkt_put16(p + 2, (uint16_t)(s->frag_off << 3 | (s->mf ? 1 : 0)));
		pkt_put32(p + 4, s->frag_id);
		break;
	}
	return len;
}

static inline size_t pkt_ipv6(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	size_t off = 40, n;
	unsigned int i;
	long l4;

	if (cap < 40)
		return 0;
	memset(p, 0, 40);
	p[0] = (uint8_t)((s->version ? s->version : 6) << 4);
	p[6] = s->n_ext ? s->ext[0] : s->proto;
	p[7] = s->hop_limit ? s->hop_limit : 64;
	if (!pkt_addr(AF_INET6, s->src, s->saddr, p + 8) ||
	    !pkt_addr(AF_INET6, s->dst, s->daddr, p + 24))
		return 0;
	for (i = 0; i < s->n_ext && i < PKT_EXT_MAX; i++) {
		uint8_t next = i + 1 < s->n_ext ? s->ext[i + 1] : s->proto;

		n = pkt_ext(s, s->ext[i], next, p + off, cap - off);
		if (!n)
			return 0;
		off += n;
		/* A later fragment carries only data after its fragment header. */
		if (s->ext[i] == 44 && s->frag_off)
			break;
	}
	l4 = pkt_l4(s, p + off, cap - off, p + 8, p + 24);
	if (l4 < 0)
		return 0;
	pkt_put16(p + 4, (uint16_t)(off - 40 + (size_t)l4));
	return off + (size_t)l4;
}

static inline size_t pkt_ip(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	return s->family == 4 ? pkt_ipv4(s, p, cap) : pkt_ipv6(s, p, cap);
}

/* ---- frame ---- */

static inline size_t pkt_eth(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	uint16_t type = s->family == 4 ? 0x0800 : s->family == 6 ? 0x86dd : s->ethertype;
	size_t off = 12;
	unsigned int i;

	if (cap < 14 + 4U * s->vlans)
		return 0;
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	for (i = 0; i < s->vlans; i++, off += 4) {
		/* QinQ: the outer tag is 802.1ad, inner ones 802.1Q. */
		pkt_put16(p + off, i == 0 && s->vlans > 1 ? 0x88a8 : 0x8100);
		pkt_put16(p + off + 2, (uint16_t)(100 + i));
	}
	pkt_put16(p + off, type);
	return off + 2;
}

/* IP lengths describe what is left after the cut; the IPv4 checksum follows. */
static inline void pkt_fix_lengths(const struct pkt_spec *s, uint8_t *ip, size_t l3len)
{
	long v;

	if (s->family == 4 && l3len >= 20) {
		v = s->tot_len ? s->tot_len : (long)l3len + s->tot_len_adj;
		pkt_put16(ip + 2, (uint16_t)v);
		pkt_ipv4_csum(ip, l3len < 20U + s->ip_opt_len ? l3len : 20U + s->ip_opt_len);
	} else if (s->family == 6 && l3len >= 40) {
		v = (long)l3len - 40 + s->tot_len_adj;
		pkt_put16(ip + 4, (uint16_t)v);
	}
}

static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t l2 = pkt_eth(s, buf, cap), l3;

	if (!l2)
		return 0;
	if (s->family == 4 || s->family == 6) {
		l3 = pkt_ip(s, buf + l2, cap - l2);
		if (!l3)
			return 0;
	} else {
		l3 = s->payload ? s->payload : 28;	/* an ARP-sized body */
		if (l2 + l3 > cap)
			return 0;
		memset(buf + l2, 0, l3);
	}
	if (s->cut >= l2 + l3)
		return 0;
	if (s->cut > l3)
		return l2 + l3 - s->cut;	/* inside L2: nothing to fix */
	pkt_fix_lengths(s, buf + l2, l3 - s->cut);
	return l2 + l3 - s->cut;
}

/* IPv4/UDP between host-order addresses (0xc6120001 is 198.18.0.1). */
static inline struct pkt_spec pkt_udp4(uint32_t saddr, uint32_t daddr, uint16_t sport,
				       uint16_t dport)
{
	struct pkt_spec s = {
		.family = 4,
		.proto = IPPROTO_UDP,
		.sport = sport,
		.dport = dport,
	};

	pkt_put32(s.saddr, saddr);
	pkt_put32(s.daddr, daddr);
	return s;
}

#endif /* LB_TEST_PKT_H */
