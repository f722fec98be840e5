// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ct_gc.bpf.c - the conntrack collector, a bpf_timer that lives in the kernel.
 *
 * lbagent runs lb_ct_gc_arm once (BPF_PROG_TEST_RUN) when it attaches; the
 * timer then fires every lb_config.gc_interval_ms, walks lb_ct_tcp,
 * lb_ct_other and lb_frags with bpf_for_each_map_elem and deletes what has
 * expired.  The timer sits in the pinned map lb_gc_timer and holds its own
 * program, so collection goes on when lbagent has exited.  Arming again only
 * restarts the period (bpf_timer_init says -EBUSY the second time).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"

struct lb_gc_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_gc_timer);
	__uint(max_entries, 1);
	LB_PIN;
} lb_gc_timer SEC(".maps");

struct gc_walk {
	__u64 now;
	__u64 deleted;
};

static long ct_expired(struct bpf_map *map, struct lb_ct_key *key, struct lb_ct_val *val,
		       struct gc_walk *w)
{
	if (val->expires_ns <= w->now && !bpf_map_delete_elem(map, key))
		w->deleted++;
	return 0;
}

static long frag_expired(struct bpf_map *map, struct lb_frag_key *key, struct lb_frag_val *val,
			 struct gc_walk *w)
{
	if (val->seen_ns + LB_FRAG_TIMEOUT_NS <= w->now && !bpf_map_delete_elem(map, key))
		w->deleted++;
	return 0;
}

static __u64 gc_period_ns(void)
{
	struct lb_config *cfg;
	__u32 zero = 0;
	__u64 ms;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	ms = cfg && cfg->gc_interval_ms ? cfg->gc_interval_ms : LB_GC_DEFAULT_MS;
	return ms * 1000000ULL;
}

static int gc_run(void *map, __u32 *key, struct lb_gc_timer *t)
{
	struct gc_walk w = { .now = bpf_ktime_get_ns() };
	struct lb_gc_stats *st;
	__u32 zero = 0;

	bpf_for_each_map_elem(&lb_ct_tcp, ct_expired, &w, 0);
	bpf_for_each_map_elem(&lb_ct_other, ct_expired, &w, 0);
	bpf_for_each_map_elem(&lb_frags, frag_expired, &w, 0);
	st = bpf_map_lookup_elem(&lb_gc_stats, &zero);
	if (st) {
		__sync_fetch_and_add(&st->runs, 1);
		__sync_fetch_and_add(&st->deleted, w.deleted);
		st->last_run_ns = w.now;
	}
	bpf_timer_start(&t->timer, gc_period_ns(), 0);
	return 0;
}

SEC("xdp")
int lb_ct_gc_arm(struct xdp_md *ctx)
{
	struct lb_gc_timer *t;
	__u32 zero = 0;
	long r;

	t = bpf_map_lookup_elem(&lb_gc_timer, &zero);
	if (!t)
		return 1;
	r = bpf_timer_init(&t->timer, &lb_gc_timer, 1 /* CLOCK_MONOTONIC */);
	if (r && r != -16 /* -EBUSY: armed before */)
		return 1;
	if (bpf_timer_set_callback(&t->timer, gc_run))
		return 1;
	return bpf_timer_start(&t->timer, gc_period_ns(), 0) ? 1 : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
