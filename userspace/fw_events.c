// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_events.c - `fw events`: print sampled drop and audit events.
 *
 * Reads the pinned lb_events ring buffer: new events only, unless --backlog
 * asks for the ones queued while nobody was reading.  Rule indexes are turned into rule
 * ids with the applied policy from the state directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "agent.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct ev_ctx {
	struct lb_ctx *c;
	struct lb_policy *pol;
	long count, seen;
	bool skip;	/* draining the backlog */
};

static const char *rule_id(const struct ev_ctx *e, uint32_t idx)
{
	if (idx == LB_RULE_NONE || !e->pol)
		return "-";
	for (size_t i = 0; i < e->pol->n_rules; i++)
		if (e->pol->rules[i].idx == idx)
			return e->pol->rules[i].id;
	return "?";
}

static void ports_format(const struct lb_event *ev, char *buf, size_t len)
{
	if (ev->proto == 1 || ev->proto == 58)
		snprintf(buf, len, "type %u code %u", ev->dport >> 8, ev->dport & 0xff);
	else
		snprintf(buf, len, "%u -> %u", ev->sport, ev->dport);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_ctx *e = ctx;
	const struct lb_event *ev = data;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], ifn[IF_NAMESIZE] = "?", ports[40];
	int af = ev->family == 6 ? AF_INET6 : AF_INET;

	if (size < sizeof(*ev) || e->skip)
		return 0;
	inet_ntop(af, ev->saddr, s, sizeof(s));
	inet_ntop(af, ev->daddr, d, sizeof(d));
	if_indextoname(ev->ifindex, ifn);
	ports_format(ev, ports, sizeof(ports));
	if (e->c->json) {
		json_print(json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:i}",
				     "ts_ns", (json_int_t)ev->ts_ns, "interface", ifn, "ifindex",
				     ev->ifindex, "verdict", reason_verdict(ev->reason), "reason",
				     reason_name(ev->reason), "rule", rule_id(e, ev->rule_idx),
				     "proto", ev->proto, "src", s, "dst", d, "sport", ev->sport,
				     "dport", ev->dport, "len", ev->pkt_len));
	} else {
		printf("%-10s %-5s %-16s rule %-20s proto %-3u %s -> %s (%s) len %u\n", ifn,
		       reason_verdict(ev->reason), reason_name(ev->reason), rule_id(e, ev->rule_idx),
		       ev->proto, s, d, ports, ev->pkt_len);
	}
	fflush(stdout);
	if (e->count && ++e->seen >= e->count)
		stop = 1;
	return 0;
}

static int parse_events_args(int argc, char **argv, long *count, long *timeout, bool *backlog)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "backlog", no_argument, NULL, 'b' },
		{ 0 },
	};
	char *end;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:t:b", lo, NULL)) != -1) {
		long *dst = o == 'c' ? count : timeout;

		if (o == 'b') {
			*backlog = true;
			continue;
		}
		if (o != 'c' && o != 't')
			return -EINVAL;
		*dst = strtol(optarg, &end, 10);
		if (*end || *dst < 0) {
			fprintf(stderr, "fw events: --%s takes a number >= 0, not `%s'\n",
				o == 'c' ? "count" : "timeout", optarg);
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

int cmd_fw_events(struct lb_ctx *c, int argc, char **argv)
{
	struct ev_ctx e = { .c = c };
	struct lb_err err = { "" };
	struct ring_buffer *rb = NULL;
	long timeout = 0;
	bool backlog = false;
	struct lb_maps m;
	char path[512];
	time_t end;
	int r;

	if (parse_events_args(argc, argv, &e.count, &timeout, &backlog)) {
		fprintf(stderr, "Usage: lbagent fw events [--count N] [--timeout SEC] [--backlog]\n");
		return -LB_EUSAGE;
	}
	r = datapath_maps(c, &m, &err);
	if (r) {
		fprintf(stderr, "fw events: %s\n", err.msg);
		return r;
	}
	ctx_path(c, path, sizeof(path), true, "policy.json");
	policy_load_file(path, &e.pol, NULL);
	rb = ring_buffer__new(m.events, on_event, &e, NULL);
	if (!rb) {
		r = -errno;
		fprintf(stderr, "fw events: opening ring buffer lb_events: %s\n", strerror(-r));
		goto out;
	}
	/* Events queued before we started are old news unless asked for. */
	e.skip = !backlog;
	ring_buffer__consume(rb);
	e.skip = false;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	end = time(NULL) + timeout;
	while (!stop && (!timeout || time(NULL) < end)) {
		r = ring_buffer__poll(rb, 200);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "fw events: polling lb_events: %s\n", strerror(-r));
			goto out;
		}
	}
	r = 0;
out:
	ring_buffer__free(rb);
	policy_free(e.pol);
	maps_close(&m);
	return r;
}
