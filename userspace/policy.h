/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy.h - the firewall policy: JSON text -> validated struct lb_policy.
 *
 * policy_parse() does no I/O (a fuzz target can call it); policy_load_file()
 * reads a file and calls it.  Errors name the file, the line:column (syntax)
 * or the JSON path (semantics, e.g. "$.rules[3].dport"), and quote the value.
 * The schema is documented in README.md, section "Policy file".
 */
#ifndef LB_POLICY_H
#define LB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lb_fw.h"
#include "lberr.h"

struct lb_cidr {
	uint8_t family;		/* 4 or 6; 0 = any address of either family */
	uint8_t plen;		/* prefix length */
	uint8_t addr[16];	/* network order, host bits zero; IPv4 in the first 4 */
};

struct lb_range {
	uint16_t lo, hi;	/* inclusive; 0..65535 = any */
};

#define LB_PROTO_ANY (-1)

struct lb_rule {
	char *id;		/* unique name, reported in stats and events */
	uint32_t idx;		/* position in the file: hit counters and events use it */
	uint32_t priority;	/* lower first; default LB_PRIO_DEFAULT */
	struct lb_cidr src;	/* family 0: any */
	struct lb_cidr dst;
	int proto;		/* LB_PROTO_ANY or 0..255 */
	struct lb_range dport;	/* ICMP/ICMPv6: (type << 8 | code) range */
	struct lb_range sport;	/* ICMP/ICMPv6: 0..65535 (packets carry 0; see README.md, "Policy file") */
	enum lb_action action;
};

#define LB_PRIO_DEFAULT 1000

struct lb_failsafe {
	struct lb_cidr src;	/* family 0 = any source */
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP, or 0 = any */
	uint16_t dport;		/* 0 = any */
};

struct lb_iface_default {
	char *name;
	enum lb_action action;
};

struct lb_policy {
	enum lb_action default_action;		/* interfaces not listed below */
	struct lb_iface_default *ifaces;
	size_t n_ifaces;
	struct lb_rule *rules;
	size_t n_rules;
	struct lb_failsafe *failsafe;
	size_t n_failsafe;
};

/* 0 or -EINVAL/-ENOMEM with err filled; *out untouched on failure. */
int policy_parse(const char *text, size_t len, const char *fname, struct lb_policy **out,
		 struct lb_err *err);
int policy_load_file(const char *path, struct lb_policy **out, struct lb_err *err);
/* The file's bytes (at most 64 MiB), for callers that keep what they parsed. */
int policy_read_file(const char *path, char **text, size_t *len, struct lb_err *err);
void policy_free(struct lb_policy *p);

/* Does rule r match this tuple (addresses in network order, ports host order)? */
struct lb_tuple {
	uint8_t family;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint8_t proto;
	uint16_t sport;		/* ICMP: 0 */
	uint16_t dport;		/* ICMP: type << 8 | code */
};
bool rule_matches(const struct lb_rule *r, const struct lb_tuple *t);
bool failsafe_matches(const struct lb_failsafe *f, const struct lb_tuple *t);

/* Names for actions: "allow", "deny", "audit". */
const char *action_name(enum lb_action a);
bool action_parse(const char *s, enum lb_action *out);

/* Text form of a CIDR ("198.18.0.0/15", "2001:db8::/32", "any"). */
void cidr_format(const struct lb_cidr *c, char *buf, size_t len);
/* "any", "ADDR" (a host) or "ADDR/LEN"; false when host bits are set. */
bool cidr_parse(const char *s, struct lb_cidr *out);
/* The same, but clears host bits instead of refusing them. */
bool cidr_parse_masked(const char *s, struct lb_cidr *out);
/* Is inner inside outer?  "any" (family 0) contains everything. */
bool cidr_contains(const struct lb_cidr *outer, const struct lb_cidr *inner);
/* Does addr (family 4 or 6, network order) fall inside c? */
bool cidr_match(const struct lb_cidr *c, unsigned int family, const uint8_t *addr);
/* 32, 128, or 0 for family 0. */
unsigned int cidr_max_plen(unsigned int family);
/* Do the first plen bits of two addresses agree? */
bool addr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int plen);

#endif
