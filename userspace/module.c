// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * module.c - the module lifecycle (module.h): revisions, chains, swap
 * transactions, the journal and recovery.
 *
 * Everything here runs under the bpffs lock (ctx_lock).  What the kernel
 * holds is the truth; the journal says what we meant, so that a process
 * killed at any step leaves enough to finish the job the safe way: back to
 * the generation the links pointed at before.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "artifact.h"
#include "module.h"
#include "lb_mod.h"
#include "chain_root.skel.h"
#include "fw_xdp.skel.h"
#include "fw_tc.skel.h"

/* The hooks a chain has, in journal and pin names. */
enum { HOOK_XDP, HOOK_TC, N_HOOKS };
static const char *const hook_names[N_HOOKS] = { "xdp", "tc_egress" };

/* ---- small helpers ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void crash_point(int step)
{
	const char *s = getenv("LB_TEST_CRASH_STEP");

	if (s && strtol(s, NULL, 10) == step)
		raise(SIGKILL);
}

/* Remove a bpffs directory tree of pins (best effort; what is left is an orphan). */
static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[768];

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* ---- the journal ---- */

static void journal_path(struct lb_ctx *c, char *buf, size_t len)
{
	ctx_path(c, buf, len, true, "modules.json");
}

json_t *module_journal_load(struct lb_ctx *c, struct lb_err *err)
{
	char path[512];
	json_error_t je;
	json_t *j;

	journal_path(c, path, sizeof(path));
	if (access(path, F_OK))
		return json_pack("{s:i, s:i, s:{}, s:[], s:n}", "serial", 0, "gen", 0, "maps",
				 "modules", "txn");
	j = json_load_file(path, 0, &je);
	if (!j || !json_is_object(j) || !json_is_array(json_object_get(j, "modules"))) {
		json_decref(j);
		lb_errf(err, EINVAL, "%s: not a module journal (%s); move it away to start over",
			path, j ? "bad shape" : je.text);
		return NULL;
	}
	if (!json_object_get(j, "maps"))
		json_object_set_new(j, "maps", json_object());
	return j;
}

static int journal_save(struct lb_ctx *c, json_t *j, struct lb_err *err)
{
	char path[512];
	char *text = json_dumps(j, JSON_INDENT(2));
	int r;

	if (!text)
		return lb_errf(err, ENOMEM, "serialising the module journal");
	journal_path(c, path, sizeof(path));
	r = write_file_atomic(path, text, strlen(text), err);
	free(text);
	return r;
}

static json_t *journal_module(json_t *j, const char *name)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(j, "modules"), i, m) {
		if (!strcmp(json_string_value(json_object_get(m, "name")) ?: "", name))
			return m;
	}
	return NULL;
}

static int rev_num(json_t *rev)
{
	return (int)json_integer_value(json_object_get(rev, "rev"));
}

/* Self-tests count under a key of their own, never a live revision's (lb_mod.h). */
#define SELFTEST_KEY LB_MOD_KEY_SELFTEST

uint32_t module_rev_key(uint64_t serial)
{
	return 1 + (uint32_t)(serial % (LB_MOD_KEYS - 2));
}

static uint32_t rev_key(json_t *rev)
{
	return module_rev_key((uint64_t)json_integer_value(json_object_get(rev, "serial")));
}

/* Modules run in this order on a hook: metrics sees every packet first. */
static int module_order(const char *name)
{
	if (!strcmp(name, "metrics"))
		return 10;
	if (!strcmp(name, "firewall"))
		return 20;
	return 50;
}

/* ---- pins ---- */

static void gen_pin(struct lb_ctx *c, char *buf, size_t len, uint64_t gen, const char *what)
{
	if (!what)
		ctx_path(c, buf, len, false, "chain/%llu", (unsigned long long)gen);
	else
		ctx_path(c, buf, len, false, "chain/%llu/%s", (unsigned long long)gen, what);
}

/* A generation's root program of hook h. */
static int gen_root_fd(struct lb_ctx *c, uint64_t gen, int h)
{
	char path[512];

	gen_pin(c, path, sizeof(path), gen, hook_names[h]);
	return bpf_obj_get(path);
}

static void artifact_path(struct lb_ctx *c, char *buf, size_t len, const char *name, int rev)
{
	ctx_path(c, buf, len, true, "mods/%s-%d.lbm", name, rev);
}

/*
 * The revisions a generation runs: every enabled module's active revision,
 * with `over` (a module name) replaced by `rev` (NULL: left out), in module
 * order.  Returns how many, into mods[] and revs[].
 */
#define MAX_MODS 16
static size_t chain_members(json_t *j, const char *over, json_t *rev, json_t **mods,
			    json_t **revs)
{
	size_t n = 0, i, a, b;
	json_t *m;

	json_array_foreach(json_object_get(j, "modules"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name")) ?: "";
		json_t *r = json_object_get(m, "active");

		if (over && !strcmp(name, over))
			r = rev;
		else if (!json_is_true(json_object_get(m, "enabled")))
			r = NULL;
		if (!r || json_is_null(r) || n == MAX_MODS)
			continue;
		mods[n] = m;
		revs[n++] = r;
	}
	for (a = 1; a < n; a++) {	/* insertion sort by order */
		for (b = a; b > 0; b--) {
			json_t *x = mods[b - 1], *y = mods[b], *t;

			if (json_integer_value(json_object_get(x, "order")) <=
			    json_integer_value(json_object_get(y, "order")))
				break;
			mods[b - 1] = y;
			mods[b] = x;
			t = revs[b - 1];
			revs[b - 1] = revs[b];
			revs[b] = t;
		}
	}
	return n;
}

/* What a generation runs, as the journal records it: {"module": rev, ...}. */
static json_t *composition(json_t **mods, json_t **revs, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, json_string_value(json_object_get(mods[i], "name")),
				    json_integer(rev_num(revs[i])));
	return o;
}

/* ---- building a generation ---- */

/*
 * A generation under construction: per hook a fresh chain map (the prog
 * array its programs tail-call through) and a root program bound to it;
 * each module program's own lb_chain_self map, so its revision key can be
 * switched from SELFTEST_KEY to the real one before the generation goes live.
 */
struct genb {
	uint64_t gen;
	int chain[N_HOOKS];
	int root[N_HOOKS];
	int nslots[N_HOOKS];
	int self[MAX_MODS * N_HOOKS];	/* lb_chain_self maps */
	uint32_t key[MAX_MODS * N_HOOKS];	/* the real key of each */
	int nself;
};

static void genb_init(struct genb *g, uint64_t gen)
{
	memset(g, 0, sizeof(*g));
	g->gen = gen;
	for (int h = 0; h < N_HOOKS; h++)
		g->chain[h] = g->root[h] = -1;
}

static void genb_close(struct genb *g)
{
	for (int h = 0; h < N_HOOKS; h++) {
		if (g->chain[h] >= 0)
			close(g->chain[h]);
		if (g->root[h] >= 0)
			close(g->root[h]);
		g->chain[h] = g->root[h] = -1;
	}
	for (int i = 0; i < g->nself; i++)
		close(g->self[i]);
	g->nself = 0;
}

/* Every module program's key: SELFTEST_KEY while testing, then the real one. */
static int genb_keys(struct genb *g, bool real, struct lb_err *err)
{
	for (int i = 0; i < g->nself; i++) {
		struct lb_chain_self v[N_HOOKS];
		__u32 k;

		for (k = 0; k < N_HOOKS; k++) {
			if (bpf_map_lookup_elem(g->self[i], &k, &v[k]))
				return lb_errf(err, errno, "reading lb_chain_self: %s",
					       strerror(errno));
			if (v[k].slot != LB_CHAIN_NO_SLOT)
				v[k].key = real ? g->key[i] : SELFTEST_KEY;
			if (bpf_map_update_elem(g->self[i], &k, &v[k], BPF_ANY))
				return lb_errf(err, errno, "writing lb_chain_self: %s",
					       strerror(errno));
		}
	}
	return 0;
}

/* The chain maps and the root programs, pinned as chain/<gen>/<hook>. */
static int genb_roots(struct lb_ctx *c, struct genb *g, struct lb_err *err)
{
	struct chain_root *s;
	char path[512];
	int r;

	gen_pin(c, path, sizeof(path), g->gen, NULL);
	r = mkdir_p(path, 0700);
	if (r)
		return lb_errf(err, -r, "creating %s: %s", path, strerror(-r));
	for (int h = 0; h < N_HOOKS; h++) {
		g->chain[h] = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, h ? "lb_chain_tc" : "lb_chain_xdp",
					     4, 4, LB_CHAIN_SLOTS, NULL);
		if (g->chain[h] < 0)
			return lb_errf(err, errno, "creating a chain map: %s", strerror(errno));
		/*
		 * Pinned: the kernel empties a prog array when its last user
		 * reference goes, and the generation must outlive this process.
		 */
		char what[32];

		snprintf(what, sizeof(what), "chain_%s", hook_names[h]);
		gen_pin(c, path, sizeof(path), g->gen, what);
		if (bpf_obj_pin(g->chain[h], path))
			return lb_errf(err, errno, "pinning %s: %s", path, strerror(errno));
	}
	s = chain_root__open();
	if (!s)
		return lb_errf(err, errno, "opening the chain root: %s", strerror(errno));
	r = bpf_map__reuse_fd(s->maps.lb_chain_xdp, g->chain[HOOK_XDP]) ?:
	    bpf_map__reuse_fd(s->maps.lb_chain_tc, g->chain[HOOK_TC]) ?: chain_root__load(s);
	if (r) {
		chain_root__destroy(s);
		return lb_errf(err, -r, "loading the chain root: %s", strerror(-r));
	}
	g->root[HOOK_XDP] = fcntl(bpf_program__fd(s->progs.lb_root_xdp), F_DUPFD_CLOEXEC, 3);
	g->root[HOOK_TC] = fcntl(bpf_program__fd(s->progs.lb_root_tc), F_DUPFD_CLOEXEC, 3);
	chain_root__destroy(s);
	for (int h = 0; h < N_HOOKS; h++) {
		if (g->root[h] < 0)
			return lb_errf(err, errno, "dup: %s", strerror(errno));
		gen_pin(c, path, sizeof(path), g->gen, hook_names[h]);
		if (bpf_obj_pin(g->root[h], path))
			return lb_errf(err, errno, "pinning %s: %s", path, strerror(errno));
	}
	return 0;
}

/*
 * Load one module revision's objects into the generation: maps pinned by
 * name reused, the generation's chain maps and a fresh lb_chain_self in
 * place of the object's own, each hook program put in the next slot of its
 * hook's chain and pinned as chain/<gen>/<module>_<hook>.  log: the
 * verifier's output on failure.
 */
static int genb_module(struct lb_ctx *c, struct genb *g, const struct lbm_artifact *a,
		       uint32_t key, char *log, size_t log_len, struct lb_err *err)
{
	const struct lbm_manifest *m = a->m;
	char maps[512], path[512], pname[64];
	int r = 0;

	ctx_path(c, maps, sizeof(maps), false, "maps");
	for (size_t fi = 1; fi < a->tar.n && !r; fi++) {
		const struct lbm_file *f = &a->tar.files[fi];
		struct bpf_program *p, *progs[N_HOOKS] = { NULL };
		struct lb_chain_self self[N_HOOKS];
		struct bpf_map *map;
		struct bpf_object *obj;
		int self_fd, slot[N_HOOKS];

		LIBBPF_OPTS(bpf_object_open_opts, o, .object_name = m->name, .pin_root_path = maps);
		obj = bpf_object__open_mem(f->data, f->size, &o);
		if (!obj)
			return lb_errf(err, errno, "%s: opening %s: %s", m->name, f->name,
				       strerror(errno));
		bpf_object__for_each_program(p, obj) {
			bpf_program__set_autoload(p, false);
		}
		for (int h = 0; h < N_HOOKS; h++) {
			self[h] = (struct lb_chain_self){ .slot = LB_CHAIN_NO_SLOT };
			slot[h] = -1;
		}
		for (size_t i = 0; i < m->n_hooks && !r; i++) {
			const struct lbm_hook *hk = &m->hooks[i];
			int h = hk->type == LBM_HOOK_XDP ? HOOK_XDP : HOOK_TC;

			if (strcmp(hk->object, f->name))
				continue;
			p = bpf_object__find_program_by_name(obj, hk->program);
			if (!p) {
				r = lb_errf(err, ENOENT, "%s: %s has no program %s", m->name,
					    f->name, hk->program);
				break;
			}
			if (g->nslots[h] == LB_CHAIN_SLOTS) {
				r = lb_errf(err, ENOSPC, "more than %d modules on %s",
					    LB_CHAIN_SLOTS, hook_names[h]);
				break;
			}
			bpf_program__set_autoload(p, true);
			if (log)
				bpf_program__set_log_buf(p, log, log_len);
			progs[h] = p;
			slot[h] = g->nslots[h]++;
			self[h] = (struct lb_chain_self){ .slot = (__u32)slot[h], .key = SELFTEST_KEY };
		}
		/* The chain's maps in place of the object's: it must have them. */
		for (int h = 0; h < N_HOOKS && !r; h++) {
			if (!progs[h])
				continue;
			map = bpf_object__find_map_by_name(obj, h ? "lb_chain_tc" : "lb_chain_xdp");
			if (!map)
				r = lb_errf(err, EPROTO, "%s: %s: no map %s: the program does not "
					    "continue the chain (bpf/lib/chain.h)", m->name, f->name,
					    h ? "lb_chain_tc" : "lb_chain_xdp");
			else
				r = bpf_map__reuse_fd(map, g->chain[h]);
		}
		map = r ? NULL : bpf_object__find_map_by_name(obj, "lb_chain_self");
		if (!r && !map)
			r = lb_errf(err, EPROTO, "%s: %s: no map lb_chain_self (bpf/lib/chain.h)",
				    m->name, f->name);
		self_fd = r ? -1 : bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_chain_self", 4,
						  sizeof(struct lb_chain_self), N_HOOKS, NULL);
		if (!r && self_fd < 0)
			r = lb_errf(err, errno, "creating lb_chain_self: %s", strerror(errno));
		for (__u32 k = 0; k < N_HOOKS && !r; k++)
			if (bpf_map_update_elem(self_fd, &k, &self[k], BPF_ANY))
				r = lb_errf(err, errno, "writing lb_chain_self: %s", strerror(errno));
		if (!r)
			r = bpf_map__reuse_fd(map, self_fd);
		if (!r && (r = bpf_object__load(obj)))
			r = lb_errf(err, -r, "%s %s: loading %s: %s", m->name, m->version, f->name,
				    strerror(-r));
		for (int h = 0; h < N_HOOKS && !r; h++) {
			__u32 k = (__u32)slot[h];
			int fd;

			if (!progs[h])
				continue;
			fd = bpf_program__fd(progs[h]);
			snprintf(pname, sizeof(pname), "%s_%s", m->name, hook_names[h]);
			gen_pin(c, path, sizeof(path), g->gen, pname);
			if (bpf_obj_pin(fd, path))
				r = lb_errf(err, errno, "pinning %s: %s", path, strerror(errno));
			else if (bpf_map_update_elem(g->chain[h], &k, &fd, BPF_ANY))
				r = lb_errf(err, errno, "%s: into the %s chain: %s", m->name,
					    hook_names[h], strerror(errno));
		}
		if (self_fd >= 0 && g->nself < MAX_MODS * N_HOOKS) {
			g->self[g->nself] = self_fd;
			g->key[g->nself++] = key;
		} else if (self_fd >= 0) {
			close(self_fd);
		}
		bpf_object__close(obj);
	}
	return r;
}

/* ---- map compatibility (before anything is loaded) ---- */

/*
 * Every map the artifact's objects define that is pinned already must match
 * the pin exactly (type, key and value size, max_entries, flags), and every
 * map the manifest lists must have the layout the journal recorded.  A
 * change of layout needs a migration; it is refused here, never reset.
 */
static int maps_compatible(struct lb_ctx *c, json_t *j, const struct lbm_artifact *a,
			   struct lb_err *err)
{
	json_t *layouts = json_object_get(j, "maps");
	const struct lbm_manifest *m = a->m;
	char path[512];
	int r = 0;

	for (size_t i = 0; i < m->n_maps; i++) {
		json_t *l = json_object_get(layouts, m->maps[i].name);

		if (l && json_integer_value(l) != (json_int_t)m->maps[i].layout)
			return lb_errf(err, EPROTO,
				       "%s %s: map %s has layout %u, the pinned one %lld: that "
				       "needs a migration, not a swap", m->name, m->version,
				       m->maps[i].name, m->maps[i].layout,
				       (long long)json_integer_value(l));
	}
	for (size_t i = 1; i < a->tar.n && !r; i++) {
		const struct lbm_file *f = &a->tar.files[i];
		struct bpf_object *obj;
		struct bpf_map *map;

		obj = bpf_object__open_mem(f->data, f->size, NULL);
		if (!obj)
			return lb_errf(err, errno, "%s: opening %s: %s", m->name, f->name,
				       strerror(errno));
		bpf_object__for_each_map(map, obj) {
			struct bpf_map_info info = { 0 };
			__u32 len = sizeof(info);
			int fd;

			if (bpf_map__is_internal(map))
				continue;
			ctx_path(c, path, sizeof(path), false, "maps/%s", bpf_map__name(map));
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;	/* a new map: created at load */
			if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
				r = lb_errf(err, errno, "reading %s: %s", path, strerror(errno));
			} else if (info.type != bpf_map__type(map) ||
				   info.key_size != bpf_map__key_size(map) ||
				   info.value_size != bpf_map__value_size(map) ||
				   info.max_entries != bpf_map__max_entries(map) ||
				   info.map_flags != bpf_map__map_flags(map)) {
				r = lb_errf(err, EPROTO,
					    "%s %s: map %s does not match the pinned one (type %u/%u, "
					    "key %u/%u, value %u/%u, entries %u/%u, flags %#x/%#x): "
					    "that needs a migration, not a swap", m->name,
					    m->version, bpf_map__name(map), bpf_map__type(map),
					    info.type, bpf_map__key_size(map), info.key_size,
					    bpf_map__value_size(map), info.value_size,
					    bpf_map__max_entries(map), info.max_entries,
					    bpf_map__map_flags(map), info.map_flags);
			}
			close(fd);
			if (r)
				break;
		}
		bpf_object__close(obj);
	}
	return r;
}

/* ---- self-test ---- */

#define SELFTEST_IFINDEX 1	/* lo: in every namespace */

static int expect_code(enum lbm_verdict v, int h)
{
	static const int xdp[] = { [LBM_PASS] = XDP_PASS, [LBM_DROP] = XDP_DROP,
				   [LBM_ABORTED] = XDP_ABORTED, [LBM_TX] = XDP_TX,
				   [LBM_REDIRECT] = XDP_REDIRECT };
	static const int tc[] = { [LBM_PASS] = 0, [LBM_DROP] = 2, [LBM_ABORTED] = -100,
				  [LBM_TX] = -100, [LBM_REDIRECT] = 7 };

	return h == HOOK_XDP ? xdp[v] : tc[v];
}

/*
 * Run the manifest's vectors through the new generation's roots, before it
 * serves anything: every module program counts under SELFTEST_KEY until
 * genb_keys(real) (so no live revision's counters move).  XDP packets come
 * in on lo, registered for the test as a managed interface with the
 * reserved counter slot (LB_SELFTEST_SLOT), unless lo is attached for real.
 */
static int selftest(struct lb_ctx *c, const struct lbm_manifest *m, const struct genb *g,
		    struct lb_err *err)
{
	struct lb_iface saved = { 0 }, row = { 0 };
	__u32 key = SELFTEST_IFINDEX;
	bool borrowed = false;
	struct lb_maps maps;
	int r = 0;

	if (datapath_maps(c, &maps, NULL) == 0) {
		if (!bpf_map_lookup_elem(maps.ifaces, &key, &saved) &&
		    !(saved.flags & LB_IF_MANAGED)) {
			row.slot = LB_SELFTEST_SLOT;
			row.flags = LB_IF_MANAGED;
			row.default_action[0] = row.default_action[1] = LB_ACT_ALLOW;
			borrowed = !bpf_map_update_elem(maps.ifaces, &key, &row, BPF_ANY);
		}
	}
	for (size_t i = 0; i < m->n_selftests && !r; i++) {
		const struct lbm_selftest *t = &m->selftests[i];
		int h = t->hook == LBM_HOOK_XDP ? HOOK_XDP : HOOK_TC, want = expect_code(t->expect, h);
		struct xdp_md xctx = { .data_end = (__u32)t->len, .ingress_ifindex = SELFTEST_IFINDEX };
		uint8_t out[LBM_PKT_MAX + 256];

		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->packet, .data_size_in = t->len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		if (h == HOOK_XDP) {
			o.ctx_in = &xctx;
			o.ctx_size_in = sizeof(xctx);
		}
		if (bpf_prog_test_run_opts(g->root[h], &o))
			r = lb_errf(err, errno, "%s %s: self-test %s: running it: %s", m->name,
				    m->version, t->name, strerror(errno));
		else if ((int)o.retval != want &&
			 !(h == HOOK_TC && t->expect == LBM_PASS && (int)o.retval == -1))
			r = lb_errf(err, EPROTO, "%s %s: self-test %s failed: %s returned %d, the "
				    "manifest expects %s (%d)", m->name, m->version, t->name,
				    hook_names[h], (int)o.retval, lbm_verdict_name(t->expect), want);
	}
	if (borrowed)
		bpf_map_update_elem(maps.ifaces, &key, &saved, BPF_ANY);
	maps_close(&maps);
	return r;
}

/* ---- the swap ---- */

static void link_pin(struct lb_ctx *c, char *buf, size_t len, int h, uint32_t ifindex)
{
	ctx_path(c, buf, len, false, "links/%s_%u", h == HOOK_XDP ? "xdp" : "tc", ifindex);
}

/*
 * Point every attached interface's hook from old_fd to new_fd.  tcx and XDP
 * links: bpf_link_update with BPF_F_REPLACE, so a link someone else moved is
 * not overwritten.  Legacy clsact: replace the filter in place.  Returns how
 * many hooks moved in *moved, so a failure can move them back.
 */
static int swap_hook(struct lb_ctx *c, int h, int old_fd, int new_fd, bool force,
		     struct lb_err *err)
{
	struct lb_attached att[LB_MAX_IFACES];
	size_t n = state_ifaces(c, att, LB_MAX_IFACES);
	char path[512];
	int r = 0;

	for (size_t i = 0; i < n && !r; i++) {
		if (h == HOOK_TC && !strcmp(att[i].egress, "tc")) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = att[i].ifindex,
				    .attach_point = BPF_TC_EGRESS);
			LIBBPF_OPTS(bpf_tc_opts, to, .handle = 1, .priority = LB_TC_PRIO,
				    .prog_fd = new_fd, .flags = BPF_TC_F_REPLACE);
			r = bpf_tc_attach(&hook, &to);
			if (r)
				r = lb_errf(err, -r, "%s: replacing the TC egress filter: %s",
					    att[i].name, strerror(-r));
			continue;
		}
		link_pin(c, path, sizeof(path), h, att[i].ifindex);
		int lfd = bpf_obj_get(path);

		if (lfd < 0) {
			r = lb_errf(err, errno, "%s: opening %s: %s", att[i].name, path,
				    strerror(errno));
			break;
		}
		LIBBPF_OPTS(bpf_link_update_opts, uo, .flags = force ? 0 : BPF_F_REPLACE,
			    .old_prog_fd = force ? 0 : old_fd);
		if (bpf_link_update(lfd, new_fd, &uo))
			r = lb_errf(err, errno, "%s: swapping the %s link: %s", att[i].name,
				    hook_names[h], strerror(errno));
		close(lfd);
		if (!r && i == 0)
			crash_point(50 + h);	/* mid-swap: some links moved, not all */
	}
	return r;
}

/* Which generation an interface's XDP link runs now: 0 when unknown. */
static uint32_t link_prog_id(struct lb_ctx *c, int h, uint32_t ifindex)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	link_pin(c, path, sizeof(path), h, ifindex);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.prog_id = 0;
	close(fd);
	return info.prog_id;
}

/* ---- the health window ---- */

struct mod_ctr {
	uint64_t pkts, drops, aborted;
};

/* The hook a revision's health is judged on: XDP when it has one (every packet in). */
static int health_hook(json_t *rev)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(rev, "hooks"), i, v) {
		if (!strcmp(json_string_value(v) ?: "", "xdp"))
			return HOOK_XDP;
	}
	return HOOK_TC;
}

_Static_assert(LB_MV_MAX == 8, "module.h declares module_verdicts() with 8 verdicts");

int module_verdicts(struct lb_ctx *c, uint32_t key, int hook, uint64_t pkts[LB_MV_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd, r = 0;
	struct lb_mod_ctr *v;
	char path[512];

	memset(pkts, 0, LB_MV_MAX * sizeof(*pkts));
	ctx_path(c, path, sizeof(path), false, "maps/lb_mod_stats");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	v = calloc(ncpu > 0 ? ncpu : 1, sizeof(*v));
	if (!v)
		r = -ENOMEM;
	for (uint32_t verdict = 0; !r && verdict < LB_MV_MAX; verdict++) {
		__u32 k = lb_mod_stats_idx(key, (__u32)hook, verdict);

		if (bpf_map_lookup_elem(fd, &k, v))
			r = -errno;
		for (int cpu = 0; !r && cpu < ncpu; cpu++)
			pkts[verdict] += v[cpu].packets;
	}
	free(v);
	close(fd);
	return r;
}

static int mod_stats_read(struct lb_ctx *c, uint32_t key, int hook, struct mod_ctr *out)
{
	uint64_t pkts[LB_MV_MAX];
	int r = module_verdicts(c, key, hook, pkts);

	memset(out, 0, sizeof(*out));
	for (int i = 0; !r && i < LB_MV_MAX; i++)
		out->pkts += pkts[i];
	out->drops = r ? 0 : pkts[LB_MV_DROP];
	out->aborted = r ? 0 : pkts[LB_MV_ABORTED];
	return r;
}

/* A key handed to a new revision starts from zero (an old one may have had it). */
static int mod_stats_zero(struct lb_ctx *c, uint32_t key, struct lb_err *err)
{
	int ncpu = libbpf_num_possible_cpus(), fd, r = 0;
	struct lb_mod_ctr *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	char path[512];

	ctx_path(c, path, sizeof(path), false, "maps/lb_mod_stats");
	fd = bpf_obj_get(path);
	for (__u32 v = 0; fd >= 0 && zero && v < LB_CHAIN_HOOKS * LB_MV_MAX && !r; v++) {
		__u32 k = lb_mod_stats_idx(key, 0, 0) + v;

		if (bpf_map_update_elem(fd, &k, zero, BPF_ANY))
			r = lb_errf(err, errno, "zeroing lb_mod_stats: %s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(zero);
	return r;
}

static void ctr_sub(struct mod_ctr *a, const struct mod_ctr *b)
{
	a->pkts -= b->pkts;
	a->drops -= b->drops;
	a->aborted -= b->aborted;
}

/*
 * Watch the new revision's verdicts for o->health_ms: any XDP_ABORTED fails
 * it at once; at the end, a drop share above the old revision's share (over
 * the time before the swap) plus max_drop_increase fails it.
 */
static int health(struct lb_ctx *c, const char *name, uint32_t new_key, int hook,
		  const struct mod_ctr *old_base, const struct lb_mod_opts *o,
		  struct lb_mod_result *res, struct lb_err *err)
{
	struct mod_ctr start, cur;
	double t0 = now_ms(), old_share, new_share;

	if (mod_stats_read(c, new_key, hook, &start))
		return 0;	/* nothing to read: nothing to judge */
	for (;;) {
		double left = o->health_ms - (now_ms() - t0);
		struct timespec ts = { 0, 50 * 1000000L };

		if (mod_stats_read(c, new_key, hook, &cur))
			return 0;
		ctr_sub(&cur, &start);
		res->health_packets = cur.pkts;
		res->health_drops = cur.drops;
		res->health_aborted = cur.aborted;
		if (cur.aborted) {
			snprintf(res->cause, sizeof(res->cause), "health_aborted");
			return lb_errf(err, EPROTO, "%s: the new revision aborted %llu of %llu "
				       "packets in its health window", name,
				       (unsigned long long)cur.aborted,
				       (unsigned long long)cur.pkts);
		}
		if (left <= 0)
			break;
		if (left < 50)
			ts.tv_nsec = (long)(left * 1e6);
		nanosleep(&ts, NULL);
		crash_point(7);
	}
	if (cur.pkts < LB_MOD_HEALTH_MIN_PACKETS)
		return 0;
	old_share = old_base->pkts ? (double)old_base->drops / old_base->pkts : 0;
	new_share = (double)cur.drops / cur.pkts;
	if (new_share > old_share + o->max_drop_increase) {
		snprintf(res->cause, sizeof(res->cause), "health_drops");
		return lb_errf(err, EPROTO, "%s: the new revision dropped %.1f%% of %llu packets in "
			       "its health window, the old one %.1f%% (allowed: +%.0f points)",
			       name, 100 * new_share, (unsigned long long)cur.pkts,
			       100 * old_share, 100 * o->max_drop_increase);
	}
	return 0;
}

/* ---- a generation: build, drop ---- */

#define LOG_SIZE (1 << 20)

/*
 * Build generation g->gen running revs[] (of mods[], in order), each loaded
 * from its artifact in the state directory (its SHA-512 checked against the
 * journal), then self-test it with man's vectors (man may be NULL), then
 * switch every program to its real key.  Nothing serves it yet.
 */
static int gen_build(struct lb_ctx *c, struct genb *g, json_t **mods, json_t **revs, size_t n,
		     const struct lbm_manifest *man, const struct lb_mod_opts *o,
		     struct lb_mod_result *res, struct lb_err *err)
{
	char path[512], *log = calloc(1, LOG_SIZE);
	double t = now_ms();
	int r;

	r = genb_roots(c, g, err);
	for (size_t i = 0; i < n && !r; i++) {
		const char *name = json_string_value(json_object_get(mods[i], "name"));
		const char *sha = json_string_value(json_object_get(revs[i], "sha512"));
		struct lbm_artifact a = { 0 };

		artifact_path(c, path, sizeof(path), name, rev_num(revs[i]));
		r = lbm_load(path, sha, &a, err);
		if (!r) {
			if (log)
				log[0] = '\0';
			r = genb_module(c, g, &a, rev_key(revs[i]), log, log ? LOG_SIZE : 0, err);
			if (r && log && log[0]) {
				/* The verifier's reasons, kept, and their end shown. */
				size_t ll = strlen(log);
				const char *tail = ll > 300 ? log + ll - 300 : log;
				char msg[sizeof(err->msg) + 1024];
				struct lb_err ignored;

				ctx_path(c, path, sizeof(path), true, "mods/%s-%d.log", name,
					 rev_num(revs[i]));
				write_file_atomic(path, log, ll, &ignored);
				snprintf(msg, sizeof(msg), "%s; verifier log in %s, ending: %s",
					 err->msg, path, tail);
				snprintf(err->msg, sizeof(err->msg), "%.*s",
					 (int)sizeof(err->msg) - 1, msg);
			}
		}
		lbm_artifact_free(&a);
	}
	free(log);
	res->ms_load = now_ms() - t;
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "load");
		return r;
	}
	crash_point(3);
	t = now_ms();
	if (man && !o->no_selftest) {
		r = selftest(c, man, g, err);
		if (r) {
			snprintf(res->cause, sizeof(res->cause), "selftest");
			return r;
		}
	}
	res->ms_selftest = now_ms() - t;
	return genb_keys(g, true, err);
}

static void gen_drop(struct lb_ctx *c, uint64_t gen)
{
	char path[512];

	if (!gen)
		return;
	gen_pin(c, path, sizeof(path), gen, NULL);
	rm_tree(path);
}

/* ---- orphans and recovery ---- */

static uint64_t jgen(json_t *j, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(j, key));
}

static bool rev_named(json_t *j, const char *name, int rev)
{
	json_t *m = journal_module(j, name), *t = json_object_get(j, "txn");

	if (m && (rev_num(json_object_get(m, "active")) == rev ||
		  rev_num(json_object_get(m, "previous")) == rev))
		return true;
	return json_is_object(t) && !strcmp(json_string_value(json_object_get(t, "module")) ?: "",
					    name) &&
	       rev_num(json_object_get(t, "rev")) == rev;
}

/*
 * Generations other than the current and the previous one, and artifacts
 * (and verifier logs) of revisions the journal does not name.
 */
static int remove_orphans(struct lb_ctx *c, json_t *j)
{
	uint64_t gen = jgen(j, "gen"), prev = jgen(j, "prev_gen");
	json_t *t = json_object_get(j, "txn");
	char path[512], sub[768];
	struct dirent *e;
	int removed = 0;
	DIR *d;

	ctx_path(c, path, sizeof(path), false, "chain");
	d = opendir(path);
	while (d && (e = readdir(d))) {
		uint64_t g = strtoull(e->d_name, NULL, 10);

		if (e->d_name[0] == '.' || g == gen || g == prev ||
		    (json_is_object(t) && g == jgen(t, "new_gen")))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rm_tree(sub);
		removed++;
	}
	if (d)
		closedir(d);
	ctx_path(c, path, sizeof(path), true, "mods");
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char name[64], *dash;

		if (e->d_name[0] == '.' || snprintf(name, sizeof(name), "%s", e->d_name) >= 64)
			continue;
		dash = strrchr(name, '-');
		if (!dash)
			continue;
		*dash = '\0';
		if (rev_named(j, name, (int)strtol(dash + 1, NULL, 10)))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		unlink(sub);
		removed++;
	}
	if (d)
		closedir(d);
	return removed;
}

/* Does any attached interface's hook h run generation gen's root now? */
static bool gen_serves(struct lb_ctx *c, uint64_t gen, int h)
{
	struct lb_attached att[LB_MAX_IFACES];
	size_t n = state_ifaces(c, att, LB_MAX_IFACES);
	int fd = gen ? gen_root_fd(c, gen, h) : -1;
	uint32_t id = fd >= 0 ? prog_id_of(fd) : 0;
	bool yes = false;

	for (size_t i = 0; i < n && id; i++)
		yes |= link_prog_id(c, h, att[i].ifindex) == id;
	if (fd >= 0)
		close(fd);
	return yes;
}

int module_recover(struct lb_ctx *c, struct lb_err *err)
{
	json_t *j = module_journal_load(c, err), *t;
	uint64_t old_gen, new_gen;
	int r = 0;

	if (!j)
		return -EINVAL;
	t = json_object_get(j, "txn");
	if (json_is_object(t)) {
		old_gen = jgen(t, "old_gen");
		new_gen = jgen(t, "new_gen");
		/* The kernel decides: links on the new generation go back to the old. */
		for (int h = 0; h < N_HOOKS && old_gen && !r; h++) {
			int ofd = gen_root_fd(c, old_gen, h);

			if (ofd >= 0 && gen_serves(c, new_gen, h))
				r = swap_hook(c, h, -1, ofd, true, err);
			if (ofd >= 0)
				close(ofd);
		}
		if (r)
			goto out;
		json_object_set_new(j, "txn", json_null());
		r = journal_save(c, j, err);
		if (r)
			goto out;
		fprintf(stderr, "lbagent: rolled back an interrupted module %s of %s\n",
			json_string_value(json_object_get(t, "op")) ?: "change",
			json_string_value(json_object_get(t, "module")) ?: "?");
	}
	remove_orphans(c, j);
out:
	json_decref(j);
	return r;
}

/* ---- transactions ---- */

static json_t *rev_new(json_t *j, json_t *m, const struct lbm_artifact *a)
{
	json_t *hooks = json_array();
	int next = 1;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (m)
		next = (int)json_integer_value(json_object_get(m, "next_rev")) ?: 1;
	for (size_t i = 0; i < a->m->n_hooks; i++)
		json_array_append_new(hooks, json_string(hook_names[a->m->hooks[i].type ==
								    LBM_HOOK_XDP ? HOOK_XDP
										 : HOOK_TC]));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:i, s:I, s:s, s:s, s:o, s:s}", "rev", next, "serial",
			 json_integer_value(json_object_get(j, "serial")) + 1, "version",
			 a->m->version, "sha512", a->sha512, "hooks", hooks, "installed_at", when);
}

typedef void (*commit_fn)(json_t *j, json_t *m, json_t *rev, const void *arg);

/*
 * The lifecycle's own metrics, kept in the journal (for `module status` and
 * the daemon's /metrics): committed changes, rollbacks by cause, and the
 * phase times of the last change and their sums.
 */
static void stats_note(json_t *j, const struct lb_mod_result *res, bool committed)
{
	json_t *st = json_object_get(j, "stats"), *rb, *ms;
	const struct {
		const char *name;
		double v;
	} ph[] = { { "verify", res->ms_verify }, { "load", res->ms_load },
		   { "build", res->ms_build }, { "selftest", res->ms_selftest },
		   { "swap", res->ms_swap }, { "health", res->ms_health } };

	if (!json_is_object(st)) {
		st = json_pack("{s:i, s:{}, s:{}}", "swaps", 0, "rollbacks", "phase_ms_sum");
		json_object_set_new(j, "stats", st);
	}
	if (committed) {
		json_object_set_new(st, "swaps", json_integer(json_integer_value(
							json_object_get(st, "swaps")) + 1));
	} else {
		rb = json_object_get(st, "rollbacks");
		json_object_set_new(rb, res->cause[0] ? res->cause : "other",
				    json_integer(json_integer_value(json_object_get(
					    rb, res->cause[0] ? res->cause : "other")) + 1));
	}
	ms = json_object_get(st, "phase_ms_sum");
	for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
		json_object_set_new(ms, ph[i].name,
				    json_real(json_number_value(json_object_get(ms, ph[i].name)) +
					      ph[i].v));
}

/*
 * The common part of every change: generation new_gen with `name` running
 * `rev` (NULL: off) is built (or, reuse, is the previous generation, which
 * runs exactly that already), swapped in, watched, committed: commit() sets
 * the module's new state, and the journal gets it, the generation and no
 * txn in one write.  On failure the links are back on the old generation.
 */
static int change(struct lb_ctx *c, json_t *j, const char *name, json_t *rev,
		  const struct lbm_manifest *man, uint64_t new_gen, bool reuse, commit_fn commit,
		  const void *arg, const struct lb_mod_opts *o, struct lb_mod_result *res,
		  struct lb_err *err)
{
	uint64_t old_gen = jgen(j, "gen");
	int new_fd[N_HOOKS] = { -1, -1 }, old_fd[N_HOOKS] = { -1, -1 };
	json_t *mods[MAX_MODS], *revs[MAX_MODS], *m = journal_module(j, name);
	json_t *old_rev = m ? json_object_get(m, "active") : NULL, *comp;
	bool swapped[N_HOOKS] = { false, false };
	struct mod_ctr old_base = { 0 }, tmp;
	size_t n = chain_members(j, name, rev, mods, revs);
	struct genb g;
	double t;
	int r = 0;

	genb_init(&g, new_gen);
	if (old_rev && (json_is_null(old_rev) || !json_is_true(json_object_get(m, "enabled"))))
		old_rev = NULL;
	if (old_rev)
		mod_stats_read(c, rev_key(old_rev), health_hook(old_rev), &old_base);
	t = now_ms();
	if (reuse) {
		for (int h = 0; h < N_HOOKS && !r; h++) {
			new_fd[h] = gen_root_fd(c, new_gen, h);
			if (new_fd[h] < 0)
				r = lb_errf(err, errno, "generation %llu is not pinned: %s",
					    (unsigned long long)new_gen, strerror(errno));
		}
	} else {
		r = gen_build(c, &g, mods, revs, n, man, o, res, err);
		for (int h = 0; h < N_HOOKS; h++)
			new_fd[h] = g.root[h] >= 0 ? dup(g.root[h]) : -1;
	}
	res->ms_build = now_ms() - t - res->ms_load - res->ms_selftest;
	genb_close(&g);
	if (r) {
		if (!res->cause[0])
			snprintf(res->cause, sizeof(res->cause), "build");
		goto undo;
	}
	crash_point(4);
	/* The old revision's verdicts until now are the health baseline. */
	if (old_rev && !mod_stats_read(c, rev_key(old_rev), health_hook(old_rev), &tmp)) {
		ctr_sub(&tmp, &old_base);
		old_base = tmp;
	}
	t = now_ms();
	for (int h = 0; h < N_HOOKS && !r; h++) {
		old_fd[h] = old_gen ? gen_root_fd(c, old_gen, h) : -1;
		if (old_fd[h] < 0)
			continue;	/* no generation yet: nothing attached to it */
		swapped[h] = true;
		r = swap_hook(c, h, old_fd[h], new_fd[h], false, err);
	}
	res->ms_swap = now_ms() - t;
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "swap");
		goto back;
	}
	crash_point(5);
	json_object_set_new(json_object_get(j, "txn"), "step", json_string("swapped"));
	r = journal_save(c, j, err);
	if (r)
		goto back;
	crash_point(6);
	t = now_ms();
	if (rev && o->health_ms && old_gen)
		r = health(c, name, rev_key(rev), health_hook(rev), &old_base, o, res, err);
	res->ms_health = now_ms() - t;
	if (r)
		goto back;
	/* Commit. */
	commit(j, m, rev, arg);
	stats_note(j, res, true);
	comp = composition(mods, revs, n);
	if (!json_is_object(json_object_get(j, "gens")))
		json_object_set_new(j, "gens", json_object());
	json_object_set_new(j, "prev_gen", json_integer((json_int_t)old_gen));
	json_object_set_new(j, "gen", json_integer((json_int_t)new_gen));
	{
		json_t *gens = json_object(), *x;
		char k[24];

		snprintf(k, sizeof(k), "%llu", (unsigned long long)old_gen);
		x = json_object_get(json_object_get(j, "gens"), k);
		if (x)
			json_object_set(gens, k, x);
		snprintf(k, sizeof(k), "%llu", (unsigned long long)new_gen);
		json_object_set_new(gens, k, comp);
		json_object_set_new(j, "gens", gens);
	}
	json_object_set_new(j, "txn", json_null());
	r = journal_save(c, j, err);
	if (r)
		goto back;
	crash_point(8);
	res->gen = new_gen;
	for (int h = 0; h < N_HOOKS; h++) {
		if (new_fd[h] >= 0)
			close(new_fd[h]);
		if (old_fd[h] >= 0)
			close(old_fd[h]);
	}
	remove_orphans(c, j);
	crash_point(9);
	return 0;
back:
	for (int h = 0; h < N_HOOKS; h++)
		if (swapped[h] && old_fd[h] >= 0)
			swap_hook(c, h, -1, old_fd[h], true, NULL);
undo:
	res->rolled_back = true;
	stats_note(j, res, false);	/* saved with the txn's end (txn_abort) */
	for (int h = 0; h < N_HOOKS; h++) {
		if (new_fd[h] >= 0)
			close(new_fd[h]);
		if (old_fd[h] >= 0)
			close(old_fd[h]);
	}
	if (!reuse)
		gen_drop(c, new_gen);
	return r;
}

/* Begin: the txn in the journal (step 1).  reuse: new_gen is the previous generation. */
static int txn_begin(struct lb_ctx *c, json_t *j, const char *op, const char *name, json_t *rev,
		     uint64_t *new_gen, bool reuse, struct lb_err *err)
{
	uint64_t gen = jgen(j, "gen");

	if (!reuse) {
		/* A generation number is never used twice, even after a crash. */
		*new_gen = jgen(j, "next_gen") > gen ? jgen(j, "next_gen") : gen + 1;
		json_object_set_new(j, "next_gen", json_integer((json_int_t)*new_gen + 1));
	}
	json_object_set_new(j, "txn", json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:O?}", "op", op,
						"module", name, "step", "begun", "old_gen",
						(json_int_t)gen, "new_gen", (json_int_t)*new_gen,
						"reuse", reuse, "rev", rev));
	if (journal_save(c, j, err))
		return -EIO;
	crash_point(1);
	return 0;
}

/* After a failed change: forget the txn (the links are back, the pins gone). */
static void txn_abort(struct lb_ctx *c, json_t *j)
{
	json_t *mods = json_object_get(j, "modules"), *m;
	struct lb_err ignored;
	size_t i;

	/* A module whose first install failed was never there. */
	for (i = json_array_size(mods); i-- > 0;) {
		m = json_array_get(mods, i);
		if (json_is_null(json_object_get(m, "active")) &&
		    json_is_null(json_object_get(m, "previous")))
			json_array_remove(mods, i);
	}
	json_object_set_new(j, "txn", json_null());
	journal_save(c, j, &ignored);
	remove_orphans(c, j);
}

/* Install: the new revision active, the old one previous; its maps' layouts. */
static void commit_install(json_t *j, json_t *m, json_t *rev, const void *arg)
{
	const struct lbm_manifest *man = arg;

	for (size_t i = 0; i < man->n_maps; i++)
		json_object_set_new(json_object_get(j, "maps"), man->maps[i].name,
				    json_integer(man->maps[i].layout));
	json_object_set(m, "previous", json_object_get(m, "active"));
	json_object_set(m, "active", rev);
	json_object_set_new(m, "enabled", json_true());
}

static int install_bytes(struct lb_ctx *c, const uint8_t *buf, size_t len, const char *label,
			 const char *expect_sha, const struct lb_mod_opts *o,
			 struct lb_mod_result *res, struct lb_err *err)
{
	struct lbm_artifact a = { 0 };
	json_t *j = NULL, *m, *rev = NULL;
	double t0 = now_ms();
	uint64_t new_gen = 0;
	char path[512];
	int r;

	r = lbm_parse(buf, len, label, &a, err);
	if (!r && !a.sha512[0])
		r = lbm_sha512_hex(buf, len, a.sha512);
	if (!r && expect_sha && strcasecmp(expect_sha, a.sha512))
		r = lb_errf(err, EBADMSG, "%s: SHA-512 mismatch: expected %.16s..., got %.16s...",
			    label, expect_sha, a.sha512);
	if (!r && a.m->abi != LBM_ABI)
		r = lb_errf(err, EPROTO, "%s: ABI %u, this agent speaks %u", label, a.m->abi,
			    LBM_ABI);
	for (size_t i = 0; !r && i < a.m->n_hooks; i++)
		if (a.m->hooks[i].type == LBM_HOOK_TC_INGRESS)
			r = lb_errf(err, EOPNOTSUPP, "%s: hook tc_ingress: not supported by this "
				    "agent", label);
	res->ms_verify = now_ms() - t0;
	snprintf(res->module, sizeof(res->module), "%s", a.m ? a.m->name : "?");
	if (a.m)
		snprintf(res->version, sizeof(res->version), "%s", a.m->version);
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "verify");
		goto out;
	}
	j = module_journal_load(c, err);
	if (!j) {
		r = -EINVAL;
		goto out;
	}
	r = maps_compatible(c, j, &a, err);
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "map_layout");
		goto out;
	}
	m = journal_module(j, a.m->name);
	if (!m) {
		m = json_pack("{s:s, s:b, s:i, s:n, s:n, s:i}", "name", a.m->name, "enabled", 1,
			      "order", module_order(a.m->name), "active", "previous", "next_rev",
			      1);
		json_array_append_new(json_object_get(j, "modules"), m);
	}
	rev = rev_new(j, m, &a);
	json_object_set_new(j, "serial", json_integer(json_integer_value(
						json_object_get(rev, "serial"))));
	json_object_set_new(m, "next_rev", json_integer(rev_num(rev) + 1));
	res->rev = (unsigned int)rev_num(rev);
	res->key = rev_key(rev);
	r = txn_begin(c, j, "install", a.m->name, rev, &new_gen, false, err);
	if (r)
		goto out;
	/* Step 2: the artifact, where every later generation loads it from. */
	ctx_path(c, path, sizeof(path), true, "mods");
	r = mkdir_p(path, 0700);
	if (r)
		r = lb_errf(err, -r, "creating %s: %s", path, strerror(-r));
	artifact_path(c, path, sizeof(path), a.m->name, rev_num(rev));
	if (!r)
		r = write_file_atomic(path, buf, len, err) ?: mod_stats_zero(c, rev_key(rev), err);
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "store");
		txn_abort(c, j);
		goto out;
	}
	crash_point(2);
	r = change(c, j, a.m->name, rev, a.m, new_gen, false, commit_install, a.m, o, res, err);
	if (r)
		txn_abort(c, j);
out:
	if (r && !res->rolled_back && res->cause[0]) {
		/* Refused before anything was built: counted by cause all the same. */
		struct lb_err ignored;
		json_t *jj = module_journal_load(c, &ignored);

		if (jj) {
			stats_note(jj, res, false);
			journal_save(c, jj, &ignored);
			json_decref(jj);
		}
	}
	res->ms_total = now_ms() - t0;
	json_decref(rev);
	json_decref(j);
	lbm_artifact_free(&a);
	return r;
}

int module_install(struct lb_ctx *c, const char *path, const struct lb_mod_opts *o,
		   struct lb_mod_result *res, struct lb_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *base = strrchr(path, '/');
	int r;

	memset(res, 0, sizeof(*res));
	r = lbm_read_file(path, LBM_FILE_MAX, &buf, &len, NULL, err);
	if (r) {
		snprintf(res->cause, sizeof(res->cause), "verify");
		return r;
	}
	r = install_bytes(c, buf, len, base ? base + 1 : path, o->sha512, o, res, err);
	free(buf);
	return r;
}

/* Rollback: active and previous change places.  Toggles: the flag. */
struct swap_commit {
	bool to_previous;
	int enable;
};

static void commit_swap(json_t *j, json_t *m, json_t *rev, const void *arg)
{
	const struct swap_commit *sc = arg;

	(void)j;
	if (sc->to_previous) {
		json_t *cur = json_incref(json_object_get(m, "active"));

		json_object_set(m, "active", rev);
		json_object_set_new(m, "previous", cur);
	}
	if (sc->enable >= 0)
		json_object_set_new(m, "enabled", json_boolean(sc->enable));
}

/*
 * Rollback and toggles.  When the previous generation runs exactly what the
 * change asks for (a rollback right after an install or a rollback), the
 * links go back to it: nothing is loaded.  Otherwise a new generation is
 * built from the stored artifacts.
 */
static int swap_only(struct lb_ctx *c, const char *name, const char *op, bool to_previous,
		     int enable, const struct lb_mod_opts *o, struct lb_mod_result *res,
		     struct lb_err *err)
{
	json_t *j, *m, *target, *mods[MAX_MODS], *revs[MAX_MODS], *want, *prev_comp;
	const struct swap_commit sc = { to_previous, enable };
	struct lb_mod_opts oo = *o;
	uint64_t new_gen = 0;
	double t0 = now_ms();
	char k[24];
	bool reuse;
	int r;

	memset(res, 0, sizeof(*res));
	snprintf(res->module, sizeof(res->module), "%s", name);
	j = module_journal_load(c, err);
	if (!j)
		return -EINVAL;
	m = journal_module(j, name);
	if (!m) {
		r = lb_errf(err, ENOENT, "no module %s is installed", name);
		goto out;
	}
	target = to_previous ? json_object_get(m, "previous") : json_object_get(m, "active");
	if (!target || json_is_null(target)) {
		r = lb_errf(err, ENOENT, "%s has no %s revision", name,
			    to_previous ? "previous" : "active");
		goto out;
	}
	snprintf(res->version, sizeof(res->version), "%s",
		 json_string_value(json_object_get(target, "version")) ?: "");
	res->rev = (unsigned int)rev_num(target);
	res->key = rev_key(target);
	if (enable >= 0 && json_is_true(json_object_get(m, "enabled")) == (enable == 1)) {
		r = 0;	/* already so: nothing to change */
		res->gen = jgen(j, "gen");
		goto out;
	}
	json_incref(target);
	want = composition(mods, revs, chain_members(j, name, enable == 0 ? NULL : target, mods,
						      revs));
	snprintf(k, sizeof(k), "%llu", (unsigned long long)jgen(j, "prev_gen"));
	prev_comp = json_object_get(json_object_get(j, "gens"), k);
	reuse = jgen(j, "prev_gen") && prev_comp && json_equal(prev_comp, want);
	json_decref(want);
	if (reuse)
		new_gen = jgen(j, "prev_gen");
	/* Disabling leaves no revision of it to watch. */
	if (enable == 0)
		oo.health_ms = 0;
	r = txn_begin(c, j, op, name, target, &new_gen, reuse, err);
	if (!r) {
		r = change(c, j, name, enable == 0 ? NULL : target, NULL, new_gen, reuse,
			   commit_swap, &sc, &oo, res, err);
		if (r)
			txn_abort(c, j);
	}
	json_decref(target);
out:
	res->ms_total = now_ms() - t0;
	json_decref(j);
	return r;
}

int module_rollback(struct lb_ctx *c, const char *name, const struct lb_mod_opts *o,
		    struct lb_mod_result *res, struct lb_err *err)
{
	return swap_only(c, name, "rollback", true, -1, o, res, err);
}

int module_set_enabled(struct lb_ctx *c, const char *name, bool enabled,
		       const struct lb_mod_opts *o, struct lb_mod_result *res, struct lb_err *err)
{
	return swap_only(c, name, enabled ? "enable" : "disable", false, enabled, o, res, err);
}

/* ---- the built-in firewall ---- */

/* modules/firewall.json, with the build's version (generated by the Makefile). */
#include "firewall_manifest.h"

static int install_builtin(struct lb_ctx *c, struct lb_err *err)
{
	struct lb_mod_opts o = { .health_ms = 0, .max_drop_increase = 1 };
	struct lbm_file objs[2] = { { .name = "fw_xdp.bpf.o" }, { .name = "fw_tc.bpf.o" } };
	struct lb_mod_result res;
	uint8_t *lbm = NULL;
	size_t sz, lbm_len = 0;
	int r;

	objs[0].data = (uint8_t *)fw_xdp__elf_bytes(&sz);
	objs[0].size = sz;
	objs[1].data = (uint8_t *)fw_tc__elf_bytes(&sz);
	objs[1].size = sz;
	r = lbm_pack("built-in firewall", lb_firewall_manifest, strlen(lb_firewall_manifest), objs,
		     2, &lbm, &lbm_len, err);
	if (!r)
		r = install_bytes(c, lbm, lbm_len, "built-in firewall", NULL, &o, &res, err);
	free(lbm);
	return r;
}

/*
 * The journal names a generation the bpffs does not hold: the host rebooted
 * (bpffs is memory) while the state directory stayed.  Build a generation
 * of what the journal says runs, from the stored artifacts; nothing is
 * attached to swap (the interfaces are attached again by fw attach).
 */
static int gen_restore(struct lb_ctx *c, struct lb_err *err)
{
	struct lb_mod_opts o = { .health_ms = 0, .max_drop_increase = 1 };
	json_t *j = module_journal_load(c, err), *mods[MAX_MODS], *revs[MAX_MODS], *gens;
	struct lb_mod_result res = { 0 };
	uint64_t new_gen = 0;
	struct genb g;
	size_t n;
	char k[24];
	int r;

	if (!j)
		return -EINVAL;
	n = chain_members(j, NULL, NULL, mods, revs);
	r = txn_begin(c, j, "restore", "*", NULL, &new_gen, false, err);
	if (r)
		goto out;
	genb_init(&g, new_gen);
	r = gen_build(c, &g, mods, revs, n, NULL, &o, &res, err);
	genb_close(&g);
	if (r) {
		gen_drop(c, new_gen);
		txn_abort(c, j);
		goto out;
	}
	gens = json_object();
	snprintf(k, sizeof(k), "%llu", (unsigned long long)new_gen);
	json_object_set_new(gens, k, composition(mods, revs, n));
	json_object_set_new(j, "gens", gens);
	json_object_set_new(j, "gen", json_integer((json_int_t)new_gen));
	json_object_set_new(j, "prev_gen", json_integer(0));
	json_object_set_new(j, "txn", json_null());
	r = journal_save(c, j, err);
	if (!r)
		remove_orphans(c, j);
out:
	json_decref(j);
	return r;
}

int module_chain_fds(struct lb_ctx *c, int *xdp_fd, int *tc_fd, struct lb_err *err)
{
	json_t *j;
	uint64_t gen;
	int r;

	*xdp_fd = *tc_fd = -1;
	j = module_journal_load(c, err);
	if (!j)
		return -EINVAL;
	gen = json_integer_value(json_object_get(j, "gen"));
	json_decref(j);
	if (!gen) {
		r = install_builtin(c, err);
		if (r)
			return r;
		j = module_journal_load(c, err);
		if (!j)
			return -EINVAL;
		gen = json_integer_value(json_object_get(j, "gen"));
		json_decref(j);
	}
	*xdp_fd = gen_root_fd(c, gen, HOOK_XDP);
	if (*xdp_fd < 0 && errno == ENOENT) {
		r = gen_restore(c, err);
		if (r)
			return r;
		j = module_journal_load(c, err);
		if (!j)
			return -EINVAL;
		gen = jgen(j, "gen");
		json_decref(j);
		*xdp_fd = gen_root_fd(c, gen, HOOK_XDP);
	}
	*tc_fd = gen_root_fd(c, gen, HOOK_TC);
	if (*xdp_fd < 0 || *tc_fd < 0) {
		r = lb_errf(err, ENOENT, "generation %llu of the module chain is not pinned: %s",
			    (unsigned long long)gen, strerror(errno));
		if (*xdp_fd >= 0)
			close(*xdp_fd);
		if (*tc_fd >= 0)
			close(*tc_fd);
		*xdp_fd = *tc_fd = -1;
	}
	return r;
}
