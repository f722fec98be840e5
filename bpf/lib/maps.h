/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - the firewall's maps, shared by fw_xdp.bpf.c and fw_tc.bpf.c.
 *
 * Every map is pinned by name (LIBBPF_PIN_BY_NAME) under <bpffs>/maps, so both
 * objects, every revision of them and user space see the same instances.  The
 * layouts are in headers/lb_fw.h.  Map names are at most 15 characters.
 */
#ifndef LB_BPF_MAPS_H
#define LB_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lb_fw.h"

#define LB_PIN __uint(pinning, LIBBPF_PIN_BY_NAME)

/* ---- policy (two copies, see lb_fw.h) ---- */
#define LB_LPM_MAP(_name, _key)                                                                    \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__type(key, _key);                                                                 \
		__type(value, struct lb_class_val);                                                \
		__uint(max_entries, LB_MAX_PREFIXES);                                              \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		LB_PIN;                                                                            \
	} _name SEC(".maps")

LB_LPM_MAP(lb_src4, struct lb_lpm4_key);
LB_LPM_MAP(lb_src6, struct lb_lpm6_key);
LB_LPM_MAP(lb_dst4, struct lb_lpm4_key);
LB_LPM_MAP(lb_dst6, struct lb_lpm6_key);

/* Host tables (lb_fw.h): buckets, written by user space through mmap. */
#define LB_HOST_TABLE(_name, _bucket)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__type(key, __u32);                                                                \
		__type(value, _bucket);                                                            \
		__uint(max_entries, LB_HT_BUCKETS * LB_POLICY_COPIES);                             \
		__uint(map_flags, BPF_F_MMAPABLE);                                                 \
		LB_PIN;                                                                            \
	} _name SEC(".maps")

LB_HOST_TABLE(lb_srcx4, struct lb_ht4_bucket);
LB_HOST_TABLE(lb_srcx6, struct lb_ht6_bucket);
LB_HOST_TABLE(lb_dstx4, struct lb_ht4_bucket);
LB_HOST_TABLE(lb_dstx6, struct lb_ht6_bucket);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_copy_info);
	__uint(max_entries, LB_POLICY_COPIES);
	LB_PIN;
} lb_copy_info SEC(".maps");

#define LB_CLASS_ARRAY(_name, _n)                                                                  \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__type(key, __u32);                                                                \
		__type(value, __u32);                                                              \
		__uint(max_entries, (_n) * LB_POLICY_COPIES);                                      \
		LB_PIN;                                                                            \
	} _name SEC(".maps")

LB_CLASS_ARRAY(lb_proto_cls, LB_PROTO_SPACE);
LB_CLASS_ARRAY(lb_dport_cls, LB_PORT_SPACE);
LB_CLASS_ARRAY(lb_sport_cls, LB_PORT_SPACE);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_rule_key);
	__type(value, struct lb_rule_val);
	__uint(max_entries, LB_MAX_RULE_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	LB_PIN;
} lb_rules SEC(".maps");

/* Two __u32 slots per element (lb_fw.h); user space writes it through mmap. */
struct lb_dense_pair {
	__u32 slot[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_dense_pair);
	__uint(max_entries, LB_DENSE_SLOTS / 2);
	__uint(map_flags, BPF_F_MMAPABLE);
	LB_PIN;
} lb_rules_dense SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_active);
	__uint(max_entries, 1);
	LB_PIN;
} lb_active SEC(".maps");

/* ---- failsafe ---- */
#define LB_FS_MAP(_name, _key)                                                                     \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__type(key, _key);                                                                 \
		__type(value, struct lb_failsafe_val);                                             \
		__uint(max_entries, LB_FAILSAFE_MAX * LB_POLICY_COPIES * 2);                       \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		LB_PIN;                                                                            \
	} _name SEC(".maps")

LB_FS_MAP(lb_fs4, struct lb_lpm4_key);
LB_FS_MAP(lb_fs6, struct lb_lpm6_key);

/* ---- interfaces (lib/ifmaps.h: small ifindexes in the array), counters, configuration ---- */
#include "lib/ifmaps.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_counter);
	__uint(max_entries, LB_MAX_IFACES * LB_REASON_SLOTS);
	LB_PIN;
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, LB_MAX_RULES * LB_POLICY_COPIES);
	LB_PIN;
} lb_rule_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_config);
	__uint(max_entries, 1);
	LB_PIN;
} lb_config SEC(".maps");

/* ---- conntrack and fragments ---- */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_val);
	__uint(max_entries, LB_CT_TCP_MAX);
	LB_PIN;
} lb_ct_tcp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_val);
	__uint(max_entries, LB_CT_OTHER_MAX);
	LB_PIN;
} lb_ct_other SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, LB_CTF_KEYS);
	LB_PIN;
} lb_ct_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_frag_key);
	__type(value, struct lb_frag_val);
	__uint(max_entries, LB_FRAG_MAX);
	LB_PIN;
} lb_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_gc_stats);
	__uint(max_entries, 1);
	LB_PIN;
} lb_gc_stats SEC(".maps");

/* ---- events ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LB_EVENTS_BYTES);
	LB_PIN;
} lb_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_ev_bucket);
	__uint(max_entries, 1);
	LB_PIN;
} lb_ev_bucket SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_ev_stats);
	__uint(max_entries, 1);
	LB_PIN;
} lb_ev_stats SEC(".maps");

#endif /* LB_BPF_MAPS_H */
