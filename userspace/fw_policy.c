// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_policy.c - `fw policy apply` and `fw policy show`.
 *
 * apply: parse -> validate -> compile (no lock, nothing touched) -> lockout
 * checks -> write the inactive copy whole -> flip -> clear the old copy ->
 * record the policy in the state directory.  A policy refused at any step
 * before the flip changes nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The policy applied now, from the state directory; NULL when there is none. */
static struct lb_policy *applied_policy(struct lb_ctx *c)
{
	struct lb_policy *p = NULL;
	char path[512];

	ctx_path(c, path, sizeof(path), true, "policy.json");
	if (access(path, F_OK))
		return NULL;
	if (policy_load_file(path, &p, NULL))
		return NULL;
	return p;
}

static bool failsafe_covers(const struct lb_failsafe *n, const struct lb_failsafe *o)
{
	if (n->proto && n->proto != o->proto)
		return false;
	if (n->dport && n->dport != o->dport)
		return false;
	return cidr_contains(&n->src, &o->src);
}

static int check_failsafe_kept(const struct lb_policy *old, const struct lb_policy *p,
			       const char *file, struct lb_err *err)
{
	for (size_t i = 0; old && i < old->n_failsafe; i++) {
		const struct lb_failsafe *o = &old->failsafe[i];
		bool kept = false;
		char cidr[64];

		for (size_t j = 0; j < p->n_failsafe && !kept; j++)
			kept = failsafe_covers(&p->failsafe[j], o);
		if (kept)
			continue;
		cidr_format(&o->src, cidr, sizeof(cidr));
		return lb_errf(err, EPERM,
			       "%s: refusing to apply: it drops failsafe entry {src %s, proto %s, "
			       "dport %u} of the running policy, which protects management access "
			       "from lockout; use --force to apply anyway", file, cidr,
			       o->proto == 6 ? "tcp" : o->proto == 17 ? "udp" : "any", o->dport);
	}
	return 0;
}

static bool port_parse(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!s)
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 65535)
		return false;
	*out = v;
	return true;
}

/*
 * A default deny with no failsafe at all locks out whoever manages the host
 * over the network, and SSH_CONNECTION is gone under sudo: ask for --force.
 */
static int check_deny_has_failsafe(const struct lb_policy *p, const char *file,
				   struct lb_err *err)
{
	bool deny = p->default_action == LB_ACT_DENY;

	for (size_t i = 0; i < p->n_ifaces; i++)
		deny |= p->ifaces[i].action == LB_ACT_DENY;
	if (!deny || p->n_failsafe)
		return 0;
	return lb_errf(err, EPERM,
		       "%s: refusing to apply: a default deny with an empty failsafe list can "
		       "lock out management access; add a failsafe entry (e.g. ssh from your "
		       "management network), or use --force", file);
}

/* Fill t from "client_ip client_port server_ip server_port" ($SSH_CONNECTION). */
static bool ssh_tuple(const char *s, struct lb_tuple *t)
{
	char buf[256], *save = NULL, *cip, *cport, *sip, *sport;

	memset(t, 0, sizeof(*t));
	if (!s || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return false;
	cip = strtok_r(buf, " ", &save);
	cport = strtok_r(NULL, " ", &save);
	sip = strtok_r(NULL, " ", &save);
	sport = strtok_r(NULL, " ", &save);
	if (!sip || !port_parse(cport, &t->sport) || !port_parse(sport, &t->dport))
		return false;
	t->proto = 6;
	if (inet_pton(AF_INET, cip, t->saddr) == 1 && inet_pton(AF_INET, sip, t->daddr) == 1)
		t->family = 4;
	else if (inet_pton(AF_INET6, cip, t->saddr) == 1 && inet_pton(AF_INET6, sip, t->daddr) == 1)
		t->family = 6;
	return t->family != 0;
}

/*
 * Would a new SSH connection like the one this command runs over be refused?
 * Conservative: a default deny on any interface counts when no rule allows it.
 */
static int check_ssh_session(const struct lb_policy *p, const struct lb_compiled *comp,
			     const char *file, struct lb_err *err)
{
	const char *env = getenv("SSH_CONNECTION");
	struct lb_rule_val v;
	struct lb_tuple t;
	bool denied;

	if (!ssh_tuple(env, &t) || compiled_failsafe(comp, &t))
		return 0;
	if (compiled_classify(comp, &t, &v)) {
		denied = v.action == LB_ACT_DENY;
	} else {
		denied = p->default_action == LB_ACT_DENY;
		for (size_t i = 0; i < p->n_ifaces; i++)
			denied |= p->ifaces[i].action == LB_ACT_DENY;
	}
	if (!denied)
		return 0;
	return lb_errf(err, EPERM,
		       "%s: refusing to apply: it would deny new SSH connections like the one "
		       "this command runs over (SSH_CONNECTION=\"%s\") and no failsafe entry "
		       "covers them; add one, or use --force", file, env);
}

/* Interface defaults for the copy being written: the attached interfaces only. */
static size_t iface_actions(struct lb_ctx *c, const struct lb_policy *p,
			    struct lb_iface_action *ifa)
{
	struct lb_attached att[LB_MAX_IFACES];
	size_t n = state_ifaces(c, att, LB_MAX_IFACES);

	for (size_t i = 0; i < n; i++) {
		ifa[i].ifindex = att[i].ifindex;
		ifa[i].action = p->default_action;
		for (size_t j = 0; j < p->n_ifaces; j++)
			if (!strcmp(p->ifaces[j].name, att[i].name))
				ifa[i].action = p->ifaces[j].action;
	}
	return n;
}

static json_t *policy_meta(const struct lb_policy *p, const struct lb_compiled *comp,
			   const char *file, uint32_t copy)
{
	json_t *ifd = json_object();
	char when[64];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	for (size_t i = 0; i < p->n_ifaces; i++)
		json_object_set_new(ifd, p->ifaces[i].name,
				    json_string(action_name(p->ifaces[i].action)));
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I}", "file", file, "applied_at",
			 when, "default", action_name(p->default_action), "iface_defaults", ifd,
			 "rules", (json_int_t)p->n_rules, "failsafe", (json_int_t)p->n_failsafe,
			 "entries", (json_int_t)comp->n_entries, "copy", (json_int_t)copy);
}

/* Keep the applied policy, the very bytes parsed, in the state directory. */
static int save_policy(struct lb_ctx *c, const char *text, size_t len, json_t *meta,
		       struct lb_err *err)
{
	char path[512];
	int r;

	ctx_path(c, path, sizeof(path), true, "policy.json");
	r = write_file_atomic(path, text, len, err);
	if (r)
		return r;
	json_object_set(c->state, "policy", meta);
	return ctx_save_state(c, err);
}

/*
 * The flip is done; wait out any packet still reading the old copy (programs
 * run under RCU for microseconds), then empty it so it holds no stale rules.
 */
static void clear_old_copy(const struct lb_maps *m, const struct lb_active *before)
{
	if (!before->loaded)
		return;
	usleep(20000);
	policy_clear_copy(m, before->copy, NULL);
}

/* Put the previous policy.json and metadata back (the flip failed). */
static void restore_policy(struct lb_ctx *c, const char *old_text, size_t old_len,
			   json_t *old_meta)
{
	char path[512];

	ctx_path(c, path, sizeof(path), true, "policy.json");
	if (old_text)
		write_file_atomic(path, old_text, old_len, NULL);
	else
		unlink(path);
	if (old_meta)
		json_object_set(c->state, "policy", old_meta);
	else
		json_object_del(c->state, "policy");
	ctx_save_state(c, NULL);
}

/*
 * Write the inactive copy, record the policy in the state directory, then
 * flip: the state never names a policy the datapath does not run, except
 * for the instant between the record and the flip, undone if the flip fails.
 */
static int apply_to_maps(struct lb_ctx *c, const struct lb_policy *p,
			 const struct lb_compiled *comp, const char *file, const char *text,
			 size_t len, uint32_t *copy, struct lb_err *err)
{
	struct lb_iface_action ifa[LB_MAX_IFACES];
	struct lb_active before = { 0 };
	json_t *meta, *old_meta;
	char *old_text = NULL, path[512];
	size_t old_len = 0;
	struct lb_maps m;
	int xdp_fd, tc_fd, r;

	r = datapath_ensure(c, &xdp_fd, &tc_fd, err);
	if (r)
		return r;
	close(xdp_fd);
	close(tc_fd);
	r = datapath_maps(c, &m, err);
	if (r)
		return r;
	policy_active(&m, &before);
	*copy = before.loaded ? !before.copy : 0;
	r = policy_stage(&m, comp, *copy, ifa, iface_actions(c, p, ifa), err);
	if (r)
		goto out;
	ctx_path(c, path, sizeof(path), true, "policy.json");
	if (policy_read_file(path, &old_text, &old_len, NULL))
		old_text = NULL;
	old_meta = json_deep_copy(json_object_get(c->state, "policy"));
	meta = policy_meta(p, comp, file, *copy);
	r = meta ? save_policy(c, text, len, meta, err) : lb_errf(err, ENOMEM, "policy meta");
	if (!r) {
		r = policy_flip(&m, *copy, err);
		if (r)
			restore_policy(c, old_text, old_len, old_meta);
		else
			clear_old_copy(&m, &before);
	}
	json_decref(meta);
	json_decref(old_meta);
	free(old_text);
out:
	maps_close(&m);
	return r;
}

struct apply_opts {
	const char *file;
	bool dry_run, force;
};

static int parse_apply_args(int argc, char **argv, struct apply_opts *o)
{
	static const struct option lo[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "nf", lo, NULL)) != -1) {
		if (opt == 'n')
			o->dry_run = true;
		else if (opt == 'f')
			o->force = true;
		else
			return -LB_EUSAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: lbagent fw policy apply FILE [--dry-run] [--force]\n");
		return -LB_EUSAGE;
	}
	o->file = argv[optind];
	return 0;
}

static void print_apply(struct lb_ctx *c, const struct apply_opts *o, const struct lb_policy *p,
			const struct lb_compiled *comp, uint32_t copy, double t_compile,
			double t_write)
{
	if (c->json) {
		json_print(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "file",
				     o->file, "applied", !o->dry_run, "rules",
				     (json_int_t)p->n_rules, "failsafe", (json_int_t)p->n_failsafe,
				     "entries", (json_int_t)comp->n_entries, "src_classes",
				     (json_int_t)comp->n_src_cls, "dst_classes",
				     (json_int_t)comp->n_dst_cls, "copy", (json_int_t)copy,
				     "compile_ms", t_compile, "write_ms", t_write));
		return;
	}
	printf("%s: %s: %zu rules, %zu failsafe entries, default %s; compiled to %zu entries "
	       "(%u src, %u dst, %u proto, %u dport, %u sport classes) in %.1f ms",
	       o->file, o->dry_run ? "valid (dry run, nothing applied)" : "applied", p->n_rules,
	       p->n_failsafe, action_name(p->default_action), comp->n_entries, comp->n_src_cls,
	       comp->n_dst_cls, comp->n_proto_cls, comp->n_dport_cls, comp->n_sport_cls,
	       t_compile);
	if (!o->dry_run)
		printf("; written to copy %u and made active in %.1f ms", copy, t_write);
	printf("\n");
}

int cmd_fw_policy_apply(struct lb_ctx *c, int argc, char **argv)
{
	struct apply_opts o = { 0 };
	struct lb_policy *p = NULL, *old = NULL;
	struct lb_compiled *comp = NULL;
	struct lb_err err = { "" };
	double t0, t1, t2;
	uint32_t copy = 0;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = parse_apply_args(argc, argv, &o);
	if (r)
		return r;
	t0 = now_ms();
	r = policy_read_file(o.file, &text, &len, &err) ?:
	    policy_parse(text, len, o.file, &p, &err) ?: policy_compile(p, &comp, &err);
	if (r)
		goto out;
	t1 = now_ms();
	/* A dry run changes nothing, so it needs no lock and no datapath. */
	r = o.dry_run ? ctx_read_state(c, &err) : ctx_lock(c, &err);
	if (r)
		goto out;
	old = applied_policy(c);
	if (!o.force)
		r = check_failsafe_kept(old, p, o.file, &err) ?:
		    check_deny_has_failsafe(p, o.file, &err) ?:
		    check_ssh_session(p, comp, o.file, &err);
	if (!r && !o.dry_run)
		r = apply_to_maps(c, p, comp, o.file, text, len, &copy, &err);
	t2 = now_ms();
	if (!r)
		print_apply(c, &o, p, comp, copy, t1 - t0, t2 - t1);
out:
	if (r)
		fprintf(stderr, "fw policy apply: %s\n", err.msg);
	compiled_free(comp);
	policy_free(p);
	policy_free(old);
	free(text);
	return r;
}

/* Hits of one rule in one copy, summed over CPUs. */
static uint64_t rule_hits(int fd, uint32_t copy, uint32_t idx, uint64_t *buf, int ncpu)
{
	uint32_t key = copy * LB_MAX_RULES + idx;
	uint64_t sum = 0;

	if (fd < 0 || idx >= LB_MAX_RULES || bpf_map_lookup_elem(fd, &key, buf))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += buf[i];
	return sum;
}

static void range_format(const struct lb_range *r, char *buf, size_t len)
{
	if (r->lo == 0 && r->hi == 65535)
		snprintf(buf, len, "any");
	else if (r->lo == r->hi)
		snprintf(buf, len, "%u", r->lo);
	else
		snprintf(buf, len, "%u-%u", r->lo, r->hi);
}

static void proto_format(int proto, char *buf, size_t len)
{
	static const struct {
		int num;
		const char *name;
	} names[] = { { LB_PROTO_ANY, "any" }, { 1, "icmp" }, { 6, "tcp" }, { 17, "udp" },
		      { 58, "icmpv6" } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].num == proto) {
			snprintf(buf, len, "%s", names[i].name);
			return;
		}
	}
	snprintf(buf, len, "%d", proto);
}

/* ICMP rules keep (type << 8 | code) in the dport range: say it as a person would. */
static void icmp_format(const struct lb_range *r, char *buf, size_t len)
{
	if (r->lo == 0 && r->hi == 65535)
		snprintf(buf, len, "any");
	else if (r->lo == r->hi)
		snprintf(buf, len, "type %u code %u", (unsigned int)r->lo >> 8,
			 (unsigned int)r->lo & 0xff);
	else if ((r->lo & 0xff) == 0 && (r->hi & 0xff) == 0xff && r->lo >> 8 == r->hi >> 8)
		snprintf(buf, len, "type %u", (unsigned int)r->lo >> 8);
	else
		snprintf(buf, len, "0x%04x-0x%04x", r->lo, r->hi);
}

static json_t *rule_json(const struct lb_rule *r, uint64_t hits)
{
	char src[64], dst[64], dport[24], sport[16], proto[8];

	cidr_format(&r->src, src, sizeof(src));
	cidr_format(&r->dst, dst, sizeof(dst));
	proto_format(r->proto, proto, sizeof(proto));
	if (r->proto == 1 || r->proto == 58)
		icmp_format(&r->dport, dport, sizeof(dport));
	else
		range_format(&r->dport, dport, sizeof(dport));
	range_format(&r->sport, sport, sizeof(sport));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", r->id, "action",
			 action_name(r->action), "src", src, "dst", dst, "proto", proto,
			 "dport", dport, "sport", sport, "priority", (json_int_t)r->priority,
			 "hits", (json_int_t)hits);
}

int cmd_fw_policy_show(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_err err = { "" };
	struct lb_policy *p;
	struct lb_active act = { 0 };
	struct lb_maps m;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *buf;
	json_t *rules, *meta;

	if (no_more_args(argc, argv, "fw policy show [--json]"))
		return -LB_EUSAGE;
	buf = calloc(ncpu > 0 ? ncpu : 1, sizeof(uint64_t));
	rules = json_array();
	if (ctx_read_state(c, &err) || !buf) {
		fprintf(stderr, "fw policy show: %s\n", err.msg);
		free(buf);
		json_decref(rules);
		return -EINVAL;
	}
	p = applied_policy(c);
	if (datapath_maps(c, &m, NULL) == 0)
		policy_active(&m, &act);
	for (size_t i = 0; p && i < p->n_rules; i++)
		json_array_append_new(rules, rule_json(&p->rules[i],
						       rule_hits(m.rule_hits, act.copy,
								 p->rules[i].idx, buf, ncpu)));
	meta = json_object_get(c->state, "policy");
	if (c->json) {
		json_print(json_pack("{s:O?, s:o}", "policy", meta, "rules", rules));
	} else if (!p) {
		printf("no policy applied\n");
		json_decref(rules);
	} else {
		size_t i;
		json_t *r;

		printf("policy %s, applied %s, default %s, %zu rules, %zu failsafe entries\n",
		       json_string_value(json_object_get(meta, "file")),
		       json_string_value(json_object_get(meta, "applied_at")),
		       action_name(p->default_action), p->n_rules, p->n_failsafe);
		printf("%-24s %-6s %-20s %-20s %-6s %-14s %-11s %12s\n", "ID", "ACTION", "SRC",
		       "DST", "PROTO", "DPORT/ICMP", "SPORT", "HITS");
		json_array_foreach(rules, i, r) {
			printf("%-24s %-6s %-20s %-20s %-6s %-14s %-11s %12lld\n",
			       json_string_value(json_object_get(r, "id")),
			       json_string_value(json_object_get(r, "action")),
			       json_string_value(json_object_get(r, "src")),
			       json_string_value(json_object_get(r, "dst")),
			       json_string_value(json_object_get(r, "proto")),
			       json_string_value(json_object_get(r, "dport")),
			       json_string_value(json_object_get(r, "sport")),
			       (long long)json_integer_value(json_object_get(r, "hits")));
		}
		json_decref(rules);
	}
	maps_close(&m);
	policy_free(p);
	free(buf);
	return 0;
}
