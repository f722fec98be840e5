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
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
		if (s != LB_SELFTEST_SLOT && !(used & (1ULL << s))) {
			*slot = s;
			return 0;
		}
	}
	return lb_errf(err, ENOSPC, "all %d interface slots are in use", LB_MAX_IFACES - 1);
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
	/* Kernels before 6.6 know no tcx attach type: EINVAL.  Anything else is real. */
	if (errno != EINVAL && errno != EOPNOTSUPP)
		return lb_errf(err, errno, "attaching tcx egress to ifindex %u: %s", ifindex,
			       strerror(errno));
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

/* Remove a pin; a pin already gone is fine. */
static int unpin(const char *path, struct lb_err *err)
{
	if (unlink(path) && errno != ENOENT)
		return lb_errf(err, errno, "removing %s: %s", path, strerror(errno));
	return 0;
}

/* Take the firewall off an interface: both hooks, its lb_ifaces row. */
static int undo_attach(struct lb_ctx *c, const struct lb_attached *a, struct lb_err *err)
{
	char path[512];
	struct lb_maps m;
	int r, r2;

	link_path(c, path, sizeof(path), "xdp", a->ifindex);
	r = unpin(path, err);
	link_path(c, path, sizeof(path), "tc", a->ifindex);
	r2 = unpin(path, err);
	r = r ? r : r2;
	if (!strcmp(a->egress, "tc")) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = LB_TC_PRIO);
		int t = bpf_tc_detach(&hook, &opts);

		/* -ENOENT/-ENODEV: the filter or the interface is gone already. */
		if (t && t != -ENOENT && t != -ENODEV && t != -EINVAL)
			r = lb_errf(err, -t, "detaching TC egress from ifindex %u: %s",
				    a->ifindex, strerror(-t));
	}
	if (!datapath_maps(c, &m, NULL)) {
		iface_row_del(&m, a->ifindex);
		maps_close(&m);
	}
	return r;
}

/* Is the pinned XDP link of this interface there and bound to it? */
static bool xdp_link_live(struct lb_ctx *c, uint32_t ifindex)
{
	struct bpf_link_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[512];
	bool live;
	int fd;

	link_path(c, path, sizeof(path), "xdp", ifindex);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	live = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP &&
	       info.xdp.ifindex == ifindex;
	close(fd);
	return live;
}

/* XDP here parses Ethernet; an L3 device (tun, WireGuard) would pass everything. */
static int check_ethernet(const char *ifname, struct lb_err *err)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return lb_errf(err, errno, "socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		r = lb_errf(err, errno, "reading the link type of %s: %s", ifname, strerror(errno));
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		r = lb_errf(err, EOPNOTSUPP,
			    "%s is not an Ethernet device (link type %u); the firewall parses "
			    "Ethernet frames and cannot filter it yet", ifname,
			    ifr.ifr_hwaddr.sa_family);
	close(fd);
	return r;
}

static int parse_attach_args(int argc, char **argv, const char **ifname, const char **mode)
{
	static const struct option lo[] = { { "mode", required_argument, NULL, 'm' }, { 0 } };
	int o;

	*mode = "native";
	optind = 1;
	while ((o = getopt_long(argc, argv, "m:", lo, NULL)) != -1) {
		if (o != 'm')
			return -LB_EUSAGE;
		*mode = optarg;
	}
	if (strcmp(*mode, "native") && strcmp(*mode, "generic")) {
		fprintf(stderr, "fw attach: --mode is native or generic, not `%s'\n", *mode);
		return -LB_EUSAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: lbagent fw attach IFACE [--mode native|generic]\n");
		return -LB_EUSAGE;
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
	r = slot_zero(&m, a->slot) ?: iface_row_put(&m, a->ifindex, &row);
	if (r) {
		r = lb_errf(err, -r, "writing the lb_ifaces row of %s: %s", a->name, strerror(-r));
		goto out;
	}
	r = ct_gc_arm(c, err) ?: xdp_link(c, xdp_fd, a->ifindex, a->mode, err) ?:
	    tc_attach(c, tc_fd, a->ifindex, a->egress, err);
	if (!r) {
		r = state_iface_add(c, a) ?: ctx_save_state(c, err);
		if (r)
			state_iface_del(c, a->ifindex);
	}
	/* Whatever failed, leave the interface as it was: no hook, no row. */
	if (r)
		undo_attach(c, a, NULL);
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

	r = parse_attach_args(argc, argv, &ifname, &mode);
	if (r)
		return r;
	if (strlen(ifname) >= sizeof(a.name)) {
		fprintf(stderr, "fw attach: `%s' is longer than an interface name can be (15)\n",
			ifname);
		return -EINVAL;
	}
	a.ifindex = if_nametoindex(ifname);
	if (!a.ifindex) {
		fprintf(stderr, "fw attach: no interface `%s' in this network namespace\n", ifname);
		return -ENODEV;
	}
	snprintf(a.name, sizeof(a.name), "%s", ifname);
	snprintf(a.mode, sizeof(a.mode), "%s", mode);
	r = check_ethernet(ifname, &err) ?: ctx_lock(c, &err);
	if (r)
		goto out;
	old = find_attached(att, state_ifaces(c, att, LB_MAX_IFACES), a.ifindex);
	if (old && !xdp_link_live(c, a.ifindex)) {
		/* state.json outlived the pins (reboot, bpffs wiped): attach anew. */
		undo_attach(c, old, NULL);
		state_iface_del(c, a.ifindex);
		old = NULL;
	}
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
	uint32_t ifindex;
	int r;

	if (argc != 2) {
		fprintf(stderr, "Usage: lbagent fw detach IFACE\n");
		return -LB_EUSAGE;
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
	r = undo_attach(c, a, &err);
	if (r)
		goto out;
	printf("%s: detached\n", a->name);
	state_iface_del(c, a->ifindex);
	r = ctx_save_state(c, &err);
out:
	if (r)
		fprintf(stderr, "fw detach: %s\n", err.msg);
	return r;
}
