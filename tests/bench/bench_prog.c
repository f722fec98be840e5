// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_prog.c - ns/packet of the firewall under BPF_PROG_TEST_RUN (repeat
 * mode) for policies of 10, 1,000, 10,000 and 100,000 rules, beside an empty
 * XDP program, measured side by side in one run (A B A B ...), medians.
 *
 * Four policy shapes, each a deny rule per source, udp dport 9000:
 *   - IPv4 /32 hosts (198.18.0.0/15): the host table path;
 *   - IPv6 /56 prefixes (2001:db8::/32): the longest prefixes, so the host
 *     table path too;
 *   - the same /56s plus one /64: two lengths, both in the host table
 *     (it holds up to LB_HT_LENGTHS), a /64 probe that misses, then the /56;
 *   - the same /56s plus five longer prefixes (/64, /72, /80, /96, /128): six
 *     lengths, so the host table takes the four longest and the /56s go to
 *     the LPM trie, whose lookup is the one cost here that grows with the
 *     number of prefixes.
 * The packet comes from a source that one deny rule among N matches, so every
 * run goes through parse, failsafe, conntrack miss, the classifier lookups,
 * counters and the event token bucket.
 *
 * Prints a Markdown table; with --json, the raw figures.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fw_xdp.skel.h"
#include "xdp_pass.skel.h"
#include "fwmaps.h"
#include "pkt.h"

#define RUNS 7
#define REPEAT 200000

static const int rule_counts[] = { 10, 1000, 10000, 100000 };
#define N_COUNTS (sizeof(rule_counts) / sizeof(rule_counts[0]))

static int setup_ns(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/lbbench.XXXXXX");
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || !mkdtemp(dir) ||
	    mount("bpf", dir, "bpf", 0, NULL))
		return -errno;
	return system("ip link set lo up") ? -EIO : 0;
}

enum shape { V4_HOST, V6_PREFIX, V6_TWO_LENS, V6_TRIE, N_SHAPES };

static const char *const shape_names[N_SHAPES] = {
	"lb_fw_xdp, IPv4 /32 sources (host table)",
	"lb_fw_xdp, IPv6 /56 sources (host table)",
	"lb_fw_xdp, IPv6 /56 sources + one /64 (host table, 2 lengths)",
	"lb_fw_xdp, IPv6 /56 sources + 5 longer, 6 lengths (LPM trie)",
};

/*
 * N deny rules, udp dport 9000, one per source: 198.18.x.y/32 (V4_HOST) or
 * 2001:db8:XXXX:YY00::/56, with one more for 2001:db8:ffff:ff00::/64
 * (V6_TWO_LENS, V6_TRIE) and four more of other lengths (V6_TRIE); none of
 * these contains the packet's source.
 */
static char *policy_text(int n, enum shape shape)
{
	size_t cap = 256 + (size_t)n * 128, off = 0;
	bool v6 = shape != V4_HOST;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	off += snprintf(s + off, cap - off, "{\"default\": \"allow\", \"rules\": [");
	if (shape == V6_TWO_LENS || shape == V6_TRIE)
		off += snprintf(s + off, cap - off,
				"{\"id\": \"longest\", \"src\": \"2001:db8:ffff:ff00::/64\", "
				"\"proto\": \"udp\", \"dport\": 9000, \"action\": \"deny\"},");
	if (shape == V6_TRIE) {
		static const char *const more[] = { "2001:db8:ffff:fe00::/72",
						    "2001:db8:ffff:fd00::/80",
						    "2001:db8:ffff:fc00::/96",
						    "2001:db8:ffff:fb00::1/128" };

		for (size_t j = 0; j < sizeof(more) / sizeof(more[0]); j++)
			off += snprintf(s + off, cap - off,
					"{\"id\": \"more%zu\", \"src\": \"%s\", "
					"\"proto\": \"udp\", \"dport\": 9000, "
					"\"action\": \"deny\"},", j, more[j]);
	}
	for (int i = 0; i < n; i++) {
		char src[64];

		if (v6)
			snprintf(src, sizeof(src), "2001:db8:%x:%x00::/56", (i >> 8) & 0xffff,
				 i & 0xff);
		else
			snprintf(src, sizeof(src), "198.18.%d.%d/32", (i >> 8) & 0xff, i & 0xff);
		off += snprintf(s + off, cap - off,
				"%s{\"id\": \"r%d\", \"src\": \"%s\", \"proto\": \"udp\", "
				"\"dport\": 9000, \"action\": \"deny\"}", i ? "," : "", i, src);
	}
	snprintf(s + off, cap - off, "]}");
	return s;
}

/* The packet from the source of rule n/2. */
static struct pkt_spec bench_pkt(int n, bool v6)
{
	struct pkt_spec ps = pkt_udp4(0xc6120000 + (uint32_t)(n / 2), 0xc6120001, 40000, 9000);
	int i = n / 2;

	if (v6) {
		static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
		uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				    (uint8_t)i, [15] = 7 };

		ps.family = 6;
		memcpy(ps.saddr, src, 16);
		memcpy(ps.daddr, dst, 16);
	}
	return ps;
}

static int apply_rules(const struct lb_maps *m, int n, enum shape shape, uint32_t copy)
{
	struct lb_iface_action ifa = { .ifindex = 1, .action = LB_ACT_ALLOW };
	struct lb_policy *p = NULL;
	struct lb_compiled *c = NULL;
	struct lb_err err = { "" };
	char *text = policy_text(n, shape);
	int r = -ENOMEM;

	if (text)
		r = policy_parse(text, strlen(text), "bench", &p, &err) ?:
		    policy_compile(p, &c, &err) ?: policy_write(m, c, copy, &ifa, 1, &err);
	if (r)
		fprintf(stderr, "bench: %d rules: %s\n", n, err.msg);
	compiled_free(c);
	policy_free(p);
	free(text);
	return r;
}

static double run_ns(int prog_fd, const void *pkt, size_t len)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = REPEAT);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	return o.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct row {
	const char *name;
	int rules;
	enum shape shape;
	double ns[RUNS];
};

static double median(const struct row *r)
{
	double s[RUNS];

	memcpy(s, r->ns, sizeof(s));
	qsort(s, RUNS, sizeof(double), cmp_double);
	return s[RUNS / 2];
}

static double minv(const struct row *r)
{
	double m = r->ns[0];

	for (int i = 1; i < RUNS; i++)
		m = r->ns[i] < m ? r->ns[i] : m;
	return m;
}

static double maxv(const struct row *r)
{
	double m = r->ns[0];

	for (int i = 1; i < RUNS; i++)
		m = r->ns[i] > m ? r->ns[i] : m;
	return m;
}

int main(int argc, char **argv)
{
	/* --json-out FILE: the raw figures there, the Markdown table on stdout. */
	const char *json_path = argc > 2 && !strcmp(argv[1], "--json-out") ? argv[2] : NULL;
	struct row rows[N_SHAPES * N_COUNTS + 1] = { { "empty XDP (xdp_pass)", 0 } };
	const size_t n_rows = N_SHAPES * N_COUNTS + 1;
	struct fw_xdp *fw = NULL;
	struct xdp_pass *empty = NULL;
	struct lb_iface row = { 0 };
	struct lb_err err = { "" };
	struct lb_maps m = { 0 };
	uint8_t pkt[128];
	char dir[64];
	size_t len;
	uint32_t key = 1, flips = 0;

	if (setup_ns(dir, sizeof(dir))) {
		fprintf(stderr, "bench: private namespace and bpffs: %s\n", strerror(errno));
		return 1;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
	fw = fw_xdp__open_opts(&oo);
	empty = xdp_pass__open_and_load();
	if (!fw || fw_xdp__load(fw) || !empty || maps_from_object(&m, fw->obj, &err) ||
	    iface_row_put(&m, key, &row)) {
		fprintf(stderr, "bench: loading programs: %s %s\n", strerror(errno), err.msg);
		return 1;
	}
	for (size_t i = 1; i < n_rows; i++) {
		rows[i].shape = (enum shape)((i - 1) / N_COUNTS);
		rows[i].name = shape_names[rows[i].shape];
		rows[i].rules = rule_counts[(i - 1) % N_COUNTS];
	}
	for (int run = 0; run < RUNS; run++) {
		/* A B A B: the empty program between every policy size. */
		for (size_t i = 1; i < n_rows; i++) {
			int n = rows[i].rules;
			struct pkt_spec ps = bench_pkt(n, rows[i].shape != V4_HOST);

			if (apply_rules(&m, n, rows[i].shape, flips++ % 2))
				return 1;
			len = pkt_build(&ps, pkt, sizeof(pkt));
			rows[0].ns[run] = run_ns(bpf_program__fd(empty->progs.xdp_pass_prog),
						 pkt, len);
			rows[i].ns[run] = run_ns(bpf_program__fd(fw->progs.lb_fw_xdp), pkt, len);
			if (rows[i].ns[run] < 0) {
				fprintf(stderr, "bench: test run: %s\n", strerror(errno));
				return 1;
			}
		}
		fprintf(stderr, "  run %d/%d done\n", run + 1, RUNS);
	}

	FILE *jf = json_path ? fopen(json_path, "w") : NULL;

	if (jf) {
		fprintf(jf, "{\"repeat\": %d, \"runs\": %d, \"rows\": [", REPEAT, RUNS);
		for (size_t i = 0; i < n_rows; i++) {
			fprintf(jf, "%s{\"program\": \"%s\", \"rules\": %d, \"ns\": [", i ? ", " : "",
				rows[i].name, rows[i].rules);
			for (int k = 0; k < RUNS; k++)
				fprintf(jf, "%s%.1f", k ? ", " : "", rows[i].ns[k]);
			fprintf(jf, "], \"median_ns\": %.1f, \"min_ns\": %.1f, \"max_ns\": %.1f}",
				median(&rows[i]), minv(&rows[i]), maxv(&rows[i]));
		}
		fprintf(jf, "]}\n");
		fclose(jf);
	}
	{
		/*
		 * This VM has phases of seconds where everything runs ~1.4x slower;
		 * they hit whole runs, so the best sample's ratio is shown beside the
		 * median's: it is the one the noise cannot inflate.
		 */
		printf("| program | rules | ns/packet median | min-max | vs 10 rules (median) "
		       "| vs 10 rules (min) | vs empty |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|\n");
		for (size_t i = 0; i < n_rows; i++) {
			/* Ratio against the 10-rule row of the same shape. */
			const struct row *b = &rows[1 + rows[i].shape * N_COUNTS];
			char vs[16] = "-", vsmin[16] = "-";

			if (i) {
				snprintf(vs, sizeof(vs), "%.2fx", median(&rows[i]) / median(b));
				snprintf(vsmin, sizeof(vsmin), "%.2fx", minv(&rows[i]) / minv(b));
			}
			printf("| %s | %d | %.1f | %.1f-%.1f | %s | %s | %.2fx |\n", rows[i].name,
			       rows[i].rules, median(&rows[i]), minv(&rows[i]), maxv(&rows[i]), vs,
			       vsmin, median(&rows[i]) / median(&rows[0]));
		}
	}
	maps_close(&m);
	fw_xdp__destroy(fw);
	xdp_pass__destroy(empty);
	umount(dir);
	rmdir(dir);
	return 0;
}
