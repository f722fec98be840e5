// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_attach.c - `fw attach`, `fw detach`: bpf_links on an interface.
 *
 * XDP ingress through an XDP bpf_link; TC egress through a tcx link where the
 * kernel has tcx (>= 6.6), else a clsact filter via bpf_tc_attach.  Links are
 * pinned, so the datapath outlives lbagent.  The interface's row in lb_ifaces
 * is written before the links exist: the first packet is already counted.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"

/* libbpf 1.1.2's headers predate tcx; the kernel's numbers (uapi enum bpf_attach_type). */
#define LB_BPF_TCX_EGRESS 47
#define LB_TC_PRIO 0xc0de

static void link_path(struct lb_ctx *c, char *buf, size_t len, const char *hook, uint32_t ifindex)
{
	ctx_path(c, buf, len, false, "links/%s_%u", hook, ifindex);
}

/* Default action of an interface under the applied policy (state.json). */
static enum lb_action iface_default(struct lb_ctx *c, const char *name)
{
	json_t *pol = json_object_get(c->state, "policy");
	json_t *ifd = json_object_get(json_object_get(pol, "iface_defaults"), name);
	const char *s = json_string_value(ifd ?: json_object_get(pol, "default"));
	enum lb_action a = LB_ACT_ALLOW;

	if (s)
		action_parse(s, &a);
	return a;
}

static int slot_alloc(struct lb_ctx *c, uint32_t *slot, struct lb_err *err)
{
	struct lb_attached att[LB_MAX_IFACES];
	size_t n = state_ifaces(c, att, LB_MAX_IFACES);
	uint64_t used = 0;

	for (size_t i = 0; i < n; i++)
		used |= 1ULL << (att[i].slot % 64);
	for (uint32_t s = 0; s < LB_MAX_IFACES; s++) {
		if (!(used & (1ULL << s))) {
			*slot = s;
			return 0;
		}
	}
	return lb_errf(err, ENOSPC, "all %d interface slots are in use", LB_MAX_IFACES);
}

/* A reused counter row must not carry the previous interface's counts. */
static int slot_zero(const struct lb_maps *m, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_counter *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	int r = 0;

	if (!zero)
		return -ENOMEM;
	for (uint32_t i = 0; i < LB_REASON_SLOTS && !r; i++) {
		uint32_t key = slot * LB_REASON_SLOTS + i;

		if (bpf_map_update_elem(m->stats, &key, zero, BPF_ANY))
			r = -errno;
	}
	free(zero);
	return r;
}

static int xdp_link(struct lb_ctx *c, int prog_fd, uint32_t ifindex, const char *mode,
		    struct lb_err *err)
{
	LIBBPF_OPTS(bpf_link_create_opts, o,
		    .flags = strcmp(mode, "generic") ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
	char path[512];
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o), r = 0;

	if (fd < 0) {
		r = -errno;
		return lb_errf(err, -r, "attaching XDP (%s mode) to ifindex %u: %s%s", mode, ifindex,
			       strerror(-r),
			       r == -EBUSY ? " (another XDP program is attached; detach it first)"
			       : !strcmp(mode, "native") ? " (try --mode generic)" : "");
	}
	link_path(c, path, sizeof(path), "xdp", ifindex);
	if (bpf_obj_pin(fd, path)) {
		r = -errno;
		lb_errf(err, -r, "pinning %s: %s", path, strerror(-r));
	}
	close(fd);
	return r;
}

/* tcx first; on kernels without it (EINVAL), a clsact egress filter. */
static int tc_attach(struct lb_ctx *c, int prog_fd, uint32_t ifindex, char *kind,
		     struct lb_err *err)
{
	char path[512];
	int fd = bpf_link_create(prog_fd, ifindex, LB_BPF_TCX_EGRESS, NULL), r;

	if (fd >= 0) {
		link_path(c, path, sizeof(path), "tc", ifindex);
		r = bpf_obj_pin(fd, path) ? -errno : 0;
		close(fd);
		snprintf(kind, 8, "tcx");
		return r ? lb_errf(err, -r, "pinning %s: %s", path, strerror(-r)) : 0;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = LB_TC_PRIO, .prog_fd = prog_fd);
	r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST)
		return lb_errf(err, -r, "creating clsact on ifindex %u: %s", ifindex, strerror(-r));
	opts.flags = BPF_TC_F_REPLACE;
	r = bpf_tc_attach(&hook, &opts);
	if (r)
		return lb_errf(err, -r, "attaching TC egress to ifindex %u: %s", ifindex,
			       strerror(-r));
	snprintf(kind, 8, "tc");
	return 0;
}

static void tc_detach(struct lb_ctx *c, const struct lb_attached *a)
{
	char path[512];

	if (!strcmp(a->egress, "tcx")) {
		link_path(c, path, sizeof(path), "tc", a->ifindex);
		unlink(path);
		return;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = LB_TC_PRIO);
	bpf_tc_detach(&hook, &opts);
}

static int parse_attach_args(int argc, char **argv, const char **ifname, const char **mode)
{
	static const struct option lo[] = { { "mode", required_argument, NULL, 'm' }, { 0 } };
	int o;

	*mode = "native";
	optind = 1;
	while ((o = getopt_long(argc, argv, "m:", lo, NULL)) != -1) {
		if (o != 'm')
			return -EINVAL;
		*mode = optarg;
	}
	if (strcmp(*mode, "native") && strcmp(*mode, "generic")) {
		fprintf(stderr, "fw attach: --mode is native or generic, not `%s'\n", *mode);
		return -EINVAL;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: lbagent fw attach IFACE [--mode native|generic]\n");
		return -EINVAL;
	}
	*ifname = argv[optind];
	return 0;
}

static const struct lb_attached *find_attached(const struct lb_attached *att, size_t n,
					       uint32_t ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (att[i].ifindex == ifindex)
			return &att[i];
	return NULL;
}

static int do_attach(struct lb_ctx *c, struct lb_attached *a, struct lb_err *err)
{
	struct lb_maps m;
	struct lb_iface row = { 0 };
	int xdp_fd = -1, tc_fd = -1, r;
	char path[512];

	r = datapath_ensure(c, &xdp_fd, &tc_fd, err);
	if (r)
		return r;
	r = datapath_maps(c, &m, err);
	if (r)
		goto out;
	r = slot_alloc(c, &a->slot, err);
	if (r)
		goto out;
	row.slot = a->slot;
	row.default_action[0] = row.default_action[1] = iface_default(c, a->name);
	if (slot_zero(&m, a->slot) || bpf_map_update_elem(m.ifaces, &a->ifindex, &row, BPF_ANY)) {
		r = lb_errf(err, errno, "writing lb_ifaces for %s: %s", a->name, strerror(errno));
		goto out;
	}
	r = ct_gc_arm(c, err) ?: xdp_link(c, xdp_fd, a->ifindex, a->mode, err);
	if (!r) {
		r = tc_attach(c, tc_fd, a->ifindex, a->egress, err);
		if (r) {
			link_path(c, path, sizeof(path), "xdp", a->ifindex);
			unlink(path);
		}
	}
	if (r)
		bpf_map_delete_elem(m.ifaces, &a->ifindex);
	else
		r = state_iface_add(c, a) ?: ctx_save_state(c, err);
out:
	maps_close(&m);
	close(xdp_fd);
	close(tc_fd);
	return r;
}

int cmd_fw_attach(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_attached att[LB_MAX_IFACES], a = { 0 };
	const struct lb_attached *old;
	const char *ifname, *mode;
	struct lb_err err = { "" };
	int r;

	if (parse_attach_args(argc, argv, &ifname, &mode))
		return -EINVAL;
	a.ifindex = if_nametoindex(ifname);
	if (!a.ifindex || strlen(ifname) >= sizeof(a.name)) {
		fprintf(stderr, "fw attach: no interface `%s' in this network namespace\n", ifname);
		return -ENODEV;
	}
	snprintf(a.name, sizeof(a.name), "%s", ifname);
	snprintf(a.mode, sizeof(a.mode), "%s", mode);
	r = ctx_lock(c, &err);
	if (r)
		goto out;
	old = find_attached(att, state_ifaces(c, att, LB_MAX_IFACES), a.ifindex);
	if (old) {
		if (strcmp(old->mode, a.mode))
			r = lb_errf(&err, EEXIST, "%s is attached in %s mode already; detach first",
				    ifname, old->mode);
		else
			printf("%s: attached already (%s, egress %s)\n", ifname, old->mode,
			       old->egress);
		goto out;
	}
	r = do_attach(c, &a, &err);
	if (!r)
		printf("%s: attached (XDP %s, egress %s, counter slot %u)\n", ifname, a.mode,
		       a.egress, a.slot);
out:
	if (r)
		fprintf(stderr, "fw attach: %s\n", err.msg);
	return r;
}

int cmd_fw_detach(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_attached att[LB_MAX_IFACES];
	const struct lb_attached *a;
	struct lb_err err = { "" };
	struct lb_maps m;
	char path[512];
	uint32_t ifindex;
	int r;

	if (argc != 2) {
		fprintf(stderr, "Usage: lbagent fw detach IFACE\n");
		return -EINVAL;
	}
	r = ctx_lock(c, &err);
	if (r)
		goto out;
	ifindex = if_nametoindex(argv[1]);
	a = find_attached(att, state_ifaces(c, att, LB_MAX_IFACES), ifindex);
	for (size_t i = 0; !a && i < state_ifaces(c, att, LB_MAX_IFACES); i++)
		if (!strcmp(att[i].name, argv[1]))
			a = &att[i]; /* the interface is gone: clean up by name */
	if (!a) {
		r = lb_errf(&err, ENOENT, "`%s' is not attached", argv[1]);
		goto out;
	}
	link_path(c, path, sizeof(path), "xdp", a->ifindex);
	unlink(path);
	tc_detach(c, a);
	if (!datapath_maps(c, &m, NULL)) {
		bpf_map_delete_elem(m.ifaces, &a->ifindex);
		maps_close(&m);
	}
	printf("%s: detached\n", a->name);
	state_iface_del(c, a->ifindex);
	r = ctx_save_state(c, &err);
out:
	if (r)
		fprintf(stderr, "fw detach: %s\n", err.msg);
	return r;
}
