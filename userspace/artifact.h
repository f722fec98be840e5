/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * artifact.h - module artifacts: one file per module version, NAME-VERSION.lbm.
 *
 * Format.  A gzip stream (RFC 1952, one member, nothing after it) holding a
 * POSIX ustar archive:
 *   - entry 0 is manifest.json; then the BPF objects the manifest lists, in
 *     its order.  Every entry is a regular file with a plain name of 1-100
 *     characters from [A-Za-z0-9._-], not starting with '.': no directories,
 *     so no path can point anywhere else.
 *   - written reproducibly: mode 0644, uid/gid 0, empty user and group names,
 *     mtime 0 in the tar headers and in the gzip header (OS byte 3, Unix);
 *     two zero blocks end the archive.  The same inputs give the same bytes.
 *   - read strictly: bad header checksums, non-ustar magic, non-regular
 *     entries (links, devices, directories, pax headers), names that are
 *     absolute, hold "..", or hold a '/', duplicate names, an entry over 16
 *     MiB, entries summing over 64 MiB, more than LBM_ENTRIES_MAX entries, a
 *     truncated archive (or gzip stream) and anything but zero blocks after
 *     the end-of-archive marker are all refused.
 * Identity: the SHA-512 of the whole .lbm file, 128 lowercase hex digits.
 *
 * manifest.json (strict: duplicate and unknown keys are refused):
 *   name        [a-z0-9-], 1-32 characters, starting with a letter or digit
 *   version     semantic version 2.0.0 (MAJOR.MINOR.PATCH[-pre][+build]), <= 64
 *   abi         integer >= 1: the contract between the agent and the module
 *               (map keys/values of headers/lb_fw.h, verdict numbers); the
 *               agent accepts LBM_ABI only
 *   objects     the archive's object files, by name, at least one, unique
 *   hooks       [{"hook": "xdp"|"tc_egress"|"tc_ingress", "object", "program"}]:
 *               where each program attaches; at most one program per hook;
 *               every object is named by at least one hook
 *   maps        [{"name", "layout"}]: the state maps the module shares with
 *               the agent (pinned by name) and the layout version it expects;
 *               each must be defined in some object's .maps section
 *   kernel      {"min": "MAJOR.MINOR", "features": [...]} (features optional:
 *               btf, xdp, tcx, tc_clsact, ringbuf, bpf_timer)
 *   selftest    [{"name", "hook", "packet": hex Ethernet frame (14-1522 bytes,
 *               no FCS), "expect": "pass"|"drop"|"aborted"|"tx"|"redirect"}];
 *               the hook must be one of the module's; aborted and tx are XDP
 *               verdicts only (tc: pass = TC_ACT_OK, drop = TC_ACT_SHOT,
 *               redirect = TC_ACT_REDIRECT)
 *   tags        optional, [a-z0-9-] strings of 1-32 characters, unique
 *   description optional string, at most 1024 bytes
 *
 * ELF checks (libelf, before libbpf sees the bytes): ELF64, little-endian,
 * ET_REL, EM_BPF; a "license" section holding a string the kernel counts as
 * GPL-compatible; a .BTF section; for each hook on the object a global
 * STT_FUNC symbol of the program's name in an executable section whose name
 * fits the hook (xdp: "xdp..."; tc_*: "tc", "tc/...", "classifier...",
 * "sched_cls...", "tcx/ingress" or "tcx/egress" matching the direction; any
 * hook: "freplace/...").
 *
 * Errors: one message naming the file (label), the entry or manifest field
 * (as a JSON path) and the bad value, e.g.
 *   firewall-1.2.0.lbm: manifest.json: $.version: "1.02.0" is not semver
 *   (leading zero in minor)
 * Nothing here prints; no function does I/O except lbm_read_file().
 */
#ifndef LB_ARTIFACT_H
#define LB_ARTIFACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lberr.h"

#define LBM_ABI			1
#define LBM_MANIFEST		"manifest.json"
#define LBM_ENTRY_MAX		(16u << 20)	/* one entry */
#define LBM_TOTAL_MAX		(64u << 20)	/* all entries' data */
#define LBM_TAR_MAX		(LBM_TOTAL_MAX + (1u << 20))	/* + headers, padding */
#define LBM_FILE_MAX		LBM_TAR_MAX	/* the .lbm file itself */
#define LBM_ENTRIES_MAX		17		/* manifest + LBM_OBJECTS_MAX */

#define LBM_NAME_MAX		32
#define LBM_VERSION_MAX		64
#define LBM_FNAME_MAX		100		/* ustar's name field */
#define LBM_IDENT_MAX		63		/* programs, maps, self-test names */
#define LBM_TAG_MAX		32
#define LBM_DESC_MAX		1024
#define LBM_OBJECTS_MAX		16
#define LBM_HOOKS_MAX		3
#define LBM_MAPS_MAX		64
#define LBM_SELFTESTS_MAX	256
#define LBM_TAGS_MAX		16
#define LBM_PKT_MIN		14
#define LBM_PKT_MAX		1522
#define LBM_SHA512_HEX		129		/* 128 hex digits + NUL */

enum lbm_hook_type { LBM_HOOK_XDP, LBM_HOOK_TC_EGRESS, LBM_HOOK_TC_INGRESS, LBM_HOOK_COUNT };
enum lbm_verdict { LBM_PASS, LBM_DROP, LBM_ABORTED, LBM_TX, LBM_REDIRECT, LBM_VERDICT_COUNT };

enum lbm_feature {
	LBM_FEAT_BTF = 1 << 0,
	LBM_FEAT_XDP = 1 << 1,
	LBM_FEAT_TCX = 1 << 2,
	LBM_FEAT_TC_CLSACT = 1 << 3,
	LBM_FEAT_RINGBUF = 1 << 4,
	LBM_FEAT_BPF_TIMER = 1 << 5,
	LBM_FEAT_COUNT = 6,
};

/* One archive entry.  data is malloc'd and owned by the holder. */
struct lbm_file {
	char name[LBM_FNAME_MAX + 1];
	uint8_t *data;
	size_t size;
};

struct lbm_tar {
	struct lbm_file *files;
	size_t n;
};

struct lbm_hook {
	enum lbm_hook_type type;
	char object[LBM_FNAME_MAX + 1];
	char program[LBM_IDENT_MAX + 1];
};

struct lbm_map {
	char name[LBM_IDENT_MAX + 1];
	uint32_t layout;
};

struct lbm_selftest {
	char name[LBM_IDENT_MAX + 1];
	enum lbm_hook_type hook;
	enum lbm_verdict expect;
	uint8_t packet[LBM_PKT_MAX];
	size_t len;
};

struct lbm_manifest {
	char name[LBM_NAME_MAX + 1];
	char version[LBM_VERSION_MAX + 1];
	uint32_t abi;
	char objects[LBM_OBJECTS_MAX][LBM_FNAME_MAX + 1];
	size_t n_objects;
	struct lbm_hook hooks[LBM_HOOKS_MAX];
	size_t n_hooks;
	struct lbm_map *maps;
	size_t n_maps;
	unsigned int kernel_major, kernel_minor;
	uint32_t features;		/* enum lbm_feature bits */
	struct lbm_selftest *selftests;
	size_t n_selftests;
	char tags[LBM_TAGS_MAX][LBM_TAG_MAX + 1];
	size_t n_tags;
	char *description;		/* NULL when absent */
};

/* A verified artifact: tar.files[0] is the manifest, the rest its objects. */
struct lbm_artifact {
	char sha512[LBM_SHA512_HEX];
	size_t size;			/* of the .lbm file */
	struct lbm_tar tar;
	struct lbm_manifest *m;
};

const char *lbm_hook_name(enum lbm_hook_type t);
const char *lbm_verdict_name(enum lbm_verdict v);
const char *lbm_feature_name(unsigned int feature_bit);

/* Semantic versioning 2.0.0.  On false, why says what is wrong (may be NULL). */
bool lbm_semver_valid(const char *s, char *why, size_t why_len);

/* SHA-512 of buf as lowercase hex. */
int lbm_sha512_hex(const void *buf, size_t len, char hex[LBM_SHA512_HEX]);

/* Read a whole file of at most max bytes; sha512 (may be NULL) gets its hash. */
int lbm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		  char sha512[LBM_SHA512_HEX], struct lb_err *err);

/* gzip: inflate one member of at most max bytes; deflate reproducibly. */
int lbm_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len,
	       const char *label, struct lb_err *err);
int lbm_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct lb_err *err);

/* ustar, in memory.  lbm_tar_read copies entry data; free with lbm_tar_free. */
int lbm_tar_read(const uint8_t *buf, size_t len, const char *label, struct lbm_tar *t,
		 struct lb_err *err);
int lbm_tar_write(const struct lbm_file *files, size_t n, uint8_t **out, size_t *out_len,
		  struct lb_err *err);
void lbm_tar_free(struct lbm_tar *t);

/* Parse and validate manifest.json; label prefixes messages ("x.lbm: manifest.json"). */
int lbm_manifest_parse(const char *text, size_t len, const char *label,
		       struct lbm_manifest **out, struct lb_err *err);
void lbm_manifest_free(struct lbm_manifest *m);

/*
 * ELF checks of one object against the hooks the manifest puts on it.
 * maps_seen (m->n_maps entries, may be NULL) gets true for each manifest map
 * the object's .maps section defines.
 */
int lbm_elf_check(const struct lbm_file *obj, const struct lbm_manifest *m, bool *maps_seen,
		  const char *label, struct lb_err *err);

/* The whole .lbm in memory: gunzip, untar, manifest, cross-checks, ELF. */
int lbm_parse(const uint8_t *buf, size_t len, const char *label, struct lbm_artifact *a,
	      struct lb_err *err);
/*
 * lbm_read_file + lbm_parse, with the hash in a->sha512 and the basename as
 * label.  With expect_sha512 (hex, any case), a different hash is refused
 * (-EBADMSG) before anything is unpacked.
 */
int lbm_load(const char *path, const char *expect_sha512, struct lbm_artifact *a,
	     struct lb_err *err);
void lbm_artifact_free(struct lbm_artifact *a);

/*
 * Build an artifact from a manifest's text (label: its file name, for
 * messages) and its objects (any order: they are matched by name and stored
 * in manifest order), then run lbm_parse on the result.  *out is the .lbm
 * file's bytes.
 */
int lbm_pack(const char *label, const char *manifest, size_t manifest_len,
	     const struct lbm_file *objs, size_t n, uint8_t **out, size_t *out_len,
	     struct lb_err *err);

/* Commands, in module_cmd.c, and their --help details for main.c. */
struct lb_ctx;
int cmd_module_verify(struct lb_ctx *c, int argc, char **argv);
int cmd_module_pack(struct lb_ctx *c, int argc, char **argv);
extern const char module_verify_details[];
extern const char module_pack_details[];

#endif
