/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * compile.h - struct lb_policy -> map contents for one policy copy.
 *
 * The classifier (lb_fw.h) gives each distinct source prefix, destination
 * prefix, protocol set, destination-port interval and source-port interval
 * a class number, then stores one rule entry per class combination covered by
 * some rule, holding the rule that wins there.  Precedence (README "Rule
 * precedence"): lower priority number; then longer source prefix; longer
 * destination prefix ("any" counts as shorter than /0); named protocol over
 * any; narrower destination port range; narrower source port range; earlier
 * in the file.
 *
 * compiled_classify() evaluates a tuple against the compiled tables exactly as
 * the datapath does; tests and `policy apply --dry-run` use it, and so does the
 * failsafe/lockout check.
 */
#ifndef LB_COMPILE_H
#define LB_COMPILE_H

#include "policy.h"

struct lb_prefix_cls {
	struct lb_cidr cidr;	/* family 4 or 6 */
	uint32_t cls;
};

struct lb_rule_entry {
	struct lb_rule_key key;	/* key.copy = 0; the writer sets the copy */
	struct lb_rule_val val;
};

struct lb_fs_prefix {
	struct lb_cidr cidr;	/* family 4 or 6 */
	struct lb_failsafe_val val;
};

struct lb_compiled {
	struct lb_prefix_cls *src, *dst;	/* always hold 0.0.0.0/0 and ::/0 */
	size_t n_src, n_dst;
	uint32_t proto_cls[LB_PROTO_SPACE];
	uint32_t *dport_cls;			/* LB_PORT_SPACE entries */
	uint32_t *sport_cls;			/* LB_PORT_SPACE entries */
	struct lb_rule_entry *entries;		/* sorted by key */
	size_t n_entries;
	struct lb_fs_prefix *fs;
	size_t n_fs;
	uint32_t n_src_cls, n_dst_cls, n_proto_cls, n_dport_cls, n_sport_cls;
	uint32_t n_rules;			/* rule_idx < n_rules: hit counters to reset */
};

/* 0, or -E2BIG (too many entries for the maps) / -ENOMEM with err filled. */
int policy_compile(const struct lb_policy *p, struct lb_compiled **out, struct lb_err *err);
void compiled_free(struct lb_compiled *c);

/*
 * Evaluate like the datapath's rule stage.  Returns true and fills *val when
 * a rule matches, false when the default applies.
 */
bool compiled_classify(const struct lb_compiled *c, const struct lb_tuple *t,
		       struct lb_rule_val *val);
/* True when the compiled failsafe lets this tuple through. */
bool compiled_failsafe(const struct lb_compiled *c, const struct lb_tuple *t);

#endif
