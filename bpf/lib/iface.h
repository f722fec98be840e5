/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * iface.h - the row of the interface a packet came in or goes out on.
 *
 * API:
 *   struct lb_iface *lb_iface_lookup(__u32 ifindex)
 *	The interface's row, or NULL when it is not one we manage.
 *
 * Needs only the interface maps (lib/ifmaps.h), so modules other than the
 * firewall can use it.  Small ifindexes index the array lb_ifaces (an inlined lookup: a bounds
 * check and a load); the rare large one is in the hash lb_ifaces_hi.  Each
 * ifindex lives in exactly one of them (lb_fw.h).
 */
#ifndef LB_BPF_IFACE_H
#define LB_BPF_IFACE_H

#include "lib/ifmaps.h"

static __always_inline struct lb_iface *lb_iface_lookup(__u32 ifindex)
{
	struct lb_iface *ifc;

	if (ifindex >= LB_IFINDEX_ARRAY)
		return bpf_map_lookup_elem(&lb_ifaces_hi, &ifindex);
	ifc = bpf_map_lookup_elem(&lb_ifaces, &ifindex);
	return ifc && (ifc->flags & LB_IF_MANAGED) ? ifc : NULL;
}

#endif /* LB_BPF_IFACE_H */
