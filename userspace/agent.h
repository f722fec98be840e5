/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * agent.h - what every lbagent command shares: paths, the lock, the state
 * file, the loaded datapath.
 *
 * bpffs layout (root defaults to /sys/fs/bpf/loopback):
 *   maps/<name>          state maps, pinned by name, shared by all programs
 *   chain/               module chain generations (module.h)
 *   links/xdp_<ifindex>  the XDP bpf_link of an interface
 *   links/tc_<ifindex>   its tcx egress bpf_link (kernels >= 6.6)
 * State directory (defaults to /var/lib/loopback):
 *   state.json           attached interfaces, applied policy metadata
 *   policy.json          the applied policy, verbatim
 *   modules.json, mods/  the module journal and artifacts (module.h)
 */
#ifndef LB_AGENT_H
#define LB_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "fwmaps.h"

#define LB_DEFAULT_BPFFS "/sys/fs/bpf/loopback"
#define LB_DEFAULT_STATE "/var/lib/loopback"
#define LB_VERSION "0.1.0"
/* Priority and handle of our clsact filter on kernels without tcx. */
#define LB_TC_PRIO 0xc0de
/* The counter slot module self-tests count under (module.c), never an interface's. */
#define LB_SELFTEST_SLOT (LB_MAX_IFACES - 1)
/* A command returns -LB_EUSAGE for bad usage: exit status 2, not 1. */
#define LB_EUSAGE 200

struct lb_ctx {
	const char *bpffs;
	const char *state_dir;
	bool json;
	int lock_fd;
	json_t *state;		/* state.json, loaded by ctx_lock() */
};

/* One attached interface, as recorded in state.json. */
struct lb_attached {
	char name[16];
	uint32_t ifindex;
	uint32_t slot;
	char mode[8];		/* "native" or "generic" */
	char egress[8];		/* "tcx" or "tc" */
};

/* Path under the bpffs root or state dir ("%s/..."). */
void ctx_path(const struct lb_ctx *c, char *buf, size_t len, bool state, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Take the lock (flock on the bpffs root, created and checked), load state. */
int ctx_lock(struct lb_ctx *c, struct lb_err *err);
/* Write state.json atomically (temp, fsync, rename). */
int ctx_save_state(struct lb_ctx *c, struct lb_err *err);
void ctx_release(struct lb_ctx *c);
/* Read state.json without the lock (read commands); fills c->state. */
int ctx_read_state(struct lb_ctx *c, struct lb_err *err);

/* Interfaces in state.json. */
size_t state_ifaces(const struct lb_ctx *c, struct lb_attached *out, size_t max);
int state_iface_add(struct lb_ctx *c, const struct lb_attached *a);
void state_iface_del(struct lb_ctx *c, uint32_t ifindex);

/*
 * Make sure the maps and the module chain exist under the bpffs root (the
 * built-in firewall is installed the first time), and return the current
 * generation's root program fds for XDP and TC egress.
 */
int datapath_ensure(struct lb_ctx *c, int *xdp_fd, int *tc_fd, struct lb_err *err);
/* Start (or restart) the in-kernel conntrack collector timer. */
int ct_gc_arm(struct lb_ctx *c, struct lb_err *err);
/* Open the pinned maps; -ENOENT with a hint when nothing is loaded yet. */
int datapath_maps(struct lb_ctx *c, struct lb_maps *m, struct lb_err *err);

/* For commands that take no arguments: -LB_EUSAGE with a message if there are. */
int no_more_args(int argc, char **argv, const char *usage);

/* mkdir -p; -errno. */
int mkdir_p(const char *path, mode_t mode);

/* Helpers for output. */
int write_file_atomic(const char *path, const void *buf, size_t len, struct lb_err *err);
const char *reason_name(unsigned int reason);
const char *reason_verdict(unsigned int reason);
void json_print(json_t *j);	/* compact + newline to stdout, then decref */

/* Commands: int fn(struct lb_ctx *, int argc, char **argv); argv[0] is the name. */
int cmd_fw_attach(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_detach(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_policy_apply(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_policy_show(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_stats(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_events(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_ct_list(struct lb_ctx *c, int argc, char **argv);
int cmd_fw_ct_gc(struct lb_ctx *c, int argc, char **argv);
int cmd_status(struct lb_ctx *c, int argc, char **argv);

#endif
