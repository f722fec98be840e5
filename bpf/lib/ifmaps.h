/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ifmaps.h - the interface table: lb_ifaces and lb_ifaces_hi (layout in
 * headers/lb_fw.h, "interfaces").
 *
 * Apart from maps.h so that a module that only needs to know an interface's
 * counter slot (the metrics module, mx_*.bpf.c) defines these two maps and
 * no other firewall map: libbpf creates every map an object defines, so
 * including maps.h would create the whole firewall state beside it.  Both
 * are pinned by name, so every object that includes this shares them.
 */
#ifndef LB_BPF_IFMAPS_H
#define LB_BPF_IFMAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lb_fw.h"

#ifndef LB_PIN
#define LB_PIN __uint(pinning, LIBBPF_PIN_BY_NAME)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_iface);
	__uint(max_entries, LB_IFINDEX_ARRAY);
	LB_PIN;
} lb_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb_iface);
	__uint(max_entries, LB_MAX_IFACES);
	LB_PIN;
} lb_ifaces_hi SEC(".maps");

#endif /* LB_BPF_IFMAPS_H */
