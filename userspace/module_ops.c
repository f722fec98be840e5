// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * module_ops.c - `lbagent module list|status|install|rollback|enable|disable`:
 * the command side of the module lifecycle (module.h).
 *
 * Every changing command takes the lock, recovers an interrupted change
 * first, and prints what happened with the time of each phase; with --json
 * one object.  A failed change says why and which phase rolled it back; the
 * exit status is then 1 and the previous chain serves.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "module.h"
#include "lb_mod.h"

const char module_install_details[] =
	"Installs a module artifact (see `lbagent module verify --help`) as a new\n"
	"revision, as one transaction: verify (hash, archive, manifest, ELF, map\n"
	"compatibility) -> load against the pinned state maps -> build a new chain of\n"
	"root programs -> run the manifest's self-test vectors through it -> swap every\n"
	"interface's link (compare-and-swap) -> health window -> commit.  A failure\n"
	"before the swap changes nothing live; after it the links swap back.  The\n"
	"revision it replaces stays pinned: `module rollback` returns to it at once.\n"
	"\n"
	"Options:\n"
	"  --sha512 HEX              refuse the file unless its SHA-512 is HEX\n"
	"  --health-window MS        watch the new revision this long (default 3000;\n"
	"                            0: no window)\n"
	"  --max-drop-increase F     fail it when its drop share exceeds the old one's by\n"
	"                            more than F (0-1, default 0.5); any XDP_ABORTED fails it\n"
	"  --no-selftest             skip the self-test vectors\n"
	"\n";

const char module_change_details[] =
	"Builds a new chain with the change and swaps every interface's link to it;\n"
	"nothing is loaded, so it takes milliseconds.  rollback makes the previous\n"
	"revision active (and the active one previous: a second rollback undoes the\n"
	"first).  disable takes the module out of every hook, enable puts it back;\n"
	"the other modules are not touched.\n"
	"\n"
	"Options:\n"
	"  --health-window MS        rollback, enable: watch the revision this long\n"
	"                            (default 3000)\n"
	"  --max-drop-increase F     as for install\n"
	"\n";

enum { OPT_SHA = 256, OPT_HEALTH, OPT_DROP, OPT_NOSELF };

static int parse_opts(int argc, char **argv, bool install, const char *usage,
		      struct lb_mod_opts *o, const char **arg)
{
	static const struct option lo[] = {
		{ "sha512", required_argument, NULL, OPT_SHA },
		{ "health-window", required_argument, NULL, OPT_HEALTH },
		{ "max-drop-increase", required_argument, NULL, OPT_DROP },
		{ "no-selftest", no_argument, NULL, OPT_NOSELF },
		{ 0 },
	};
	char *end;
	int ch;

	*o = (struct lb_mod_opts){ .health_ms = LB_MOD_HEALTH_MS_DEFAULT,
				   .max_drop_increase = LB_MOD_DROP_INCREASE_DEFAULT };
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case OPT_SHA:
			if (!install || strlen(optarg) != 128 ||
			    strspn(optarg, "0123456789abcdefABCDEF") != 128) {
				fprintf(stderr, "%s: --sha512 takes 128 hex digits%s\n", argv[0],
					install ? "" : " (install only)");
				return -LB_EUSAGE;
			}
			o->sha512 = optarg;
			break;
		case OPT_HEALTH: {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v > 3600000) {
				fprintf(stderr, "%s: --health-window is milliseconds, 0-3600000, not "
					"`%s'\n", argv[0], optarg);
				return -LB_EUSAGE;
			}
			o->health_ms = (unsigned int)v;
			break;
		}
		case OPT_DROP:
			o->max_drop_increase = strtod(optarg, &end);
			if (*end || end == optarg || o->max_drop_increase < 0 ||
			    o->max_drop_increase > 1) {
				fprintf(stderr, "%s: --max-drop-increase is 0-1, not `%s'\n",
					argv[0], optarg);
				return -LB_EUSAGE;
			}
			break;
		case OPT_NOSELF:
			if (!install)
				goto bad;
			o->no_selftest = true;
			break;
		default:
			goto bad;
		}
	}
	if (optind + 1 != argc)
		goto bad;
	*arg = argv[optind];
	return 0;
bad:
	fprintf(stderr, "%s", usage);
	return -LB_EUSAGE;
}

static void print_result(const struct lb_ctx *c, const char *op, int r,
			 const struct lb_mod_result *res, const struct lb_err *err)
{
	if (c->json) {
		json_print(json_pack("{s:s, s:b, s:s, s:s, s:i, s:i, s:I, s:b, s:s?, s:s?, s:{s:f, "
				     "s:f, s:f, s:f, s:f, s:f, s:f}, s:{s:I, s:I, s:I}}",
				     "op", op, "ok", !r, "module", res->module, "version",
				     res->version, "revision", res->rev, "key", res->key,
				     "generation",
				     (json_int_t)res->gen, "rolled_back", res->rolled_back,
				     "cause", res->cause[0] ? res->cause : NULL, "error",
				     r ? err->msg : NULL, "ms", "verify", res->ms_verify, "load",
				     res->ms_load, "build", res->ms_build, "selftest",
				     res->ms_selftest, "swap", res->ms_swap, "health",
				     res->ms_health, "total", res->ms_total, "health",
				     "packets", (json_int_t)res->health_packets, "drops",
				     (json_int_t)res->health_drops, "aborted",
				     (json_int_t)res->health_aborted));
		if (r)
			fprintf(stderr, "lbagent module %s: %s\n", op, err->msg);
		return;
	}
	if (r) {
		fprintf(stderr, "lbagent module %s: %s\n", op, err->msg);
		if (res->cause[0])
			fprintf(stderr, "lbagent module %s: %s (%s): the previous chain serves\n",
				op, res->rolled_back ? "rolled back" : "refused", res->cause);
		return;
	}
	printf("%s %s (revision %u): %s, chain generation %llu; verify %.1f ms, load %.1f ms, "
	       "build %.1f ms, self-test %.1f ms, swap %.2f ms, health %.0f ms (%llu packets, "
	       "%llu dropped)\n", res->module, res->version, res->rev, op,
	       (unsigned long long)res->gen, res->ms_verify, res->ms_load, res->ms_build,
	       res->ms_selftest, res->ms_swap, res->ms_health,
	       (unsigned long long)res->health_packets, (unsigned long long)res->health_drops);
}

static const char install_usage[] =
	"Usage: lbagent module install FILE [--sha512 HEX] [--health-window MS] "
	"[--max-drop-increase F] [--no-selftest]\n";

int cmd_module_install(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_mod_result res = { 0 };
	struct lb_err err = { "" };
	struct lb_mod_opts o;
	const char *file;
	int r, fx = -1, ft = -1;

	r = parse_opts(argc, argv, true, install_usage, &o, &file);
	if (r)
		return r;
	/* The maps and the chain must exist first (the built-in firewall on a new host). */
	r = ctx_lock(c, &err) ?: datapath_ensure(c, &fx, &ft, &err);
	if (fx >= 0)
		close(fx);
	if (ft >= 0)
		close(ft);
	if (!r)
		r = module_install(c, file, &o, &res, &err);
	print_result(c, "install", r, &res, &err);
	return r;
}

static int change_cmd(struct lb_ctx *c, int argc, char **argv, const char *op)
{
	struct lb_mod_result res = { 0 };
	struct lb_err err = { "" };
	struct lb_mod_opts o;
	char usage[160];
	const char *name;
	int r;

	snprintf(usage, sizeof(usage),
		 "Usage: lbagent module %s NAME [--health-window MS] [--max-drop-increase F]\n",
		 op);
	r = parse_opts(argc, argv, false, usage, &o, &name);
	if (r)
		return r;
	r = ctx_lock(c, &err);
	if (!r) {
		if (!strcmp(op, "rollback"))
			r = module_rollback(c, name, &o, &res, &err);
		else
			r = module_set_enabled(c, name, !strcmp(op, "enable"), &o, &res, &err);
	}
	print_result(c, op, r, &res, &err);
	return r;
}

int cmd_module_rollback(struct lb_ctx *c, int argc, char **argv)
{
	return change_cmd(c, argc, argv, "rollback");
}

int cmd_module_enable(struct lb_ctx *c, int argc, char **argv)
{
	return change_cmd(c, argc, argv, "enable");
}

int cmd_module_disable(struct lb_ctx *c, int argc, char **argv)
{
	return change_cmd(c, argc, argv, "disable");
}

/* ---- list, status ---- */

static const char *rev_text(json_t *rev, char *buf, size_t len)
{
	if (!json_is_object(rev))
		return "-";
	snprintf(buf, len, "%s (rev %lld)", json_string_value(json_object_get(rev, "version")),
		 (long long)json_integer_value(json_object_get(rev, "rev")));
	return buf;
}

/*
 * The verdict counters of a revision, summed over CPUs:
 * {"key": K, "xdp": {"pass": N, ...}, "tc_egress": {...}}.
 */
static json_t *rev_counters(struct lb_ctx *c, json_t *rev)
{
	static const char *const names[LB_MV_OTHER + 1] = { "aborted", "drop", "pass", "tx",
							    "redirect", "other" };
	static const char *const hooks[LB_CHAIN_HOOKS] = { "xdp", "tc_egress" };
	json_t *o = json_object();
	uint64_t pkts[LB_MV_MAX];
	uint32_t key;

	if (!json_is_object(rev))
		return o;
	key = module_rev_key((uint64_t)json_integer_value(json_object_get(rev, "serial")));
	json_object_set_new(o, "key", json_integer(key));
	for (int h = 0; h < LB_CHAIN_HOOKS; h++) {
		json_t *hv;

		if (module_verdicts(c, key, h, pkts))
			break;
		hv = json_object();
		for (int i = 0; i <= LB_MV_OTHER; i++)
			json_object_set_new(hv, names[i], json_integer((json_int_t)pkts[i]));
		json_object_set_new(o, hooks[h], hv);
	}
	return o;
}

static void print_counters(json_t *v)
{
	const char *hook, *k;
	json_t *hv, *x;

	json_object_foreach(v, hook, hv) {
		if (!json_is_object(hv))
			continue;
		printf("  %-10s", hook);
		json_object_foreach(hv, k, x) {
			printf(" %s %lld", k, (long long)json_integer_value(x));
		}
		printf("\n");
	}
}

static int list_or_status(struct lb_ctx *c, int argc, char **argv, bool status)
{
	struct lb_err err = { "" };
	json_t *j, *m, *out;
	char a[96], p[96];
	size_t i;
	int r;

	r = no_more_args(argc, argv, status ? "Usage: lbagent module status\n"
					    : "Usage: lbagent module list\n");
	if (r)
		return r;
	j = module_journal_load(c, &err);
	if (!j) {
		fprintf(stderr, "lbagent module: %s\n", err.msg);
		return -EINVAL;
	}
	out = json_array();
	json_array_foreach(json_object_get(j, "modules"), i, m) {
		json_t *act = json_object_get(m, "active"), *item;

		item = json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(m, "name"),
				 "enabled", json_object_get(m, "enabled"), "active", act,
				 "previous", json_object_get(m, "previous") ?: json_null());
		if (status) {
			json_object_set_new(item, "verdicts", rev_counters(c, act));
			json_object_set_new(item, "previous_verdicts",
					    rev_counters(c, json_object_get(m, "previous")));
		}
		json_array_append_new(out, item);
	}
	if (c->json) {
		if (status)
			json_print(json_pack("{s:O, s:O, s:O, s:O, s:O}", "generation",
					     json_object_get(j, "gen"), "previous_generation",
					     json_object_get(j, "prev_gen") ?: json_null(), "stats",
					     json_object_get(j, "stats") ?: json_null(), "txn",
					     json_object_get(j, "txn") ?: json_null(), "modules",
					     out));
		else
			json_print(json_incref(out));
	} else {
		if (status)
			printf("chain generation %lld%s\n",
			       (long long)json_integer_value(json_object_get(j, "gen")),
			       json_is_object(json_object_get(j, "txn"))
				       ? " (a change was interrupted: the next change recovers it)"
				       : "");
		printf("%-12s %-8s %-26s %-26s\n", "MODULE", "STATE", "ACTIVE", "PREVIOUS");
		json_array_foreach(out, i, m) {
			printf("%-12s %-8s %-26s %-26s\n",
			       json_string_value(json_object_get(m, "name")),
			       json_is_true(json_object_get(m, "enabled")) ? "enabled" : "disabled",
			       rev_text(json_object_get(m, "active"), a, sizeof(a)),
			       rev_text(json_object_get(m, "previous"), p, sizeof(p)));
			if (status)
				print_counters(json_object_get(m, "verdicts"));
		}
	}
	json_decref(out);
	json_decref(j);
	return 0;
}

int cmd_module_list(struct lb_ctx *c, int argc, char **argv)
{
	return list_or_status(c, argc, argv, false);
}

int cmd_module_status(struct lb_ctx *c, int argc, char **argv)
{
	return list_or_status(c, argc, argv, true);
}

/* Take the lock, which finishes (rolls back) an interrupted change and removes orphans. */
int cmd_module_recover(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_err err = { "" };
	int r = no_more_args(argc, argv, "Usage: lbagent module recover\n");

	if (r)
		return r;
	r = ctx_lock(c, &err);
	if (r) {
		fprintf(stderr, "lbagent module recover: %s\n", err.msg);
		return r;
	}
	if (c->json)
		json_print(json_pack("{s:b}", "ok", 1));
	else
		printf("module journal, bpffs and kernel agree\n");
	return 0;
}
