/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * module.h - the module lifecycle: installed revisions, one chain per hook,
 * swap transactions with health-gated rollback, the journal, recovery.
 *
 * A module (firewall, metrics, ...) comes as an artifact (artifact.h).  Each
 * installed copy of one is a revision: a number per module, plus a serial
 * unique across modules that keys its verdict counters in lb_mod_stats
 * (headers/lb_mod.h, module_rev_key()).  Every hook of every interface runs
 * a root program (bpf/chain_root.bpf.c) that tail-calls slot 0 of its
 * chain, a prog array; each module program ends in bpf/lib/chain.h, which
 * counts its verdict and tail-calls the next slot.  A generation is two
 * roots, two fresh prog arrays and a fresh instance of every enabled
 * module's programs (each with its own lb_chain_self map: its slot and its
 * key).  A generation is never edited once built: a change builds a new one.
 * (freplace dispatchers would avoid the tail calls, but kernels under
 * lockdown, this project's host among them, refuse BPF_PROG_TYPE_EXT.)
 *
 * bpffs (below the root):
 *   maps/<name>                  state maps, version-free, reused by every
 *                                revision after a compatibility check
 *   chain/<gen>/xdp, tc_egress   a generation's roots
 *   chain/<gen>/chain_xdp, chain_tc
 *                                its prog arrays (pinned: the kernel empties a
 *                                prog array when its last user reference goes)
 *   chain/<gen>/<module>_<hook>  its module program instances
 *   links/xdp_<ifindex>, links/tc_<ifindex>
 *                                the stable links (fw_attach.c)
 * The current generation and the previous one are pinned, no other.
 * State directory:
 *   modules.json                 the journal (below)
 *   mods/<name>-<rev>.lbm        each installed revision's artifact: every
 *                                generation loads its modules from these
 *   mods/<name>-<rev>.log        the verifier log of a revision that failed
 *
 * A change (install, rollback, enable, disable) is a transaction; the
 * numbers are the LB_TEST_CRASH_STEP points:
 *   1 journal: txn begun          (what is being done, the new generation)
 *   2 store the verified artifact                  (install only)
 *   3 build the new generation from the stored artifacts, pinned
 *   4 self-test: the manifest's vectors through the new roots, every module
 *     counting under LB_MOD_KEY_SELFTEST; then the real keys
 *   50, 51 swap: every interface's XDP, then TC link, compare-and-swap
 *     (BPF_F_REPLACE); 50/51 fire after the first link of a hook moved
 *   5 swapped; 6 journal: txn swapped
 *   7 health window: the revision's own verdict counters on its XDP hook
 *     (TC when it has none): XDP_ABORTED, or a drop share above the old one's
 *   8 journal: committed (txn gone, new active/previous, new generation,
 *     the previous one kept)
 *   9 orphans removed
 * Until the swap nothing live changed; a failure unpins what was built.
 * From the swap on a failure swaps back.  A rollback or toggle whose result
 * is exactly the previous generation swaps to it and loads nothing.
 *
 * Recovery (module_recover(), run by ctx_lock(), so by every command that
 * changes the datapath): a journal with a txn means a process died in one.
 * The kernel decides: links still on the old generation are left alone,
 * links on the new one are swapped back; the txn is dropped.  A change whose
 * health window never ended is never committed.  Then orphans (generations
 * and artifacts the journal does not name) are removed.  A journal whose
 * generation the bpffs lacks (a reboot) gets it rebuilt from the artifacts.
 *
 * Journal (modules.json, written temp + fsync + rename):
 *   {"serial": N, "gen": G, "prev_gen": G', "next_gen": G'',
 *    "gens": {"<gen>": {"<module>": rev, ...}}   (what G and G' run)
 *    "maps": {"<map>": layout, ...},
 *    "modules": [{"name", "enabled", "order", "next_rev",
 *                 "active": REV, "previous": REV | null}],
 *    "stats": {"swaps", "rollbacks": {"<cause>": n}, "phase_ms_sum": {...}},
 *    "txn": null | {"op", "module", "step", "old_gen", "new_gen", "reuse",
 *                   "rev": REV}}
 *   REV = {"rev", "serial", "version", "sha512", "hooks": ["xdp", ...],
 *          "installed_at"}
 */
#ifndef LB_MODULE_H
#define LB_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
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

/* The journal (an empty one when there is none yet); NULL with err when unreadable. */
json_t *module_journal_load(struct lb_ctx *c, struct lb_err *err);

/* Packets a revision key counted on a hook (0 XDP, 1 TC egress), by verdict, all CPUs. */
int module_verdicts(struct lb_ctx *c, uint32_t key, int hook, uint64_t pkts[8]);

/* The lb_mod_stats key of the revision with this serial (lb_mod.h). */
uint32_t module_rev_key(uint64_t serial);

/*
 * Finish or roll back an interrupted transaction, remove orphans.  Needs the
 * lock.  Safe to call when nothing was ever installed.
 */
int module_recover(struct lb_ctx *c, struct lb_err *err);

/*
 * The current generation's root programs (for attaching an interface),
 * installing the built-in firewall module first when no module is installed.
 * Needs the lock.
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
