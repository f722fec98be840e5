// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_stats.c - `fw stats`, `fw conntrack list|gc`, `status`: read the maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "module.h"

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

/* Per-CPU lb_stats row summed; false when the row is all zero. */
static bool stats_row(int fd, uint32_t key, struct lb_counter *buf, struct lb_counter *sum)
{
	int n = ncpus();

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &key, buf))
		return false;
	for (int i = 0; i < n; i++) {
		sum->packets += buf[i].packets;
		sum->bytes += buf[i].bytes;
	}
	return sum->packets != 0;
}

static struct lb_ev_stats ev_stats_sum(int fd)
{
	struct lb_ev_stats *buf = calloc(ncpus(), sizeof(*buf)), s = { 0 };
	uint32_t key = 0;

	if (buf && !bpf_map_lookup_elem(fd, &key, buf)) {
		for (int i = 0; i < ncpus(); i++) {
			s.emitted += buf[i].emitted;
			s.suppressed += buf[i].suppressed;
			s.lost += buf[i].lost;
		}
	}
	free(buf);
	return s;
}

struct ct_count {
	uint64_t tcp, other, expired;
};

static void ct_count_map(int fd, uint64_t now, uint64_t *live, uint64_t *expired)
{
	struct lb_ct_key k, next;
	struct lb_ct_val v;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (v.expires_ns > now)
			(*live)++;
		else
			(*expired)++;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns() clock */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static json_t *iface_stats_json(const struct lb_maps *m, const struct lb_attached *a,
				struct lb_counter *buf)
{
	json_t *rows = json_array();

	for (uint32_t r = 0; r < LB_REASON_COUNT; r++) {
		struct lb_counter sum;

		if (!stats_row(m->stats, a->slot * LB_REASON_SLOTS + r, buf, &sum))
			continue;
		json_array_append_new(rows, json_pack("{s:s, s:s, s:I, s:I}", "verdict",
						      reason_verdict(r), "reason", reason_name(r),
						      "packets", (json_int_t)sum.packets, "bytes",
						      (json_int_t)sum.bytes));
	}
	return json_pack("{s:s, s:I, s:o}", "interface", a->name, "ifindex",
			 (json_int_t)a->ifindex, "counters", rows);
}

static json_t *stats_json(struct lb_ctx *c, const struct lb_maps *m)
{
	struct lb_attached att[LB_MAX_IFACES];
	size_t n = state_ifaces(c, att, LB_MAX_IFACES);
	struct lb_counter *buf = calloc(ncpus(), sizeof(*buf));
	struct lb_ev_stats ev = ev_stats_sum(m->ev_stats);
	struct ct_count ct = { 0 };
	struct lb_gc_stats gc = { 0 };
	json_t *ifs = json_array();
	uint64_t now = mono_ns();
	uint32_t zero = 0;

	for (size_t i = 0; buf && i < n; i++)
		json_array_append_new(ifs, iface_stats_json(m, &att[i], buf));
	free(buf);
	ct_count_map(m->ct_tcp, now, &ct.tcp, &ct.expired);
	ct_count_map(m->ct_other, now, &ct.other, &ct.expired);
	bpf_map_lookup_elem(m->gc_stats, &zero, &gc);
	return json_pack("{s:o, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:f}}",
			 "interfaces", ifs, "events", "emitted", (json_int_t)ev.emitted,
			 "suppressed", (json_int_t)ev.suppressed, "lost", (json_int_t)ev.lost,
			 "conntrack", "tcp", (json_int_t)ct.tcp, "other", (json_int_t)ct.other,
			 "expired", (json_int_t)ct.expired, "gc_runs", (json_int_t)gc.runs,
			 "gc_deleted", (json_int_t)gc.deleted, "gc_last_run_s_ago",
			 gc.last_run_ns ? (double)(now - gc.last_run_ns) / 1e9 : -1.0);
}

static void stats_print(json_t *s)
{
	json_t *ifc, *row, *ev = json_object_get(s, "events"), *ct = json_object_get(s, "conntrack");
	size_t i, j;

	printf("%-16s %-6s %-18s %14s %16s\n", "INTERFACE", "VERDICT", "REASON", "PACKETS",
	       "BYTES");
	json_array_foreach(json_object_get(s, "interfaces"), i, ifc) {
		json_array_foreach(json_object_get(ifc, "counters"), j, row) {
			printf("%-16s %-6s %-18s %14lld %16lld\n",
			       json_string_value(json_object_get(ifc, "interface")),
			       json_string_value(json_object_get(row, "verdict")),
			       json_string_value(json_object_get(row, "reason")),
			       (long long)json_integer_value(json_object_get(row, "packets")),
			       (long long)json_integer_value(json_object_get(row, "bytes")));
		}
	}
	printf("\nevents: %lld emitted, %lld suppressed by the rate limit, %lld lost (ring full)\n",
	       (long long)json_integer_value(json_object_get(ev, "emitted")),
	       (long long)json_integer_value(json_object_get(ev, "suppressed")),
	       (long long)json_integer_value(json_object_get(ev, "lost")));
	printf("conntrack: %lld tcp, %lld other live entries, %lld expired awaiting gc\n",
	       (long long)json_integer_value(json_object_get(ct, "tcp")),
	       (long long)json_integer_value(json_object_get(ct, "other")),
	       (long long)json_integer_value(json_object_get(ct, "expired")));
	printf("conntrack collector (in-kernel timer): %lld runs, %lld entries deleted",
	       (long long)json_integer_value(json_object_get(ct, "gc_runs")),
	       (long long)json_integer_value(json_object_get(ct, "gc_deleted")));
	if (json_real_value(json_object_get(ct, "gc_last_run_s_ago")) >= 0)
		printf(", last run %.1f s ago\n",
		       json_real_value(json_object_get(ct, "gc_last_run_s_ago")));
	else
		printf(", not run yet\n");
	printf("rule hits: lbagent fw policy show\n");
}

int cmd_fw_stats(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_err err = { "" };
	struct lb_maps m;
	json_t *s;

	if (no_more_args(argc, argv, "fw stats [--json]"))
		return -LB_EUSAGE;
	if (ctx_read_state(c, &err) || datapath_maps(c, &m, &err)) {
		fprintf(stderr, "fw stats: %s\n", err.msg);
		return -ENOENT;
	}
	s = stats_json(c, &m);
	maps_close(&m);
	if (c->json) {
		json_print(s);
	} else {
		stats_print(s);
		json_decref(s);
	}
	return 0;
}

static const char *ct_state_name(uint8_t s)
{
	static const char *names[] = { "new", "syn_sent", "established", "fin", "closed" };

	return s < 5 ? names[s] : "?";
}

static void ct_addr(const struct lb_ct_key *k, const uint8_t *a, char *buf, size_t len)
{
	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, a, buf, len);
}

static json_t *ct_entry_json(const struct lb_ct_key *k, const struct lb_ct_val *v, uint64_t now)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	long long ttl = v->expires_ns > now ? (long long)((v->expires_ns - now) / 1000000000ULL) : -1;

	ct_addr(k, k->saddr, s, sizeof(s));
	ct_addr(k, k->daddr, d, sizeof(d));
	return json_pack("{s:i, s:i, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:I}", "family", k->family,
			 "proto", k->proto, "local", s, "local_port", ntohs(k->sport), "remote", d,
			 "remote_port", ntohs(k->dport), "state", ct_state_name(v->state),
			 "expires_in_s", (json_int_t)ttl, "packets_out",
			 (json_int_t)v->packets_out, "packets_in", (json_int_t)v->packets_in);
}

/* Walk one conntrack map; list entries, or delete the expired ones. */
static uint64_t ct_walk(int fd, uint64_t now, bool all, bool gc, json_t *out)
{
	struct lb_ct_key k, next;
	struct lb_ct_val v;
	void *prev = NULL;
	uint64_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (gc && prev && !bpf_map_lookup_elem(fd, &k, &v) && v.expires_ns <= now &&
		    !bpf_map_delete_elem(fd, &k))
			n++;
		k = next;
		prev = &k;
		if (gc || bpf_map_lookup_elem(fd, &k, &v) || (!all && v.expires_ns <= now))
			continue;
		json_array_append_new(out, ct_entry_json(&k, &v, now));
		n++;
	}
	if (gc && prev && !bpf_map_lookup_elem(fd, &k, &v) && v.expires_ns <= now &&
	    !bpf_map_delete_elem(fd, &k))
		n++;
	return n;
}

int cmd_fw_ct_list(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_err err = { "" };
	bool all = argc == 2 && !strcmp(argv[1], "--all");
	json_t *arr = json_array(), *e;
	uint64_t now = mono_ns();
	struct lb_maps m;
	size_t i;

	if (argc > (all ? 2 : 1)) {
		json_decref(arr);
		return no_more_args(argc - all, argv + all, "fw conntrack list [--all] [--json]");
	}
	if (datapath_maps(c, &m, &err)) {
		fprintf(stderr, "fw conntrack list: %s\n", err.msg);
		json_decref(arr);
		return -ENOENT;
	}
	ct_walk(m.ct_tcp, now, all, false, arr);
	ct_walk(m.ct_other, now, all, false, arr);
	maps_close(&m);
	if (c->json) {
		json_print(arr);
		return 0;
	}
	printf("%-5s %-40s %-40s %-11s %8s\n", "PROTO", "LOCAL", "REMOTE", "STATE", "TTL(s)");
	json_array_foreach(arr, i, e) {
		char l[80], r[80];

		snprintf(l, sizeof(l), "%s:%lld", json_string_value(json_object_get(e, "local")),
			 (long long)json_integer_value(json_object_get(e, "local_port")));
		snprintf(r, sizeof(r), "%s:%lld", json_string_value(json_object_get(e, "remote")),
			 (long long)json_integer_value(json_object_get(e, "remote_port")));
		printf("%-5lld %-40s %-40s %-11s %8lld\n",
		       (long long)json_integer_value(json_object_get(e, "proto")), l, r,
		       json_string_value(json_object_get(e, "state")),
		       (long long)json_integer_value(json_object_get(e, "expires_in_s")));
	}
	json_decref(arr);
	return 0;
}

int cmd_fw_ct_gc(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_err err = { "" };
	uint64_t now = mono_ns(), n;
	struct lb_maps m;

	if (no_more_args(argc, argv, "fw conntrack gc [--json]"))
		return -LB_EUSAGE;
	if (datapath_maps(c, &m, &err)) {
		fprintf(stderr, "fw conntrack gc: %s\n", err.msg);
		return -ENOENT;
	}
	n = ct_walk(m.ct_tcp, now, false, true, NULL) + ct_walk(m.ct_other, now, false, true, NULL);
	maps_close(&m);
	if (c->json)
		json_print(json_pack("{s:I}", "deleted", (json_int_t)n));
	else
		printf("conntrack gc: %llu expired entries deleted\n", (unsigned long long)n);
	return 0;
}

/* A program pinned at chain/<gen>/<name> (module.h), or null. */
static json_t *prog_info_json(struct lb_ctx *c, long long gen, const char *name)
{
	char tag[2 * BPF_TAG_SIZE + 1];
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[512];
	int fd;

	ctx_path(c, path, sizeof(path), false, "chain/%lld/%s", gen, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return json_null();
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return json_null();
	}
	close(fd);
	for (size_t i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
	return json_pack("{s:I, s:s, s:I}", "id", (json_int_t)info.id, "tag", tag,
			 "xlated_insns", (json_int_t)(info.xlated_prog_len / 8));
}

static bool link_pinned(struct lb_ctx *c, uint32_t ifindex)
{
	char path[512];
	int fd;

	ctx_path(c, path, sizeof(path), false, "links/xdp_%u", ifindex);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int cmd_status(struct lb_ctx *c, int argc, char **argv)
{
	struct lb_attached att[LB_MAX_IFACES];
	struct lb_err err = { "" };
	json_t *ifs = json_array(), *s, *pol;
	long long gen;
	size_t n;

	if (no_more_args(argc, argv, "status [--json]")) {
		json_decref(ifs);
		return -LB_EUSAGE;
	}
	if (ctx_read_state(c, &err)) {
		fprintf(stderr, "status: %s\n", err.msg);
		json_decref(ifs);
		return -EINVAL;
	}
	n = state_ifaces(c, att, LB_MAX_IFACES);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:I, s:s, s:s, s:b}", "name", att[i].name,
						     "ifindex", (json_int_t)att[i].ifindex, "xdp_mode",
						     att[i].mode, "egress", att[i].egress, "xdp_link_pinned",
						     link_pinned(c, att[i].ifindex)));
	pol = json_object_get(c->state, "policy");
	{
		json_t *jr = module_journal_load(c, NULL);

		gen = (long long)json_integer_value(json_object_get(jr, "gen"));
		json_decref(jr);
	}
	s = json_pack("{s:s, s:s, s:s, s:I, s:{s:o, s:o, s:o, s:o}, s:o, s:O?}", "version",
		      LB_VERSION, "bpffs", c->bpffs, "state_dir", c->state_dir, "generation",
		      (json_int_t)gen, "programs", "xdp_root", prog_info_json(c, gen, "xdp"),
		      "tc_root", prog_info_json(c, gen, "tc_egress"), "fw_xdp",
		      prog_info_json(c, gen, "firewall_xdp"), "fw_tc",
		      prog_info_json(c, gen, "firewall_tc_egress"), "interfaces", ifs, "policy",
		      pol);
	if (c->json) {
		json_print(s);
		return 0;
	}
	printf("lbagent %s, bpffs %s, state %s\n", LB_VERSION, c->bpffs, c->state_dir);
	printf("module chain generation %lld (lbagent module status); firewall: XDP %s, "
	       "TC egress %s\n", gen,
	       json_is_null(json_object_get(json_object_get(s, "programs"), "fw_xdp")) ?
		       "not loaded" : "loaded",
	       json_is_null(json_object_get(json_object_get(s, "programs"), "fw_tc")) ?
		       "not loaded" : "loaded");
	printf("interfaces:%s\n", n ? "" : " none attached");
	for (size_t i = 0; i < n; i++)
		printf("  %-16s ifindex %-4u XDP %-7s egress %s%s\n", att[i].name, att[i].ifindex,
		       att[i].mode, att[i].egress,
		       link_pinned(c, att[i].ifindex) ? "" : "  (link pin missing: run fw attach)");
	if (pol)
		printf("policy: %s, %lld rules, default %s, applied %s\n",
		       json_string_value(json_object_get(pol, "file")),
		       (long long)json_integer_value(json_object_get(pol, "rules")),
		       json_string_value(json_object_get(pol, "default")),
		       json_string_value(json_object_get(pol, "applied_at")));
	else
		printf("policy: none applied (everything passes)\n");
	json_decref(s);
	return 0;
}
