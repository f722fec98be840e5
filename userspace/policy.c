// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policy.c - the policy file: JSON text -> validated struct lb_policy.
 *
 * The schema is in README.md, "Policy file".  Every error is one line that names the
 * file and either the line:column (syntax, from jansson) or the JSON path of
 * the offending value (semantics), and quotes that value, e.g.
 *
 *   policy.json: $.rules[3].dport: port range "70-20" is reversed
 *
 * Unknown keys are errors everywhere: a typo such as "acton" must not turn a
 * deny rule into a rule that silently does something else.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "policy.h"

#define POLICY_MAX_BYTES (64U << 20)
#define RULE_ID_MAX 63

struct pctx {
	const char *fname;
	struct lb_err *err;
	json_t *ids;		/* rule id -> index in the file, to catch duplicates */
};

/* Short text forms, returned by value so they can sit inside a printf call. */
struct qtext {
	char s[96];
};

/* ---- error text helpers ---- */

static int perr(const struct pctx *x, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(const struct pctx *x, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lb_errf(x->err, EINVAL, "%s: %s: %s", x->fname, path, msg);
	return -EINVAL;
}

static int nomem(const struct pctx *x)
{
	lb_errf(x->err, ENOMEM, "%s: out of memory", x->fname);
	return -ENOMEM;
}

/* A value as compact JSON ("permit", 70000, true), cut short with "..." if long. */
static struct qtext jq(const json_t *v)
{
	struct qtext q;
	size_t n = json_dumpb(v, q.s, sizeof(q.s) - 1, JSON_ENCODE_ANY | JSON_COMPACT);

	if (n == 0)
		snprintf(q.s, sizeof(q.s), "(unprintable)");
	else if (n > sizeof(q.s) - 1)
		memcpy(q.s + sizeof(q.s) - 4, "...", 4);
	else
		q.s[n] = '\0';
	return q;
}

/* A C string quoted as JSON. */
static struct qtext qstr(const char *s)
{
	json_t *v = json_string(s);
	struct qtext q;

	if (!v) {
		snprintf(q.s, sizeof(q.s), "\"%.80s\"", s);
		return q;
	}
	q = jq(v);
	json_decref(v);
	return q;
}

static bool is_ident(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* "$.rules[3]" + "dport" -> "$.rules[3].dport"; odd keys as ["key"]. */
static struct qtext at(const char *obj, const char *key)
{
	struct qtext p;
	int n;

	if (is_ident(key))
		n = snprintf(p.s, sizeof(p.s), "%s.%s", obj, key);
	else
		n = snprintf(p.s, sizeof(p.s), "%s[%s]", obj, qstr(key).s);
	if (n >= (int)sizeof(p.s))
		memcpy(p.s + sizeof(p.s) - 4, "...", 4);
	return p;
}

static struct qtext at_idx(const char *obj, size_t i)
{
	struct qtext p;

	snprintf(p.s, sizeof(p.s), "%s[%zu]", obj, i);
	return p;
}

/* ---- generic field checks ---- */

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void join(const char *const *list, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; *list && off < len; list++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", *list);
}

static int check_keys(const struct pctx *x, const char *path, json_t *obj,
		      const char *const *known)
{
	const char *key;
	json_t *v;
	char names[200];

	json_object_foreach(obj, key, v) {
		if (in_list(key, known))
			continue;
		join(known, names, sizeof(names));
		return perr(x, path, "unknown key %s (known keys: %s)", qstr(key).s, names);
	}
	return 0;
}

static int need_object(const struct pctx *x, const char *path, const json_t *v)
{
	if (json_is_object(v))
		return 0;
	return perr(x, path, "expected an object, got %s", jq(v).s);
}

static int get_uint(const struct pctx *x, const char *path, const json_t *v, unsigned int lo,
		    unsigned int hi, unsigned int *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return perr(x, path, "expected an integer %u-%u, got %s", lo, hi, jq(v).s);
	n = json_integer_value(v);
	if (n < lo || n > hi)
		return perr(x, path, "%s is out of range %u-%u", jq(v).s, lo, hi);
	*out = (unsigned int)n;
	return 0;
}

static int check_comment(const struct pctx *x, const char *obj, json_t *o)
{
	json_t *v = json_object_get(o, "comment");

	if (!v || json_is_string(v))
		return 0;
	return perr(x, at(obj, "comment").s, "expected a string, got %s", jq(v).s);
}

/* ---- value parsers ---- */

static int get_action(const struct pctx *x, const char *path, const json_t *v, bool audit_ok,
		      enum lb_action *out)
{
	const char *names = audit_ok ? "allow, deny, audit" : "allow, deny";
	enum lb_action a;

	if (!json_is_string(v))
		return perr(x, path, "expected one of %s, got %s", names, jq(v).s);
	if (!action_parse(json_string_value(v), &a) || (a == LB_ACT_AUDIT && !audit_ok))
		return perr(x, path, "%s is not one of %s", jq(v).s, names);
	*out = a;
	return 0;
}

static int get_cidr(const struct pctx *x, const char *path, const json_t *v, struct lb_cidr *out)
{
	struct lb_cidr c;
	char net[64];

	if (!json_is_string(v))
		return perr(x, path, "expected an address, a prefix or \"any\", got %s", jq(v).s);
	if (cidr_parse(json_string_value(v), out))
		return 0;
	if (cidr_parse_masked(json_string_value(v), &c)) {
		cidr_format(&c, net, sizeof(net));
		return perr(x, path, "%s has host bits set; did you mean %s?", jq(v).s, net);
	}
	return perr(x, path, "%s is not an IPv4 or IPv6 address or prefix (ADDR/LEN), or \"any\"",
		    jq(v).s);
}

/* Up to 5 decimal digits, at most 65535; advances *s. */
static bool parse_port(const char **s, unsigned int *out)
{
	unsigned int v = 0, n = 0;

	while (**s >= '0' && **s <= '9' && n < 6) {
		v = v * 10 + (unsigned int)(*(*s)++ - '0');
		n++;
	}
	if (n == 0 || n > 5 || v > 65535)
		return false;
	*out = v;
	return true;
}

/* N, "N" or "N-M". */
static int get_port_range(const struct pctx *x, const char *path, const json_t *v,
			  struct lb_range *out)
{
	unsigned int lo, hi;
	const char *s;

	if (json_is_integer(v)) {
		if (get_uint(x, path, v, 0, 65535, &lo))
			return -EINVAL;
		*out = (struct lb_range){ (uint16_t)lo, (uint16_t)lo };
		return 0;
	}
	if (!json_is_string(v))
		return perr(x, path, "expected a port or a range \"N-M\", got %s", jq(v).s);
	s = json_string_value(v);
	if (!parse_port(&s, &lo))
		goto bad;
	hi = lo;
	if (*s == '-') {
		s++;
		if (!parse_port(&s, &hi))
			goto bad;
	}
	if (*s)
		goto bad;
	if (lo > hi)
		return perr(x, path, "port range %s is reversed", jq(v).s);
	*out = (struct lb_range){ (uint16_t)lo, (uint16_t)hi };
	return 0;
bad:
	return perr(x, path, "%s is not a port (0-65535) or a port range \"N-M\"", jq(v).s);
}

static const struct {
	const char *name;
	int proto;
} proto_names[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "any", LB_PROTO_ANY },
};

/* "tcp", "any", "47": for messages about the rule's protocol. */
static struct qtext proto_text(int proto)
{
	struct qtext q;
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].proto == proto)
			return qstr(proto_names[i].name);
	snprintf(q.s, sizeof(q.s), "%d", proto);
	return q;
}

static int get_proto(const struct pctx *x, const char *path, const json_t *v, int *out)
{
	unsigned int n = 0;
	size_t i;

	if (json_is_integer(v)) {
		if (get_uint(x, path, v, 0, 255, &n))
			return -EINVAL;
		*out = (int)n;
		return 0;
	}
	if (!json_is_string(v))
		goto bad;
	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
		if (!strcmp(json_string_value(v), proto_names[i].name)) {
			*out = proto_names[i].proto;
			return 0;
		}
	}
bad:
	return perr(x, path, "%s is not one of tcp, udp, icmp, icmpv6, any, or a number 0-255",
		    jq(v).s);
}

/* ---- rules ---- */

static const char *const rule_keys[] = {
	"id", "action", "priority", "src", "dst", "proto", "dport", "sport",
	"icmp_type", "icmp_code", "comment", NULL,
};

static bool id_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == ':' || c == '-';
}

static int rule_id(struct pctx *x, const char *obj, json_t *o, size_t idx, char **out)
{
	json_t *v = json_object_get(o, "id"), *prev;
	struct qtext p = at(obj, "id");
	const char *s;
	size_t n;

	if (!v)
		return perr(x, obj, "missing \"id\" (a unique name for the rule)");
	if (!json_is_string(v))
		return perr(x, p.s, "expected a string, got %s", jq(v).s);
	s = json_string_value(v);
	for (n = 0; s[n] && id_char_ok(s[n]); n++)
		;
	if (s[n] || n == 0 || n > RULE_ID_MAX)
		return perr(x, p.s, "%s is not a valid id (1-%d of A-Z a-z 0-9 _ . : -)", jq(v).s,
			    RULE_ID_MAX);
	prev = json_object_get(x->ids, s);
	if (prev)
		return perr(x, p.s, "duplicate id %s (first at $.rules[%lld])", jq(v).s,
			    (long long)json_integer_value(prev));
	if (json_object_set_new(x->ids, s, json_integer((json_int_t)idx)))
		return nomem(x);
	*out = strdup(s);
	return *out ? 0 : nomem(x);
}

/* Optional field: absent leaves *out alone. */
static int opt_cidr(const struct pctx *x, const char *obj, json_t *o, const char *key,
		    struct lb_cidr *out)
{
	json_t *v = json_object_get(o, key);

	return v ? get_cidr(x, at(obj, key).s, v, out) : 0;
}

static int opt_range(const struct pctx *x, const char *obj, json_t *o, const char *key,
		     struct lb_range *out)
{
	json_t *v = json_object_get(o, key);

	return v ? get_port_range(x, at(obj, key).s, v, out) : 0;
}

static int opt_uint(const struct pctx *x, const char *obj, json_t *o, const char *key,
		    unsigned int hi, unsigned int *out)
{
	json_t *v = json_object_get(o, key);

	return v ? get_uint(x, at(obj, key).s, v, 0, hi, out) : 0;
}

static int rule_fields(const struct pctx *x, const char *obj, json_t *o, struct lb_rule *r)
{
	json_t *v = json_object_get(o, "action");
	int ret;

	if (!v)
		return perr(x, obj, "missing \"action\" (allow, deny or audit)");
	ret = get_action(x, at(obj, "action").s, v, true, &r->action);
	if (!ret)
		ret = opt_uint(x, obj, o, "priority", 65535, &r->priority);
	if (!ret)
		ret = opt_cidr(x, obj, o, "src", &r->src);
	if (!ret)
		ret = opt_cidr(x, obj, o, "dst", &r->dst);
	if (!ret && (v = json_object_get(o, "proto")))
		ret = get_proto(x, at(obj, "proto").s, v, &r->proto);
	if (!ret)
		ret = opt_range(x, obj, o, "dport", &r->dport);
	if (!ret)
		ret = opt_range(x, obj, o, "sport", &r->sport);
	return ret ? ret : check_comment(x, obj, o);
}

/* src and dst agree on the family, and so does an ICMP protocol. */
static int rule_families(const struct pctx *x, const char *obj, json_t *o, const struct lb_rule *r)
{
	const char *side4 = r->src.family == 4 ? "src" : r->dst.family == 4 ? "dst" : NULL;
	const char *side6 = r->src.family == 6 ? "src" : r->dst.family == 6 ? "dst" : NULL;

	if (side4 && side6)
		return perr(x, at(obj, "dst").s, "%s is IPv%u but src %s is IPv%u",
			    jq(json_object_get(o, "dst")).s, r->dst.family,
			    jq(json_object_get(o, "src")).s, r->src.family);
	if (r->proto == IPPROTO_ICMP && side6)
		return perr(x, at(obj, "proto").s,
			    "\"icmp\" is IPv4's but %s %s is IPv6; use \"icmpv6\"", side6,
			    jq(json_object_get(o, side6)).s);
	if (r->proto == IPPROTO_ICMPV6 && side4)
		return perr(x, at(obj, "proto").s,
			    "\"icmpv6\" is IPv6's but %s %s is IPv4; use \"icmp\"", side4,
			    jq(json_object_get(o, side4)).s);
	return 0;
}

static bool is_icmp(int proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* icmp_type/icmp_code become a range in the dport space: type << 8 | code. */
static int rule_icmp(const struct pctx *x, const char *obj, json_t *o, struct lb_rule *r)
{
	json_t *vt = json_object_get(o, "icmp_type"), *vc = json_object_get(o, "icmp_code");
	unsigned int type = 0, code = 0;

	if (vc && !vt)
		return perr(x, at(obj, "icmp_code").s, "needs \"icmp_type\"");
	if (!vt)
		return 0;
	if (!is_icmp(r->proto))
		return perr(x, at(obj, "icmp_type").s, "needs proto \"icmp\" or \"icmpv6\", not %s",
			    proto_text(r->proto).s);
	if (get_uint(x, at(obj, "icmp_type").s, vt, 0, 255, &type))
		return -EINVAL;
	if (vc && get_uint(x, at(obj, "icmp_code").s, vc, 0, 255, &code))
		return -EINVAL;
	r->dport.lo = (uint16_t)(type << 8 | (vc ? code : 0));
	r->dport.hi = (uint16_t)(type << 8 | (vc ? code : 255));
	return 0;
}

static int rule_checks(const struct pctx *x, const char *obj, json_t *o, struct lb_rule *r)
{
	static const char *const port_keys[] = { "dport", "sport" };
	size_t i;
	int ret;

	ret = rule_families(x, obj, o, r);
	if (ret)
		return ret;
	for (i = 0; i < 2; i++) {
		if (json_object_get(o, port_keys[i]) && r->proto != IPPROTO_TCP &&
		    r->proto != IPPROTO_UDP)
			return perr(x, at(obj, port_keys[i]).s,
				    "ports need proto \"tcp\" or \"udp\", not %s",
				    proto_text(r->proto).s);
	}
	return rule_icmp(x, obj, o, r);
}

static int parse_rule(struct pctx *x, json_t *o, size_t idx, struct lb_rule *out)
{
	struct lb_rule r = {
		.idx = (uint32_t)idx, .priority = LB_PRIO_DEFAULT, .proto = LB_PROTO_ANY,
		.dport = { 0, 65535 }, .sport = { 0, 65535 },
	};
	struct qtext obj = at_idx("$.rules", idx);
	int ret;

	ret = need_object(x, obj.s, o);
	if (!ret)
		ret = check_keys(x, obj.s, o, rule_keys);
	if (!ret)
		ret = rule_id(x, obj.s, o, idx, &r.id);
	if (!ret)
		ret = rule_fields(x, obj.s, o, &r);
	if (!ret)
		ret = rule_checks(x, obj.s, o, &r);
	if (ret) {
		free(r.id);
		return ret;
	}
	*out = r;
	return 0;
}

static int parse_rules(struct pctx *x, json_t *a, struct lb_policy *p)
{
	size_t i, n = json_array_size(a);
	int ret;

	if (!json_is_array(a))
		return perr(x, "$.rules", "expected an array, got %s", jq(a).s);
	if (n > LB_MAX_RULES)
		return perr(x, "$.rules", "%zu rules, at most %u", n, LB_MAX_RULES);
	p->rules = calloc(n ? n : 1, sizeof(*p->rules));
	if (!p->rules)
		return nomem(x);
	for (i = 0; i < n; i++) {
		ret = parse_rule(x, json_array_get(a, i), i, &p->rules[i]);
		if (ret)
			return ret;
		p->n_rules++;
	}
	return 0;
}

/* ---- failsafe ---- */

static const char *const fs_keys[] = { "src", "proto", "dport", "comment", NULL };

static int fs_proto(const struct pctx *x, const char *obj, json_t *o, struct lb_failsafe *f)
{
	json_t *v = json_object_get(o, "proto");
	const char *s = json_string_value(v);

	if (!v || (s && !strcmp(s, "any")))
		f->proto = 0;
	else if (s && !strcmp(s, "tcp"))
		f->proto = IPPROTO_TCP;
	else if (s && !strcmp(s, "udp"))
		f->proto = IPPROTO_UDP;
	else
		return perr(x, at(obj, "proto").s, "%s is not one of tcp, udp, any", jq(v).s);
	return 0;
}

static int fs_dport(const struct pctx *x, const char *obj, json_t *o, struct lb_failsafe *f)
{
	json_t *v = json_object_get(o, "dport");
	unsigned int port = 0;

	if (!v)
		return 0;
	if (!f->proto)
		return perr(x, at(obj, "dport").s, "needs proto \"tcp\" or \"udp\"");
	if (get_uint(x, at(obj, "dport").s, v, 1, 65535, &port))
		return -EINVAL;
	f->dport = (uint16_t)port;
	return 0;
}

static int parse_fs_entry(const struct pctx *x, json_t *o, size_t idx, struct lb_failsafe *out)
{
	struct qtext obj = at_idx("$.failsafe", idx);
	struct lb_failsafe f = { 0 };
	json_t *src = json_object_get(o, "src");
	int ret;

	ret = need_object(x, obj.s, o);
	if (!ret)
		ret = check_keys(x, obj.s, o, fs_keys);
	if (!ret && !src)
		ret = perr(x, obj.s, "missing \"src\" (a prefix, or \"any\")");
	if (!ret)
		ret = get_cidr(x, at(obj.s, "src").s, src, &f.src);
	if (!ret)
		ret = fs_proto(x, obj.s, o, &f);
	if (!ret)
		ret = fs_dport(x, obj.s, o, &f);
	if (!ret)
		ret = check_comment(x, obj.s, o);
	if (!ret)
		*out = f;
	return ret;
}

/* The datapath keeps LB_FAILSAFE_PER_PREFIX (proto, port) pairs per prefix. */
static int fs_check_per_prefix(const struct pctx *x, const struct lb_policy *p)
{
	size_t i, j, same;
	char net[64];

	for (i = 0; i < p->n_failsafe; i++) {
		for (same = 0, j = 0; j < i; j++)
			same += !memcmp(&p->failsafe[j].src, &p->failsafe[i].src,
					sizeof(struct lb_cidr));
		if (same < LB_FAILSAFE_PER_PREFIX)
			continue;
		cidr_format(&p->failsafe[i].src, net, sizeof(net));
		return perr(x, at(at_idx("$.failsafe", i).s, "src").s,
			    "more than %d failsafe entries for \"%s\"", LB_FAILSAFE_PER_PREFIX,
			    net);
	}
	return 0;
}

static int parse_failsafe(const struct pctx *x, json_t *a, struct lb_policy *p)
{
	size_t i, n = json_array_size(a);
	int ret;

	if (!json_is_array(a))
		return perr(x, "$.failsafe", "expected an array, got %s", jq(a).s);
	if (n > LB_FAILSAFE_MAX)
		return perr(x, "$.failsafe", "%zu entries, at most %d", n, LB_FAILSAFE_MAX);
	p->failsafe = calloc(n ? n : 1, sizeof(*p->failsafe));
	if (!p->failsafe)
		return nomem(x);
	for (i = 0; i < n; i++) {
		ret = parse_fs_entry(x, json_array_get(a, i), i, &p->failsafe[i]);
		if (ret)
			return ret;
		p->n_failsafe++;
	}
	return fs_check_per_prefix(x, p);
}

/* ---- interfaces ---- */

static const char *const iface_keys[] = { "default", "comment", NULL };

/* What the kernel's dev_valid_name() accepts, minus control characters. */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '/' || *s == ':')
			return false;
	return true;
}

static int parse_iface(const struct pctx *x, const char *name, json_t *o,
		       struct lb_iface_default *out)
{
	struct qtext obj = at("$.interfaces", name);
	json_t *v = json_object_get(o, "default");
	int ret;

	if (!ifname_ok(name))
		return perr(x, obj.s,
			    "%s is not a valid interface name (1-15 characters, no '/', ':' or "
			    "whitespace)", qstr(name).s);
	ret = need_object(x, obj.s, o);
	if (!ret)
		ret = check_keys(x, obj.s, o, iface_keys);
	if (!ret && !v)
		ret = perr(x, obj.s, "missing \"default\" (allow or deny)");
	if (!ret)
		ret = get_action(x, at(obj.s, "default").s, v, false, &out->action);
	if (!ret)
		ret = check_comment(x, obj.s, o);
	if (ret)
		return ret;
	out->name = strdup(name);
	return out->name ? 0 : nomem(x);
}

static int parse_ifaces(const struct pctx *x, json_t *o, struct lb_policy *p)
{
	const char *name;
	json_t *v;
	int ret;

	if (!json_is_object(o))
		return perr(x, "$.interfaces", "expected an object, got %s", jq(o).s);
	p->ifaces = calloc(json_object_size(o) + 1, sizeof(*p->ifaces));
	if (!p->ifaces)
		return nomem(x);
	json_object_foreach(o, name, v) {
		ret = parse_iface(x, name, v, &p->ifaces[p->n_ifaces]);
		if (ret)
			return ret;
		p->n_ifaces++;
	}
	return 0;
}

/* ---- the document ---- */

static const char *const top_keys[] = {
	"default", "interfaces", "failsafe", "rules", "comment", NULL,
};

static int parse_root(struct pctx *x, json_t *root, struct lb_policy *p)
{
	json_t *v = json_object_get(root, "default");
	int ret;

	if (!json_is_object(root))
		return perr(x, "$", "expected an object, got %s", jq(root).s);
	ret = check_keys(x, "$", root, top_keys);
	if (!ret && !v)
		ret = perr(x, "$", "missing \"default\" (allow or deny)");
	if (!ret)
		ret = get_action(x, "$.default", v, false, &p->default_action);
	if (!ret && (v = json_object_get(root, "interfaces")))
		ret = parse_ifaces(x, v, p);
	if (!ret && (v = json_object_get(root, "failsafe")))
		ret = parse_failsafe(x, v, p);
	if (!ret && (v = json_object_get(root, "rules")))
		ret = parse_rules(x, v, p);
	return ret ? ret : check_comment(x, "$", root);
}

static bool is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

static int load_json(const struct pctx *x, const char *text, size_t len, json_t **out)
{
	json_error_t je;

	if (!text || is_blank(text, len))
		return lb_errf(x->err, EINVAL, "%s: empty file", x->fname);
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (*out)
		return 0;
	if (json_error_code(&je) == json_error_out_of_memory)
		return nomem(x);
	return lb_errf(x->err, EINVAL, "%s:%d:%d: invalid JSON: %s", x->fname, je.line, je.column,
		       je.text);
}

int policy_parse(const char *text, size_t len, const char *fname, struct lb_policy **out,
		 struct lb_err *err)
{
	struct pctx x = { .fname = fname ? fname : "policy", .err = err };
	struct lb_policy *p = NULL;
	json_t *root = NULL;
	int ret;

	ret = load_json(&x, text, len, &root);
	if (ret)
		return ret;
	p = calloc(1, sizeof(*p));
	x.ids = json_object();
	ret = p && x.ids ? parse_root(&x, root, p) : nomem(&x);
	json_decref(x.ids);
	json_decref(root);
	if (ret) {
		policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

/* Reads all of fd, refusing more than POLICY_MAX_BYTES. */
static int read_all(int fd, const char *path, char **out, size_t *out_len, struct lb_err *err)
{
	size_t len = 0, cap = (size_t)64 << 10;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	while (buf) {
		if (len == cap) {
			nb = cap > POLICY_MAX_BYTES ? NULL : realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return lb_errf(err, errno, "reading %s: %s", path, strerror(errno));
		}
		len += (size_t)n;
		if (len > POLICY_MAX_BYTES) {
			free(buf);
			return lb_errf(err, EFBIG, "%s: larger than %u MiB", path,
				       POLICY_MAX_BYTES >> 20);
		}
		if (n == 0) {
			*out = buf;
			*out_len = len;
			return 0;
		}
	}
	free(buf);
	return lb_errf(err, ENOMEM, "reading %s: out of memory", path);
}

int policy_read_file(const char *path, char **text, size_t *len, struct lb_err *err)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lb_errf(err, errno, "cannot open %s: %s", path, strerror(errno));
	ret = read_all(fd, path, text, len, err);
	close(fd);
	return ret;
}

int policy_load_file(const char *path, struct lb_policy **out, struct lb_err *err)
{
	size_t len = 0;
	char *buf = NULL;
	int ret;

	ret = policy_read_file(path, &buf, &len, err);
	if (ret)
		return ret;
	ret = policy_parse(buf, len, path, out, err);
	free(buf);
	return ret;
}

void policy_free(struct lb_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_rules; i++)
		free(p->rules[i].id);
	for (i = 0; i < p->n_ifaces; i++)
		free(p->ifaces[i].name);
	free(p->rules);
	free(p->ifaces);
	free(p->failsafe);
	free(p);
}

/* ---- matching, names ---- */

static bool in_range(const struct lb_range *r, uint16_t v)
{
	return v >= r->lo && v <= r->hi;
}

bool rule_matches(const struct lb_rule *r, const struct lb_tuple *t)
{
	return cidr_match(&r->src, t->family, t->saddr) &&
	       cidr_match(&r->dst, t->family, t->daddr) &&
	       (r->proto == LB_PROTO_ANY || r->proto == t->proto) &&
	       in_range(&r->dport, t->dport) && in_range(&r->sport, t->sport);
}

/* As the datapath: a port only means something for TCP and UDP. */
bool failsafe_matches(const struct lb_failsafe *f, const struct lb_tuple *t)
{
	bool has_ports = t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP;

	return cidr_match(&f->src, t->family, t->saddr) && (!f->proto || f->proto == t->proto) &&
	       (!f->dport || (has_ports && f->dport == t->dport));
}

static const char *const action_names[] = {
	[LB_ACT_ALLOW] = "allow",
	[LB_ACT_DENY] = "deny",
	[LB_ACT_AUDIT] = "audit",
};

const char *action_name(enum lb_action a)
{
	if ((unsigned int)a < sizeof(action_names) / sizeof(action_names[0]))
		return action_names[a];
	return "unknown";
}

bool action_parse(const char *s, enum lb_action *out)
{
	unsigned int i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (s && !strcmp(s, action_names[i])) {
			*out = (enum lb_action)i;
			return true;
		}
	}
	return false;
}
