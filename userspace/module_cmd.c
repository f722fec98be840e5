// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * module_cmd.c - `lbagent module verify` and `lbagent module pack`.
 *
 * Both work on files alone: no bpffs, no lock, no kernel object, so they run
 * anywhere (a build machine, the catalog) and as any user.  verify is what the
 * lifecycle runs before libbpf ever opens an object; pack is what the build
 * runs, and it verifies its own output the same way before renaming it into
 * place.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "agent.h"
#include "artifact.h"

const char module_verify_details[] =
	"Checks, in this order, and stops at the first failure:\n"
	"  1. with --sha512, the SHA-512 of the whole file (before anything is unpacked);\n"
	"  2. the gzip stream and the ustar archive: regular files with plain names only,\n"
	"     header checksums, no duplicates, size caps (16 MiB an entry, 64 MiB in all),\n"
	"     nothing but zero blocks after the end-of-archive marker;\n"
	"  3. manifest.json (first entry): known keys only, name, semver version, this\n"
	"     agent's ABI, objects, hooks, maps, kernel, self-test vectors, tags;\n"
	"  4. the archive holds exactly the objects the manifest lists;\n"
	"  5. each object with libelf: ELF64 little-endian EM_BPF relocatable, a\n"
	"     GPL-compatible license section, a .BTF section, each hook's program a\n"
	"     global function in a section that fits the hook, and every map the\n"
	"     manifest names defined in a .maps section.\n"
	"Prints a summary (name, version, ABI, SHA-512, objects, hooks, maps, self-tests),\n"
	"or one JSON object with --json.  Needs no bpffs and no privileges.\n"
	"\n"
	"Options:\n"
	"  --sha512 HEX     the expected SHA-512 of FILE (128 hex digits); a mismatch is\n"
	"                   an error naming both hashes' first digits\n"
	"\n"
	"Example:\n"
	"  lbagent module verify build/modules/firewall-1.0.0.lbm --sha512 \"$(sha512sum \\\n"
	"          build/modules/firewall-1.0.0.lbm | cut -d' ' -f1)\"\n"
	"\n";

const char module_pack_details[] =
	"Builds NAME-VERSION.lbm: a gzip'd POSIX ustar archive holding the manifest\n"
	"(verbatim) first, then each object in the manifest's $.objects order, stored\n"
	"under its base name.  The output is reproducible (mtime 0, uid/gid 0, mode\n"
	"0644 in the archive, mtime 0 in the gzip header): the same inputs give the\n"
	"same bytes, so the same SHA-512.  The result is checked exactly as `module\n"
	"verify` checks it, then written to OUT.tmp, fsync'ed and renamed to OUT.\n"
	"\n"
	"Options:\n"
	"  --manifest FILE  the manifest.json to store (format: userspace/artifact.h)\n"
	"  --object PATH    a BPF object the manifest lists; repeat for each one\n"
	"  -o, --output OUT the artifact to write\n"
	"\n"
	"Example:\n"
	"  lbagent module pack --manifest firewall.json --object build/bpf/fw_xdp.bpf.o \\\n"
	"          --object build/bpf/fw_tc.bpf.o -o firewall-1.0.0.lbm\n"
	"\n";

/* ---- verify ---------------------------------------------------------------- */

static json_t *artifact_json(const char *file, const struct lbm_artifact *a)
{
	const struct lbm_manifest *m = a->m;
	json_t *j, *objs = json_array(), *hooks = json_array(), *maps = json_array();
	json_t *feats = json_array(), *tests = json_array(), *tags = json_array();
	char kmin[24];

	for (size_t i = 1; i < a->tar.n; i++)
		json_array_append_new(objs, json_pack("{s:s, s:I}", "name", a->tar.files[i].name,
						      "size", (json_int_t)a->tar.files[i].size));
	for (size_t i = 0; i < m->n_hooks; i++)
		json_array_append_new(hooks, json_pack("{s:s, s:s, s:s}", "hook",
						       lbm_hook_name(m->hooks[i].type), "object",
						       m->hooks[i].object, "program",
						       m->hooks[i].program));
	for (size_t i = 0; i < m->n_maps; i++)
		json_array_append_new(maps, json_pack("{s:s, s:I}", "name", m->maps[i].name,
						      "layout", (json_int_t)m->maps[i].layout));
	for (int i = 0; i < LBM_FEAT_COUNT; i++)
		if (m->features & (1u << i))
			json_array_append_new(feats, json_string(lbm_feature_name(1u << i)));
	for (size_t i = 0; i < m->n_selftests; i++)
		json_array_append_new(tests, json_pack("{s:s, s:s, s:s, s:I}", "name",
						       m->selftests[i].name, "hook",
						       lbm_hook_name(m->selftests[i].hook), "expect",
						       lbm_verdict_name(m->selftests[i].expect),
						       "bytes", (json_int_t)m->selftests[i].len));
	for (size_t i = 0; i < m->n_tags; i++)
		json_array_append_new(tags, json_string(m->tags[i]));
	snprintf(kmin, sizeof(kmin), "%u.%u", m->kernel_major, m->kernel_minor);
	j = json_pack("{s:s, s:b, s:s, s:s, s:I, s:s, s:I, s:{s:s, s:o}, s:o, s:o, s:o, s:o, s:o}",
		      "file", file, "valid", 1, "name", m->name, "version", m->version, "abi",
		      (json_int_t)m->abi, "sha512", a->sha512, "size", (json_int_t)a->size,
		      "kernel", "min", kmin, "features", feats, "objects", objs, "hooks", hooks,
		      "maps", maps, "selftests", tests, "tags", tags);
	if (j && m->description)
		json_object_set_new(j, "description", json_string(m->description));
	return j;
}

static void print_list_item(size_t i, const char *label)
{
	printf("  %-12s ", i ? "" : label);
}

/* "name/layout" words, wrapped at 100 columns: the firewall alone has 30 maps. */
static void print_maps(const struct lbm_manifest *m)
{
	int col = printf("  %-12s %zu%s", "maps", m->n_maps, m->n_maps ? " (name/layout):" : "");

	for (size_t i = 0; i < m->n_maps; i++) {
		char word[LBM_IDENT_MAX + 16];
		int n = snprintf(word, sizeof(word), "%s/%u%s", m->maps[i].name, m->maps[i].layout,
				 i + 1 < m->n_maps ? "," : "");

		if (col + 1 + n > 100)
			col = printf("\n  %-12s", "") - 1;
		col += printf(" %s", word);
	}
	printf("\n");
}

static void artifact_print(const char *file, const struct lbm_artifact *a)
{
	const struct lbm_manifest *m = a->m;

	printf("%s: valid\n", file);
	printf("  %-12s %s\n  %-12s %s\n  %-12s %u\n", "name", m->name, "version", m->version,
	       "abi", m->abi);
	printf("  %-12s %s\n  %-12s %zu bytes\n", "sha512", a->sha512, "size", a->size);
	printf("  %-12s >= %u.%u", "kernel", m->kernel_major, m->kernel_minor);
	for (int i = 0, n = 0; i < LBM_FEAT_COUNT; i++)
		if (m->features & (1u << i))
			printf("%s%s", n++ ? ", " : " with ", lbm_feature_name(1u << i));
	printf("\n");
	for (size_t i = 1; i < a->tar.n; i++) {
		print_list_item(i - 1, "objects");
		printf("%s (%zu bytes)\n", a->tar.files[i].name, a->tar.files[i].size);
	}
	for (size_t i = 0; i < m->n_hooks; i++) {
		print_list_item(i, "hooks");
		printf("%-10s -> %s in %s\n", lbm_hook_name(m->hooks[i].type), m->hooks[i].program,
		       m->hooks[i].object);
	}
	print_maps(m);
	printf("  %-12s %zu\n", "self-tests", m->n_selftests);
	for (size_t i = 0; i < m->n_tags; i++)
		printf(i ? ", %s" : "  tags         %s", m->tags[i]);
	if (m->n_tags)
		printf("\n");
	if (m->description)
		printf("  %-12s %s\n", "description", m->description);
}

static bool sha512_hex_ok(const char *s)
{
	if (strlen(s) != 128)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF", *s))
			return false;
	return true;
}

static const char verify_usage[] = "Usage: lbagent module verify FILE [--sha512 HEX]\n";

int cmd_module_verify(struct lb_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sha512", required_argument, NULL, 's' },
		{ 0 },
	};
	struct lbm_artifact a = { 0 };
	struct lb_err err = { "" };
	const char *sha = NULL;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt != 's') {
			fputs(verify_usage, stderr);
			return -LB_EUSAGE;
		}
		sha = optarg;
	}
	if (optind != argc - 1) {
		fputs(verify_usage, stderr);
		return -LB_EUSAGE;
	}
	if (sha && !sha512_hex_ok(sha)) {
		fprintf(stderr, "module verify: --sha512 \"%.140s\" is not 128 hex digits\n", sha);
		return -LB_EUSAGE;
	}
	r = lbm_load(argv[optind], sha, &a, &err);
	if (r)
		fprintf(stderr, "module verify: %s\n", err.msg);
	else if (c->json)
		json_print(artifact_json(argv[optind], &a));
	else
		artifact_print(argv[optind], &a);
	lbm_artifact_free(&a);
	return r;
}

/* ---- pack ------------------------------------------------------------------ */

struct pack_opts {
	const char *manifest, *out;
	const char *objects[LBM_OBJECTS_MAX];
	size_t n_objects;
};

static const char pack_usage[] =
	"Usage: lbagent module pack --manifest FILE [--object PATH]... -o OUT\n";

static int parse_pack_args(int argc, char **argv, struct pack_opts *o)
{
	static const struct option lo[] = {
		{ "manifest", required_argument, NULL, 'm' },
		{ "object", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		if (opt == 'm') {
			o->manifest = optarg;
		} else if (opt == 'o') {
			o->out = optarg;
		} else if (opt == 'b' && o->n_objects < LBM_OBJECTS_MAX) {
			o->objects[o->n_objects++] = optarg;
		} else {
			if (opt == 'b')
				fprintf(stderr, "module pack: more than %d --object\n",
					LBM_OBJECTS_MAX);
			fputs(pack_usage, stderr);
			return -LB_EUSAGE;
		}
	}
	if (optind != argc || !o->manifest || !o->out) {
		fputs(pack_usage, stderr);
		return -LB_EUSAGE;
	}
	return 0;
}

static int read_objects(const struct pack_opts *o, struct lbm_file *objs, struct lb_err *err)
{
	for (size_t i = 0; i < o->n_objects; i++) {
		const char *base = strrchr(o->objects[i], '/');
		int r;

		base = base ? base + 1 : o->objects[i];
		if (strlen(base) > LBM_FNAME_MAX)
			return lb_errf(err, ENAMETOOLONG, "%s: name longer than %d characters",
				       o->objects[i], LBM_FNAME_MAX);
		snprintf(objs[i].name, sizeof(objs[i].name), "%s", base);
		r = lbm_read_file(o->objects[i], LBM_ENTRY_MAX, &objs[i].data, &objs[i].size, NULL,
				  err);
		if (r)
			return r;
	}
	return 0;
}

static void print_packed(const struct lb_ctx *c, const char *out, size_t len, const char *sha)
{
	if (c->json)
		json_print(json_pack("{s:s, s:I, s:s}", "file", out, "size", (json_int_t)len,
				     "sha512", sha));
	else
		printf("%s: %zu bytes, sha512 %s\n", out, len, sha);
}

int cmd_module_pack(struct lb_ctx *c, int argc, char **argv)
{
	struct lbm_file objs[LBM_OBJECTS_MAX] = { 0 };
	struct pack_opts o = { 0 };
	struct lb_err err = { "" };
	uint8_t *manifest = NULL, *out = NULL;
	size_t mlen = 0, len = 0;
	char sha[LBM_SHA512_HEX];
	const char *mbase;
	int r;

	r = parse_pack_args(argc, argv, &o);
	if (r)
		return r;
	mbase = strrchr(o.manifest, '/') ? strrchr(o.manifest, '/') + 1 : o.manifest;
	r = lbm_read_file(o.manifest, LBM_ENTRY_MAX, &manifest, &mlen, NULL, &err) ?:
	    read_objects(&o, objs, &err) ?:
	    lbm_pack(mbase, (const char *)manifest, mlen, objs, o.n_objects, &out, &len, &err) ?:
	    lbm_sha512_hex(out, len, sha) ?: write_file_atomic(o.out, out, len, &err);
	/* write_file_atomic creates 0600 (state files); an artifact is public. */
	if (!r && chmod(o.out, 0644))
		r = lb_errf(&err, errno, "chmod %s: %s", o.out, strerror(errno));
	if (r)
		fprintf(stderr, "module pack: %s\n", err.msg[0] ? err.msg : strerror(-r));
	else
		print_packed(c, o.out, len, sha);
	for (size_t i = 0; i < o.n_objects; i++)
		free(objs[i].data);
	free(manifest);
	free(out);
	return r;
}
