// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_gen.bpf.c - the traffic generator's XDP programs (user space:
 * tests/bench/lbgen.c, shared structs: tests/bench/lbgen.h).
 *
 * gen_redirect runs under BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES and
 * redirects every frame into a veth, so the frames arrive at its peer as
 * received packets.  With more than one flow it first rewrites the frame's
 * source (the last 32 bits of the address, and the port) to the next flow's
 * and writes both checksums.
 *
 * Live frames reuse their pages without restoring the content: a frame holds
 * either the template or whatever an earlier run wrote.  So every field is
 * written from scratch, and each checksum is a sum that user space computed
 * over the template with the varying fields zeroed, plus the new fields:
 * nothing depends on the page's previous content.
 *
 * gen_count runs on the receiving veth: it counts frames and distinct
 * (source address, source port) flows in a hash map, then drops them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../tests/bench/lbgen.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define E2BIG 7

/*
 * ---- gen_redirect tunables: set by lbgen before load ----
 *
 * Flow f (0 <= f < flows) is source address base + f % addrs, port
 * sport_base + f / addrs.  Frame n carries flow n * stride % flows, stride
 * coprime to flows, so every flow comes once per flows frames.  The state
 * keeps f and its two digits (f % addrs, f / addrs) and steps them with
 * additions and carries: no division per packet, so many flows cost the
 * generator hardly more than one.
 */
const volatile __u32 gen_ifindex;	/* the veth to redirect into */
const volatile __u32 gen_flows = 1;	/* 1: frames go out as the template */
const volatile __u32 gen_addrs = 1;
const volatile __u32 gen_stride = 1;	/* < flows */
const volatile __u32 gen_stride_addr;	/* stride % addrs */
const volatile __u32 gen_stride_port;	/* stride / addrs */
const volatile __u32 gen_flows_addr;	/* flows % addrs */
const volatile __u32 gen_flows_port;	/* flows / addrs */
const volatile __u32 gen_addr_base;	/* last 32 bits of the first source address, host order */
const volatile __u16 gen_sport_base;	/* host order */
const volatile __u16 gen_off_addr;	/* frame offsets of the fields written per packet */
const volatile __u16 gen_off_sport;
const volatile __u16 gen_off_l4csum;
const volatile __u16 gen_off_ipcsum;	/* 0: no IPv4 header checksum (IPv6) */
const volatile __u32 gen_ip_sum;	/* ones' complement sums with the varying fields zeroed */
const volatile __u32 gen_l4_sum;
const volatile __u8 gen_udp;		/* UDP sends a computed 0 checksum as 0xffff */

/* Per CPU: frames made here, and the next flow. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbgen_seq);
} gen_seq SEC(".maps");

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Stores a host-order u16 in network order; offsets are even, not always 4-aligned. */
static __always_inline int put16(void *data, void *end, __u32 off, __u16 val)
{
	__be16 *p = data + off;

	if ((void *)(p + 1) > end)
		return -1;
	*p = bpf_htons(val);
	return 0;
}

/* flow += stride (mod flows), carrying between the digits. */
static __always_inline void flow_step(struct lbgen_seq *s)
{
	s->flow += gen_stride;
	s->addr += gen_stride_addr;
	s->port += gen_stride_port;
	if (s->addr >= gen_addrs) {
		s->addr -= gen_addrs;
		s->port++;
	}
	if (s->flow >= gen_flows) {
		s->flow -= gen_flows;
		if (s->addr < gen_flows_addr) {
			s->addr += gen_addrs;
			s->port--;
		}
		s->addr -= gen_flows_addr;
		s->port -= gen_flows_port;
	}
}

static __always_inline int write_flow(struct xdp_md *ctx, __u32 addr_i, __u32 port_i)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 addr = gen_addr_base + addr_i;
	__u16 sport = gen_sport_base + (__u16)port_i;
	__u32 words = (addr >> 16) + (addr & 0xffff);
	__u16 l4 = csum_fold(gen_l4_sum + words + sport);

	if (gen_udp && !l4)
		l4 = 0xffff;
	if (put16(data, end, gen_off_addr, addr >> 16) ||
	    put16(data, end, gen_off_addr + 2, addr & 0xffff) ||
	    put16(data, end, gen_off_sport, sport) || put16(data, end, gen_off_l4csum, l4))
		return -1;
	if (gen_off_ipcsum && put16(data, end, gen_off_ipcsum, csum_fold(gen_ip_sum + words)))
		return -1;
	return 0;
}

SEC("xdp")
int gen_redirect(struct xdp_md *ctx)
{
	__u32 zero = 0, addr_i, port_i;
	struct lbgen_seq *s = bpf_map_lookup_elem(&gen_seq, &zero);

	if (!s)
		return XDP_ABORTED;
	s->frames++;
	/* gen_flows is frozen rodata: the verifier prunes the rewrite for one flow. */
	if (gen_flows > 1) {
		addr_i = s->addr;
		port_i = s->port;
		flow_step(s);
		if (write_flow(ctx, addr_i, port_i))
			return XDP_ABORTED;
	}
	return bpf_redirect(gen_ifindex, 0);
}

/* ---- gen_count: the receiving side's flow counter ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBGEN_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory only for the flows that arrive */
	__type(key, struct lbgen_flow);
	__type(value, __u64);
} count_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbgen_rx);
} count_rx SEC(".maps");

/* Source and L4 protocol of an IPv4 packet; returns the L4 header or NULL. */
static __always_inline void *parse_ipv4(void *p, void *end, struct lbgen_flow *k)
{
	struct iphdr *ip = p;

	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return NULL;
	__builtin_memcpy(k->addr, &ip->saddr, 4);
	k->family = 4;
	k->proto = ip->protocol;
	return p + ip->ihl * 4;
}

/* IPv6 without extension headers: the generator sends none. */
static __always_inline void *parse_ipv6(void *p, void *end, struct lbgen_flow *k)
{
	struct ipv6hdr *ip6 = p;

	if ((void *)(ip6 + 1) > end)
		return NULL;
	__builtin_memcpy(k->addr, &ip6->saddr, 16);
	k->family = 6;
	k->proto = ip6->nexthdr;
	return ip6 + 1;
}

/* Fills the flow key; false for anything that is not IPv4/IPv6 UDP/TCP. */
static __always_inline bool parse_flow(struct xdp_md *ctx, struct lbgen_flow *k)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be16 *sport;

	if ((void *)(eth + 1) > end)
		return false;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		sport = parse_ipv4(eth + 1, end, k);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		sport = parse_ipv6(eth + 1, end, k);
	else
		return false;
	if (!sport || (void *)(sport + 1) > end ||
	    (k->proto != IPPROTO_UDP && k->proto != IPPROTO_TCP))
		return false;
	k->sport = *sport;
	return true;
}

SEC("xdp")
int gen_count(struct xdp_md *ctx)
{
	struct lbgen_flow k = {};
	struct lbgen_rx *rx;
	__u32 zero = 0;
	__u64 one = 1, *n;

	rx = bpf_map_lookup_elem(&count_rx, &zero);
	if (!rx)
		return XDP_DROP;
	rx->packets++;
	if (!parse_flow(ctx, &k)) {
		rx->other++;
		return XDP_DROP;
	}
	n = bpf_map_lookup_elem(&count_flows, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&count_flows, &k, &one, BPF_NOEXIST) == -E2BIG)
		rx->full++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
