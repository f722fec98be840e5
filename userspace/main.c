// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * main.c - lbagent: dispatch a command line to the command tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "artifact.h"
#include "module.h"

extern const char module_install_details[], module_change_details[];

struct command {
	const char *name;
	int (*fn)(struct lb_ctx *c, int argc, char **argv);
	const struct command *sub;
	const char *args;
	const char *help;
	const char *details;	/* more for --help: options, examples (may be NULL) */
};

static const struct command policy_cmds[] = {
	{ "apply", cmd_fw_policy_apply, NULL, "FILE [--dry-run] [--force]",
	  "Validate, compile and atomically apply a policy file" },
	{ "show", cmd_fw_policy_show, NULL, "", "Show the applied policy and its rule hits" },
	{ NULL },
};

static const struct command ct_cmds[] = {
	{ "list", cmd_fw_ct_list, NULL, "[--all]", "List tracked flows (--all: expired too)" },
	{ "gc", cmd_fw_ct_gc, NULL, "", "Delete expired conntrack entries" },
	{ NULL },
};

static const struct command fw_cmds[] = {
	{ "attach", cmd_fw_attach, NULL, "IFACE [--mode native|generic]",
	  "Attach the firewall (XDP ingress, TC egress) to an interface" },
	{ "detach", cmd_fw_detach, NULL, "IFACE", "Detach the firewall from an interface" },
	{ "policy", NULL, policy_cmds, "apply|show", "Apply or show the firewall policy" },
	{ "stats", cmd_fw_stats, NULL, "", "Counters per interface, verdict and reason; rule hits" },
	{ "events", cmd_fw_events, NULL, "[--count N] [--timeout SEC] [--backlog]",
	  "Print sampled drop and audit events as they come" },
	{ "conntrack", NULL, ct_cmds, "list|gc", "Inspect or collect the connection table" },
	{ NULL },
};

static const struct command module_cmds[] = {
	{ "verify", cmd_module_verify, NULL, "FILE [--sha512 HEX]",
	  "Check a module artifact: hash, archive, manifest, BPF objects", module_verify_details },
	{ "pack", cmd_module_pack, NULL, "--manifest FILE [--object PATH]... -o OUT",
	  "Build a module artifact from a manifest and BPF objects", module_pack_details },
	{ "list", cmd_module_list, NULL, "", "Installed modules: active and previous revisions",
	  NULL },
	{ "status", cmd_module_status, NULL, "",
	  "Modules, the chain generation, each revision's verdict counters", NULL },
	{ "install", cmd_module_install, NULL, "FILE [--sha512 HEX] [--health-window MS] ...",
	  "Install a module artifact as a new revision (verify, load, self-test, swap, watch)",
	  module_install_details },
	{ "rollback", cmd_module_rollback, NULL, "NAME [--health-window MS]",
	  "Swap back to the module's previous revision", module_change_details },
	{ "enable", cmd_module_enable, NULL, "NAME", "Put a disabled module back on its hooks",
	  module_change_details },
	{ "disable", cmd_module_disable, NULL, "NAME",
	  "Take a module off its hooks, the others untouched", module_change_details },
	{ "recover", cmd_module_recover, NULL, "",
	  "Roll back a change a killed process left, remove orphans (every change does it first)",
	  NULL },
	{ NULL },
};

static const struct command top_cmds[] = {
	{ "fw", NULL, fw_cmds, "attach|detach|policy|stats|events|conntrack", "The host firewall" },
	{ "module", NULL, module_cmds, "list|status|install|rollback|enable|disable|recover|verify|pack",
	  "Datapath modules: versions, hot swap, rollback" },
	{ "status", cmd_status, NULL, "", "Datapath, interfaces and policy at a glance" },
	{ NULL },
};

static const char global_help[] =
	"Global options (anywhere on the line):\n"
	"  --bpffs DIR      bpffs root for pins (default " LB_DEFAULT_BPFFS ")\n"
	"  --state-dir DIR  state directory (default " LB_DEFAULT_STATE ")\n"
	"  -j, --json       machine-readable output (read commands)\n"
	"  -v, --verbose    libbpf debug messages on stderr\n"
	"  -h, --help       this text, or a command's\n"
	"  -V, --version    print the version\n"
	"\n"
	"Exit status: 0 on success, 1 on error (one message on stderr), 2 on bad usage.\n";

static void usage(FILE *f, const char *prefix, const struct command *tbl)
{
	fprintf(f, "Usage: %s <command> [options]\n\nCommands:\n", prefix);
	for (const struct command *cmd = tbl; cmd->name; cmd++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", cmd->name, cmd->args);
		fprintf(f, "  %-40s %s\n", left, cmd->help);
	}
	fprintf(f, "\n%s", global_help);
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level == LIBBPF_INFO && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/*
 * Take the global options out of argv wherever they are, so both
 * "lbagent --json fw stats" and "lbagent fw stats --json" work.
 */
static int strip_globals(struct lb_ctx *c, int *argc, char **argv, bool *help)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--bpffs") || !strcmp(a, "--state-dir")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "lbagent: %s needs a directory\n", a);
				return -EINVAL;
			}
			if (a[2] == 'b')
				c->bpffs = argv[++i];
			else
				c->state_dir = argv[++i];
		} else if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
			c->json = true;
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			verbose = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			*help = true;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static int dispatch(struct lb_ctx *c, const char *prefix, const struct command *tbl, int argc,
		    char **argv, bool help)
{
	char sub_prefix[128];
	int ret;

	if (argc < 1) {
		usage(help ? stdout : stderr, prefix, tbl);
		return help ? 0 : 2;
	}
	for (const struct command *cmd = tbl; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[0]))
			continue;
		snprintf(sub_prefix, sizeof(sub_prefix), "%s %s", prefix, cmd->name);
		if (cmd->sub)
			return dispatch(c, sub_prefix, cmd->sub, argc - 1, argv + 1, help);
		if (help) {
			printf("Usage: %s %s\n\n%s.\n\n%s%s", sub_prefix, cmd->args, cmd->help,
			       cmd->details ? cmd->details : "", global_help);
			return 0;
		}
		ret = cmd->fn(c, argc, argv);
		return ret == -LB_EUSAGE ? 2 : ret ? 1 : 0;
	}
	fprintf(stderr, "%s: unknown command `%s'\n\n", prefix, argv[0]);
	usage(stderr, prefix, tbl);
	return 2;
}

int main(int argc, char **argv)
{
	struct lb_ctx c = {
		.bpffs = LB_DEFAULT_BPFFS,
		.state_dir = LB_DEFAULT_STATE,
		.lock_fd = -1,
	};
	bool help = false;
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("lbagent %s (libbpf %s)\n", LB_VERSION, libbpf_version_string());
		return 0;
	}
	argc--;
	argv++;
	if (strip_globals(&c, &argc, argv, &help))
		return 2;
	libbpf_set_print(libbpf_print);
	ret = dispatch(&c, "lbagent", top_cmds, argc, argv, help);
	ctx_release(&c);
	return ret;
}
