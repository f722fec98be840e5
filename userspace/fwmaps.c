// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fwmaps.c - open the firewall's maps by their pinned names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fwmaps.h"

/* Map name -> field of struct lb_maps; the one list both openers walk. */
static const struct {
	const char *name;
	size_t off;
} map_fields[] = {
#define F(n, f) { n, offsetof(struct lb_maps, f) }
	F("lb_src4", src4), F("lb_src6", src6), F("lb_dst4", dst4), F("lb_dst6", dst6),
	F("lb_srcx4", srcx4), F("lb_srcx6", srcx6), F("lb_dstx4", dstx4), F("lb_dstx6", dstx6),
	F("lb_copy_info", copy_info),
	F("lb_proto_cls", proto_cls), F("lb_dport_cls", dport_cls), F("lb_sport_cls", sport_cls),
	F("lb_rules", rules), F("lb_rules_dense", rules_dense), F("lb_active", active), F("lb_fs4", fs4), F("lb_fs6", fs6),
	F("lb_ifaces", ifaces), F("lb_ifaces_hi", ifaces_hi), F("lb_stats", stats), F("lb_rule_hits", rule_hits),
	F("lb_config", config), F("lb_ct_tcp", ct_tcp), F("lb_ct_other", ct_other),
	F("lb_ct_filter", ct_filter),
	F("lb_frags", frags), F("lb_events", events), F("lb_ev_bucket", ev_bucket),
	F("lb_ev_stats", ev_stats), F("lb_gc_stats", gc_stats),
#undef F
};

#define N_MAPS (sizeof(map_fields) / sizeof(map_fields[0]))

static int *map_slot(struct lb_maps *m, size_t i)
{
	return (int *)((char *)m + map_fields[i].off);
}

static void maps_reset(struct lb_maps *m)
{
	for (size_t i = 0; i < N_MAPS; i++)
		*map_slot(m, i) = -1;
}

void maps_close(struct lb_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < N_MAPS; i++) {
		int *fd = map_slot(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int maps_open(struct lb_maps *m, const char *dir, struct lb_err *err)
{
	char path[512];

	maps_reset(m);
	for (size_t i = 0; i < N_MAPS; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, map_fields[i].name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			int e = errno;

			maps_close(m);
			return lb_errf(err, e, "opening pinned map %s: %s", path, strerror(e));
		}
		*map_slot(m, i) = fd;
	}
	return 0;
}

/* The fds are dup()ed: the result outlives the object. */
int maps_from_object(struct lb_maps *m, struct bpf_object *obj, struct lb_err *err)
{
	maps_reset(m);
	for (size_t i = 0; i < N_MAPS; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, map_fields[i].name);
		int fd = map ? bpf_map__fd(map) : -1;

		if (fd < 0) {
			maps_close(m);
			return lb_errf(err, ENOENT, "BPF object has no map %s", map_fields[i].name);
		}
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			int e = errno;

			maps_close(m);
			return lb_errf(err, e, "dup of map %s: %s", map_fields[i].name, strerror(e));
		}
		*map_slot(m, i) = fd;
	}
	return 0;
}

/* ---- interface rows ---- */

int iface_row_get(const struct lb_maps *m, uint32_t ifindex, struct lb_iface *row)
{
	struct lb_iface v;

	if (ifindex >= LB_IFINDEX_ARRAY)
		return bpf_map_lookup_elem(m->ifaces_hi, &ifindex, row) ? -errno : 0;
	if (bpf_map_lookup_elem(m->ifaces, &ifindex, &v))
		return -errno;
	if (!(v.flags & LB_IF_MANAGED))
		return -ENOENT;
	*row = v;
	return 0;
}

int iface_row_put(const struct lb_maps *m, uint32_t ifindex, const struct lb_iface *row)
{
	struct lb_iface v = *row;

	v.flags |= LB_IF_MANAGED;
	if (ifindex >= LB_IFINDEX_ARRAY)
		return bpf_map_update_elem(m->ifaces_hi, &ifindex, &v, BPF_ANY) ? -errno : 0;
	return bpf_map_update_elem(m->ifaces, &ifindex, &v, BPF_ANY) ? -errno : 0;
}

int iface_row_del(const struct lb_maps *m, uint32_t ifindex)
{
	struct lb_iface none = { 0 };

	if (ifindex >= LB_IFINDEX_ARRAY)
		return bpf_map_delete_elem(m->ifaces_hi, &ifindex) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(m->ifaces, &ifindex, &none, BPF_ANY) ? -errno : 0;
}
