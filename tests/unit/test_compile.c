// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_compile.c - the policy compiler, judged through compiled_classify()
 * (which reads the tables as the datapath does): precedence tables, ICMP,
 * failsafe, a randomized cross-check against a brute-force reference, the
 * 100,000-rule scale and the size limits.  Pure user space.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <time.h>
#include "testlib.h"
#include "compile.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool build(const char *json, struct lb_policy **p, struct lb_compiled **c)
{
	struct lb_err err = { "" };

	*p = NULL;
	*c = NULL;
	if (!ASSERT_OK(policy_parse(json, strlen(json), "t.json", p, &err), err.msg))
		return false;
	if (!ASSERT_OK(policy_compile(*p, c, &err), err.msg)) {
		policy_free(*p);
		return false;
	}
	return true;
}

static void addr_of(const char *s, uint8_t *family, uint8_t *addr)
{
	struct lb_cidr c = { 0 };

	cidr_parse(s, &c);
	*family = c.family;
	memcpy(addr, c.addr, 16);
}

/* One packet and the rule id expected to win it (NULL: the default). */
struct tcase {
	const char *src, *dst;
	int proto;
	unsigned int sport, dport;	/* ICMP: dport = type << 8 | code */
	const char *want;
};

static void run_cases(const char *name, const char *json, const struct tcase *tc, size_t n)
{
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_rule_val v;
	struct lb_tuple t;
	char what[160];
	const char *got;
	size_t i;

	if (!build(json, &p, &c))
		return;
	for (i = 0; i < n; i++) {
		memset(&t, 0, sizeof(t));
		addr_of(tc[i].src, &t.family, t.saddr);
		addr_of(tc[i].dst, &t.family, t.daddr);
		t.proto = (uint8_t)tc[i].proto;
		t.sport = (uint16_t)tc[i].sport;
		t.dport = (uint16_t)tc[i].dport;
		got = compiled_classify(c, &t, &v) ? p->rules[v.rule_idx].id : NULL;
		snprintf(what, sizeof(what), "%s case %zu: got %s, want %s", name, i,
			 got ? got : "default", tc[i].want ? tc[i].want : "default");
		ASSERT_TRUE(got == tc[i].want || (got && tc[i].want && !strcmp(got, tc[i].want)),
			    what);
		if (got)
			ASSERT_EQ(v.action, p->rules[v.rule_idx].action, what);
	}
	compiled_free(c);
	policy_free(p);
}

#define POL(rules) "{\"default\": \"deny\", \"rules\": [" rules "]}"
#define RUN_CASES(json, cases) run_cases(#cases, json, cases, sizeof(cases) / sizeof(cases[0]))
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

static const struct tcase prefix_cases[] = {
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 80, "narrow" },
	{ "198.18.2.5", "198.18.9.9", TCP, 1, 80, "wide" },
	{ "198.19.0.1", "198.18.9.9", TCP, 1, 80, NULL },
	{ "198.18.1.7", "198.18.9.9", TCP, 1, 80, "host" },
	{ "198.18.1.7", "198.18.0.1", UDP, 1, 80, "host" },
	{ "198.18.2.5", "198.18.0.1", UDP, 1, 80, "to-dst" },
	{ "198.18.2.5", "198.18.0.2", UDP, 1, 80, "wide" },	/* source length first */
	{ "198.19.0.1", "198.18.0.2", UDP, 1, 80, "to-net" },
	{ "2001:db8::1", "2001:db8::2", TCP, 1, 80, NULL },
};

static void test_longer_prefix_wins(void)
{
	RUN_CASES(POL("{\"id\": \"wide\", \"src\": \"198.18.0.0/16\", \"action\": \"deny\"},"
		      "{\"id\": \"narrow\", \"src\": \"198.18.1.0/24\", \"action\": \"allow\"},"
		      "{\"id\": \"host\", \"src\": \"198.18.1.7\", \"action\": \"audit\"},"
		      "{\"id\": \"to-net\", \"dst\": \"198.18.0.0/24\", \"action\": \"allow\"},"
		      "{\"id\": \"to-dst\", \"src\": \"198.18.0.0/16\", \"dst\": \"198.18.0.1\","
		      " \"action\": \"allow\"}"),
		  prefix_cases);
}

static const struct tcase priority_cases[] = {
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 80, "wide-first" },
	{ "198.18.1.5", "198.18.9.9", UDP, 1, 80, "narrow" },
	{ "198.18.2.5", "198.18.9.9", UDP, 1, 80, "late" },
};

static void test_priority_overrides(void)
{
	RUN_CASES(POL("{\"id\": \"narrow\", \"src\": \"198.18.1.0/24\", \"action\": \"allow\"},"
		      "{\"id\": \"wide-first\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"priority\": 10, \"action\": \"deny\"},"
		      "{\"id\": \"late\", \"priority\": 2000, \"action\": \"allow\"}"),
		  priority_cases);
}

static const struct tcase proto_port_cases[] = {
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 2000, "tcp" },
	{ "198.18.1.5", "198.18.9.9", UDP, 1, 2000, "any-proto" },
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 80, "single" },
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 81, "range" },
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 1000, "range" },
	{ "198.18.1.5", "198.18.9.9", TCP, 1, 1001, "tcp" },
	{ "198.18.1.5", "198.18.9.9", TCP, 5000, 1001, "sport" },
	{ "198.18.1.5", "198.18.9.9", TCP, 5000, 443, "first" },
	{ "198.18.1.5", "198.18.9.9", TCP, 5001, 443, "first" },
	{ "198.18.1.5", "198.18.9.9", 47, 0, 0, "any-proto" },
	{ "2001:db8::1", "2001:db8::2", TCP, 1, 80, NULL },
};

static void test_proto_and_ports(void)
{
	RUN_CASES(POL("{\"id\": \"any-proto\", \"src\": \"198.18.0.0/16\", \"action\": \"allow\"},"
		      "{\"id\": \"tcp\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"action\": \"deny\"},"
		      "{\"id\": \"range\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"dport\": \"1-1000\", \"action\": \"allow\"},"
		      "{\"id\": \"single\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"dport\": 80, \"action\": \"deny\"},"
		      "{\"id\": \"sport\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"sport\": 5000, \"action\": \"audit\"},"
		      "{\"id\": \"first\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"dport\": 443, \"action\": \"deny\"},"
		      "{\"id\": \"second\", \"src\": \"198.18.0.0/16\", \"proto\": \"tcp\","
		      " \"dport\": 443, \"action\": \"allow\"}"),
		  proto_port_cases);
}

static const struct tcase order_cases[] = {
	{ "198.18.1.5", "198.18.0.1", TCP, 1, 80, "src-24" },
	{ "198.18.2.5", "198.18.0.1", TCP, 1, 80, "all-to-host" },	/* src /0, then dst /32 */
	{ "198.18.2.5", "198.18.0.2", TCP, 1, 80, "v4-all" },
	{ "2001:db8::5", "2001:db8::1", TCP, 1, 80, "v6-net" },
	{ "2001:db8:1::5", "2001:db8::1", TCP, 1, 80, "any" },
	{ "2001:db8::5", "2001:db8::1", UDP, 1, 80, "v6-net" },
};

/* Source length before destination length; "any" below /0. */
static void test_field_order(void)
{
	RUN_CASES(POL("{\"id\": \"any\", \"action\": \"allow\", \"priority\": 1000},"
		      "{\"id\": \"v4-all\", \"src\": \"0.0.0.0/0\", \"action\": \"deny\"},"
		      "{\"id\": \"dst-32\", \"dst\": \"198.18.0.1\", \"action\": \"audit\"},"
		      "{\"id\": \"src-24\", \"src\": \"198.18.1.0/24\", \"action\": \"deny\"},"
		      "{\"id\": \"v6-net\", \"src\": \"2001:db8::/64\", \"action\": \"deny\"},"
		      "{\"id\": \"all-to-host\", \"src\": \"0.0.0.0/0\", \"dst\": \"198.18.0.1\","
		      " \"action\": \"allow\"}"),
		  order_cases);
}

#define ICMP(type, code) ((type) << 8 | (code))
static const struct tcase icmp_cases[] = {
	{ "198.18.1.5", "198.18.0.1", IPPROTO_ICMP, 0, ICMP(8, 0), "echo" },
	{ "198.18.1.5", "198.18.0.1", IPPROTO_ICMP, 0, ICMP(8, 9), "echo" },
	{ "198.18.1.5", "198.18.0.1", IPPROTO_ICMP, 0, ICMP(3, 4), "frag-needed" },
	{ "198.18.1.5", "198.18.0.1", IPPROTO_ICMP, 0, ICMP(3, 3), "icmp" },
	{ "198.18.1.5", "198.18.0.1", IPPROTO_ICMP, 0, ICMP(0, 0), "icmp" },
	{ "2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 0, ICMP(128, 0), "echo6" },
	{ "2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 0, ICMP(1, 4), NULL },
	{ "198.18.1.5", "198.18.0.1", TCP, 1, ICMP(8, 0), NULL },
};

static void test_icmp(void)
{
	RUN_CASES(POL("{\"id\": \"icmp\", \"proto\": \"icmp\", \"action\": \"deny\"},"
		      "{\"id\": \"echo\", \"proto\": \"icmp\", \"icmp_type\": 8,"
		      " \"action\": \"allow\"},"
		      "{\"id\": \"frag-needed\", \"proto\": \"icmp\", \"icmp_type\": 3,"
		      " \"icmp_code\": 4, \"action\": \"audit\"},"
		      "{\"id\": \"echo6\", \"proto\": \"icmpv6\", \"icmp_type\": 128,"
		      " \"action\": \"allow\"}"),
		  icmp_cases);
}

static const struct tcase empty_cases[] = {
	{ "198.18.1.5", "198.18.0.1", TCP, 1, 80, NULL },
	{ "2001:db8::1", "2001:db8::2", UDP, 1, 53, NULL },
};

static void test_no_rules(void)
{
	RUN_CASES("{\"default\": \"allow\"}", empty_cases);
}

static bool fs_tuple(const struct lb_compiled *c, const char *src, int proto, unsigned int dport)
{
	struct lb_tuple t = { .proto = (uint8_t)proto, .dport = (uint16_t)dport };

	addr_of(src, &t.family, t.saddr);
	return compiled_failsafe(c, &t);
}

static const struct {
	const char *src;
	int proto;
	unsigned int dport;
	bool want;
} fs_cases[] = {
	{ "198.18.1.5", TCP, 22, true },	/* the enclosing /16's entry */
	{ "198.18.1.5", UDP, 53, true },
	{ "198.18.1.5", TCP, 2222, true },	/* "any" */
	{ "198.18.1.5", TCP, 23, false },
	{ "198.18.2.5", UDP, 53, false },
	{ "198.18.2.5", TCP, 22, true },
	{ "198.19.0.1", TCP, 2222, true },
	{ "198.19.0.1", TCP, 22, false },
	{ "2001:db8::1", IPPROTO_ICMPV6, ICMP(128, 0), true },
	{ "2001:db9::1", TCP, 2222, true },
	{ "2001:db9::1", UDP, 2222, false },
};

static void test_failsafe(void)
{
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_tuple t = { 0 };
	size_t i, j;
	bool ref;

	if (!build("{\"default\": \"deny\", \"failsafe\": ["
		   "{\"src\": \"198.18.0.0/16\", \"proto\": \"tcp\", \"dport\": 22},"
		   "{\"src\": \"198.18.1.0/24\", \"proto\": \"udp\", \"dport\": 53},"
		   "{\"src\": \"any\", \"proto\": \"tcp\", \"dport\": 2222},"
		   "{\"src\": \"2001:db8::/32\"}]}", &p, &c))
		return;
	/* 198.18.0.0/16, 198.18.1.0/24, 0.0.0.0/0, ::/0, 2001:db8::/32 */
	ASSERT_EQ(c->n_fs, 5, "failsafe prefixes");
	for (i = 0; i < c->n_fs; i++)
		if (c->fs[i].cidr.family == 4 && c->fs[i].cidr.plen == 24)
			ASSERT_EQ(c->fs[i].val.count, 3, "/24 holds its ancestors' pairs");
	for (i = 0; i < sizeof(fs_cases) / sizeof(fs_cases[0]); i++) {
		ASSERT_EQ(fs_tuple(c, fs_cases[i].src, fs_cases[i].proto, fs_cases[i].dport),
			  fs_cases[i].want, fs_cases[i].src);
		addr_of(fs_cases[i].src, &t.family, t.saddr);
		t.proto = (uint8_t)fs_cases[i].proto;
		t.dport = (uint16_t)fs_cases[i].dport;
		for (ref = false, j = 0; j < p->n_failsafe; j++)
			ref |= failsafe_matches(&p->failsafe[j], &t);
		ASSERT_EQ(ref, fs_cases[i].want, "reference agrees");
	}
	compiled_free(c);
	policy_free(p);
}

static void test_failsafe_overflow(void)
{
	char buf[2048], *w = buf;
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_err err;
	int i;

	w += sprintf(w, "{\"default\": \"deny\", \"failsafe\": [{\"src\": \"198.18.0.0/16\"}");
	for (i = 0; i < 8; i++)
		w += sprintf(w, ", {\"src\": \"198.18.1.0/24\", \"proto\": \"udp\", \"dport\": %d}",
			     100 + i);
	sprintf(w, "]}");
	if (!ASSERT_OK(policy_parse(buf, strlen(buf), "t.json", &p, &err), err.msg))
		return;
	ASSERT_EQ(policy_compile(p, &c, &err), -E2BIG, "9 pairs for the /24");
	ASSERT_STR_CONTAINS(err.msg, "failsafe: 198.18.1.0/24 is covered by more than 8", "msg");
	ASSERT_TRUE(c == NULL, "out untouched");
	policy_free(p);
}

/* ---- randomized cross-check ---- */

static uint64_t rng = 0x5eed1234abcdULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

/* Addresses from a small space, so prefixes nest and tuples hit them. */
static void rand_addr(unsigned int family, uint8_t *a)
{
	memset(a, 0, 16);
	if (family == 4) {
		a[0] = 198, a[1] = (uint8_t)(18 + (rnd(10) == 0)), a[2] = (uint8_t)rnd(4);
		a[3] = (uint8_t)rnd(16);
		a[3] = (uint8_t)(a[3] << (rnd(2) ? 4 : 0));
	} else {
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = (uint8_t)(0xb8 + (rnd(10) == 0));
		a[5] = (uint8_t)rnd(4);
		a[15] = (uint8_t)rnd(16);
	}
}

static void rand_prefix(unsigned int family, struct lb_cidr *c)
{
	static const uint8_t plen4[] = { 15, 16, 22, 24, 26, 28, 30, 32 };
	static const uint8_t plen6[] = { 31, 32, 46, 48, 64, 124, 126, 128 };
	struct lb_cidr t = { .family = (uint8_t)family };
	char text[64];

	rand_addr(family, t.addr);
	t.plen = family == 4 ? plen4[rnd(8)] : plen6[rnd(8)];
	/* Clear the host bits through the text form. */
	cidr_format(&t, text, sizeof(text));
	memset(c, 0, sizeof(*c));
	cidr_parse_masked(text, c);
}

static const uint16_t port_pts[] = { 0, 1, 22, 53, 80, 443, 1000, 1024, 8080, 65534, 65535 };

static struct lb_range rand_range(void)
{
	uint16_t a = port_pts[rnd(11)], b = port_pts[rnd(11)];

	return (struct lb_range){ a < b ? a : b, a < b ? b : a };
}

static int rand_proto(unsigned int family)
{
	static const int v4[] = { TCP, TCP, UDP, UDP, IPPROTO_ICMP, LB_PROTO_ANY, 47 };
	static const int v6[] = { TCP, TCP, UDP, UDP, IPPROTO_ICMPV6, LB_PROTO_ANY, 47 };
	/* Rules for both families name a protocol, so some tuples fall to the default. */
	static const int any[] = { TCP, UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 0 };

	return family == 4 ? v4[rnd(7)] : family == 6 ? v6[rnd(7)] : any[rnd(5)];
}

static void rand_ports(struct lb_rule *r)
{
	unsigned int type;

	if (r->proto == TCP || r->proto == UDP) {
		if (rnd(2))
			r->dport = rand_range();
		if (rnd(6) == 0)
			r->sport = (struct lb_range[]){ { 0, 1023 }, { 1024, 65535 },
							{ 5000, 5000 } }[rnd(3)];
	} else if ((r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6) && rnd(2)) {
		type = (unsigned int[]){ 0, 3, 8, 128, 129 }[rnd(5)];
		r->dport.lo = (uint16_t)(type << 8 | (rnd(2) ? rnd(3) : 0));
		r->dport.hi = rnd(2) ? r->dport.lo : (uint16_t)(type << 8 | 255);
	}
}

static void rand_rule(struct lb_rule *r, uint32_t idx, const struct lb_cidr *srcs,
		      const struct lb_cidr *dsts)
{
	static const uint32_t prios[] = { 10, 500, 2000 };
	unsigned int family = (unsigned int[]){ 4, 4, 6, 6, 0 }[rnd(5)];
	char id[16];

	snprintf(id, sizeof(id), "r%u", idx);
	memset(r, 0, sizeof(*r));
	r->id = strdup(id);
	r->idx = idx;
	r->priority = rnd(5) ? LB_PRIO_DEFAULT : prios[rnd(3)];
	r->action = (enum lb_action)rnd(3);
	if (family && rnd(10) < 7)
		r->src = srcs[rnd(10) + (family == 6 ? 10 : 0)];
	if (family && rnd(10) < 4)
		r->dst = dsts[rnd(6) + (family == 6 ? 6 : 0)];
	r->proto = rand_proto(family);
	if (family && r->proto == LB_PROTO_ANY && !r->src.family)
		r->src = srcs[rnd(10) + (family == 6 ? 10 : 0)];
	r->dport = r->sport = (struct lb_range){ 0, 65535 };
	rand_ports(r);
	if (!family && (r->proto == TCP || r->proto == UDP))
		r->dport = (struct lb_range){ 22, 22 + rnd(3) };
}

/* A port at or beside a rule boundary.  One rnd() per statement: call order is fixed. */
static uint16_t near_port(void)
{
	uint16_t p = port_pts[rnd(11)];

	return (uint16_t)(p + rnd(3) - 1);
}

static void rand_tuple(struct lb_tuple *t)
{
	static const int protos[] = { TCP, UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 47, 0 };
	unsigned int type;

	memset(t, 0, sizeof(*t));
	t->family = rnd(2) ? 4 : 6;
	rand_addr(t->family, t->saddr);
	rand_addr(t->family, t->daddr);
	t->proto = (uint8_t)protos[rnd(6)];
	if (t->proto == TCP || t->proto == UDP) {
		t->dport = near_port();
		t->sport = rnd(2) ? (uint16_t)rnd(65536) : near_port();
	} else if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		type = (unsigned int[]){ 0, 3, 8, 128, 129, 4 }[rnd(6)];
		t->dport = (uint16_t)(type << 8 | rnd(5));
	}
}

/* An independent statement of the precedence in compile.h. */
static int ref_rank(const struct lb_cidr *c)
{
	return c->family ? c->plen : -1;
}

static int ref_cmp(const void *pa, const void *pb)
{
	const struct lb_rule *a = pa, *b = pb;
	long long ka[7] = { a->priority, -ref_rank(&a->src), -ref_rank(&a->dst),
			    a->proto == LB_PROTO_ANY, a->dport.hi - a->dport.lo,
			    a->sport.hi - a->sport.lo, a->idx };
	long long kb[7] = { b->priority, -ref_rank(&b->src), -ref_rank(&b->dst),
			    b->proto == LB_PROTO_ANY, b->dport.hi - b->dport.lo,
			    b->sport.hi - b->sport.lo, b->idx };
	int i;

	for (i = 0; i < 7; i++)
		if (ka[i] != kb[i])
			return ka[i] < kb[i] ? -1 : 1;
	return 0;
}

static const struct lb_rule *ref_classify(const struct lb_rule *sorted, size_t n,
					  const struct lb_tuple *t)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rule_matches(&sorted[i], t))
			return &sorted[i];
	return NULL;
}

static struct lb_policy *rand_policy(size_t n)
{
	struct lb_policy *p = calloc(1, sizeof(*p));
	struct lb_cidr srcs[20], dsts[12];
	size_t i;

	for (i = 0; i < 20; i++)
		rand_prefix(i < 10 ? 4 : 6, &srcs[i]);
	for (i = 0; i < 12; i++)
		rand_prefix(i < 6 ? 4 : 6, &dsts[i]);
	p->rules = calloc(n, sizeof(*p->rules));
	p->n_rules = n;
	for (i = 0; i < n; i++)
		rand_rule(&p->rules[i], (uint32_t)i, srcs, dsts);
	return p;
}

/* n random rules, 20,000 random tuples: compiled == reference.  Returns the hits. */
static int cross_check(size_t n)
{
	struct lb_policy *p = rand_policy(n);
	struct lb_rule *sorted = malloc(p->n_rules * sizeof(*sorted));
	const struct lb_rule *want;
	struct lb_compiled *c = NULL;
	struct lb_rule_val v;
	struct lb_err err;
	struct lb_tuple t;
	int i, bad = 0, hits = 0;
	bool got;

	memcpy(sorted, p->rules, p->n_rules * sizeof(*sorted));
	qsort(sorted, p->n_rules, sizeof(*sorted), ref_cmp);
	if (!ASSERT_OK(policy_compile(p, &c, &err), err.msg))
		goto out;
	for (i = 0; i < 20000; i++) {
		rand_tuple(&t);
		want = ref_classify(sorted, p->n_rules, &t);
		got = compiled_classify(c, &t, &v);
		hits += !!want;
		if (got == !!want &&
		    (!got || (v.rule_idx == want->idx && v.action == want->action)))
			continue;
		if (bad++ < 5)
			fprintf(stderr, "  tuple %d: compiled %s %d, reference %s\n", i,
				got ? "rule" : "default", got ? (int)v.rule_idx : -1,
				want ? want->id : "default");
	}
	ASSERT_EQ(bad, 0, "compiled == reference");
	printf("  %zu random rules: %zu entries, classes src %u dst %u proto %u dport %u "
	       "sport %u; %d of 20000 tuples matched a rule\n", n, c->n_entries, c->n_src_cls,
	       c->n_dst_cls, c->n_proto_cls, c->n_dport_cls, c->n_sport_cls, hits);
	compiled_free(c);
out:
	free(sorted);
	policy_free(p);
	return hits;
}

static void test_random_cross_check(void)
{
	int hits;

	cross_check(2000);
	cross_check(300);
	/* Sparse enough that many tuples fall through to the default. */
	hits = cross_check(40);
	ASSERT_TRUE(hits > 2000 && hits < 18000, "rules and defaults both exercised");
}

/* ---- scale and limits ---- */

/* n rules: one distinct source each (IPv4 /32 in 198.18.0.0/15, or IPv6 /64). */
static struct lb_policy *many_sources(size_t n, unsigned int family)
{
	struct lb_policy *p = calloc(1, sizeof(*p));
	char id[24];
	size_t i;

	p->rules = calloc(n, sizeof(*p->rules));
	for (i = 0; i < n; i++) {
		struct lb_rule *r = &p->rules[i];

		snprintf(id, sizeof(id), "deny-%zu", i);
		r->id = strdup(id);
		r->idx = (uint32_t)i;
		r->priority = LB_PRIO_DEFAULT;
		r->src.family = (uint8_t)family;
		r->src.plen = family == 4 ? 32 : 64;
		if (family == 4) {
			uint32_t a = (198U << 24 | 18U << 16) + (uint32_t)i;

			r->src.addr[0] = (uint8_t)(a >> 24), r->src.addr[1] = (uint8_t)(a >> 16);
			r->src.addr[2] = (uint8_t)(a >> 8), r->src.addr[3] = (uint8_t)a;
		} else {
			memcpy(r->src.addr, "\x20\x01\x0d\xb8", 4);
			r->src.addr[5] = (uint8_t)(i >> 16), r->src.addr[6] = (uint8_t)(i >> 8);
			r->src.addr[7] = (uint8_t)i;
		}
		r->proto = UDP;
		r->dport = (struct lb_range){ 9000, 9100 };
		r->sport = (struct lb_range){ 0, 65535 };
		r->action = LB_ACT_DENY;
		p->n_rules++;
	}
	return p;
}

static void check_many(unsigned int family)
{
	struct lb_policy *p = many_sources(100000, family);
	struct lb_compiled *c = NULL;
	struct lb_rule_val v;
	struct lb_tuple t = { .family = (uint8_t)family, .proto = UDP, .dport = 9050 };
	struct lb_err err;
	double t0 = now_ms(), ms;

	if (!ASSERT_OK(policy_compile(p, &c, &err), err.msg))
		goto out;
	ms = now_ms() - t0;
	printf("  100000 IPv%u rules compiled in %.0f ms: %zu entries, %u src classes, "
	       "%u dport classes\n", family, ms, c->n_entries, c->n_src_cls, c->n_dport_cls);
	ASSERT_EQ(c->n_entries, 100000, "one entry per rule");
	ASSERT_EQ(c->n_src_cls, 100002, "sources plus both /0");
	ASSERT_EQ(c->n_dport_cls, 2, "9000-9100 and the rest");
	ASSERT_TRUE(ms < 10000, "well under seconds (10 s allows for sanitizers)");
	memcpy(t.saddr, p->rules[77777].src.addr, 16);
	ASSERT_TRUE(compiled_classify(c, &t, &v) && v.rule_idx == 77777, "classify");
	t.dport = 9101;
	ASSERT_FALSE(compiled_classify(c, &t, &v), "outside the range");
out:
	compiled_free(c);
	policy_free(p);
}

static void test_100k_rules(void)
{
	check_many(4);
	check_many(6);
}

/* The same through the parser, as `policy apply` sees it. */
static void test_100k_rules_json(void)
{
	size_t n = 100000, i, cap = 64 + n * 100;
	char *text = malloc(cap), *w = text;
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_err err;
	double t0, t1;

	w += sprintf(w, "{\"default\": \"allow\", \"rules\": [\n");
	for (i = 0; i < n; i++)
		w += sprintf(w, "%s{\"id\": \"d%zu\", \"src\": \"198.%zu.%zu.%zu\", "
			     "\"proto\": \"udp\", \"dport\": \"9000-9100\", \"action\": \"deny\"}",
			     i ? ",\n" : "", i, 18 + (i >> 16), (i >> 8) & 255, i & 255);
	w += sprintf(w, "]}\n");
	t0 = now_ms();
	if (!ASSERT_OK(policy_parse(text, (size_t)(w - text), "big.json", &p, &err), err.msg))
		goto out;
	t1 = now_ms();
	if (!ASSERT_OK(policy_compile(p, &c, &err), err.msg))
		goto out;
	printf("  100000 rules from JSON (%zu bytes): parse %.0f ms, compile %.0f ms, %zu "
	       "entries\n", (size_t)(w - text), t1 - t0, now_ms() - t1, c->n_entries);
	ASSERT_EQ(c->n_entries, n, "one entry per rule");
out:
	compiled_free(c);
	policy_free(p);
	free(text);
}

static void test_too_many_entries(void)
{
	struct lb_policy *p = many_sources(2100, 4);
	struct lb_compiled *c = NULL;
	struct lb_err err;
	size_t i;

	/* 1100 sources x 1001 destination classes, then 1000 destinations. */
	for (i = 0; i < p->n_rules; i++) {
		p->rules[i].proto = TCP;
		p->rules[i].dport = (struct lb_range){ 0, 65535 };
		if (i < 1100)
			continue;
		p->rules[i].dst = p->rules[i].src;
		memset(&p->rules[i].src, 0, sizeof(p->rules[i].src));
	}
	ASSERT_EQ(policy_compile(p, &c, &err), -E2BIG, "too many entries");
	ASSERT_STR_CONTAINS(err.msg, "policy compiles to 1102100 entries, the datapath holds "
			    "1048576", "message");
	ASSERT_TRUE(c == NULL, "out untouched");
	policy_free(p);
}

static void test_too_much_work(void)
{
	struct lb_policy *p = many_sources(10001, 4);
	struct lb_compiled *c = NULL;
	struct lb_err err;
	size_t i;

	/* First in precedence: one rule covering 5001 x 5001 x 8 protocols. */
	for (i = 0; i < p->n_rules; i++) {
		p->rules[i].proto = (int)(i % 7) + 1;
		p->rules[i].dport = (struct lb_range){ 0, 65535 };
		if (i >= 5000 && i < 10000) {
			p->rules[i].dst = p->rules[i].src;
			memset(&p->rules[i].src, 0, sizeof(p->rules[i].src));
		}
	}
	memset(&p->rules[10000].src, 0, sizeof(p->rules[10000].src));
	p->rules[10000].proto = LB_PROTO_ANY;
	p->rules[10000].priority = 0;
	ASSERT_EQ(policy_compile(p, &c, &err), -E2BIG, "too much work");
	ASSERT_STR_CONTAINS(err.msg, "more than 134217728 class combinations (at rule "
			    "\"deny-10000\")", "message");
	policy_free(p);
}

static void test_too_many_prefixes(void)
{
	struct lb_policy *p = many_sources(LB_MAX_RULES, 4);
	struct lb_compiled *c = NULL;
	struct lb_err err;

	ASSERT_EQ(policy_compile(p, &c, &err), -E2BIG, "131073 IPv4 sources");
	ASSERT_STR_CONTAINS(err.msg, "policy has 131073 distinct IPv4 source prefixes, the "
			    "datapath holds 131072", "message");
	policy_free(p);
}

static void test_example_compiles(void)
{
	struct lb_compiled *c = NULL;
	struct lb_policy *p = NULL;
	struct lb_err err;
	const char *dir = getenv("LB_SRCDIR");
	char path[4096];
	const char *tail = strstr(__FILE__, "tests/unit/");

	/* Beside the sources: $LB_SRCDIR, else where this file was compiled from. */
	if (dir)
		snprintf(path, sizeof(path), "%s/examples/policy.json", dir);
	else
		snprintf(path, sizeof(path), "%.*sexamples/policy.json",
			 tail ? (int)(tail - __FILE__) : 0, __FILE__);
	if (!ASSERT_OK(policy_load_file(path, &p, &err), err.msg))
		return;
	if (ASSERT_OK(policy_compile(p, &c, &err), err.msg)) {
		printf("  example: %zu entries, %zu failsafe prefixes\n", c->n_entries, c->n_fs);
		ASSERT_EQ(c->n_fs, 1, "one failsafe prefix");
		ASSERT_EQ(c->n_rules, 6, "rules");
		compiled_free(c);
	}
	policy_free(p);
}

int main(void)
{
	RUN(test_longer_prefix_wins);
	RUN(test_priority_overrides);
	RUN(test_proto_and_ports);
	RUN(test_field_order);
	RUN(test_icmp);
	RUN(test_no_rules);
	RUN(test_failsafe);
	RUN(test_failsafe_overflow);
	RUN(test_example_compiles);
	RUN(test_random_cross_check);
	RUN(test_100k_rules);
	RUN(test_100k_rules_json);
	RUN(test_too_many_entries);
	RUN(test_too_much_work);
	RUN(test_too_many_prefixes);
	compiled_free(NULL);
	return test_summary();
}
