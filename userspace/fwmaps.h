/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fwmaps.h - file descriptors of the firewall's pinned maps, and the policy
 * writer that fills one copy and flips it active.
 */
#ifndef LB_FWMAPS_H
#define LB_FWMAPS_H

#include "compile.h"

struct lb_maps {
	int src4, src6, dst4, dst6;
	int srcx4, srcx6, dstx4, dstx6, copy_info;
	int proto_cls, dport_cls, sport_cls;
	int rules, rules_dense, active;
	int fs4, fs6;
	int ifaces, ifaces_hi, stats, rule_hits, config;
	int ct_tcp, ct_other, ct_filter, frags;
	int events, ev_bucket, ev_stats, gc_stats;
};

/* Open every map pinned under dir (<bpffs>/maps).  All fds -1 on failure. */
int maps_open(struct lb_maps *m, const char *dir, struct lb_err *err);
/* From a loaded bpf_object whose maps carry the names above. */
struct bpf_object;
int maps_from_object(struct lb_maps *m, struct bpf_object *obj, struct lb_err *err);
void maps_close(struct lb_maps *m);

/*
 * An interface's row (lb_fw.h: lb_ifaces for small ifindexes, lb_ifaces_hi
 * for the rest; these pick the map).  get: -ENOENT when the interface is not
 * managed.  put sets LB_IF_MANAGED.  del: removing a row that is not there is
 * success.  All return 0 or -errno.
 */
int iface_row_get(const struct lb_maps *m, uint32_t ifindex, struct lb_iface *row);
int iface_row_put(const struct lb_maps *m, uint32_t ifindex, const struct lb_iface *row);
int iface_row_del(const struct lb_maps *m, uint32_t ifindex);

/*
 * Policy writer (fw_apply.c).
 * policy_write(): clear copy `copy`, write c into it, zero its rule hits,
 * set each attached interface's default for that copy (ifindex list with
 * actions), then flip lb_active to it.  On failure before the flip nothing
 * packets see has changed.
 */
struct lb_iface_action {
	uint32_t ifindex;
	enum lb_action action;
};
int policy_write(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err);
/* policy_write() in two steps, for callers that record state in between. */
int policy_stage(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err);
int policy_flip(const struct lb_maps *m, uint32_t copy, struct lb_err *err);
/* Remove every entry of copy `copy` from the hash and LPM maps. */
int policy_clear_copy(const struct lb_maps *m, uint32_t copy, struct lb_err *err);
/* Read lb_active. */
int policy_active(const struct lb_maps *m, struct lb_active *out);

#endif
