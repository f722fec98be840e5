/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * mx.h - the metrics module's datapath, shared by mx_xdp.bpf.c (ingress) and
 * mx_tc.bpf.c (egress).  Layout and classes: headers/lb_mod.h.
 *
 * API:
 *   void lb_mx_count(void *data, void *data_end, __u32 ifindex, __u32 dir, __u64 len)
 *	Classifies the frame in [data, data_end) and adds {1, len} to its
 *	class cell and its size bucket in the row of (ifindex's slot, dir).
 *
 * Passive and cheap, since it runs beside the firewall on every packet: one
 * inlined array lookup for the interface (lib/iface.h; a hash lookup only
 * for the rare ifindex >= LB_IFINDEX_ARRAY), one inlined per-CPU array
 * lookup for the row, no other helper.  The parser reads the Ethernet
 * header, at most LB_MX_VLAN_MAX tags and the IPv4 or IPv6 fixed header,
 * nothing more: IPv6 extension headers are not walked (lb_mod.h).  The cell
 * index is masked into range, so the verifier needs no per-class path.
 */
#ifndef LB_BPF_MX_H
#define LB_BPF_MX_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_mod.h"
#include "lib/iface.h"

#define LB_MX_ETH_P_IP		0x0800
#define LB_MX_ETH_P_ARP		0x0806
#define LB_MX_ETH_P_IPV6	0x86DD
#define LB_MX_ETH_P_8021Q	0x8100
#define LB_MX_ETH_P_8021AD	0x88A8
#define LB_MX_IPPROTO_ICMP	1
#define LB_MX_IPPROTO_TCP	6
#define LB_MX_IPPROTO_UDP	17
#define LB_MX_IPPROTO_ICMPV6	58

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_mx_row);
	__uint(max_entries, LB_MX_ROWS);
	LB_PIN;
} lb_mx_stats SEC(".maps");

static __always_inline bool lb_mx_is_vlan(__be16 proto)
{
	return proto == bpf_htons(LB_MX_ETH_P_8021Q) || proto == bpf_htons(LB_MX_ETH_P_8021AD);
}

static __always_inline __u32 lb_mx_l4_of(__u8 proto, __u8 icmp)
{
	if (proto == LB_MX_IPPROTO_TCP)
		return LB_MX_TCP;
	if (proto == LB_MX_IPPROTO_UDP)
		return LB_MX_UDP;
	return proto == icmp ? LB_MX_ICMP : LB_MX_L4_OTHER;
}

/* Cell index l3 * LB_MX_L4 + l4 of the frame. */
static __always_inline __u32 lb_mx_classify(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct ipv6hdr *ip6;
	void *pos;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return LB_MX_L2_OTHER * LB_MX_L4 + LB_MX_L4_OTHER;
	proto = eth->h_proto;
	pos = eth + 1;
#pragma unroll
	for (i = 0; i < LB_MX_VLAN_MAX && lb_mx_is_vlan(proto); i++) {
		struct vlan_hdr *vh = pos;

		if ((void *)(vh + 1) > data_end)
			return LB_MX_L2_OTHER * LB_MX_L4 + LB_MX_L4_OTHER;
		proto = vh->h_vlan_encapsulated_proto;
		pos = vh + 1;
	}

	if (proto == bpf_htons(LB_MX_ETH_P_IP)) {
		ip = pos;
		if ((void *)(ip + 1) > data_end)
			return LB_MX_IPV4 * LB_MX_L4 + LB_MX_L4_OTHER;
		return LB_MX_IPV4 * LB_MX_L4 + lb_mx_l4_of(ip->protocol, LB_MX_IPPROTO_ICMP);
	}
	if (proto == bpf_htons(LB_MX_ETH_P_IPV6)) {
		ip6 = pos;
		if ((void *)(ip6 + 1) > data_end)
			return LB_MX_IPV6 * LB_MX_L4 + LB_MX_L4_OTHER;
		return LB_MX_IPV6 * LB_MX_L4 + lb_mx_l4_of(ip6->nexthdr, LB_MX_IPPROTO_ICMPV6);
	}
	if (proto == bpf_htons(LB_MX_ETH_P_ARP))
		return LB_MX_ARP * LB_MX_L4 + LB_MX_L4_OTHER;
	/* Another EtherType, or a third VLAN tag. */
	return LB_MX_L2_OTHER * LB_MX_L4 + LB_MX_L4_OTHER;
}

static __always_inline __u32 lb_mx_slot(__u32 ifindex)
{
	struct lb_iface *ifc = lb_iface_lookup(ifindex);

	return ifc && ifc->slot < LB_MAX_IFACES ? ifc->slot : LB_MX_SLOT_OTHER;
}

static __always_inline void lb_mx_count(void *data, void *data_end, __u32 ifindex, __u32 dir,
					__u64 len)
{
	__u32 key = lb_mx_key(lb_mx_slot(ifindex), dir);
	__u32 cell = lb_mx_classify(data, data_end) & (LB_MX_L3 * LB_MX_L4 - 1);
	__u32 size = lb_mx_size_bucket(len);
	struct lb_mod_ctr *c;
	struct lb_mx_row *row;

	row = bpf_map_lookup_elem(&lb_mx_stats, &key);
	if (!row)
		return;
	c = &row->cls[0][0] + cell;
	c->packets++;
	c->bytes += len;
	c = &row->size[size < LB_MX_SIZES ? size : LB_MX_SIZE_JUMBO];
	c->packets++;
	c->bytes += len;
}

#endif /* LB_BPF_MX_H */
