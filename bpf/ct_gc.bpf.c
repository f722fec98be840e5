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
 *
 * Each run also rebuilds the conntrack filter (lb_fw.h, lb_ct_filter): it
 * clears the half ingress does not read, sets the bits of the entries the
 * walk keeps, then points ingress at that half.  Arming rebuilds it at once,
 * for conntrack maps that outlived the filter.  One rebuild at a time: the
 * busy bit is taken with a compare-and-swap, and a run that finds it taken
 * only deletes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"
#include "lib/ct.h"

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
	bool expire;		/* delete what expired (not when arming) */
	bool rebuild;		/* set the kept entries' bits in filter half */
	__u32 half;
};

static long ct_expired(struct bpf_map *map, struct lb_ct_key *key, struct lb_ct_val *val,
		       struct gc_walk *w)
{
	if (w->expire && val->expires_ns <= w->now && !bpf_map_delete_elem(map, key)) {
		w->deleted++;
		return 0;
	}
	if (w->rebuild)
		lb_ctf_set(key, w->half);
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

static long ctf_clear_word(__u32 i, __u32 *half)
{
	__u32 k = (*half & 1) * LB_CTF_WORDS + i;
	__u64 *w = bpf_map_lookup_elem(&lb_ct_filter, &k);

	if (w)
		*w = 0;
	return 0;
}

/*
 * Take the busy bit and clear the half ingress does not read.  False when
 * another rebuild holds it (the timer and an arming can meet).
 */
static bool ctf_rebuild_begin(struct gc_walk *w)
{
	__u32 k = LB_CTF_GEN_KEY;
	__u64 *gen, g;

	gen = bpf_map_lookup_elem(&lb_ct_filter, &k);
	if (!gen)
		return false;
	g = *gen & 1;
	if (__sync_val_compare_and_swap(gen, g, g | LB_CTF_BUSY) != g)
		return false;
	w->half = (__u32)(g ^ 1);
	bpf_loop(LB_CTF_WORDS, ctf_clear_word, &w->half, 0);
	return true;
}

/* Point ingress at the rebuilt half; that also drops the busy bit. */
static void ctf_rebuild_end(const struct gc_walk *w)
{
	__u32 k = LB_CTF_GEN_KEY;
	__u64 *gen = bpf_map_lookup_elem(&lb_ct_filter, &k);

	if (gen)
		__sync_lock_test_and_set(gen, (__u64)w->half);
}

/* Walk both conntrack maps: delete what expired, rebuild the filter. */
static void ct_walk(struct gc_walk *w)
{
	w->rebuild = ctf_rebuild_begin(w);
	bpf_for_each_map_elem(&lb_ct_tcp, ct_expired, w, 0);
	bpf_for_each_map_elem(&lb_ct_other, ct_expired, w, 0);
	if (w->rebuild)
		ctf_rebuild_end(w);
}

static int gc_run(void *map, __u32 *key, struct lb_gc_timer *t)
{
	struct gc_walk w = { .now = bpf_ktime_get_ns(), .expire = true };
	struct lb_gc_stats *st;
	__u32 zero = 0;

	ct_walk(&w);
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
	struct gc_walk w = {};
	struct lb_gc_timer *t;
	__u32 zero = 0;
	long r;

	ct_walk(&w);

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
