/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * module.h - the module lifecycle: installed revisions, one chain per hook,
 * swap transactions with health-gated rollback, the journal, recovery.
 *
 * A module (firewall, metrics, ...) comes as an artifact (artifact.h).  Each
 * installed copy of one is a revision: a number per module, plus a serial
 * unique across modules that keys its verdict counters in lb_mod_stats
 * (headers/lb_mod.h).  The programs of every hook run through a dispatcher
 * (bpf/dispatch_xdp.bpf.c, bpf/dispatch_tc.bpf.c) whose slots the module
 * programs replace (freplace, BPF_PROG_TYPE_EXT).  The set of dispatchers
 * and their slot links is a chain generation; the stable bpf_link of every
 * interface and hook points at the current generation's dispatcher.
 *
 * bpffs (below the root):
 *   maps/<name>                  state maps, version-free, reused by every
 *                                revision after a compatibility check
 *   mods/<name>/<rev>/<hook>     a revision's programs (EXT)
 *   chain/<gen>/<hook>           a generation's dispatcher
 *   chain/<gen>/<hook>_s<i>      the freplace link of its slot i
 *   links/xdp_<ifindex>, links/tc_<ifindex>
 *                                the stable links (fw_attach.c)
 * State directory:
 *   modules.json                 the journal (below)
 *   mods/<name>-<rev>.lbm        each installed revision's artifact
 *   mods/<name>-<rev>.log        the verifier log of a revision that failed
 *
 * A change (install, rollback, enable, disable) is a transaction:
 *   1 journal: txn begun          (what is being done, the new generation)
 *   2 verify and load the revision, pin it       (install only)
 *   3 build the new generation: dispatchers, slot links, pinned
 *   4 self-test: the manifest's vectors through the new dispatchers
 *   5 swap: every interface's link, compare-and-swap (BPF_F_REPLACE)
 *   6 journal: txn swapped
 *   7 health window: the revision's own verdict counters
 *   8 journal: committed (txn gone, new active/previous, new generation)
 *   9 unpin what nothing refers to any more
 * Until 5 the old generation serves and nothing live changed; a failure
 * unpins what was built.  From 5 on a failure swaps back.  The previous
 * revision of a module stays pinned until the next commit, so a rollback
 * loads nothing: it is steps 3-9 with the previous revision.
 *
 * Recovery (module_recover(), run under the lock by every command that
 * changes the datapath): a journal with a txn means a process died in one.
 * The kernel decides: links still on the old generation are left alone,
 * links already on the new one are swapped back; the new generation and
 * revision are unpinned and the txn dropped.  A change whose health window
 * never ended is never committed.  Then orphans (pins and artifacts the
 * journal does not name) are removed.
 *
 * Journal (modules.json, written temp + fsync + rename):
 *   {"serial": N, "gen": G,
 *    "maps": {"<map>": layout, ...},
 *    "modules": [{"name", "enabled", "order",
 *                 "active": REV, "previous": REV | null}],
 *    "txn": null | {"op", "module", "step", "old_gen", "new_gen", "rev": REV}}
 *   REV = {"rev", "serial", "version", "sha512", "hooks": ["xdp", ...],
 *          "installed_at"}
 *
 * Test-only: LB_TEST_CRASH_STEP=N makes the process SIGKILL itself right
 * after step N of a transaction (the crash-safety test).
 */
#ifndef LB_MODULE_H
#define LB_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include "lberr.h"

struct lb_ctx;

/* Options of a change. */
struct lb_mod_opts {
	const char *sha512;		/* install: expected artifact hash, or NULL */
	unsigned int health_ms;		/* health window; 0: none */
	double max_drop_increase;	/* health: drop share may grow by this much */
	bool no_selftest;		/* skip step 4 (never by default) */
};

#define LB_MOD_HEALTH_MS_DEFAULT	3000
#define LB_MOD_DROP_INCREASE_DEFAULT	0.5
#define LB_MOD_HEALTH_MIN_PACKETS	100	/* fewer in the window: no drop verdict */

/* What a transaction did, for output and metrics. */
struct lb_mod_result {
	char module[33];
	char version[65];
	unsigned int rev;
	unsigned int key;	/* its lb_mod_stats key */
	uint64_t gen;
	bool rolled_back;
	char cause[32];		/* why it rolled back: verify, load, map_layout, selftest, swap,
				 * health_aborted, health_drops */
	double ms_verify, ms_load, ms_build, ms_selftest, ms_swap, ms_health, ms_total;
	uint64_t health_packets, health_drops, health_aborted;
};

/* The lb_mod_stats key of the revision with this serial (lb_mod.h). */
uint32_t module_rev_key(uint64_t serial);

/*
 * Finish or roll back an interrupted transaction, remove orphans.  Needs the
 * lock.  Safe to call when nothing was ever installed.
 */
int module_recover(struct lb_ctx *c, struct lb_err *err);

/*
 * The current generation's dispatcher programs (for attaching an interface),
 * installing the built-in firewall module first when no module is installed.
 * Needs the lock.  fds are -1 for a hook without a dispatcher.
 */
int module_chain_fds(struct lb_ctx *c, int *xdp_fd, int *tc_fd, struct lb_err *err);

int module_install(struct lb_ctx *c, const char *path, const struct lb_mod_opts *o,
		   struct lb_mod_result *res, struct lb_err *err);
int module_rollback(struct lb_ctx *c, const char *name, const struct lb_mod_opts *o,
		    struct lb_mod_result *res, struct lb_err *err);
int module_set_enabled(struct lb_ctx *c, const char *name, bool enabled,
		       const struct lb_mod_opts *o, struct lb_mod_result *res, struct lb_err *err);

/* Commands (module_cmd.c). */
int cmd_module_list(struct lb_ctx *c, int argc, char **argv);
int cmd_module_status(struct lb_ctx *c, int argc, char **argv);
int cmd_module_install(struct lb_ctx *c, int argc, char **argv);
int cmd_module_rollback(struct lb_ctx *c, int argc, char **argv);
int cmd_module_enable(struct lb_ctx *c, int argc, char **argv);
int cmd_module_disable(struct lb_ctx *c, int argc, char **argv);
int cmd_module_recover(struct lb_ctx *c, int argc, char **argv);

#endif
