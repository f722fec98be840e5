// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctx.c - paths, the lock, state.json, and loading the datapath once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "module.h"
#include "ct_gc.skel.h"

void ctx_path(const struct lb_ctx *c, char *buf, size_t len, bool state, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", state ? c->state_dir : c->bpffs);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < len)
		vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[512];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The bpffs root must live on a bpf filesystem, or pins would fail later. */
static int bpffs_check(const char *dir, struct lb_err *err)
{
	struct statfs st;
	int r = mkdir_p(dir, 0700);

	if (r)
		return lb_errf(err, -r, "creating bpffs root %s: %s", dir, strerror(-r));
	if (statfs(dir, &st))
		return lb_errf(err, errno, "statfs %s: %s", dir, strerror(errno));
	if (st.f_type != BPF_FS_MAGIC)
		return lb_errf(err, EINVAL,
			       "%s is not on a bpf filesystem (mount one: mount -t bpf bpf %s)", dir,
			       dir);
	return 0;
}

int ctx_read_state(struct lb_ctx *c, struct lb_err *err)
{
	char path[512];
	json_error_t je;

	ctx_path(c, path, sizeof(path), true, "state.json");
	json_decref(c->state);
	c->state = json_load_file(path, 0, &je);
	if (!c->state) {
		if (access(path, F_OK) == 0)
			return lb_errf(err, EINVAL, "%s:%d:%d: %s", path, je.line, je.column,
				       je.text);
		c->state = json_pack("{s:[]}", "interfaces");
	}
	if (!json_is_array(json_object_get(c->state, "interfaces")))
		json_object_set_new(c->state, "interfaces", json_array());
	return 0;
}

int ctx_lock(struct lb_ctx *c, struct lb_err *err)
{
	int r = bpffs_check(c->bpffs, err);

	if (r)
		return r;
	r = mkdir_p(c->state_dir, 0700);
	if (r)
		return lb_errf(err, -r, "creating state directory %s: %s", c->state_dir,
			       strerror(-r));
	/* flock on the bpffs root, like xdp-tools: every writer of these pins waits. */
	c->lock_fd = open(c->bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->lock_fd < 0)
		return lb_errf(err, errno, "opening %s: %s", c->bpffs, strerror(errno));
	if (flock(c->lock_fd, LOCK_EX))
		return lb_errf(err, errno, "locking %s: %s", c->bpffs, strerror(errno));
	/* Whoever takes the lock first finishes what a killed process left (module.h). */
	return ctx_read_state(c, err) ?: module_recover(c, err);
}

int write_file_atomic(const char *path, const void *buf, size_t len, struct lb_err *err)
{
	char tmp[600];
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return lb_errf(err, errno, "creating %s: %s", tmp, strerror(errno));
	for (size_t off = 0; off < len && !e;) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno != EINTR)
			e = errno;
		else if (n > 0)
			off += n;
	}
	if (!e && fsync(fd))
		e = errno;
	close(fd);
	if (!e && rename(tmp, path))
		e = errno;
	if (e) {
		unlink(tmp);
		return lb_errf(err, e, "writing %s: %s", path, strerror(e));
	}
	return 0;
}

int ctx_save_state(struct lb_ctx *c, struct lb_err *err)
{
	char path[512];
	char *text = json_dumps(c->state, JSON_INDENT(2) | JSON_SORT_KEYS);
	int r;

	if (!text)
		return lb_errf(err, ENOMEM, "serialising state");
	ctx_path(c, path, sizeof(path), true, "state.json");
	r = write_file_atomic(path, text, strlen(text), err);
	free(text);
	return r;
}

void ctx_release(struct lb_ctx *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	json_decref(c->state);
	c->state = NULL;
}

size_t state_ifaces(const struct lb_ctx *c, struct lb_attached *out, size_t max)
{
	json_t *arr = json_object_get(c->state, "interfaces"), *it;
	size_t i, n = 0;

	json_array_foreach(arr, i, it) {
		struct lb_attached a = { 0 };

		if (n >= max)
			break;
		snprintf(a.name, sizeof(a.name), "%s",
			 json_string_value(json_object_get(it, "name")) ?: "?");
		a.ifindex = json_integer_value(json_object_get(it, "ifindex"));
		a.slot = json_integer_value(json_object_get(it, "slot"));
		snprintf(a.mode, sizeof(a.mode), "%s",
			 json_string_value(json_object_get(it, "mode")) ?: "?");
		snprintf(a.egress, sizeof(a.egress), "%s",
			 json_string_value(json_object_get(it, "egress")) ?: "?");
		out[n++] = a;
	}
	return n;
}

int state_iface_add(struct lb_ctx *c, const struct lb_attached *a)
{
	json_t *arr = json_object_get(c->state, "interfaces");

	return json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", a->name,
						    "ifindex", (json_int_t)a->ifindex, "slot",
						    (json_int_t)a->slot, "mode", a->mode, "egress",
						    a->egress)) ? -ENOMEM : 0;
}

void state_iface_del(struct lb_ctx *c, uint32_t ifindex)
{
	json_t *arr = json_object_get(c->state, "interfaces"), *it;
	size_t i;

	json_array_foreach(arr, i, it) {
		if (json_integer_value(json_object_get(it, "ifindex")) == ifindex) {
			json_array_remove(arr, i);
			return;
		}
	}
}

/*
 * Arm the in-kernel conntrack collector (bpf/ct_gc.bpf.c): load it against the
 * pinned maps and run its arm program once.  The timer keeps the program.
 */
int ct_gc_arm(struct lb_ctx *c, struct lb_err *err)
{
	char maps[512];
	uint8_t pkt[64] = { 0 };
	struct bpf_program *prog;
	struct bpf_object *obj;
	size_t sz;
	const void *elf = ct_gc__elf_bytes(&sz);
	int r;

	ctx_path(c, maps, sizeof(maps), false, "maps");
	LIBBPF_OPTS(bpf_object_open_opts, o, .object_name = "ct_gc", .pin_root_path = maps);
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt));
	obj = bpf_object__open_mem(elf, sz, &o);
	if (!obj)
		return lb_errf(err, errno, "opening BPF object ct_gc: %s", strerror(errno));
	prog = bpf_object__find_program_by_name(obj, "lb_ct_gc_arm");
	r = prog ? bpf_object__load(obj) : -ENOENT;
	if (!r)
		r = bpf_prog_test_run_opts(bpf_program__fd(prog), &run) ? -errno : 0;
	if (!r && run.retval)
		r = -EIO;
	bpf_object__close(obj);
	return r ? lb_errf(err, -r, "arming the conntrack collector: %s", strerror(-r)) : 0;
}

int datapath_ensure(struct lb_ctx *c, int *xdp_fd, int *tc_fd, struct lb_err *err)
{
	static const char *const dirs[] = { "maps", "links", "chain" };
	char dir[512];

	*xdp_fd = *tc_fd = -1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ctx_path(c, dir, sizeof(dir), false, "%s", dirs[i]);
		if (mkdir_p(dir, 0700))
			return lb_errf(err, errno, "creating %s: %s", dir, strerror(errno));
	}
	return module_chain_fds(c, xdp_fd, tc_fd, err);
}

int datapath_maps(struct lb_ctx *c, struct lb_maps *m, struct lb_err *err)
{
	char dir[512];
	int r;

	ctx_path(c, dir, sizeof(dir), false, "maps");
	if (access(dir, F_OK)) {
		maps_open(m, "/nonexistent", NULL); /* sets every fd to -1 */
		return lb_errf(err, ENOENT,
			       "no datapath under %s: run `lbagent fw attach IFACE` or "
			       "`lbagent fw policy apply FILE` first", c->bpffs);
	}
	r = maps_open(m, dir, err);
	return r;
}

static const struct {
	const char *name, *verdict;
} reasons[LB_REASON_COUNT] = {
#define X(e, n, v, nm, d) [n] = { nm, #v },
	LB_REASON_TABLE(X)
#undef X
};

const char *reason_name(unsigned int r)
{
	return r < LB_REASON_COUNT ? reasons[r].name : "unknown";
}

const char *reason_verdict(unsigned int r)
{
	static const char *lower[] = { "pass", "drop", "audit" };

	if (r >= LB_REASON_COUNT)
		return "unknown";
	if (!strcmp(reasons[r].verdict, "DROP"))
		return lower[1];
	if (!strcmp(reasons[r].verdict, "AUDIT"))
		return lower[2];
	return lower[0];
}

void json_print(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (s)
		puts(s);
	free(s);
	json_decref(j);
}

int no_more_args(int argc, char **argv, const char *usage)
{
	if (argc <= 1)
		return 0;
	fprintf(stderr, "unexpected argument `%s'\nUsage: lbagent %s\n", argv[1], usage);
	return -LB_EUSAGE;
}
