// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mx_tc.bpf.c - the metrics module, egress half (TC / tcx).
 *
 * Counts every packet leaving an interface by slot, class and size into
 * lb_mx_stats (headers/lb_mod.h, lib/mx.h), bytes being skb->len, and always
 * returns TC_ACT_UNSPEC (no verdict: the next module, or whoever is next
 * on the hook).  It classifies from the skb's linear part and never
 * pulls: bpf_skb_pull_data would unshare the head of every cloned (TCP)
 * skb, a cost a passive counter must not impose; headers outside the linear
 * part are counted as lb_mod.h says.  Loaded alone or as a module of a
 * chain (lib/chain.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/mx.h"
#include "lib/chain.h"


SEC("tc")
int lb_mx_tc_egress(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	void *data = (void *)(long)skb->data;

	lb_mx_count(data, data_end, skb->ifindex, LB_MX_EGRESS, skb->len);
	return lb_chain_tc_next(skb, LB_TC_ACT_UNSPEC);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
