/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * chain_maps.h - the two prog arrays of a generation's chains, as both the
 * root programs (chain_root.bpf.c) and the module programs (lib/chain.h)
 * declare them.  Never pinned by name: the agent puts the generation's own
 * arrays in their place before load (bpf_map__reuse_fd).
 */
#ifndef LB_BPF_CHAIN_MAPS_H
#define LB_BPF_CHAIN_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lb_mod.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LB_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_chain_xdp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LB_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_chain_tc SEC(".maps");

#endif /* LB_BPF_CHAIN_MAPS_H */
