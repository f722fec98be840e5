// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_policy.c - the policy parser: every feature, and the exact message for
 * every class of bad input.  Pure user space.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>
#include "testlib.h"
#include "policy.h"

/* The example ships beside the sources; tests may run from anywhere. */
static const char *example_path(void)
{
	static char buf[4096];
	const char *dir = getenv("LB_SRCDIR");
	const char *self = __FILE__, *tail = strstr(self, "tests/unit/test_policy.c");

	if (dir)
		snprintf(buf, sizeof(buf), "%s/examples/policy.json", dir);
	else
		snprintf(buf, sizeof(buf), "%.*sexamples/policy.json",
			 tail ? (int)(tail - self) : 0, self);
	return buf;
}

static int parse(const char *text, struct lb_policy **p, struct lb_err *err)
{
	*p = NULL;
	memset(err, 0, sizeof(*err));
	return policy_parse(text, strlen(text), "p.json", p, err);
}

static void test_example(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err = { "" };
	char net[64];
	int ret;

	ret = policy_load_file(example_path(), &p, &err);
	if (!ASSERT_OK(ret, err.msg) || !ASSERT_OK_PTR(p, "policy"))
		return;
	ASSERT_EQ(p->default_action, LB_ACT_DENY, "default");
	ASSERT_EQ(p->n_failsafe, 1, "failsafe entries");
	cidr_format(&p->failsafe[0].src, net, sizeof(net));
	ASSERT_TRUE(!strcmp(net, "198.18.0.0/24"), "failsafe src");
	ASSERT_EQ(p->failsafe[0].proto, IPPROTO_TCP, "failsafe proto");
	ASSERT_EQ(p->failsafe[0].dport, 22, "failsafe port");
	if (!ASSERT_EQ(p->n_rules, 6, "rules"))
		goto out;
	ASSERT_EQ(p->rules[0].proto, IPPROTO_ICMP, "echo proto");
	ASSERT_EQ(p->rules[0].dport.lo, 8 << 8, "echo type lo");
	ASSERT_EQ(p->rules[0].dport.hi, 8 << 8 | 255, "echo type hi");
	ASSERT_EQ(p->rules[1].dport.lo, 128 << 8, "echov6 type");
	ASSERT_EQ(p->rules[4].action, LB_ACT_AUDIT, "audit");
	ASSERT_EQ(p->rules[5].proto, IPPROTO_UDP, "udp");
	ASSERT_EQ(p->rules[5].src.plen, 24, "deny src");
	ASSERT_EQ(p->rules[5].idx, 5, "idx");
out:
	policy_free(p);
}

static const char *features_json =
	"{\"default\": \"allow\",\n"
	" \"comment\": \"everything\",\n"
	" \"interfaces\": {\"veth-a\": {\"default\": \"deny\"},\n"
	"                \"eth0.100\": {\"default\": \"allow\", \"comment\": \"vlan\"}},\n"
	" \"failsafe\": [{\"src\": \"any\", \"proto\": \"tcp\", \"dport\": 22},\n"
	"              {\"src\": \"2001:db8::/32\"},\n"
	"              {\"src\": \"198.18.0.7\", \"proto\": \"udp\"}],\n"
	" \"rules\": [\n"
	"  {\"id\": \"r0\", \"src\": \"198.18.0.0/16\", \"dst\": \"198.18.1.1\",\n"
	"   \"proto\": \"tcp\",\n"
	"   \"dport\": \"1000-2000\", \"sport\": 53, \"priority\": 7, \"action\": \"deny\"},\n"
	"  {\"id\": \"Rule_1.a:b-c\", \"proto\": 47, \"action\": \"audit\",\n"
	"   \"comment\": \"gre\"},\n"
	"  {\"id\": \"r2\", \"src\": \"2001:db8::/32\", \"proto\": \"icmpv6\", \"icmp_type\": 1,\n"
	"   \"icmp_code\": 4, \"action\": \"allow\"},\n"
	"  {\"id\": \"r3\", \"proto\": \"udp\", \"dport\": \"53\", \"sport\": \"0-1023\",\n"
	"   \"action\": \"allow\"},\n"
	"  {\"id\": \"r4\", \"dst\": \"any\", \"proto\": 1, \"icmp_type\": 3,\n"
	"   \"action\": \"deny\"},\n"
	"  {\"id\": \"r5\", \"action\": \"deny\", \"priority\": 0}\n"
	" ]}\n";

static void check_features(const struct lb_policy *p)
{
	const struct lb_rule *r = p->rules;

	ASSERT_EQ(p->default_action, LB_ACT_ALLOW, "default");
	if (!ASSERT_EQ(p->n_ifaces, 2, "ifaces") || !ASSERT_EQ(p->n_rules, 6, "rules"))
		return;
	ASSERT_STR_CONTAINS(p->ifaces[1].name, "eth0.100", "iface name");
	ASSERT_EQ(p->ifaces[0].action, LB_ACT_DENY, "iface default");
	ASSERT_EQ(p->n_failsafe, 3, "failsafe");
	ASSERT_EQ(p->failsafe[0].src.family, 0, "failsafe any");
	ASSERT_EQ(p->failsafe[1].proto, 0, "failsafe proto any");
	ASSERT_EQ(p->failsafe[2].src.plen, 32, "failsafe host");
	ASSERT_EQ(r[0].dport.lo, 1000, "dport lo");
	ASSERT_EQ(r[0].dport.hi, 2000, "dport hi");
	ASSERT_EQ(r[0].sport.lo, 53, "sport");
	ASSERT_EQ(r[0].dst.plen, 32, "dst host");
	ASSERT_EQ(r[0].priority, 7, "priority");
	ASSERT_EQ(r[1].proto, 47, "numeric proto");
	ASSERT_EQ(r[1].priority, LB_PRIO_DEFAULT, "default priority");
	ASSERT_EQ(r[1].dport.hi, 65535, "any port");
	ASSERT_EQ(r[2].src.family, 6, "v6");
	ASSERT_EQ(r[2].dport.lo, 1 << 8 | 4, "type/code lo");
	ASSERT_EQ(r[2].dport.hi, 1 << 8 | 4, "type/code hi");
	ASSERT_EQ(r[3].dport.lo, 53, "string port");
	ASSERT_EQ(r[3].sport.hi, 1023, "sport range");
	ASSERT_EQ(r[4].dport.lo, 3 << 8, "numeric icmp");
	ASSERT_EQ(r[4].dport.hi, 3 << 8 | 255, "type only");
	ASSERT_EQ(r[5].proto, LB_PROTO_ANY, "any proto");
	ASSERT_EQ(r[5].src.family, 0, "any src");
}

static void test_features(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err;

	if (!ASSERT_OK(parse(features_json, &p, &err), err.msg))
		return;
	check_features(p);
	policy_free(p);
}

static void test_minimal(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err;

	if (!ASSERT_OK(parse("{\"default\": \"deny\"}", &p, &err), err.msg))
		return;
	ASSERT_EQ(p->n_rules, 0, "no rules");
	ASSERT_EQ(p->default_action, LB_ACT_DENY, "default");
	policy_free(p);
	if (!ASSERT_OK(parse("{\"default\": \"allow\", \"rules\": [], \"failsafe\": [], "
			     "\"interfaces\": {}}", &p, &err), err.msg))
		return;
	policy_free(p);
}

struct bad_case {
	const char *json;
	const char *msg;	/* the whole message */
};

#define RULE(body) "{\"default\": \"deny\", \"rules\": [" body "]}"
#define R(fields) RULE("{\"id\": \"a\", \"action\": \"deny\", " fields "}")

static const struct bad_case bad_cases[] = {
	/* syntax, with jansson's line:column */
	{ "{\n  \"default\": \"deny\",\n  \"rules\": [,]\n}",
	  "p.json:3:13: invalid JSON: unexpected token near ','" },
	{ "{\"default\": \"deny\", \"default\": \"allow\"}",
	  "p.json:1:29: invalid JSON: duplicate object key near '\"default\"'" },
	{ "{\"default\": \"deny\"} x", "p.json:1:21: invalid JSON: end of file expected near 'x'" },
	{ "   \n", "p.json: empty file" },
	/* structure */
	{ "[]", "p.json: $: expected an object, got []" },
	{ "{\"rules\": []}", "p.json: $: missing \"default\" (allow or deny)" },
	{ "{\"default\": \"deny\", \"rulez\": []}",
	  "p.json: $: unknown key \"rulez\" (known keys: default, interfaces, failsafe, rules, "
	  "comment)" },
	{ R("\"acton\": \"x\""),
	  "p.json: $.rules[0]: unknown key \"acton\" (known keys: id, action, priority, src, dst, "
	  "proto, dport, sport, icmp_type, icmp_code, comment)" },
	{ "{\"default\": \"deny\", \"rules\": {}}", "p.json: $.rules: expected an array, got {}" },
	{ RULE("7"), "p.json: $.rules[0]: expected an object, got 7" },
	{ RULE("{\"action\": \"deny\"}"),
	  "p.json: $.rules[0]: missing \"id\" (a unique name for the rule)" },
	{ RULE("{\"id\": \"a\"}"),
	  "p.json: $.rules[0]: missing \"action\" (allow, deny or audit)" },
	/* types and values */
	{ R("\"priority\": \"high\""),
	  "p.json: $.rules[0].priority: expected an integer 0-65535, got \"high\"" },
	{ R("\"priority\": 1.5"),
	  "p.json: $.rules[0].priority: expected an integer 0-65535, got 1.5" },
	{ R("\"comment\": 1"), "p.json: $.rules[0].comment: expected a string, got 1" },
	{ RULE("{\"id\": \"a b\", \"action\": \"deny\"}"),
	  "p.json: $.rules[0].id: \"a b\" is not a valid id (1-63 of A-Z a-z 0-9 _ . : -)" },
	{ RULE("{\"id\": \"\", \"action\": \"deny\"}"),
	  "p.json: $.rules[0].id: \"\" is not a valid id (1-63 of A-Z a-z 0-9 _ . : -)" },
	{ RULE("{\"id\": \"a\", \"action\": \"deny\"}, {\"id\": \"b\", \"action\": \"deny\"}, "
	       "{\"id\": \"a\", \"action\": \"allow\"}"),
	  "p.json: $.rules[2].id: duplicate id \"a\" (first at $.rules[0])" },
	{ RULE("{\"id\": \"a\", \"action\": \"permit\"}"),
	  "p.json: $.rules[0].action: \"permit\" is not one of allow, deny, audit" },
	{ "{\"default\": \"audit\"}", "p.json: $.default: \"audit\" is not one of allow, deny" },
	{ "{\"default\": true}", "p.json: $.default: expected one of allow, deny, got true" },
	{ R("\"proto\": \"tpc\""),
	  "p.json: $.rules[0].proto: \"tpc\" is not one of tcp, udp, icmp, icmpv6, any, or a "
	  "number 0-255" },
	{ R("\"proto\": 256"), "p.json: $.rules[0].proto: 256 is out of range 0-255" },
	/* addresses */
	{ R("\"src\": \"198.18.0.300/24\""),
	  "p.json: $.rules[0].src: \"198.18.0.300/24\" is not an IPv4 or IPv6 address or prefix "
	  "(ADDR/LEN), or \"any\"" },
	{ R("\"dst\": \"198.18.0.0/33\""),
	  "p.json: $.rules[0].dst: \"198.18.0.0/33\" is not an IPv4 or IPv6 address or prefix "
	  "(ADDR/LEN), or \"any\"" },
	{ R("\"dst\": \"2001:db8::/129\""),
	  "p.json: $.rules[0].dst: \"2001:db8::/129\" is not an IPv4 or IPv6 address or prefix "
	  "(ADDR/LEN), or \"any\"" },
	{ R("\"src\": \"198.18.0.0/\""),
	  "p.json: $.rules[0].src: \"198.18.0.0/\" is not an IPv4 or IPv6 address or prefix "
	  "(ADDR/LEN), or \"any\"" },
	{ R("\"src\": 5"),
	  "p.json: $.rules[0].src: expected an address, a prefix or \"any\", got 5" },
	{ R("\"src\": \"198.18.0.1/24\""),
	  "p.json: $.rules[0].src: \"198.18.0.1/24\" has host bits set; did you mean "
	  "198.18.0.0/24?" },
	{ R("\"dst\": \"2001:db8::1/32\""),
	  "p.json: $.rules[0].dst: \"2001:db8::1/32\" has host bits set; did you mean "
	  "2001:db8::/32?" },
	{ R("\"src\": \"198.18.0.0/24\", \"dst\": \"2001:db8::/32\""),
	  "p.json: $.rules[0].dst: \"2001:db8::/32\" is IPv6 but src \"198.18.0.0/24\" is IPv4" },
	{ R("\"src\": \"2001:db8::/32\", \"proto\": \"icmp\""),
	  "p.json: $.rules[0].proto: \"icmp\" is IPv4's but src \"2001:db8::/32\" is IPv6; use "
	  "\"icmpv6\"" },
	{ R("\"dst\": \"198.18.0.1\", \"proto\": \"icmpv6\""),
	  "p.json: $.rules[0].proto: \"icmpv6\" is IPv6's but dst \"198.18.0.1\" is IPv4; use "
	  "\"icmp\"" },
	/* ports */
	{ R("\"proto\": \"tcp\", \"dport\": 70000"),
	  "p.json: $.rules[0].dport: 70000 is out of range 0-65535" },
	{ R("\"proto\": \"tcp\", \"dport\": \"80-\""),
	  "p.json: $.rules[0].dport: \"80-\" is not a port (0-65535) or a port range \"N-M\"" },
	{ R("\"proto\": \"tcp\", \"dport\": \" 80\""),
	  "p.json: $.rules[0].dport: \" 80\" is not a port (0-65535) or a port range \"N-M\"" },
	{ R("\"proto\": \"tcp\", \"sport\": \"1-65536\""),
	  "p.json: $.rules[0].sport: \"1-65536\" is not a port (0-65535) or a port range \"N-M\"" },
	{ R("\"proto\": \"tcp\", \"dport\": true"),
	  "p.json: $.rules[0].dport: expected a port or a range \"N-M\", got true" },
	{ R("\"proto\": \"udp\", \"dport\": \"70-20\""),
	  "p.json: $.rules[0].dport: port range \"70-20\" is reversed" },
	{ R("\"proto\": \"icmp\", \"dport\": 80"),
	  "p.json: $.rules[0].dport: ports need proto \"tcp\" or \"udp\", not \"icmp\"" },
	{ R("\"sport\": 80"),
	  "p.json: $.rules[0].sport: ports need proto \"tcp\" or \"udp\", not \"any\"" },
	/* ICMP */
	{ R("\"proto\": \"icmp\", \"icmp_code\": 1"),
	  "p.json: $.rules[0].icmp_code: needs \"icmp_type\"" },
	{ R("\"proto\": \"tcp\", \"icmp_type\": 8"),
	  "p.json: $.rules[0].icmp_type: needs proto \"icmp\" or \"icmpv6\", not \"tcp\"" },
	{ R("\"proto\": \"icmp\", \"icmp_type\": 256"),
	  "p.json: $.rules[0].icmp_type: 256 is out of range 0-255" },
	/* failsafe */
	{ "{\"default\": \"deny\", \"failsafe\": [{\"proto\": \"tcp\"}]}",
	  "p.json: $.failsafe[0]: missing \"src\" (a prefix, or \"any\")" },
	{ "{\"default\": \"deny\", \"failsafe\": [{\"src\": \"any\", \"proto\": \"icmp\"}]}",
	  "p.json: $.failsafe[0].proto: \"icmp\" is not one of tcp, udp, any" },
	{ "{\"default\": \"deny\", \"failsafe\": [{\"src\": \"any\", \"dport\": 22}]}",
	  "p.json: $.failsafe[0].dport: needs proto \"tcp\" or \"udp\"" },
	{ "{\"default\": \"deny\", \"failsafe\": [{\"src\": \"any\", \"proto\": \"tcp\", "
	  "\"dport\": 0}]}",
	  "p.json: $.failsafe[0].dport: 0 is out of range 1-65535" },
	/* interfaces */
	{ "{\"default\": \"deny\", \"interfaces\": {\"eth0/1\": {\"default\": \"deny\"}}}",
	  "p.json: $.interfaces[\"eth0/1\"]: \"eth0/1\" is not a valid interface name (1-15 "
	  "characters, no '/', ':' or whitespace)" },
	{ "{\"default\": \"deny\", \"interfaces\": "
	  "{\"abcdefghijklmnop\": {\"default\": \"deny\"}}}",
	  "p.json: $.interfaces.abcdefghijklmnop: \"abcdefghijklmnop\" is not a valid interface "
	  "name (1-15 characters, no '/', ':' or whitespace)" },
	{ "{\"default\": \"deny\", \"interfaces\": {\"a b\": {\"default\": \"deny\"}}}",
	  "p.json: $.interfaces[\"a b\"]: \"a b\" is not a valid interface name (1-15 characters, "
	  "no '/', ':' or whitespace)" },
	{ "{\"default\": \"deny\", \"interfaces\": {\"eth0\": {}}}",
	  "p.json: $.interfaces.eth0: missing \"default\" (allow or deny)" },
	{ "{\"default\": \"deny\", \"interfaces\": {\"eth0\": {\"default\": \"audit\"}}}",
	  "p.json: $.interfaces.eth0.default: \"audit\" is not one of allow, deny" },
	{ "{\"default\": \"deny\", \"interfaces\": {\"eth0\": {\"defualt\": \"deny\"}}}",
	  "p.json: $.interfaces.eth0: unknown key \"defualt\" (known keys: default, comment)" },
};

static void test_bad_inputs(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err;
	size_t i;
	char what[64];

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		ASSERT_EQ(parse(bad_cases[i].json, &p, &err), -EINVAL, what);
		ASSERT_TRUE(p == NULL, what);
		if (!tl_check(!strcmp(err.msg, bad_cases[i].msg), __FILE__, __LINE__, what,
			      err.msg))
			fprintf(stderr, "    expected: %s\n", bad_cases[i].msg);
		policy_free(p);
	}
}

/* A policy with n copies of one failsafe entry. */
static char *failsafe_json(int n, const char *src)
{
	char *buf = malloc(64 + (size_t)n * 80), *w = buf;
	int i;

	w += sprintf(w, "{\"default\": \"deny\", \"failsafe\": [");
	for (i = 0; i < n; i++)
		w += sprintf(w, "%s{\"src\": \"%s\", \"proto\": \"tcp\", \"dport\": %d}",
			     i ? ", " : "", src, 1000 + i);
	sprintf(w, "]}");
	return buf;
}

static void test_failsafe_limits(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err;
	char *text;

	text = failsafe_json(8, "198.18.0.0/24");
	ASSERT_OK(parse(text, &p, &err), "8 per prefix");
	policy_free(p);
	free(text);
	text = failsafe_json(9, "198.18.0.0/24");
	ASSERT_EQ(parse(text, &p, &err), -EINVAL, "9 per prefix");
	ASSERT_STR_CONTAINS(err.msg,
			    "p.json: $.failsafe[8].src: more than 8 failsafe entries for "
			    "\"198.18.0.0/24\"", "message");
	ASSERT_TRUE(p == NULL, "out untouched");
	free(text);
	text = failsafe_json(17, "any");
	ASSERT_EQ(parse(text, &p, &err), -EINVAL, "17 entries");
	ASSERT_STR_CONTAINS(err.msg, "p.json: $.failsafe: 17 entries, at most 16", "message");
	free(text);
}

static void test_too_many_rules(void)
{
	size_t n = LB_MAX_RULES + 1, i;
	char *text = malloc(64 + 2 * n), *w = text;
	struct lb_policy *p = NULL;
	struct lb_err err;

	w += sprintf(w, "{\"default\": \"deny\", \"rules\": [");
	for (i = 0; i < n; i++)
		w += sprintf(w, "%s0", i ? "," : "");
	sprintf(w, "]}");
	ASSERT_EQ(parse(text, &p, &err), -EINVAL, "too many");
	ASSERT_STR_CONTAINS(err.msg, "p.json: $.rules: 131073 rules, at most 131072", "message");
	free(text);
}

static void test_files(void)
{
	char path[] = "/tmp/lb_test_policy_XXXXXX";
	struct lb_policy *p = NULL;
	struct lb_err err;
	int fd;

	ASSERT_EQ(policy_load_file("/nonexistent/policy.json", &p, &err), -ENOENT, "missing");
	ASSERT_STR_CONTAINS(err.msg,
			    "cannot open /nonexistent/policy.json: No such file or directory",
			    "missing message");
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	ASSERT_EQ(policy_load_file(path, &p, &err), -EINVAL, "empty");
	ASSERT_STR_CONTAINS(err.msg, ": empty file", "empty message");
	/* Sparse: no disk space, but 64 MiB + 1 bytes to read. */
	ASSERT_OK(ftruncate(fd, (64 << 20) + 1), "ftruncate");
	ASSERT_EQ(policy_load_file(path, &p, &err), -EFBIG, "too large");
	ASSERT_STR_CONTAINS(err.msg, ": larger than 64 MiB", "large message");
	ASSERT_TRUE(p == NULL, "out untouched");
	close(fd);
	unlink(path);
}

static struct lb_tuple tuple(uint8_t family, const char *s, const char *d, uint8_t proto,
			     uint16_t sport, uint16_t dport)
{
	struct lb_tuple t = { .family = family, .proto = proto, .sport = sport, .dport = dport };
	struct lb_cidr c;

	if (cidr_parse(s, &c))
		memcpy(t.saddr, c.addr, 16);
	if (cidr_parse(d, &c))
		memcpy(t.daddr, c.addr, 16);
	return t;
}

static void test_matching(void)
{
	struct lb_policy *p = NULL;
	struct lb_err err;
	struct lb_tuple t;

	if (!ASSERT_OK(parse(features_json, &p, &err), err.msg))
		return;
	t = tuple(4, "198.18.7.7", "198.18.1.1", IPPROTO_TCP, 53, 1500);
	ASSERT_TRUE(rule_matches(&p->rules[0], &t), "r0 matches");
	t.dport = 2001;
	ASSERT_FALSE(rule_matches(&p->rules[0], &t), "r0 port");
	t = tuple(6, "2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 0, 1 << 8 | 4);
	ASSERT_TRUE(rule_matches(&p->rules[2], &t), "r2 type/code");
	ASSERT_FALSE(rule_matches(&p->rules[0], &t), "r0 v4 only");
	ASSERT_TRUE(rule_matches(&p->rules[5], &t), "any");
	ASSERT_TRUE(failsafe_matches(&p->failsafe[1], &t), "failsafe v6 any proto");
	t = tuple(4, "198.18.0.7", "198.18.0.1", IPPROTO_UDP, 9, 9);
	ASSERT_TRUE(failsafe_matches(&p->failsafe[2], &t), "failsafe host udp");
	ASSERT_FALSE(failsafe_matches(&p->failsafe[0], &t), "failsafe tcp 22");
	t.proto = IPPROTO_TCP;
	t.dport = 22;
	ASSERT_TRUE(failsafe_matches(&p->failsafe[0], &t), "failsafe any src");
	policy_free(p);
}

static void test_cidr_and_names(void)
{
	static const char *const good[] = { "198.18.0.0/15", "2001:db8::/32", "any",
					    "198.18.0.1/32", "::/0", "0.0.0.0/0" };
	struct lb_cidr c = { 0 }, d;
	enum lb_action a;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ASSERT_TRUE(cidr_parse(good[i], &c), good[i]);
		cidr_format(&c, buf, sizeof(buf));
		ASSERT_TRUE(!strcmp(buf, good[i]), "round trip");
	}
	ASSERT_TRUE(cidr_parse("198.18.0.1", &c) && c.plen == 32, "host");
	ASSERT_FALSE(cidr_parse("198.18.0.1/24", &c), "host bits");
	ASSERT_FALSE(cidr_parse("198.18.0.0/024", &c), "leading zero");
	ASSERT_FALSE(cidr_parse("198.18.0.0/-1", &c), "sign");
	ASSERT_TRUE(cidr_parse_masked("198.18.0.1/24", &c), "masked");
	cidr_format(&c, buf, sizeof(buf));
	ASSERT_TRUE(!strcmp(buf, "198.18.0.0/24"), "masked text");
	ASSERT_TRUE(cidr_parse("198.18.0.128/25", &d) && cidr_contains(&c, &d), "contains");
	ASSERT_FALSE(cidr_contains(&d, &c), "not contains");
	ASSERT_TRUE(action_parse("audit", &a) && a == LB_ACT_AUDIT, "parse audit");
	ASSERT_FALSE(action_parse("Allow", &a), "case");
	ASSERT_STR_CONTAINS(action_name(LB_ACT_DENY), "deny", "name");
	ASSERT_STR_CONTAINS(action_name((enum lb_action)9), "unknown", "bad name");
}

int main(void)
{
	RUN(test_example);
	RUN(test_features);
	RUN(test_minimal);
	RUN(test_bad_inputs);
	RUN(test_failsafe_limits);
	RUN(test_too_many_rules);
	RUN(test_files);
	RUN(test_matching);
	RUN(test_cidr_and_names);
	policy_free(NULL);
	return test_summary();
}
