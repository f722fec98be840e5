// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_artifact.c - module artifacts (userspace/artifact.c): semver, SHA-512,
 * the manifest's every field, gzip and ustar fed hostile input, pack/parse
 * round trips, and the ELF checks against the real firewall objects (the
 * bytes the skeletons embed, i.e. this build's bpf/fw_*.bpf.o) and corrupted
 * copies of them.  Pure user space: no bpffs, no privileges.
 *
 * The hostile archives are built here with a ustar writer of the test's own,
 * so the reader is not only checked against its own writer.
 */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>
#include <zlib.h>
#include "fw_xdp.skel.h"
#include "fw_tc.skel.h"
#include "artifact.h"
#include "testlib.h"

/* ---- helpers ---------------------------------------------------------------- */

/* r failed and the message has needle. */
static bool expect_err(int r, const struct lb_err *err, const char *needle, const char *what)
{
	return ASSERT_ERR(r, what) && ASSERT_STR_CONTAINS(err->msg, needle, what);
}

/* Copies bytes that are not a NUL-terminated string (tar fields, junk). */
static void field(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
}

/* The real objects, copied so tests may corrupt them. */
static struct lbm_file real_obj(bool xdp)
{
	struct lbm_file f = { 0 };
	const void *b = xdp ? fw_xdp__elf_bytes(&f.size) : fw_tc__elf_bytes(&f.size);

	snprintf(f.name, sizeof(f.name), "%s", xdp ? "fw_xdp.bpf.o" : "fw_tc.bpf.o");
	f.data = malloc(f.size);
	if (f.data)
		memcpy(f.data, b, f.size);
	return f;
}

/* Replace every occurrence of from with to (same length) in f. */
static int replace_all(struct lbm_file *f, const void *from, const void *to, size_t n)
{
	int count = 0;

	for (size_t i = 0; i + n <= f->size; i++) {
		if (!memcmp(f->data + i, from, n)) {
			memcpy(f->data + i, to, n);
			count++;
		}
	}
	return count;
}

/* JSON with ' for " so it stays readable; returns a static buffer. */
static const char *q(const char *s)
{
	static char buf[8192];
	char *o = buf;

	for (; *s && o < buf + sizeof(buf) - 1; s++)
		*o++ = *s == '\'' ? '"' : *s;
	*o = '\0';
	return buf;
}

#define ARP "ffffffffffff02000000000108060001080006040001020000000001c6120001000000000000c6120002"

static const char BASE[] = "{"
	"'name': 'firewall', 'version': '1.2.0', 'abi': 1,"
	"'description': 'test', 'tags': ['fw', 'xdp'],"
	"'objects': ['fw_xdp.bpf.o', 'fw_tc.bpf.o'],"
	"'hooks': [{'hook': 'xdp', 'object': 'fw_xdp.bpf.o', 'program': 'lb_fw_xdp'},"
	"          {'hook': 'tc_egress', 'object': 'fw_tc.bpf.o', 'program': 'lb_fw_tc_egress'}],"
	"'maps': [{'name': 'lb_stats', 'layout': 1}, {'name': 'lb_ct_tcp', 'layout': 2}],"
	"'kernel': {'min': '6.1', 'features': ['btf', 'xdp']},"
	"'selftest': [{'name': 'arp', 'hook': 'xdp', 'packet': '" ARP "', 'expect': 'pass'},"
	"             {'name': 'tc-arp', 'hook': 'tc_egress', 'packet': '" ARP "',"
	"              'expect': 'pass'}]}";

static int mparse(const char *text, struct lbm_manifest **m, struct lb_err *err)
{
	memset(err, 0, sizeof(*err));
	return lbm_manifest_parse(text, strlen(text), "t.lbm: manifest.json", m, err);
}

/*
 * BASE with the value at path ("hooks.0.program") set to the JSON text val,
 * or removed when val is NULL.  Caller frees.
 */
static char *mutate(const char *path, const char *val)
{
	json_t *root = json_loads(q(BASE), 0, NULL), *cur = root, *v;
	char buf[128], *part[4] = { buf };
	size_t n = 1, idx;
	char *out;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf; *p && n < 4; p++) {
		if (*p == '.') {
			*p = '\0';
			part[n++] = p + 1;
		}
	}
	for (size_t i = 0; i + 1 < n; i++)
		cur = json_is_array(cur) ? json_array_get(cur, strtoul(part[i], NULL, 10)) :
					   json_object_get(cur, part[i]);
	idx = strtoul(part[n - 1], NULL, 10);
	v = val ? json_loads(q(val), JSON_DECODE_ANY, NULL) : NULL;
	if (json_is_array(cur) && idx == json_array_size(cur))
		json_array_append_new(cur, v);
	else if (json_is_array(cur))
		json_array_set_new(cur, idx, v);
	else if (v)
		json_object_set_new(cur, part[n - 1], v);
	else
		json_object_del(cur, part[n - 1]);
	out = json_dumps(root, 0);
	json_decref(root);
	return out;
}

/* ---- semver ---------------------------------------------------------------- */

static void test_semver(void)
{
	static const struct {
		const char *v, *why;	/* why NULL: valid */
	} cases[] = {
		{ "0.0.0", NULL },
		{ "1.2.3", NULL },
		{ "10.20.30", NULL },
		{ "1.0.0-alpha", NULL },
		{ "1.0.0-alpha.1", NULL },
		{ "1.0.0-0.3.7", NULL },
		{ "1.0.0-x.7.z.92", NULL },
		{ "1.0.0-x-y-z.--", NULL },
		{ "1.0.0-alpha+001", NULL },
		{ "1.0.0+20130313144700", NULL },
		{ "1.0.0-beta+exp.sha.5114f85", NULL },
		{ "1.0.0+21AF26D3----117B344092BD", NULL },
		{ "1.0.0-0A.is.legal", NULL },
		{ "1.0.0-rc.1+build.0123", NULL },
		{ "1.02.0", "leading zero in minor" },
		{ "01.2.0", "leading zero in major" },
		{ "1.2.00", "leading zero in patch" },
		{ "1.2", "expected MAJOR.MINOR.PATCH" },
		{ "1.2.3.4", "unexpected '.'" },
		{ "v1.2.3", "major is not a number" },
		{ "1..3", "minor is not a number" },
		{ "1.2.", "patch is not a number" },
		{ "", "empty" },
		{ "1.2.3-", "empty pre-release identifier" },
		{ "1.2.3-a..b", "empty pre-release identifier" },
		{ "1.2.3-01", "leading zero in pre-release identifier \"01\"" },
		{ "1.2.3+", "empty build identifier" },
		{ "1.2.3+a..b", "empty build identifier" },
		{ "1.2.3-a_b", "unexpected '_'" },
		{ "1.2.3 ", "unexpected ' '" },
		{ "1.2.3+b+c", "unexpected '+'" },
		{ "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "longer than 64" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lb_err why = { "" };
		char what[160];
		bool ok = lbm_semver_valid(cases[i].v, why.msg, sizeof(why.msg));

		snprintf(what, sizeof(what), "semver \"%s\"", cases[i].v);
		if (!cases[i].why) {
			ASSERT_TRUE(ok, what);
		} else {
			ASSERT_FALSE(ok, what);
			ASSERT_STR_CONTAINS(why.msg, cases[i].why, what);
		}
	}
}

/* ---- SHA-512 --------------------------------------------------------------- */

static void test_sha512(void)
{
	/* FIPS 180-2, appendix C.1 and the empty message. */
	static const char abc[] =
		"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
		"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
	static const char empty[] =
		"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
		"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	char hex[LBM_SHA512_HEX], fhex[LBM_SHA512_HEX], path[] = "/tmp/lbm_sha.XXXXXX";
	struct lb_err err = { "" };
	uint8_t *big, *back = NULL;
	size_t len = 0, n = 300000;
	int fd;

	ASSERT_OK(lbm_sha512_hex("abc", 3, hex), "hash abc");
	ASSERT_TRUE(!strcmp(hex, abc), "sha512(abc)");
	ASSERT_OK(lbm_sha512_hex("", 0, hex), "hash empty");
	ASSERT_TRUE(!strcmp(hex, empty), "sha512()");

	/* The streaming hash of a file (several read chunks) equals the one-shot hash. */
	big = malloc(n);
	fd = mkstemp(path);
	if (!ASSERT_OK_PTR(big, "malloc") || !ASSERT_TRUE(fd >= 0, "mkstemp"))
		goto out;
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	ASSERT_EQ(write(fd, big, n), (ssize_t)n, "write");
	ASSERT_OK(lbm_read_file(path, n, &back, &len, fhex, &err), err.msg);
	lbm_sha512_hex(big, n, hex);
	ASSERT_TRUE(!strcmp(hex, fhex), "file hash = buffer hash");
	ASSERT_EQ(len, n, "read length");
	ASSERT_TRUE(back && !memcmp(back, big, n), "read bytes");
	free(back);
	back = NULL;
	expect_err(lbm_read_file(path, n - 1, &back, &len, fhex, &err), &err, "larger than",
		   "size cap");
	expect_err(lbm_read_file("/tmp", n, &back, &len, NULL, &err), &err, "not a regular file",
		   "directory");
	expect_err(lbm_read_file("/nonexistent/x.lbm", n, &back, &len, NULL, &err), &err,
		   "cannot open /nonexistent/x.lbm", "missing file");
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(big);
}

/* ---- manifest -------------------------------------------------------------- */

static void test_manifest_good(void)
{
	struct lbm_manifest *m = NULL;
	struct lb_err err;

	if (!ASSERT_OK(mparse(q(BASE), &m, &err), err.msg) || !ASSERT_OK_PTR(m, "manifest"))
		return;
	ASSERT_TRUE(!strcmp(m->name, "firewall"), "name");
	ASSERT_TRUE(!strcmp(m->version, "1.2.0"), "version");
	ASSERT_EQ(m->abi, 1, "abi");
	ASSERT_EQ(m->n_objects, 2, "objects");
	ASSERT_TRUE(!strcmp(m->objects[1], "fw_tc.bpf.o"), "object 1");
	ASSERT_EQ(m->n_hooks, 2, "hooks");
	ASSERT_EQ(m->hooks[1].type, LBM_HOOK_TC_EGRESS, "hook type");
	ASSERT_TRUE(!strcmp(m->hooks[1].program, "lb_fw_tc_egress"), "hook program");
	ASSERT_EQ(m->n_maps, 2, "maps");
	ASSERT_EQ(m->maps[1].layout, 2, "map layout");
	ASSERT_EQ(m->kernel_major, 6, "kernel major");
	ASSERT_EQ(m->kernel_minor, 1, "kernel minor");
	ASSERT_EQ(m->features, LBM_FEAT_BTF | LBM_FEAT_XDP, "features");
	ASSERT_EQ(m->n_selftests, 2, "selftests");
	ASSERT_EQ(m->selftests[0].len, 42, "packet length");
	ASSERT_EQ(m->selftests[0].packet[12], 0x08, "packet bytes");
	ASSERT_EQ(m->selftests[0].packet[13], 0x06, "packet bytes");
	ASSERT_EQ(m->selftests[0].expect, LBM_PASS, "expect");
	ASSERT_EQ(m->n_tags, 2, "tags");
	ASSERT_TRUE(m->description && !strcmp(m->description, "test"), "description");
	lbm_manifest_free(m);
	lbm_manifest_free(NULL);
}

static void test_manifest_errors(void)
{
	static const struct {
		const char *path, *val, *needle;	/* val NULL: delete the key */
	} cases[] = {
		{ "nmae", "'x'", "$: unknown key \"nmae\" (known keys: name, version" },
		{ "name", NULL, "$: missing \"name\"" },
		{ "name", "5", "$: \"name\" must be a string, not an integer" },
		{ "name", "'Firewall'", "$.name: \"Firewall\" is not a module name" },
		{ "name", "'-fw'", "$.name: \"-fw\" is not a module name" },
		{ "name", "'abcdefghijklmnopqrstuvwxyz0123456'", "$.name: \"abcdefghij" },
		{ "version", NULL, "$: missing \"version\"" },
		{ "version", "'1.02.0'", "$.version: \"1.02.0\" is not semver (leading zero in "
					 "minor)" },
		{ "version", "'1.2'", "$.version: \"1.2\" is not semver (expected MAJOR" },
		{ "version", "1", "\"version\" must be a string, not an integer" },
		{ "abi", NULL, "$: missing \"abi\"" },
		{ "abi", "0", "$.abi: 0 is not a positive 32-bit integer" },
		{ "abi", "4294967296", "$.abi: 4294967296 is not a positive" },
		{ "abi", "'1'", "\"abi\" must be an integer, not a string" },
		{ "abi", "1.5", "\"abi\" must be an integer, not a number with a fraction" },
		{ "description", "7", "\"description\" must be a string" },
		{ "objects", NULL, "$: missing \"objects\"" },
		{ "objects", "[]", "$.objects: empty" },
		{ "objects", "{}", "\"objects\" must be an array, not an object" },
		{ "objects.0", "'../fw_xdp.bpf.o'", "$.objects[0]: \"../fw_xdp.bpf.o\" is not a "
						    "valid file name: path traversal" },
		{ "objects.0", "'/fw_xdp.bpf.o'", "$.objects[0]: \"/fw_xdp.bpf.o\" is not a valid "
						  "file name: absolute name" },
		{ "objects.0", "'a/b.o'", "directories are not allowed" },
		{ "objects.0", "3", "$.objects[0]: must be a string, not an integer" },
		{ "objects.0", "'manifest.json'", "$.objects[0]: \"manifest.json\" is the "
						  "manifest's own name" },
		{ "objects.1", "'fw_xdp.bpf.o'", "$.objects[1]: duplicate object \"fw_xdp.bpf.o\" "
						 "(first at $.objects[0])" },
		{ "objects.2", "'spare.o'", "$.objects[2]: \"spare.o\" is named by no hook" },
		{ "hooks", "[]", "$.hooks: empty" },
		{ "hooks.0", "'xdp'", "$.hooks[0]: must be an object, not a string" },
		{ "hooks.0.hook", "'tc'", "$.hooks[0]: \"hook\": \"tc\" is not one of xdp, "
					  "tc_egress, tc_ingress" },
		{ "hooks.1.hook", "'xdp'", "$.hooks[1]: duplicate hook \"xdp\" (first at "
					   "$.hooks[0])" },
		{ "hooks.0.object", "'nope.o'", "$.hooks[0]: \"object\": \"nope.o\" is not listed "
						"in $.objects" },
		{ "hooks.0.object", NULL, "$.hooks[0]: missing \"object\"" },
		{ "hooks.0.program", "'1st'", "$.hooks[0]: \"program\": \"1st\" is not a C "
					      "identifier" },
		{ "hooks.0.program", NULL, "$.hooks[0]: missing \"program\"" },
		{ "hooks.0.prog", "'x'", "$.hooks[0]: unknown key \"prog\"" },
		{ "maps", NULL, "$: missing \"maps\"" },
		{ "maps.0.name", "'lb-stats'", "$.maps[0]: \"name\": \"lb-stats\" is not a C "
					       "identifier" },
		{ "maps.1.name", "'lb_stats'", "$.maps[1]: duplicate map \"lb_stats\"" },
		{ "maps.0.layout", "0", "$.maps[0]: \"layout\": 0 is not a positive" },
		{ "maps.0.layout", NULL, "$.maps[0]: missing \"layout\"" },
		{ "maps.0.size", "4", "$.maps[0]: unknown key \"size\"" },
		{ "maps.0", "[]", "$.maps[0]: must be an object, not an array" },
		{ "kernel", NULL, "$: missing \"kernel\"" },
		{ "kernel.min", "'6'", "$.kernel.min: \"6\" is not a kernel version" },
		{ "kernel.min", "'06.1'", "$.kernel.min: \"06.1\" is not a kernel version" },
		{ "kernel.min", "'6.1.2'", "$.kernel.min: \"6.1.2\" is not a kernel version" },
		{ "kernel.min", NULL, "$.kernel: missing \"min\"" },
		{ "kernel.features.1", "'warp'", "$.kernel.features[1]: \"warp\" is not one of" },
		{ "kernel.features.1", "'btf'", "$.kernel.features[1]: duplicate feature \"btf\"" },
		{ "kernel.max", "'7.0'", "$.kernel: unknown key \"max\"" },
		{ "selftest", NULL, "$: missing \"selftest\"" },
		{ "selftest.0.packet", "'abc'", "$.selftest[0]: \"packet\": odd number of hex "
						"digits (3)" },
		{ "selftest.0.packet", "'0011'", "$.selftest[0]: \"packet\": 2 bytes, an Ethernet "
						 "frame has 14-1522" },
		{ "selftest.0.packet", "'0011223344556677889900aabbzz'",
		  "$.selftest[0]: \"packet\": 'z' at offset 26 is not a hex digit" },
		{ "selftest.0.expect", "'accept'", "$.selftest[0]: \"expect\": \"accept\" is not "
						   "one of pass, drop" },
		{ "selftest.1.expect", "'tx'", "$.selftest[1]: \"expect\": \"tx\" is an XDP "
					       "verdict, the hook is tc_egress" },
		{ "selftest.0.hook", "'tc_ingress'", "$.selftest[0]: \"hook\": \"tc_ingress\" is "
						     "not one of the module's $.hooks" },
		{ "selftest.0.hook", "'lwt'", "$.selftest[0]: \"hook\": \"lwt\" is not one of" },
		{ "selftest.1.name", "'arp'", "$.selftest[1]: duplicate self-test \"arp\"" },
		{ "selftest.0.name", "'a b'", "$.selftest[0]: \"name\": \"a b\" is not 1-63" },
		{ "selftest.0.verdict", "'pass'", "$.selftest[0]: unknown key \"verdict\"" },
		{ "tags", "'fw'", "\"tags\" must be an array, not a string" },
		{ "tags.0", "'Firewall'", "$.tags[0]: \"Firewall\" is not a tag" },
		{ "tags.1", "'fw'", "$.tags[1]: duplicate tag \"fw\"" },
		{ "tags.1", "true", "$.tags[1]: must be a string, not a boolean" },
	};
	struct lbm_manifest *m;
	struct lb_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = mutate(cases[i].path, cases[i].val), what[200];
		int r;

		snprintf(what, sizeof(what), "%s = %s", cases[i].path,
			 cases[i].val ? cases[i].val : "(deleted)");
		if (!ASSERT_OK_PTR(text, what))
			continue;
		m = (struct lbm_manifest *)1;
		r = mparse(text, &m, &err);
		if (expect_err(r, &err, cases[i].needle, what)) {
			ASSERT_TRUE(m == NULL, "no manifest on failure");
			ASSERT_STR_CONTAINS(err.msg, "t.lbm: manifest.json: $", "message names the file");
		}
		free(text);
	}
}

static void test_manifest_text(void)
{
	struct lbm_manifest *m = NULL;
	char desc[1100], text[1400];
	struct lb_err err;

	expect_err(mparse("", &m, &err), &err, "t.lbm: manifest.json: empty file", "empty");
	expect_err(mparse("{\"name\": ", &m, &err), &err, "t.lbm: manifest.json:1:", "syntax");
	expect_err(mparse("[]", &m, &err), &err, "$: must be an object, not an array", "array");
	expect_err(mparse("{\"name\": \"a\", \"name\": \"b\"}", &m, &err), &err, "duplicate",
		   "duplicate key");
	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"name\": \"a\", \"version\": \"1.0.0\", \"abi\": 1, "
		 "\"description\": \"%s\"}", desc);
	expect_err(mparse(text, &m, &err), &err, "$.description: longer than 1024", "long desc");
	ASSERT_TRUE(m == NULL, "nothing returned");
}

/* ---- gzip ------------------------------------------------------------------ */

static void test_gzip(void)
{
	static const char msg[] = "module artifacts are gzip'd ustar archives";
	uint8_t *gz = NULL, *gz2 = NULL, *out = NULL, *zeros = NULL, *bad = NULL;
	size_t gz_len = 0, gz2_len = 0, out_len = 0, zlen = 2 << 20;
	struct lb_err err = { "" };

	if (!ASSERT_OK(lbm_gzip((const uint8_t *)msg, sizeof(msg), &gz, &gz_len, &err), err.msg))
		return;
	ASSERT_OK(lbm_gzip((const uint8_t *)msg, sizeof(msg), &gz2, &gz2_len, &err), err.msg);
	ASSERT_TRUE(gz2 && gz_len == gz2_len && !memcmp(gz, gz2, gz_len), "reproducible");
	ASSERT_TRUE(gz[4] == 0 && gz[5] == 0 && gz[6] == 0 && gz[7] == 0, "gzip mtime 0");
	ASSERT_EQ(gz[9], 3, "gzip OS Unix");
	ASSERT_EQ(gz[3], 0, "gzip no name/comment/extra");
	ASSERT_OK(lbm_gunzip(gz, gz_len, 1024, &out, &out_len, "g", &err), err.msg);
	ASSERT_TRUE(out && out_len == sizeof(msg) && !memcmp(out, msg, out_len), "round trip");
	free(out);
	out = NULL;

	expect_err(lbm_gunzip(gz, gz_len - 5, 1024, &out, &out_len, "g", &err), &err,
		   "g: truncated gzip stream", "truncated");
	expect_err(lbm_gunzip((const uint8_t *)msg, sizeof(msg), 1024, &out, &out_len, "g", &err),
		   &err, "g: not a gzip file", "not gzip");
	bad = malloc(gz_len + 4);
	if (ASSERT_OK_PTR(bad, "malloc")) {
		memcpy(bad, gz, gz_len);
		bad[gz_len - 6] ^= 0x01;	/* the CRC-32 */
		expect_err(lbm_gunzip(bad, gz_len, 1024, &out, &out_len, "g", &err), &err,
			   "g: corrupt gzip stream", "bad crc");
		memcpy(bad, gz, gz_len);
		field((char *)bad + gz_len, "junk", 4);
		expect_err(lbm_gunzip(bad, gz_len + 4, 1024, &out, &out_len, "g", &err), &err,
			   "4 bytes of trailing data", "trailing data");
	}
	/* A small file that inflates past the cap is refused while inflating. */
	free(gz);
	gz = NULL;
	zeros = calloc(1, zlen);
	if (ASSERT_OK_PTR(zeros, "calloc") &&
	    ASSERT_OK(lbm_gzip(zeros, zlen, &gz, &gz_len, &err), err.msg)) {
		ASSERT_TRUE(gz_len < 8192, "zeros compress well");
		expect_err(lbm_gunzip(gz, gz_len, 1 << 20, &out, &out_len, "g", &err), &err,
			   "decompresses to more than 1048576 bytes", "gzip bomb");
		ASSERT_OK(lbm_gunzip(gz, gz_len, zlen, &out, &out_len, "g", &err), "exact cap");
		ASSERT_EQ(out_len, zlen, "inflated size");
	}
	free(out);
	free(zeros);
	free(bad);
	free(gz);
	free(gz2);
}

/* ---- ustar, hostile -------------------------------------------------------- */

/* The test's own ustar writer: fields set by hand, checksum computed here. */
struct th {
	char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8], type;
	char linkname[100], magic[6], version[2], uname[32], gname[32], devmajor[8];
	char devminor[8], prefix[155], pad[12];
};

static void th_sum(struct th *h)
{
	unsigned int sum = 0;

	memset(h->chksum, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += ((unsigned char *)h)[i];
	snprintf(h->chksum, 8, "%06o", sum);
}

/* Appends one entry at *off (header, data, padding); buf must be big enough. */
static void th_add(uint8_t *buf, size_t *off, const char *name, const void *data, size_t size,
		   char type)
{
	struct th *h = (struct th *)(buf + *off);

	memset(h, 0, 512);
	field(h->name, name, strnlen(name, sizeof(h->name)));
	snprintf(h->mode, 8, "%07o", 0644);
	snprintf(h->uid, 8, "%07o", 0);
	snprintf(h->gid, 8, "%07o", 0);
	snprintf(h->size, 12, "%011zo", size);
	snprintf(h->mtime, 12, "%011o", 0);
	h->type = type;
	field(h->magic, "ustar", 6);
	field(h->version, "00", 2);
	th_sum(h);
	*off += 512;
	if (data)
		memcpy(buf + *off, data, size);
	*off += (size + 511) / 512 * 512;
}

static int tar_parse(const uint8_t *buf, size_t len, struct lb_err *err)
{
	struct lbm_tar t = { 0 };
	int r;

	memset(err, 0, sizeof(*err));
	r = lbm_tar_read(buf, len, "h.lbm", &t, err);
	if (!r)
		ASSERT_EQ(t.n > 0, 1, "entries");
	lbm_tar_free(&t);
	return r;
}

/* One archive with a single named entry of the given type. */
static void hostile_one(const char *name, char type, const char *needle)
{
	uint8_t buf[4096] = { 0 };
	struct lb_err err;
	size_t off = 0;

	th_add(buf, &off, "manifest.json", "{}", 2, '0');
	th_add(buf, &off, name, "x", 1, type);
	expect_err(tar_parse(buf, off + 1024, &err), &err, needle, name);
}

static void test_tar_hostile(void)
{
	uint8_t buf[16384] = { 0 }, *big;
	struct lbm_tar t = { 0 };
	struct lb_err err;
	size_t off = 0, good;

	th_add(buf, &off, "manifest.json", "{}", 2, '0');
	th_add(buf, &off, "a.o", "hello", 5, '\0');
	good = off + 1024;
	if (ASSERT_OK(lbm_tar_read(buf, good, "h.lbm", &t, &err), err.msg) &&
	    ASSERT_EQ(t.n, 2, "two entries")) {
		ASSERT_TRUE(!strcmp(t.files[1].name, "a.o"), "name");
		ASSERT_TRUE(t.files[1].size == 5 && !memcmp(t.files[1].data, "hello", 5), "data");
	}
	lbm_tar_free(&t);
	/* More zero blocks (tar pads to 10 KiB records) are fine. */
	ASSERT_OK(tar_parse(buf, sizeof(buf), &err), "zero padding");

	hostile_one("../etc/passwd", '0', "path traversal");
	hostile_one("..", '0', "path traversal");
	hostile_one("x/../../y", '0', "path traversal");
	hostile_one("/etc/passwd", '0', "absolute name");
	hostile_one("dir/a.o", '0', "directories are not allowed");
	hostile_one(".hidden", '0', "starts with '.'");
	hostile_one("a b.o", '0', "character not in");
	hostile_one("link.o", '2', "entry \"link.o\" is a symlink, not a regular file");
	hostile_one("hard.o", '1', "is a hard link");
	hostile_one("dir", '5', "is a directory");
	hostile_one("fifo", '6', "is a FIFO");
	hostile_one("pax", 'x', "is a pax header");
	hostile_one("manifest.json", '0', "duplicate entry \"manifest.json\"");

	/* The prefix field joins the name: a traversal hidden there. */
	memset(buf, 0, sizeof(buf));
	off = 0;
	th_add(buf, &off, "x", "y", 1, '0');
	field(((struct th *)buf)->prefix, "..", 2);
	th_sum((struct th *)buf);
	expect_err(tar_parse(buf, off + 1024, &err), &err, "path traversal", "prefix traversal");

	/* Checksums, magic, sizes. */
	memset(buf, 0, sizeof(buf));
	off = 0;
	th_add(buf, &off, "manifest.json", "{}", 2, '0');
	buf[0] = 'M';		/* after the checksum was computed */
	expect_err(tar_parse(buf, off + 1024, &err), &err, "h.lbm: entry 0: bad header checksum",
		   "bad checksum");
	buf[0] = 'm';
	field(((struct th *)buf)->magic, "gnutar", 6);
	th_sum((struct th *)buf);
	expect_err(tar_parse(buf, off + 1024, &err), &err, "not a POSIX ustar header", "magic");
	field(((struct th *)buf)->magic, "ustar", 6);
	field(((struct th *)buf)->size, "\x80\0\0\0\0\0\0\0\0\0\0\x02", 12);
	th_sum((struct th *)buf);
	expect_err(tar_parse(buf, off + 1024, &err), &err, "bad size field", "base-256 size");
	snprintf(((struct th *)buf)->size, 12, "%011o", LBM_ENTRY_MAX + 1);
	th_sum((struct th *)buf);
	expect_err(tar_parse(buf, off + 1024, &err), &err, "16777217 bytes, more than 16 MiB",
		   "oversized entry");

	/* Truncation at every kind of boundary; garbage after the end. */
	memset(buf, 0, sizeof(buf));
	off = 0;
	th_add(buf, &off, "manifest.json", "{}", 2, '0');
	th_add(buf, &off, "a.o", "hello", 5, '0');
	expect_err(tar_parse(buf, off - 512 + 3, &err), &err, "entry \"a.o\": truncated data",
		   "cut in data");
	expect_err(tar_parse(buf, off, &err), &err, "truncated archive", "no end marker");
	expect_err(tar_parse(buf, off + 512, &err), &err, "truncated archive", "one end block");
	expect_err(tar_parse(buf, 700, &err), &err, "truncated", "cut in a header");
	expect_err(tar_parse(buf, 0, &err), &err, "truncated archive", "empty");
	buf[off + 1024 + 100] = 'G';
	expect_err(tar_parse(buf, off + 2048, &err), &err, "data after the end-of-archive marker",
		   "trailing garbage");

	/* Too many entries. */
	memset(buf, 0, sizeof(buf));
	off = 0;
	for (int i = 0; i < LBM_ENTRIES_MAX + 1; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		th_add(buf, &off, name, NULL, 0, '0');
	}
	expect_err(tar_parse(buf, off + 1024, &err), &err, "more than 17 entries", "entries");

	/* Entries of 16 MiB each: the fifth passes the 64 MiB total. */
	big = calloc(1, 5 * (LBM_ENTRY_MAX + 512) + 1024);
	if (ASSERT_OK_PTR(big, "calloc")) {
		off = 0;
		for (int i = 0; i < 5; i++) {
			char name[16];

			snprintf(name, sizeof(name), "big%d", i);
			th_add(big, &off, name, NULL, LBM_ENTRY_MAX, '0');
		}
		expect_err(tar_parse(big, off + 1024, &err), &err,
			   "entries sum to more than 64 MiB", "total cap");
		free(big);
	}
}

static void test_tar_write(void)
{
	struct lbm_file in[2] = { { "manifest.json", (uint8_t *)"{}", 2 },
				  { "b.o", (uint8_t *)"0123456789", 10 } };
	struct lbm_file evil = { "../x", (uint8_t *)"x", 1 };
	struct lbm_tar t = { 0 };
	struct lb_err err = { "" };
	uint8_t *buf = NULL;
	size_t len = 0;
	const struct th *h;

	if (!ASSERT_OK(lbm_tar_write(in, 2, &buf, &len, &err), err.msg))
		return;
	ASSERT_EQ(len, 512 * 6, "two headers, two data blocks, two end blocks");
	h = (const struct th *)buf;
	ASSERT_TRUE(!memcmp(h->mode, "0000644", 8), "mode 0644");
	ASSERT_TRUE(!memcmp(h->uid, "0000000", 8) && !memcmp(h->gid, "0000000", 8), "uid/gid 0");
	ASSERT_TRUE(!memcmp(h->mtime, "00000000000", 12), "mtime 0");
	ASSERT_TRUE(!memcmp(h->magic, "ustar", 6) && !memcmp(h->version, "00", 2), "ustar");
	if (ASSERT_OK(lbm_tar_read(buf, len, "w", &t, &err), err.msg) && ASSERT_EQ(t.n, 2, "n")) {
		ASSERT_TRUE(!strcmp(t.files[0].name, "manifest.json"), "order kept");
		ASSERT_TRUE(t.files[1].size == 10 && !memcmp(t.files[1].data, "0123456789", 10),
			    "data kept");
	}
	lbm_tar_free(&t);
	free(buf);
	expect_err(lbm_tar_write(&evil, 1, &buf, &len, &err), &err, "path traversal",
		   "writer refuses bad names");
}

/* ---- ELF ------------------------------------------------------------------- */

static struct lbm_manifest one_hook(enum lbm_hook_type t, const char *obj, const char *prog)
{
	struct lbm_manifest m = { .n_hooks = 1 };

	m.hooks[0].type = t;
	snprintf(m.hooks[0].object, sizeof(m.hooks[0].object), "%s", obj);
	snprintf(m.hooks[0].program, sizeof(m.hooks[0].program), "%s", prog);
	return m;
}

static int elf_check(struct lbm_file *f, enum lbm_hook_type t, const char *prog,
		     struct lb_err *err)
{
	struct lbm_manifest m = one_hook(t, f->name, prog);

	memset(err, 0, sizeof(*err));
	return lbm_elf_check(f, &m, NULL, "e.lbm", err);
}

static void test_elf_real(void)
{
	struct lbm_file x = real_obj(true), tc = real_obj(false);
	struct lbm_map maps[3] = { { "lb_stats", 1 }, { "lb_ct_tcp", 1 }, { "lb_nope", 1 } };
	struct lbm_manifest m = one_hook(LBM_HOOK_XDP, "fw_xdp.bpf.o", "lb_fw_xdp");
	bool seen[3] = { false };
	struct lb_err err;

	if (!ASSERT_OK_PTR(x.data, "xdp object") || !ASSERT_OK_PTR(tc.data, "tc object"))
		goto out;
	ASSERT_OK(elf_check(&x, LBM_HOOK_XDP, "lb_fw_xdp", &err), err.msg);
	ASSERT_OK(elf_check(&tc, LBM_HOOK_TC_EGRESS, "lb_fw_tc_egress", &err), err.msg);
	ASSERT_OK(elf_check(&tc, LBM_HOOK_TC_INGRESS, "lb_fw_tc_egress", &err), "tc fits both");
	expect_err(elf_check(&x, LBM_HOOK_TC_EGRESS, "lb_fw_xdp", &err), &err,
		   "e.lbm: fw_xdp.bpf.o: program \"lb_fw_xdp\" is in section \"xdp\", which does "
		   "not fit hook tc_egress", "xdp program on tc");
	expect_err(elf_check(&tc, LBM_HOOK_XDP, "lb_fw_tc_egress", &err), &err,
		   "section \"tc\", which does not fit hook xdp", "tc program on xdp");
	expect_err(elf_check(&x, LBM_HOOK_XDP, "lb_fw_nope", &err), &err,
		   "e.lbm: fw_xdp.bpf.o: no program \"lb_fw_nope\" (hook xdp)", "program missing");
	expect_err(elf_check(&x, LBM_HOOK_XDP, "fw_xdp_parse", &err), &err,
		   "section \".text\", which does not fit hook xdp", "subprogram is no program");
	expect_err(elf_check(&x, LBM_HOOK_XDP, "lb_active", &err), &err,
		   "the symbol is not a function: \"lb_active\"", "map is no program");

	/* Map symbols in .maps are reported per manifest entry. */
	m.maps = maps;
	m.n_maps = 3;
	ASSERT_OK(lbm_elf_check(&x, &m, seen, "e.lbm", &err), err.msg);
	ASSERT_TRUE(seen[0] && seen[1], "maps defined");
	ASSERT_FALSE(seen[2], "lb_nope not defined");
out:
	free(x.data);
	free(tc.data);
}

static void test_elf_corrupt(void)
{
	struct lbm_file f = real_obj(true);
	uint8_t *orig = NULL;
	struct lb_err err;
	size_t full = f.size;

	if (!ASSERT_OK_PTR(f.data, "object"))
		return;
	orig = malloc(f.size);
	if (!ASSERT_OK_PTR(orig, "malloc"))
		goto out;
	memcpy(orig, f.data, f.size);
#define RESET() memcpy(f.data, orig, full), f.size = full

	f.data[18] = 62;	/* e_machine = EM_X86_64 */
	f.data[19] = 0;
	expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err,
		   "e.lbm: fw_xdp.bpf.o: e_machine is 62, not EM_BPF (247)", "e_machine");
	RESET();
	f.data[EI_CLASS] = ELFCLASS32;
	expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err, "not ELF64", "class");
	RESET();
	f.data[EI_DATA] = ELFDATA2MSB;
	expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err, "not little-endian",
		   "byte order");
	RESET();
	f.data[0] = 'X';
	expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err, "not an ELF file",
		   "magic");
	RESET();
	f.data[16] = ET_EXEC;
	expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err, "not ET_REL", "type");

	/* The license text, then the section's name. */
	RESET();
	if (ASSERT_EQ(replace_all(&f, "Dual BSD/GPL", "Proprietary\0", 13), 1, "license text"))
		expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err,
			   "license \"Proprietary\" is not GPL-compatible", "non-GPL license");
	RESET();
	if (ASSERT_TRUE(replace_all(&f, "\0license\0", "\0licenze\0", 9) >= 1, "section name"))
		expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err,
			   "no license section", "license section renamed");
	RESET();
	/* ".BTF" shares its string with ".rel.BTF" in the section name table. */
	if (ASSERT_TRUE(replace_all(&f, ".rel.BTF\0", ".rel.BTX\0", 9) >= 1, ".BTF name"))
		expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err,
			   "no .BTF section", "BTF missing");
	RESET();
	if (ASSERT_TRUE(replace_all(&f, "lb_fw_xdp\0", "lb_fw_xdq\0", 10) >= 1, "symbol name"))
		expect_err(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), &err,
			   "no program \"lb_fw_xdp\"", "program renamed away");

	/* Cut anywhere before the section headers: refused, and no crash (ASan). */
	for (size_t cut = 0; cut < full - 4096; cut += full / 37) {
		RESET();
		f.size = cut;
		if (!ASSERT_ERR(elf_check(&f, LBM_HOOK_XDP, "lb_fw_xdp", &err), "truncated ELF"))
			break;
	}
#undef RESET
out:
	free(orig);
	free(f.data);
}

/* ---- artifacts ------------------------------------------------------------- */

static int pack(const char *manifest, struct lbm_file *objs, size_t n, uint8_t **out,
		size_t *len, struct lb_err *err)
{
	memset(err, 0, sizeof(*err));
	*out = NULL;
	return lbm_pack("m.json", manifest, strlen(manifest), objs, n, out, len, err);
}

/* gzip(tar(files)) without any of lbm_pack's checks. */
static int raw_artifact(const struct lbm_file *files, size_t n, uint8_t **gz, size_t *gz_len)
{
	uint8_t *tar = NULL;
	size_t tar_len = 0;
	int r = lbm_tar_write(files, n, &tar, &tar_len, NULL) ?:
		lbm_gzip(tar, tar_len, gz, gz_len, NULL);

	free(tar);
	return r;
}

static void test_roundtrip(void)
{
	struct lbm_file objs[2] = { real_obj(true), real_obj(false) };
	struct lbm_file rev[2] = { objs[1], objs[0] };
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct lbm_artifact art = { 0 };
	struct lb_err err;
	const char *man = q(BASE);
	char *man_copy = strdup(man);

	if (!ASSERT_OK_PTR(objs[0].data, "xdp") || !ASSERT_OK_PTR(objs[1].data, "tc") ||
	    !ASSERT_OK(pack(man_copy, objs, 2, &a, &alen, &err), err.msg))
		goto out;
	ASSERT_OK(pack(man_copy, rev, 2, &b, &blen, &err), err.msg);
	ASSERT_TRUE(b && alen == blen && !memcmp(a, b, alen), "reproducible, any object order");
	if (!ASSERT_OK(lbm_parse(a, alen, "rt.lbm", &art, &err), err.msg))
		goto out;
	if (ASSERT_EQ(art.tar.n, 3, "entries")) {
		ASSERT_TRUE(!strcmp(art.tar.files[0].name, "manifest.json"), "manifest first");
		ASSERT_TRUE(art.tar.files[0].size == strlen(man_copy) &&
			    !memcmp(art.tar.files[0].data, man_copy, strlen(man_copy)),
			    "manifest verbatim");
		ASSERT_TRUE(!strcmp(art.tar.files[1].name, "fw_xdp.bpf.o"), "manifest order");
		ASSERT_TRUE(art.tar.files[2].size == objs[1].size &&
			    !memcmp(art.tar.files[2].data, objs[1].data, objs[1].size),
			    "object bytes");
	}
	ASSERT_TRUE(!strcmp(art.m->name, "firewall"), "manifest parsed");
	ASSERT_EQ(art.m->n_selftests, 2, "selftests");
out:
	lbm_artifact_free(&art);
	lbm_artifact_free(NULL);
	free(a);
	free(b);
	free(man_copy);
	free(objs[0].data);
	free(objs[1].data);
}

/* Artifacts whose parts are each fine but do not agree. */
static void test_artifact_errors(void)
{
	struct lbm_file objs[3] = { real_obj(true), real_obj(false), real_obj(true) };
	struct lbm_file files[4];
	struct lbm_artifact art = { 0 };
	uint8_t *gz = NULL;
	size_t len = 0;
	struct lb_err err;
	char *man = strdup(q(BASE)), *t;

	if (!ASSERT_OK_PTR(objs[2].data, "objects") || !ASSERT_OK_PTR(man, "manifest"))
		goto out;
	expect_err(pack(man, objs, 1, &gz, &len, &err), &err,
		   "m.json: $.objects[1]: \"fw_tc.bpf.o\" was not given", "missing object");
	snprintf(objs[2].name, sizeof(objs[2].name), "%s", "extra.o");
	expect_err(pack(man, objs, 3, &gz, &len, &err), &err,
		   "object \"extra.o\" is not listed in $.objects", "extra object");
	snprintf(objs[2].name, sizeof(objs[2].name), "%s", "fw_xdp.bpf.o");
	expect_err(pack(man, objs, 3, &gz, &len, &err), &err, "given twice", "twice");

	t = mutate("abi", "2");
	expect_err(pack(t, objs, 2, &gz, &len, &err), &err,
		   "firewall-1.2.0.lbm: manifest.json: $.abi: 2 is not this agent's module ABI (1)",
		   "other ABI");
	free(t);
	t = mutate("maps.1.name", "'lb_nope'");
	expect_err(pack(t, objs, 2, &gz, &len, &err), &err,
		   "manifest.json: $.maps[1]: \"lb_nope\" is defined by no object", "unknown map");
	free(t);
	t = mutate("hooks.1.program", "'lb_fw_nope'");
	expect_err(pack(t, objs, 2, &gz, &len, &err), &err,
		   "firewall-1.2.0.lbm: fw_tc.bpf.o: no program \"lb_fw_nope\"", "ELF at pack time");
	free(t);

	/* Built by hand: manifest not first, an unlisted entry, a missing object. */
	files[0] = objs[0];
	files[1] = (struct lbm_file){ "manifest.json", (uint8_t *)man, strlen(man) };
	files[2] = objs[1];
	if (ASSERT_OK(raw_artifact(files, 3, &gz, &len), "raw"))
		expect_err(lbm_parse(gz, len, "x.lbm", &art, &err), &err,
			   "x.lbm: the first entry is \"fw_xdp.bpf.o\", not manifest.json",
			   "manifest not first");
	free(gz);
	gz = NULL;
	files[0] = files[1];
	files[1] = objs[0];
	files[3] = (struct lbm_file){ "notes.txt", (uint8_t *)"hi", 2 };
	if (ASSERT_OK(raw_artifact(files, 4, &gz, &len), "raw"))
		expect_err(lbm_parse(gz, len, "x.lbm", &art, &err), &err,
			   "x.lbm: entry \"notes.txt\" is not listed", "unlisted entry");
	free(gz);
	gz = NULL;
	if (ASSERT_OK(raw_artifact(files, 2, &gz, &len), "raw"))
		expect_err(lbm_parse(gz, len, "x.lbm", &art, &err), &err,
			   "$.objects[1]: \"fw_tc.bpf.o\" is not in the archive", "missing entry");
	free(gz);
	gz = NULL;
	expect_err(lbm_parse((const uint8_t *)"", 0, "x.lbm", &art, &err), &err,
		   "x.lbm: empty file", "empty");
	ASSERT_TRUE(art.m == NULL && art.tar.n == 0, "nothing left on failure");
out:
	lbm_artifact_free(&art);
	free(man);
	for (int i = 0; i < 3; i++)
		free(objs[i].data);
}

/* lbm_load: the hash is checked first, on the file's bytes. */
static void test_load(void)
{
	struct lbm_file objs[2] = { real_obj(true), real_obj(false) };
	char path[] = "/tmp/lbm_load.XXXXXX", hex[LBM_SHA512_HEX], wrong[LBM_SHA512_HEX];
	struct lbm_artifact art = { 0 };
	uint8_t *gz = NULL;
	size_t len = 0;
	struct lb_err err;
	char *man = strdup(q(BASE));
	int fd = mkstemp(path);

	if (!ASSERT_TRUE(fd >= 0, "mkstemp") || !ASSERT_OK_PTR(man, "man") ||
	    !ASSERT_OK(pack(man, objs, 2, &gz, &len, &err), err.msg))
		goto out;
	ASSERT_EQ(write(fd, gz, len), (ssize_t)len, "write");
	lbm_sha512_hex(gz, len, hex);
	ASSERT_OK(lbm_load(path, NULL, &art, &err), err.msg);
	ASSERT_TRUE(!strcmp(art.sha512, hex), "hash of the file");
	ASSERT_EQ(art.size, len, "size");
	lbm_artifact_free(&art);
	for (char *p = hex; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	ASSERT_OK(lbm_load(path, hex, &art, &err), "uppercase hash matches");
	lbm_artifact_free(&art);
	snprintf(wrong, sizeof(wrong), "%s", hex);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	expect_err(lbm_load(path, wrong, &art, &err), &err, "sha512 mismatch: expected", "mismatch");
	ASSERT_STR_CONTAINS(err.msg, "lbm_load.", "names the file");
	ASSERT_TRUE(art.m == NULL, "nothing parsed after a mismatch");
	/* One flipped byte in the middle: a gzip error (CRC or data), never success. */
	gz[len / 2] ^= 0x40;
	ASSERT_EQ(pwrite(fd, gz, len, 0), (ssize_t)len, "pwrite");
	expect_err(lbm_load(path, NULL, &art, &err), &err, "corrupt gzip stream", "flipped byte");
out:
	lbm_artifact_free(&art);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(gz);
	free(man);
	free(objs[0].data);
	free(objs[1].data);
}

int main(void)
{
	RUN(test_semver);
	RUN(test_sha512);
	RUN(test_manifest_good);
	RUN(test_manifest_errors);
	RUN(test_manifest_text);
	RUN(test_gzip);
	RUN(test_tar_hostile);
	RUN(test_tar_write);
	RUN(test_elf_real);
	RUN(test_elf_corrupt);
	RUN(test_roundtrip);
	RUN(test_artifact_errors);
	RUN(test_load);
	return test_summary();
}
