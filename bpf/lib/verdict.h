/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * verdict.h - the verdict each reason implies, from the one table.
 *
 * API:
 *   enum lb_verdict lb_reason_verdict(__u32 reason)
 *   struct lb_decision	what a stage decided: the reason, and the rule
 *			behind it (LB_RULE_NONE when no rule decided)
 *
 * Built from LB_REASON_TABLE as a switch, so the table in lb_reasons.h stays
 * the only place a verdict is written down and no .rodata map is needed.
 */
#ifndef LB_BPF_VERDICT_H
#define LB_BPF_VERDICT_H

#include "lb_fw.h"

struct lb_decision {
	__u32 reason;		/* enum lb_reason */
	__u32 rule_idx;		/* LB_RULE_NONE unless a rule decided */
};

static __always_inline enum lb_verdict lb_reason_verdict(__u32 reason)
{
	switch (reason) {
#define LB_X_VERDICT(e, n, v, name, desc)                                                          \
	case e:                                                                                    \
		return LB_VERDICT_##v;
		LB_REASON_TABLE(LB_X_VERDICT)
#undef LB_X_VERDICT
	}
	/* Unreachable with the reasons we set; fail closed if it ever is not. */
	return LB_VERDICT_DROP;
}

#endif /* LB_BPF_VERDICT_H */
