// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fw_apply.c - write a compiled policy into one copy of the maps, then flip.
 *
 * Order matters: the inactive copy is emptied and written whole (classes,
 * entries, failsafe, hit counters, interface defaults) before the one u32 in
 * lb_active names it, so no packet sees half a policy.  The copy that was
 * active stays intact: packets that read lb_active just before the flip still
 * use it, and it is emptied at the start of the write after next (or by the
 * caller once it has waited them out).
 *
 * Bulk writes use the batch syscalls in chunks, falling back to one element at
 * a time on kernels or map types without them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "fwmaps.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, yet what a map without batch ops returns */
#endif

#define CHUNK 8192	/* elements per batch call: bounded buffers, few syscalls */

static bool batch_unsupported(int r)
{
	return r == -EINVAL || r == -ENOTSUPP || r == -EOPNOTSUPP;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int map_err(struct lb_err *err, int r, const char *op, const char *name)
{
	return lb_errf(err, r, "%s %s: %s", op, name, strerror(-r));
}

/* ---- bulk updates and deletes ---- */

static int update_each(int fd, const char *name, const char *keys, size_t ksz, const char *vals,
		       size_t vsz, size_t n, struct lb_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = bpf_map_update_elem(fd, keys + i * ksz, vals + i * vsz, BPF_ANY);
		if (r)
			return map_err(err, r, "updating", name);
	}
	return 0;
}

static int update_many(int fd, const char *name, const void *keys, size_t ksz, const void *vals,
		       size_t vsz, size_t n, struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const char *k = keys, *v = vals;
	size_t done = 0;
	__u32 cnt;
	int r;

	while (done < n) {
		cnt = (__u32)min_sz(n - done, CHUNK);
		r = bpf_map_update_batch(fd, k + done * ksz, v + done * vsz, &cnt, &opts);
		/* Unsupported: cnt may still hold the request; redo this chunk on. */
		if (r && batch_unsupported(r))
			return update_each(fd, name, k + done * ksz, ksz, v + done * vsz, vsz,
					   n - done, err);
		if (r)
			return map_err(err, r, "updating", name);
		done += cnt;
	}
	return 0;
}

/* Keys may already be gone (a concurrent clear): that is success. */
static int delete_each(int fd, const char *name, const char *keys, size_t ksz, size_t n,
		       struct lb_err *err)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = bpf_map_delete_elem(fd, keys + i * ksz);
		if (r && r != -ENOENT)
			return map_err(err, r, "deleting from", name);
	}
	return 0;
}

static int delete_many(int fd, const char *name, const void *keys, size_t ksz, size_t n,
		       struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const char *k = keys;
	size_t done = 0;
	__u32 cnt;
	int r;

	while (done < n) {
		cnt = (__u32)min_sz(n - done, CHUNK);
		r = bpf_map_delete_batch(fd, k + done * ksz, &cnt, &opts);
		/* Unsupported: cnt may still hold the request; nothing was done. */
		if (r && batch_unsupported(r))
			return delete_each(fd, name, k + done * ksz, ksz, n - done, err);
		done += cnt;
		/* A missing key stopped the batch after cnt deletions: finish one by one. */
		if (r == -ENOENT)
			return delete_each(fd, name, k + done * ksz, ksz, n - done, err);
		if (r)
			return map_err(err, r, "deleting from", name);
	}
	return 0;
}

/* ---- clearing a copy ---- */

struct keybuf {
	char *v;
	size_t n, cap, ksz;
};

static int keybuf_add(struct keybuf *kb, const void *key)
{
	char *nv;

	if (kb->n == kb->cap) {
		kb->cap = kb->cap ? 2 * kb->cap : 1024;
		nv = realloc(kb->v, kb->cap * kb->ksz);
		if (!nv)
			return -ENOMEM;
		kb->v = nv;
	}
	memcpy(kb->v + kb->n++ * kb->ksz, key, kb->ksz);
	return 0;
}

/*
 * Every key whose copy byte (at copy_off) is copy, found by walking the keys:
 * collect first, delete after, as deleting under get_next_key restarts it.
 */
static int clear_by_walk(int fd, const char *name, size_t ksz, size_t copy_off, uint8_t copy,
			 struct lb_err *err)
{
	struct keybuf kb = { .ksz = ksz };
	char key[64], next[64];
	void *prev = NULL;
	int r;

	while (!(r = bpf_map_get_next_key(fd, prev, next))) {
		if ((uint8_t)next[copy_off] == copy && keybuf_add(&kb, next)) {
			free(kb.v);
			return lb_errf(err, ENOMEM, "clearing %s: out of memory", name);
		}
		memcpy(key, next, ksz);
		prev = key;
	}
	if (r != -ENOENT) {
		free(kb.v);
		return map_err(err, r, "walking", name);
	}
	r = delete_many(fd, name, kb.v, ksz, kb.n, err);
	free(kb.v);
	return r;
}

/* Keep only the keys of this copy; returns how many. */
static __u32 filter_copy(struct lb_rule_key *keys, __u32 n, uint8_t copy)
{
	__u32 i, k = 0;

	for (i = 0; i < n; i++)
		if (keys[i].copy == copy)
			keys[k++] = keys[i];
	return k;
}

/*
 * The hash batch cursor is a bucket index, so deleting keys of buckets
 * already returned does not disturb the walk: read a chunk, delete its
 * matches, go on.
 */
static int clear_rules(int fd, uint8_t copy, struct lb_err *err)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct lb_rule_key *keys = calloc(CHUNK, sizeof(*keys));
	struct lb_rule_val *vals = calloc(CHUNK, sizeof(*vals));
	struct lb_rule_key in, out;	/* the cursor: a bucket index for a hash */
	bool first = true;
	__u32 cnt;
	int r, r2;

	if (!keys || !vals) {
		r = lb_errf(err, ENOMEM, "clearing lb_rules: out of memory");
		goto out;
	}
	do {
		cnt = CHUNK;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, &opts);
		if (r && first && batch_unsupported(r)) {
			r = clear_by_walk(fd, "lb_rules", sizeof(*keys),
					  offsetof(struct lb_rule_key, copy), copy, err);
			goto out;
		}
		if (r && r != -ENOENT) {
			r = map_err(err, r, "reading", "lb_rules");
			goto out;
		}
		cnt = filter_copy(keys, cnt, copy);
		r2 = delete_many(fd, "lb_rules", keys, sizeof(*keys), cnt, err);
		if (r2) {
			r = r2;
			goto out;
		}
		in = out;
		first = false;
	} while (!r);
	r = 0;
out:
	free(keys);
	free(vals);
	return r;
}

int policy_clear_copy(const struct lb_maps *m, uint32_t copy, struct lb_err *err)
{
	const struct {
		int fd;
		const char *name;
		size_t ksz;
	} lpm[] = {
		{ m->src4, "lb_src4", sizeof(struct lb_lpm4_key) },
		{ m->src6, "lb_src6", sizeof(struct lb_lpm6_key) },
		{ m->dst4, "lb_dst4", sizeof(struct lb_lpm4_key) },
		{ m->dst6, "lb_dst6", sizeof(struct lb_lpm6_key) },
		{ m->fs4, "lb_fs4", sizeof(struct lb_lpm4_key) },
		{ m->fs6, "lb_fs6", sizeof(struct lb_lpm6_key) },
	};
	const struct {
		int fd;
		const char *name;
		size_t ksz;
	} hosts[] = {
		{ m->srch4, "lb_srch4", sizeof(struct lb_host4_key) },
		{ m->srch6, "lb_srch6", sizeof(struct lb_host6_key) },
		{ m->dsth4, "lb_dsth4", sizeof(struct lb_host4_key) },
		{ m->dsth6, "lb_dsth6", sizeof(struct lb_host6_key) },
	};
	size_t i;
	int r;

	if (copy >= LB_POLICY_COPIES)
		return lb_errf(err, EINVAL, "policy copy %u does not exist", copy);
	for (i = 0; i < sizeof(lpm) / sizeof(lpm[0]); i++) {
		r = clear_by_walk(lpm[i].fd, lpm[i].name, lpm[i].ksz,
				  offsetof(struct lb_lpm4_key, copy), (uint8_t)copy, err);
		if (r)
			return r;
	}
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		r = clear_by_walk(hosts[i].fd, hosts[i].name, hosts[i].ksz,
				  offsetof(struct lb_host4_key, copy), (uint8_t)copy, err);
		if (r)
			return r;
	}
	return clear_rules(m->rules, (uint8_t)copy, err);
}

/* ---- writing a copy ---- */

static void lpm_key(void *key, const struct lb_cidr *c, uint8_t copy)
{
	struct lb_lpm4_key *k4 = key;
	struct lb_lpm6_key *k6 = key;

	if (c->family == 4) {
		*k4 = (struct lb_lpm4_key){ .prefixlen = 8 + c->plen, .copy = copy };
		memcpy(k4->addr, c->addr, sizeof(k4->addr));
	} else {
		*k6 = (struct lb_lpm6_key){ .prefixlen = 8 + c->plen, .copy = copy };
		memcpy(k6->addr, c->addr, sizeof(k6->addr));
	}
}

static void host_key(void *key, const struct lb_cidr *c, uint8_t copy)
{
	struct lb_host4_key *k4 = key;
	struct lb_host6_key *k6 = key;

	if (c->family == 4) {
		*k4 = (struct lb_host4_key){ .copy = copy };
		memcpy(k4->addr, c->addr, sizeof(k4->addr));
	} else {
		*k6 = (struct lb_host6_key){ .copy = copy };
		memcpy(k6->addr, c->addr, sizeof(k6->addr));
	}
}

struct prefix_maps {
	int lpm, host;
	const char *lpm_name, *host_name;
	unsigned int family;
	uint32_t host_flag;
};

/*
 * One family of one direction's class table: host prefixes (/32, /128) into
 * the exact-match hash, the others into the LPM trie.  Sets pm->host_flag in
 * *flags when the hash got entries.
 */
static int write_prefixes(const struct prefix_maps *pm, const struct lb_prefix_cls *v, size_t n,
			  uint8_t copy, uint32_t *flags, struct lb_err *err)
{
	size_t lsz = pm->family == 4 ? sizeof(struct lb_lpm4_key) : sizeof(struct lb_lpm6_key);
	size_t hsz = pm->family == 4 ? sizeof(struct lb_host4_key) : sizeof(struct lb_host6_key);
	unsigned int full = pm->family == 4 ? 32 : 128;
	struct lb_class_val *lvals = calloc(n + 1, sizeof(*lvals));
	struct lb_class_val *hvals = calloc(n + 1, sizeof(*hvals));
	char *lkeys = calloc(n + 1, lsz), *hkeys = calloc(n + 1, hsz);
	size_t i, nl = 0, nh = 0;
	int r;

	if (!lkeys || !lvals || !hkeys || !hvals) {
		r = lb_errf(err, ENOMEM, "writing %s: out of memory", pm->lpm_name);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (v[i].cidr.family != pm->family)
			continue;
		if (v[i].cidr.plen == full) {
			host_key(hkeys + nh * hsz, &v[i].cidr, copy);
			hvals[nh++].cls = v[i].cls;
		} else {
			lpm_key(lkeys + nl * lsz, &v[i].cidr, copy);
			lvals[nl++].cls = v[i].cls;
		}
	}
	r = update_many(pm->lpm, pm->lpm_name, lkeys, lsz, lvals, sizeof(*lvals), nl, err);
	if (!r)
		r = update_many(pm->host, pm->host_name, hkeys, hsz, hvals, sizeof(*hvals), nh, err);
	if (nh)
		*flags |= pm->host_flag;
out:
	free(lkeys);
	free(lvals);
	free(hkeys);
	free(hvals);
	return r;
}

static int write_class_array(int fd, const char *name, const uint32_t *cls, size_t space,
			     uint32_t copy, struct lb_err *err)
{
	__u32 *keys = calloc(space, sizeof(*keys));
	size_t i;
	int r;

	if (!keys)
		return lb_errf(err, ENOMEM, "writing %s: out of memory", name);
	for (i = 0; i < space; i++)
		keys[i] = (__u32)(copy * space + i);
	r = update_many(fd, name, keys, sizeof(*keys), cls, sizeof(*cls), space, err);
	free(keys);
	return r;
}

static int write_classes(const struct lb_maps *m, const struct lb_compiled *c, uint8_t copy,
			 struct lb_err *err)
{
	const struct prefix_maps src4 = { m->src4, m->srch4, "lb_src4", "lb_srch4", 4,
					  LB_CI_SRC_HOST4 };
	const struct prefix_maps src6 = { m->src6, m->srch6, "lb_src6", "lb_srch6", 6,
					  LB_CI_SRC_HOST6 };
	const struct prefix_maps dst4 = { m->dst4, m->dsth4, "lb_dst4", "lb_dsth4", 4,
					  LB_CI_DST_HOST4 };
	const struct prefix_maps dst6 = { m->dst6, m->dsth6, "lb_dst6", "lb_dsth6", 6,
					  LB_CI_DST_HOST6 };
	struct lb_copy_info ci = { 0 };
	__u32 key = copy;
	int r;

	r = write_prefixes(&src4, c->src, c->n_src, copy, &ci.flags, err);
	if (!r)
		r = write_prefixes(&src6, c->src, c->n_src, copy, &ci.flags, err);
	if (!r)
		r = write_prefixes(&dst4, c->dst, c->n_dst, copy, &ci.flags, err);
	if (!r)
		r = write_prefixes(&dst6, c->dst, c->n_dst, copy, &ci.flags, err);
	/* Only packets of this copy read its info, and none will until the flip. */
	if (!r && bpf_map_update_elem(m->copy_info, &key, &ci, BPF_ANY))
		r = map_err(err, -errno, "updating", "lb_copy_info");
	if (!r)
		r = write_class_array(m->proto_cls, "lb_proto_cls", c->proto_cls,
				      LB_PROTO_SPACE, copy, err);
	if (!r)
		r = write_class_array(m->dport_cls, "lb_dport_cls", c->dport_cls, LB_PORT_SPACE,
				      copy, err);
	if (!r)
		r = write_class_array(m->sport_cls, "lb_sport_cls", c->sport_cls, LB_PORT_SPACE,
				      copy, err);
	return r;
}

/* The entries carry copy 0; stamp ours on them a chunk at a time. */
static int write_entries(int fd, const struct lb_compiled *c, uint8_t copy, struct lb_err *err)
{
	struct lb_rule_key *keys = calloc(CHUNK, sizeof(*keys));
	struct lb_rule_val *vals = calloc(CHUNK, sizeof(*vals));
	size_t done, i, n;
	int r = 0;

	if (!keys || !vals) {
		r = lb_errf(err, ENOMEM, "writing lb_rules: out of memory");
		goto out;
	}
	for (done = 0; done < c->n_entries && !r; done += n) {
		n = min_sz(c->n_entries - done, CHUNK);
		for (i = 0; i < n; i++) {
			keys[i] = c->entries[done + i].key;
			keys[i].copy = copy;
			vals[i] = c->entries[done + i].val;
		}
		r = update_many(fd, "lb_rules", keys, sizeof(*keys), vals, sizeof(*vals), n, err);
	}
out:
	free(keys);
	free(vals);
	return r;
}

static int write_failsafe(const struct lb_maps *m, const struct lb_compiled *c, uint8_t copy,
			  struct lb_err *err)
{
	struct lb_lpm6_key key;	/* room for either family */
	size_t i;
	int fd, r;

	for (i = 0; i < c->n_fs; i++) {
		fd = c->fs[i].cidr.family == 4 ? m->fs4 : m->fs6;
		lpm_key(&key, &c->fs[i].cidr, copy);
		r = bpf_map_update_elem(fd, &key, &c->fs[i].val, BPF_ANY);
		if (r)
			return map_err(err, r, "updating", c->fs[i].cidr.family == 4 ? "lb_fs4" :
							   "lb_fs6");
	}
	return 0;
}

/* Hit counters of this copy start at zero: per-CPU values, all CPUs. */
static int zero_rule_hits(int fd, uint32_t n_rules, uint32_t copy, struct lb_err *err)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n = min_sz(n_rules, LB_MAX_RULES), done, step, i;
	__u32 *keys;
	__u64 *zero;
	int r = 0;

	if (ncpu <= 0)
		return map_err(err, ncpu ? ncpu : -EINVAL, "counting CPUs for", "lb_rule_hits");
	keys = calloc(CHUNK, sizeof(*keys));
	zero = calloc((size_t)CHUNK * (size_t)ncpu, sizeof(*zero));
	if (!keys || !zero) {
		free(keys);
		free(zero);
		return lb_errf(err, ENOMEM, "zeroing lb_rule_hits: out of memory");
	}
	for (done = 0; done < n && !r; done += step) {
		step = min_sz(n - done, CHUNK);
		for (i = 0; i < step; i++)
			keys[i] = (__u32)((size_t)copy * LB_MAX_RULES + done + i);
		r = update_many(fd, "lb_rule_hits", keys, sizeof(*keys), zero,
				sizeof(*zero) * (size_t)ncpu, step, err);
	}
	free(keys);
	free(zero);
	return r;
}

/* Only interfaces the datapath knows (attached) get a default; others are skipped. */
static int write_iface_defaults(int fd, const struct lb_iface_action *ifa, size_t n,
				uint32_t copy, struct lb_err *err)
{
	struct lb_iface v;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = bpf_map_lookup_elem(fd, &ifa[i].ifindex, &v);
		if (r == -ENOENT)
			continue;
		if (!r) {
			v.default_action[copy] = (__u8)ifa[i].action;
			r = bpf_map_update_elem(fd, &ifa[i].ifindex, &v, BPF_EXIST);
		}
		if (r && r != -ENOENT)
			return lb_errf(err, r, "updating lb_ifaces[%u]: %s", ifa[i].ifindex,
				       strerror(-r));
	}
	return 0;
}

static int flip(int fd, uint32_t copy, struct lb_err *err)
{
	struct lb_active a = { .copy = copy, .loaded = 1 };
	__u32 zero = 0;
	int r;

	r = bpf_map_update_elem(fd, &zero, &a, BPF_ANY);
	return r ? map_err(err, r, "updating", "lb_active") : 0;
}

int policy_stage(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err)
{
	struct lb_active act;
	uint32_t n_rules;
	size_t i;
	int r;

	if (copy >= LB_POLICY_COPIES)
		return lb_errf(err, EINVAL, "policy copy %u does not exist", copy);
	r = policy_active(m, &act);
	if (r)
		return map_err(err, r, "reading", "lb_active");
	if (act.loaded && act.copy == copy)
		return lb_errf(err, EBUSY, "policy copy %u is the active one; write the other",
			       copy);
	/* A hand-built struct may lack n_rules: the entries name the rules in use. */
	n_rules = c->n_rules;
	for (i = 0; i < c->n_entries; i++)
		if (c->entries[i].val.rule_idx >= n_rules)
			n_rules = c->entries[i].val.rule_idx + 1;
	r = policy_clear_copy(m, copy, err);
	if (!r)
		r = write_classes(m, c, (uint8_t)copy, err);
	if (!r)
		r = write_entries(m->rules, c, (uint8_t)copy, err);
	if (!r)
		r = write_failsafe(m, c, (uint8_t)copy, err);
	if (!r)
		r = zero_rule_hits(m->rule_hits, n_rules, copy, err);
	if (!r)
		r = write_iface_defaults(m->ifaces, ifa, n_ifa, copy, err);
	return r;
}

int policy_flip(const struct lb_maps *m, uint32_t copy, struct lb_err *err)
{
	return flip(m->active, copy, err);
}

int policy_write(const struct lb_maps *m, const struct lb_compiled *c, uint32_t copy,
		 const struct lb_iface_action *ifa, size_t n_ifa, struct lb_err *err)
{
	return policy_stage(m, c, copy, ifa, n_ifa, err) ?: policy_flip(m, copy, err);
}

int policy_active(const struct lb_maps *m, struct lb_active *out)
{
	struct lb_active a;
	__u32 zero = 0;
	int r;

	r = bpf_map_lookup_elem(m->active, &zero, &a);
	if (r)
		return r;
	*out = a;
	return 0;
}
