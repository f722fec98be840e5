// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * artifact.c - module artifacts: gzip'd ustar in memory, the manifest, SHA-512
 * identity and ELF inspection.  The format is described in artifact.h.
 *
 * Everything works on buffers so the unit tests (and a fuzz target) can feed
 * it hostile bytes; lbm_read_file() is the only function that touches a file.
 * The reader trusts nothing: every length is checked against what is left
 * before it is used, and ELF objects are checked for class, byte order and
 * machine before libelf interprets them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gelf.h>
#include <jansson.h>
#include <sodium.h>
#include <zlib.h>
#include "artifact.h"

/*
 * lb_errf, with a result the static analysers can see is never 0 (lb_errf
 * lives in another file): every error path here returns it.
 */
#define FAIL(err, code, ...)                                                                      \
	({                                                                                         \
		int c_ = (code);                                                                   \
		lb_errf(err, c_, __VA_ARGS__);                                                     \
		c_ > 0 ? -c_ : c_ < 0 ? c_ : -EINVAL;                                              \
	})

static const char *const hook_names[LBM_HOOK_COUNT] = { "xdp", "tc_egress", "tc_ingress" };
static const char *const verdict_names[LBM_VERDICT_COUNT] = { "pass", "drop", "aborted", "tx",
							       "redirect" };
static const char *const feature_names[LBM_FEAT_COUNT] = { "btf", "xdp", "tcx", "tc_clsact",
							   "ringbuf", "bpf_timer" };

const char *lbm_hook_name(enum lbm_hook_type t)
{
	return (unsigned int)t < LBM_HOOK_COUNT ? hook_names[t] : "?";
}

const char *lbm_verdict_name(enum lbm_verdict v)
{
	return (unsigned int)v < LBM_VERDICT_COUNT ? verdict_names[v] : "?";
}

const char *lbm_feature_name(unsigned int f)
{
	for (int i = 0; i < LBM_FEAT_COUNT; i++)
		if (f == 1u << i)
			return feature_names[i];
	return "?";
}

/* ---- semantic versioning 2.0.0 ------------------------------------------ */

static bool why_set(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/*
 * Dot-separated identifiers of [0-9A-Za-z-]; numeric ones of a pre-release
 * may not have leading zeros.  Returns the end, or NULL with why filled.
 */
static const char *semver_idents(const char *p, const char *what, bool numeric_rule, char *why,
				 size_t n)
{
	for (;;) {
		const char *start = p;
		bool digits = true;

		for (; isalnum((unsigned char)*p) || *p == '-'; p++)
			digits &= isdigit((unsigned char)*p) != 0;
		if (p == start)
			return why_set(why, n, "empty %s identifier", what), NULL;
		if (numeric_rule && digits && p - start > 1 && *start == '0')
			return why_set(why, n, "leading zero in %s identifier \"%.*s\"", what,
				       (int)(p - start), start), NULL;
		if (*p != '.')
			return p;
		p++;
	}
}

bool lbm_semver_valid(const char *s, char *why, size_t n)
{
	static const char *const part[] = { "major", "minor", "patch" };
	const char *p = s;

	if (!*s)
		return why_set(why, n, "empty");
	if (strlen(s) > LBM_VERSION_MAX)
		return why_set(why, n, "longer than %d characters", LBM_VERSION_MAX);
	for (int i = 0; i < 3; i++) {
		const char *start = p;

		while (isdigit((unsigned char)*p))
			p++;
		if (p == start)
			return why_set(why, n, "%s is not a number", part[i]);
		if (*start == '0' && p - start > 1)
			return why_set(why, n, "leading zero in %s", part[i]);
		if (i < 2 && *p++ != '.')
			return why_set(why, n, "expected MAJOR.MINOR.PATCH");
	}
	if (*p == '-' && !(p = semver_idents(p + 1, "pre-release", true, why, n)))
		return false;
	if (*p == '+' && !(p = semver_idents(p + 1, "build", false, why, n)))
		return false;
	if (*p)
		return why_set(why, n, "unexpected '%c' at offset %d", *p, (int)(p - s));
	return true;
}

/* ---- SHA-512 and files ----------------------------------------------------- */

int lbm_sha512_hex(const void *buf, size_t len, char hex[LBM_SHA512_HEX])
{
	unsigned char h[crypto_hash_sha512_BYTES];
	crypto_hash_sha512_state st;

	if (sodium_init() < 0)
		return -EIO;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, buf, len);
	crypto_hash_sha512_final(&st, h);
	sodium_bin2hex(hex, LBM_SHA512_HEX, h, sizeof(h));
	return 0;
}

/* Hashes while reading, so the bytes hashed are exactly the bytes returned. */
int lbm_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
		  char sha512[LBM_SHA512_HEX], struct lb_err *err)
{
	unsigned char h[crypto_hash_sha512_BYTES];
	crypto_hash_sha512_state st;
	size_t cap = 0, n = 0;
	uint8_t *b = NULL;
	struct stat sb;
	int fd, r = 0;

	if (sodium_init() < 0)
		return FAIL(err, EIO, "libsodium failed to initialise");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FAIL(err, errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		r = FAIL(err, EINVAL, "%s: not a regular file", path);
		goto out;
	}
	crypto_hash_sha512_init(&st);
	for (;;) {
		ssize_t got;

		if (n == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(b, cap);
			if (!nb) {
				r = FAIL(err, ENOMEM, "%s: out of memory", path);
				goto out;
			}
			b = nb;
		}
		got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = FAIL(err, errno, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		crypto_hash_sha512_update(&st, b + n, got);
		n += got;
		if (n > max) {
			r = FAIL(err, EFBIG, "%s: larger than %zu MiB", path, max >> 20);
			goto out;
		}
	}
	crypto_hash_sha512_final(&st, h);
	if (sha512)
		sodium_bin2hex(sha512, LBM_SHA512_HEX, h, sizeof(h));
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return r;
}

/* ---- gzip ------------------------------------------------------------------ */

int lbm_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len,
	       const char *label, struct lb_err *err)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = len };
	size_t cap = 0, n = 0;
	uint8_t *b = NULL;
	int zr, r = 0;

	if (len > UINT32_MAX)
		return FAIL(err, EFBIG, "%s: too large", label);
	if (len < 18 || in[0] != 0x1f || in[1] != 0x8b)
		return FAIL(err, EINVAL, "%s: not a gzip file", label);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return FAIL(err, ENOMEM, "%s: inflateInit2 failed", label);
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb;

			if (cap > max) {
				r = FAIL(err, EFBIG, "%s: decompresses to more than %zu bytes",
					    label, max);
				break;
			}
			nb = realloc(b, ncap > max + 1 ? max + 1 : ncap);
			if (!nb) {
				r = FAIL(err, ENOMEM, "%s: out of memory", label);
				break;
			}
			b = nb;
			cap = ncap > max + 1 ? max + 1 : ncap;
		}
		z.next_out = b + n;
		z.avail_out = cap - n;
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			r = FAIL(err, EINVAL, "%s: truncated gzip stream", label);
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			r = FAIL(err, EINVAL, "%s: corrupt gzip stream: %s", label,
				    z.msg ? z.msg : zError(zr));
			break;
		}
	}
	if (!r && n > max)
		r = FAIL(err, EFBIG, "%s: decompresses to more than %zu bytes", label, max);
	if (!r && z.avail_in)
		r = FAIL(err, EINVAL, "%s: %u bytes of trailing data after the gzip stream",
			    label, z.avail_in);
	inflateEnd(&z);
	if (r) {
		free(b);
		return r;
	}
	*out = b;
	*out_len = n;
	return 0;
}

/* Level 9, no name, mtime 0, OS 3 (Unix): the same input gives the same bytes. */
int lbm_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct lb_err *err)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = len };
	gz_header h = { .time = 0, .os = 3 };
	size_t cap;
	uint8_t *b;
	int zr;

	if (len > UINT32_MAX)
		return FAIL(err, EFBIG, "archive too large");
	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return FAIL(err, ENOMEM, "deflateInit2 failed");
	if (deflateSetHeader(&z, &h) != Z_OK) {
		deflateEnd(&z);
		return FAIL(err, EINVAL, "deflateSetHeader failed");
	}
	cap = deflateBound(&z, len) + 64;
	b = malloc(cap);
	if (!b) {
		deflateEnd(&z);
		return FAIL(err, ENOMEM, "out of memory compressing the archive");
	}
	z.next_out = b;
	z.avail_out = cap;
	zr = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(b);
		return FAIL(err, EIO, "deflate: %s", zError(zr));
	}
	*out = b;
	*out_len = z.total_out;
	return 0;
}

/* ---- ustar ----------------------------------------------------------------- */

#define TAR_BLOCK ((size_t)512)

struct ustar {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};
_Static_assert(sizeof(struct ustar) == 512, "ustar header is one block");

static size_t tar_round(size_t n)
{
	return (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

/* width-1 octal digits and a NUL; the caller makes sure v fits. */
static void put_octal(char *f, size_t width, uint64_t v)
{
	f[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		f[i] = (char)('0' + (v & 7));
}

/* Octal digits, optionally space-led, then only NULs or spaces. */
static bool get_octal(const char *f, size_t width, uint64_t *v)
{
	size_t i = 0, start;

	*v = 0;
	while (i < width && f[i] == ' ')
		i++;
	for (start = i; i < width && f[i] >= '0' && f[i] <= '7'; i++)
		*v = *v << 3 | (uint64_t)(f[i] - '0');
	if (i == start)
		return false;
	for (; i < width; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return false;
	return true;
}

/* Unsigned sum of the header with the checksum field read as spaces. */
static uint64_t tar_sum(const struct ustar *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t sum = 0;

	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (i >= offsetof(struct ustar, chksum) &&
			i < offsetof(struct ustar, chksum) + sizeof(h->chksum)) ? ' ' : p[i];
	return sum;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* NULL when name is a plain file name we accept, else why not. */
static const char *fname_problem(const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return "empty name";
	if (len > LBM_FNAME_MAX)
		return "longer than 100 characters";
	if (name[0] == '/')
		return "absolute name";
	if (!strcmp(name, "..") || !strncmp(name, "../", 3) || strstr(name, "/../") ||
	    (len >= 3 && !strcmp(name + len - 3, "/..")))
		return "path traversal (\"..\")";
	if (strchr(name, '/'))
		return "directories are not allowed";
	if (name[0] == '.')
		return "name starts with '.'";
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return "character not in [A-Za-z0-9._-]";
	return NULL;
}

static const char *tar_type_name(char t)
{
	switch (t) {
	case '1': return "a hard link";
	case '2': return "a symlink";
	case '3': return "a character device";
	case '4': return "a block device";
	case '5': return "a directory";
	case '6': return "a FIFO";
	case 'x': case 'g': return "a pax header";
	case 'L': case 'K': return "a GNU long-name header";
	}
	return "of an unknown type";
}

int lbm_tar_write(const struct lbm_file *files, size_t n, uint8_t **out, size_t *out_len,
		  struct lb_err *err)
{
	size_t total = 2 * TAR_BLOCK, off = 0;
	uint8_t *b;

	for (size_t i = 0; i < n; i++) {
		const char *why = fname_problem(files[i].name);

		if (why)
			return FAIL(err, EINVAL, "\"%s\": %s", files[i].name, why);
		if (files[i].size > LBM_ENTRY_MAX)
			return FAIL(err, EFBIG, "%s: larger than %u MiB", files[i].name,
				       LBM_ENTRY_MAX >> 20);
		total += TAR_BLOCK + tar_round(files[i].size);
	}
	b = calloc(1, total);
	if (!b)
		return FAIL(err, ENOMEM, "out of memory building the archive");
	for (size_t i = 0; i < n; i++) {
		struct ustar *h = (struct ustar *)(b + off);

		memcpy(h->name, files[i].name, strlen(files[i].name));
		put_octal(h->mode, sizeof(h->mode), 0644);
		put_octal(h->uid, sizeof(h->uid), 0);
		put_octal(h->gid, sizeof(h->gid), 0);
		put_octal(h->size, sizeof(h->size), files[i].size);
		put_octal(h->mtime, sizeof(h->mtime), 0);
		h->typeflag = '0';
		memcpy(h->magic, "ustar", 6);
		memcpy(h->version, "00", 2);
		put_octal(h->devmajor, sizeof(h->devmajor), 0);
		put_octal(h->devminor, sizeof(h->devminor), 0);
		put_octal(h->chksum, 7, tar_sum(h));
		h->chksum[7] = ' ';
		off += TAR_BLOCK;
		if (files[i].size)
			memcpy(b + off, files[i].data, files[i].size);
		off += tar_round(files[i].size);
	}
	*out = b;
	*out_len = total;
	return 0;
}

void lbm_tar_free(struct lbm_tar *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->files[i].data);
	free(t->files);
	t->files = NULL;
	t->n = 0;
}

/* Check one header; fills name and size. */
static int tar_header(const struct ustar *h, size_t idx, const char *label, char *name,
		      uint64_t *size, struct lb_err *err)
{
	size_t nlen = strnlen(h->name, sizeof(h->name));
	size_t plen = strnlen(h->prefix, sizeof(h->prefix));
	char full[sizeof(h->prefix) + 1 + sizeof(h->name) + 1];
	const char *why;
	uint64_t sum;

	if (!get_octal(h->chksum, sizeof(h->chksum), &sum) || sum != tar_sum(h))
		return FAIL(err, EINVAL, "%s: entry %zu: bad header checksum", label, idx);
	if (memcmp(h->magic, "ustar", 6) || memcmp(h->version, "00", 2))
		return FAIL(err, EINVAL, "%s: entry %zu: not a POSIX ustar header", label, idx);
	snprintf(full, sizeof(full), "%.*s%s%.*s", (int)plen, h->prefix, plen ? "/" : "",
		 (int)nlen, h->name);
	why = fname_problem(full);
	if (why)
		return FAIL(err, EINVAL, "%s: entry %zu (\"%.120s\"): %s", label, idx, full, why);
	if (h->typeflag != '0' && h->typeflag != '\0')
		return FAIL(err, EINVAL, "%s: entry \"%s\" is %s, not a regular file", label,
			       full, tar_type_name(h->typeflag));
	if (!get_octal(h->size, sizeof(h->size), size))
		return FAIL(err, EINVAL, "%s: entry \"%s\": bad size field", label, full);
	if (*size > LBM_ENTRY_MAX)
		return FAIL(err, EFBIG, "%s: entry \"%s\": %llu bytes, more than %u MiB", label,
			       full, (unsigned long long)*size, LBM_ENTRY_MAX >> 20);
	memcpy(name, full, strlen(full) + 1);	/* fname_problem() capped it at 100 */
	return 0;
}

/* Two zero blocks end the archive; after them, only zeros. */
static int tar_end(const uint8_t *buf, size_t len, size_t off, const char *label,
		   struct lb_err *err)
{
	if (len - off < 2 * TAR_BLOCK || !all_zero(buf + off + TAR_BLOCK, TAR_BLOCK))
		return FAIL(err, EINVAL, "%s: truncated archive (no end-of-archive marker)",
			       label);
	if (!all_zero(buf + off, len - off))
		return FAIL(err, EINVAL, "%s: data after the end-of-archive marker", label);
	return 0;
}

static int tar_next(const uint8_t *buf, size_t len, size_t *off, const char *label,
		    struct lbm_tar *t, size_t *total, struct lb_err *err)
{
	struct lbm_file *f = &t->files[t->n];
	uint64_t size;
	int r;

	r = tar_header((const struct ustar *)(buf + *off), t->n, label, f->name, &size, err);
	if (r)
		return r;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->files[i].name, f->name))
			return FAIL(err, EINVAL, "%s: duplicate entry \"%s\"", label, f->name);
	*off += TAR_BLOCK;
	if (tar_round(size) > len - *off)
		return FAIL(err, EINVAL, "%s: entry \"%s\": truncated data", label, f->name);
	*total += size;
	if (*total > LBM_TOTAL_MAX)
		return FAIL(err, EFBIG, "%s: entries sum to more than %u MiB", label,
			       LBM_TOTAL_MAX >> 20);
	f->data = malloc(size ? size : 1);
	if (!f->data)
		return FAIL(err, ENOMEM, "%s: out of memory", label);
	memcpy(f->data, buf + *off, size);
	f->size = size;
	t->n++;
	*off += tar_round(size);
	return 0;
}

int lbm_tar_read(const uint8_t *buf, size_t len, const char *label, struct lbm_tar *t,
		 struct lb_err *err)
{
	size_t off = 0, total = 0;
	int r = 0;

	t->n = 0;
	t->files = calloc(LBM_ENTRIES_MAX, sizeof(*t->files));
	if (!t->files)
		return FAIL(err, ENOMEM, "%s: out of memory", label);
	for (;;) {
		if (len - off < TAR_BLOCK) {
			r = FAIL(err, EINVAL, "%s: truncated archive (no end-of-archive marker)",
				    label);
			break;
		}
		if (all_zero(buf + off, TAR_BLOCK)) {
			r = tar_end(buf, len, off, label, err);
			break;
		}
		if (t->n == LBM_ENTRIES_MAX) {
			r = FAIL(err, EFBIG, "%s: more than %d entries", label, LBM_ENTRIES_MAX);
			break;
		}
		r = tar_next(buf, len, &off, label, t, &total, err);
		if (r)
			break;
	}
	if (r)
		lbm_tar_free(t);
	return r;
}

/* ---- manifest.json --------------------------------------------------------- */

/* Parsing state: the label for messages and where to put them. */
struct mp {
	const char *label;
	struct lb_err *err;
};

static int bad(struct mp *p, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct mp *p, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return FAIL(p->err, EINVAL, "%s: %s: %s", p->label, path, msg);
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Unknown keys are refused, so a typo never silently drops a field. */
static int only_keys(struct mp *p, json_t *obj, const char *path, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		char known[256] = "";
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (keys[i])
			continue;
		for (i = 0; keys[i]; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 i ? ", " : "", keys[i]);
		return bad(p, path, "unknown key \"%.64s\" (known keys: %s)", k, known);
	}
	return 0;
}

/* obj[key] of type t; required or not.  *out NULL when absent and optional. */
static int get(struct mp *p, json_t *obj, const char *path, const char *key, json_type t,
	       bool required, json_t **out)
{
	static const char *const want[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string", [JSON_INTEGER] = "an integer",
	};
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return required ? bad(p, path, "missing \"%s\"", key) : 0;
	if (json_typeof(v) != t)
		return bad(p, path, "\"%s\" must be %s, not %s", key, want[t], json_kind(v));
	*out = v;
	return 0;
}

/* An optional string: *out NULL when absent. */
static int get_str(struct mp *p, json_t *obj, const char *path, const char *key, const char **out)
{
	json_t *v;
	int r = get(p, obj, path, key, JSON_STRING, false, &v);

	*out = v ? json_string_value(v) : NULL;
	return r;
}

/* A required string, or NULL with *r set. */
static const char *need_str(struct mp *p, json_t *obj, const char *path, const char *key, int *r)
{
	json_t *v;
	const char *s;

	*r = get(p, obj, path, key, JSON_STRING, true, &v);
	s = *r || !v ? NULL : json_string_value(v);
	if (!s && !*r)	/* cannot happen; keeps "NULL means *r is set" visibly true */
		*r = bad(p, path, "missing \"%s\"", key);
	return s;
}

/* An array of at most max elements. */
static int get_array(struct mp *p, json_t *obj, const char *key, bool required, size_t max,
		     json_t **out)
{
	char path[32];
	int r = get(p, obj, "$", key, JSON_ARRAY, required, out);

	snprintf(path, sizeof(path), "$.%s", key);
	if (!r && *out && json_array_size(*out) > max)
		r = bad(p, path, "%zu entries, at most %zu", json_array_size(*out), max);
	return r;
}

static bool chars_ok(const char *s, size_t max, const char *extra, bool upper)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!(isdigit(ch) || (ch >= 'a' && ch <= 'z') || (upper && ch >= 'A' && ch <= 'Z') ||
		      (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

/* Lowercase names (module, tags): [a-z0-9-], not starting with '-'. */
static bool lname_ok(const char *s, size_t max)
{
	return chars_ok(s, max, "-", false) && s[0] != '-';
}

/* C identifiers: programs and maps. */
static bool ident_ok(const char *s)
{
	return chars_ok(s, LBM_IDENT_MAX, "_", true) && !isdigit((unsigned char)s[0]);
}

static int parse_top(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	char why[128];
	const char *s;
	json_t *v;
	int r;

	if (!(s = need_str(p, root, "$", "name", &r)))
		return r;
	if (!lname_ok(s, LBM_NAME_MAX))
		return bad(p, "$.name", "\"%.64s\" is not a module name (1-32 of [a-z0-9-], not "
			   "starting with '-')", s);
	snprintf(m->name, sizeof(m->name), "%s", s);
	if (!(s = need_str(p, root, "$", "version", &r)))
		return r;
	if (!lbm_semver_valid(s, why, sizeof(why)))
		return bad(p, "$.version", "\"%.80s\" is not semver (%s)", s, why);
	snprintf(m->version, sizeof(m->version), "%s", s);
	if ((r = get(p, root, "$", "abi", JSON_INTEGER, true, &v)))
		return r;
	if (json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX)
		return bad(p, "$.abi", "%lld is not a positive 32-bit integer",
			   (long long)json_integer_value(v));
	m->abi = json_integer_value(v);
	if ((r = get_str(p, root, "$", "description", &s)))
		return r;
	if (s && strlen(s) > LBM_DESC_MAX)
		return bad(p, "$.description", "longer than %d bytes", LBM_DESC_MAX);
	if (s && !(m->description = strdup(s)))
		return FAIL(p->err, ENOMEM, "%s: out of memory", p->label);
	return 0;
}

static int parse_objects(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	char path[48];
	json_t *arr, *v;
	size_t i;
	int r = get_array(p, root, "objects", true, LBM_OBJECTS_MAX, &arr);

	if (r)
		return r;
	if (!json_array_size(arr))
		return bad(p, "$.objects", "empty: a module has at least one object");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v), *why;

		snprintf(path, sizeof(path), "$.objects[%zu]", i);
		if (!s)
			return bad(p, path, "must be a string, not %s", json_kind(v));
		why = fname_problem(s);
		if (why)
			return bad(p, path, "\"%.100s\" is not a valid file name: %s", s, why);
		if (!strcmp(s, LBM_MANIFEST))
			return bad(p, path, "\"%s\" is the manifest's own name", s);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->objects[j], s))
				return bad(p, path, "duplicate object \"%s\" (first at "
					   "$.objects[%zu])", s, j);
		snprintf(m->objects[i], sizeof(m->objects[i]), "%s", s);
		m->n_objects++;
	}
	return 0;
}

static int hook_type(const char *s, enum lbm_hook_type *t)
{
	for (int i = 0; i < LBM_HOOK_COUNT; i++) {
		if (!strcmp(s, hook_names[i])) {
			*t = i;
			return 0;
		}
	}
	return -1;
}

static bool has_object(const struct lbm_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n_objects; i++)
		if (!strcmp(m->objects[i], name))
			return true;
	return false;
}

static int parse_hook(struct mp *p, json_t *v, size_t i, struct lbm_manifest *m)
{
	static const char *const keys[] = { "hook", "object", "program", NULL };
	struct lbm_hook *h = &m->hooks[i];
	const char *s;
	char path[48];
	int r;

	snprintf(path, sizeof(path), "$.hooks[%zu]", i);
	if (!json_is_object(v))
		return bad(p, path, "must be an object, not %s", json_kind(v));
	if ((r = only_keys(p, v, path, keys)) || !(s = need_str(p, v, path, "hook", &r)))
		return r;
	if (hook_type(s, &h->type))
		return bad(p, path, "\"hook\": \"%.64s\" is not one of xdp, tc_egress, tc_ingress",
			   s);
	for (size_t j = 0; j < i; j++)
		if (m->hooks[j].type == h->type)
			return bad(p, path, "duplicate hook \"%s\" (first at $.hooks[%zu])", s, j);
	if (!(s = need_str(p, v, path, "object", &r)))
		return r;
	if (!has_object(m, s))
		return bad(p, path, "\"object\": \"%.100s\" is not listed in $.objects", s);
	snprintf(h->object, sizeof(h->object), "%s", s);
	if (!(s = need_str(p, v, path, "program", &r)))
		return r;
	if (!ident_ok(s))
		return bad(p, path, "\"program\": \"%.80s\" is not a C identifier of 1-63 "
			   "characters", s);
	snprintf(h->program, sizeof(h->program), "%s", s);
	m->n_hooks++;
	return 0;
}

static int parse_hooks(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	json_t *arr, *v;
	size_t i;
	int r = get_array(p, root, "hooks", true, LBM_HOOKS_MAX, &arr);

	if (r)
		return r;
	if (!json_array_size(arr))
		return bad(p, "$.hooks", "empty: a module attaches at least one program");
	json_array_foreach(arr, i, v) {
		if ((r = parse_hook(p, v, i, m)))
			return r;
	}
	/* An object no hook uses is a packaging mistake, not something to carry. */
	for (i = 0; i < m->n_objects; i++) {
		bool used = false;

		for (size_t j = 0; j < m->n_hooks; j++)
			used |= !strcmp(m->hooks[j].object, m->objects[i]);
		if (!used) {
			char path[48];

			snprintf(path, sizeof(path), "$.objects[%zu]", i);
			return bad(p, path, "\"%s\" is named by no hook", m->objects[i]);
		}
	}
	return 0;
}

static int parse_maps(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	static const char *const keys[] = { "name", "layout", NULL };
	json_t *arr, *v, *lay;
	char path[48];
	const char *s;
	size_t i;
	int r = get_array(p, root, "maps", true, LBM_MAPS_MAX, &arr);

	if (r)
		return r;
	m->maps = calloc(json_array_size(arr) + 1, sizeof(*m->maps));
	if (!m->maps)
		return FAIL(p->err, ENOMEM, "%s: out of memory", p->label);
	json_array_foreach(arr, i, v) {
		snprintf(path, sizeof(path), "$.maps[%zu]", i);
		if (!json_is_object(v))
			return bad(p, path, "must be an object, not %s", json_kind(v));
		if ((r = only_keys(p, v, path, keys)) || !(s = need_str(p, v, path, "name", &r)))
			return r;
		if (!ident_ok(s))
			return bad(p, path, "\"name\": \"%.80s\" is not a C identifier of 1-63 "
				   "characters", s);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->maps[j].name, s))
				return bad(p, path, "duplicate map \"%s\" (first at $.maps[%zu])", s,
					   j);
		if ((r = get(p, v, path, "layout", JSON_INTEGER, true, &lay)))
			return r;
		if (json_integer_value(lay) < 1 || json_integer_value(lay) > UINT32_MAX)
			return bad(p, path, "\"layout\": %lld is not a positive 32-bit integer",
				   (long long)json_integer_value(lay));
		snprintf(m->maps[i].name, sizeof(m->maps[i].name), "%s", s);
		m->maps[i].layout = json_integer_value(lay);
		m->n_maps++;
	}
	return 0;
}

/* "MAJOR.MINOR", each 1-3 digits without a leading zero. */
static bool kernel_version(const char *s, unsigned int *major, unsigned int *minor)
{
	unsigned int *out[2] = { major, minor };

	for (int i = 0; i < 2; i++) {
		const char *start = s;

		*out[i] = 0;
		for (; isdigit((unsigned char)*s); s++)
			*out[i] = *out[i] * 10 + (unsigned int)(*s - '0');
		if (s == start || s - start > 3 || (*start == '0' && s - start > 1))
			return false;
		if (*s++ != (i ? '\0' : '.'))
			return false;
	}
	return true;
}

static int parse_features(struct mp *p, json_t *arr, struct lbm_manifest *m)
{
	char path[48];
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int f;

		snprintf(path, sizeof(path), "$.kernel.features[%zu]", i);
		if (!s)
			return bad(p, path, "must be a string, not %s", json_kind(v));
		for (f = 0; f < LBM_FEAT_COUNT && strcmp(s, feature_names[f]); f++)
			;
		if (f == LBM_FEAT_COUNT)
			return bad(p, path, "\"%.64s\" is not one of btf, xdp, tcx, tc_clsact, "
				   "ringbuf, bpf_timer", s);
		if (m->features & (1u << f))
			return bad(p, path, "duplicate feature \"%s\"", s);
		m->features |= 1u << f;
	}
	return 0;
}

static int parse_kernel(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	static const char *const keys[] = { "min", "features", NULL };
	json_t *k, *arr;
	const char *s;
	int r;

	if ((r = get(p, root, "$", "kernel", JSON_OBJECT, true, &k)) ||
	    (r = only_keys(p, k, "$.kernel", keys)) ||
	    !(s = need_str(p, k, "$.kernel", "min", &r)))
		return r;
	if (!kernel_version(s, &m->kernel_major, &m->kernel_minor))
		return bad(p, "$.kernel.min", "\"%.64s\" is not a kernel version MAJOR.MINOR", s);
	if ((r = get(p, k, "$.kernel", "features", JSON_ARRAY, false, &arr)))
		return r;
	return arr ? parse_features(p, arr, m) : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_packet(struct mp *p, const char *path, const char *s, struct lbm_selftest *t)
{
	size_t n = strlen(s);

	if (n % 2)
		return bad(p, path, "\"packet\": odd number of hex digits (%zu)", n);
	if (n / 2 < LBM_PKT_MIN || n / 2 > LBM_PKT_MAX)
		return bad(p, path, "\"packet\": %zu bytes, an Ethernet frame has %d-%d", n / 2,
			   LBM_PKT_MIN, LBM_PKT_MAX);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return bad(p, path, "\"packet\": '%c' at offset %zu is not a hex digit",
				   hi < 0 ? s[i] : s[i + 1], hi < 0 ? i : i + 1);
		t->packet[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	t->len = n / 2;
	return 0;
}

static bool has_hook(const struct lbm_manifest *m, enum lbm_hook_type t)
{
	for (size_t i = 0; i < m->n_hooks; i++)
		if (m->hooks[i].type == t)
			return true;
	return false;
}

static int parse_expect(struct mp *p, const char *path, const char *s, struct lbm_selftest *t)
{
	int v;

	for (v = 0; v < LBM_VERDICT_COUNT && strcmp(s, verdict_names[v]); v++)
		;
	if (v == LBM_VERDICT_COUNT)
		return bad(p, path, "\"expect\": \"%.64s\" is not one of pass, drop, aborted, tx, "
			   "redirect", s);
	if (t->hook != LBM_HOOK_XDP && (v == LBM_ABORTED || v == LBM_TX))
		return bad(p, path, "\"expect\": \"%s\" is an XDP verdict, the hook is %s", s,
			   hook_names[t->hook]);
	t->expect = v;
	return 0;
}

static int parse_selftest(struct mp *p, json_t *v, size_t i, struct lbm_manifest *m)
{
	static const char *const keys[] = { "name", "hook", "packet", "expect", NULL };
	struct lbm_selftest *t = &m->selftests[i];
	const char *s;
	char path[48];
	int r;

	snprintf(path, sizeof(path), "$.selftest[%zu]", i);
	if (!json_is_object(v))
		return bad(p, path, "must be an object, not %s", json_kind(v));
	if ((r = only_keys(p, v, path, keys)) || !(s = need_str(p, v, path, "name", &r)))
		return r;
	if (!chars_ok(s, LBM_IDENT_MAX, "_.:-", true))
		return bad(p, path, "\"name\": \"%.80s\" is not 1-63 of [A-Za-z0-9_.:-]", s);
	for (size_t j = 0; j < i; j++)
		if (!strcmp(m->selftests[j].name, s))
			return bad(p, path, "duplicate self-test \"%s\" (first at $.selftest[%zu])",
				   s, j);
	snprintf(t->name, sizeof(t->name), "%s", s);
	if (!(s = need_str(p, v, path, "hook", &r)))
		return r;
	if (hook_type(s, &t->hook))
		return bad(p, path, "\"hook\": \"%.64s\" is not one of xdp, tc_egress, tc_ingress",
			   s);
	if (!has_hook(m, t->hook))
		return bad(p, path, "\"hook\": \"%s\" is not one of the module's $.hooks", s);
	if (!(s = need_str(p, v, path, "packet", &r)) || (r = parse_packet(p, path, s, t)) ||
	    !(s = need_str(p, v, path, "expect", &r)) || (r = parse_expect(p, path, s, t)))
		return r;
	m->n_selftests++;
	return 0;
}

static int parse_selftests(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	json_t *arr, *v;
	size_t i;
	int r = get_array(p, root, "selftest", true, LBM_SELFTESTS_MAX, &arr);

	if (r)
		return r;
	m->selftests = calloc(json_array_size(arr) + 1, sizeof(*m->selftests));
	if (!m->selftests)
		return FAIL(p->err, ENOMEM, "%s: out of memory", p->label);
	json_array_foreach(arr, i, v) {
		if ((r = parse_selftest(p, v, i, m)))
			return r;
	}
	return 0;
}

static int parse_tags(struct mp *p, json_t *root, struct lbm_manifest *m)
{
	char path[48];
	json_t *arr, *v;
	size_t i;
	int r = get_array(p, root, "tags", false, LBM_TAGS_MAX, &arr);

	if (r || !arr)
		return r;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		snprintf(path, sizeof(path), "$.tags[%zu]", i);
		if (!s)
			return bad(p, path, "must be a string, not %s", json_kind(v));
		if (!lname_ok(s, LBM_TAG_MAX))
			return bad(p, path, "\"%.64s\" is not a tag (1-32 of [a-z0-9-], not "
				   "starting with '-')", s);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->tags[j], s))
				return bad(p, path, "duplicate tag \"%s\"", s);
		snprintf(m->tags[i], sizeof(m->tags[i]), "%s", s);
		m->n_tags++;
	}
	return 0;
}

int lbm_manifest_parse(const char *text, size_t len, const char *label,
		       struct lbm_manifest **out, struct lb_err *err)
{
	static const char *const keys[] = { "name", "version", "abi", "objects", "hooks",
					    "maps", "kernel", "selftest", "tags", "description",
					    NULL };
	struct mp p = { .label = label, .err = err };
	struct lbm_manifest *m;
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	if (!len)
		return FAIL(err, EINVAL, "%s: empty file", label);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return FAIL(err, EINVAL, "%s:%d:%d: invalid JSON: %s", label, je.line,
			       je.column, je.text);
	m = calloc(1, sizeof(*m));
	if (!m) {
		json_decref(root);
		return FAIL(err, ENOMEM, "%s: out of memory", label);
	}
	/* Fields in a fixed order, so the first error reported is stable. */
	if (!json_is_object(root))
		r = bad(&p, "$", "must be an object, not %s", json_kind(root));
	else
		r = only_keys(&p, root, "$", keys) ?: parse_top(&p, root, m) ?:
		    parse_objects(&p, root, m) ?: parse_hooks(&p, root, m) ?:
		    parse_maps(&p, root, m) ?: parse_kernel(&p, root, m) ?:
		    parse_selftests(&p, root, m) ?: parse_tags(&p, root, m);
	json_decref(root);
	if (r) {
		lbm_manifest_free(m);
		return r;
	}
	*out = m;
	return 0;
}

void lbm_manifest_free(struct lbm_manifest *m)
{
	if (!m)
		return;
	free(m->maps);
	free(m->selftests);
	free(m->description);
	free(m);
}

/* ---- ELF ------------------------------------------------------------------- */

/* What the kernel's license_is_gpl_compatible() accepts. */
static const char *const gpl_licenses[] = {
	"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
	"Dual MPL/GPL", NULL,
};

struct elf_view {
	Elf *elf;
	size_t shstrndx;
	Elf_Scn *symtab;
	GElf_Shdr symtab_hdr;
	size_t maps_idx;		/* 0: no .maps section */
	bool btf;
	const char *license;		/* NULL: no license section */
	bool license_bad;		/* present but not a NUL-terminated string */
};

static bool tc_section(const char *s)
{
	return !strcmp(s, "tc") || !strncmp(s, "tc/", 3) || !strncmp(s, "classifier", 10) ||
	       !strncmp(s, "sched_cls", 9);
}

/* Whether libbpf would attach a program in section sec to hook t. */
static bool section_fits(const char *sec, enum lbm_hook_type t)
{
	if (!strncmp(sec, "freplace/", 9))
		return true;
	switch (t) {
	case LBM_HOOK_XDP:
		return !strncmp(sec, "xdp", 3);
	case LBM_HOOK_TC_EGRESS:
		return tc_section(sec) || !strcmp(sec, "tcx/egress");
	case LBM_HOOK_TC_INGRESS:
		return tc_section(sec) || !strcmp(sec, "tcx/ingress");
	default:
		return false;
	}
}

static const char *section_hint(enum lbm_hook_type t)
{
	if (t == LBM_HOOK_XDP)
		return "xdp...";
	return t == LBM_HOOK_TC_EGRESS ? "tc, tc/..., tcx/egress, classifier..., sched_cls..." :
					 "tc, tc/..., tcx/ingress, classifier..., sched_cls...";
}

/* Class, byte order, then libelf: ELF64 LSB, relocatable, EM_BPF. */
static int elf_open(const struct lbm_file *f, const char *label, struct elf_view *v,
		    struct lb_err *err)
{
	const unsigned char *id = f->data;
	GElf_Ehdr eh;

	if (f->size < EI_NIDENT || memcmp(id, ELFMAG, SELFMAG))
		return FAIL(err, EINVAL, "%s: %s: not an ELF file", label, f->name);
	if (id[EI_CLASS] != ELFCLASS64)
		return FAIL(err, EINVAL, "%s: %s: ELF class %u, not ELF64", label, f->name,
			       id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return FAIL(err, EINVAL, "%s: %s: not little-endian (EI_DATA %u)", label,
			       f->name, id[EI_DATA]);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return FAIL(err, EIO, "libelf: %s", elf_errmsg(-1));
	v->elf = elf_memory((char *)f->data, f->size);
	if (!v->elf || elf_kind(v->elf) != ELF_K_ELF || !gelf_getehdr(v->elf, &eh))
		return FAIL(err, EINVAL, "%s: %s: bad ELF: %s", label, f->name, elf_errmsg(-1));
	if (eh.e_machine != EM_BPF)
		return FAIL(err, EINVAL, "%s: %s: e_machine is %u, not EM_BPF (%u)", label,
			       f->name, eh.e_machine, EM_BPF);
	if (eh.e_type != ET_REL)
		return FAIL(err, EINVAL, "%s: %s: e_type is %u, not ET_REL (a clang -c object)",
			       label, f->name, eh.e_type);
	if (elf_getshdrstrndx(v->elf, &v->shstrndx))
		return FAIL(err, EINVAL, "%s: %s: no section name table: %s", label, f->name,
			       elf_errmsg(-1));
	return 0;
}

static void elf_license(Elf_Scn *scn, struct elf_view *v)
{
	Elf_Data *d = elf_getdata(scn, NULL);

	v->license_bad = !d || !d->d_buf || !d->d_size || !memchr(d->d_buf, '\0', d->d_size);
	v->license = v->license_bad ? "" : d->d_buf;
}

static int elf_sections(const struct lbm_file *f, const char *label, struct elf_view *v,
			struct lb_err *err)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(v->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(v->elf, v->shstrndx, sh.sh_name)))
			return FAIL(err, EINVAL, "%s: %s: bad section header %zu: %s", label,
				       f->name, elf_ndxscn(scn), elf_errmsg(-1));
		if (!strcmp(name, "license"))
			elf_license(scn, v);
		else if (!strcmp(name, ".BTF"))
			v->btf = true;
		else if (!strcmp(name, ".maps"))
			v->maps_idx = elf_ndxscn(scn);
		if (sh.sh_type == SHT_SYMTAB && !v->symtab) {
			v->symtab = scn;
			v->symtab_hdr = sh;
		}
	}
	if (!v->license)
		return FAIL(err, EINVAL, "%s: %s: no license section", label, f->name);
	if (v->license_bad)
		return FAIL(err, EINVAL, "%s: %s: license section holds no NUL-terminated string",
			       label, f->name);
	for (size_t i = 0; gpl_licenses[i]; i++)
		if (!strcmp(v->license, gpl_licenses[i]))
			goto gpl;
	return FAIL(err, EINVAL, "%s: %s: license \"%.64s\" is not GPL-compatible (the kernel "
		       "accepts GPL, GPL v2, GPL and additional rights, Dual BSD/GPL, Dual "
		       "MIT/GPL, Dual MPL/GPL)", label, f->name, v->license);
gpl:
	if (!v->btf)
		return FAIL(err, EINVAL, "%s: %s: no .BTF section (build with clang -g)", label,
			       f->name);
	if (!v->symtab || !v->symtab_hdr.sh_entsize)
		return FAIL(err, EINVAL, "%s: %s: no symbol table", label, f->name);
	return 0;
}

static size_t sym_count(const struct elf_view *v)
{
	return v->symtab_hdr.sh_size / v->symtab_hdr.sh_entsize;
}

static const char *sym_name(const struct elf_view *v, const GElf_Sym *s)
{
	return elf_strptr(v->elf, v->symtab_hdr.sh_link, s->st_name);
}

/* The hook's program: a global function in a program section that fits the hook. */
static int elf_program(const struct lbm_file *f, const struct lbm_hook *h, const char *label,
		       const struct elf_view *v, struct lb_err *err)
{
	Elf_Data *d = elf_getdata(v->symtab, NULL);
	bool other = false;
	const char *sec;
	GElf_Shdr sh;
	GElf_Sym s;
	size_t i, n = d ? sym_count(v) : 0;

	for (i = 0; i < n; i++) {
		const char *name;

		if (!gelf_getsym(d, (int)i, &s) || !(name = sym_name(v, &s)) ||
		    strcmp(name, h->program))
			continue;
		if (GELF_ST_TYPE(s.st_info) == STT_FUNC)
			break;
		other = true;
	}
	if (i == n)
		return FAIL(err, ENOENT, "%s: %s: %s \"%s\" (hook %s)", label, f->name,
			       other ? "the symbol is not a function:" : "no program", h->program,
			       hook_names[h->type]);
	if (GELF_ST_BIND(s.st_info) != STB_GLOBAL)
		return FAIL(err, EINVAL, "%s: %s: function \"%s\" is not global (not a program)",
			       label, f->name, h->program);
	if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
	    !gelf_getshdr(elf_getscn(v->elf, s.st_shndx), &sh) ||
	    !(sec = elf_strptr(v->elf, v->shstrndx, sh.sh_name)))
		return FAIL(err, EINVAL, "%s: %s: function \"%s\" is not defined in a section",
			       label, f->name, h->program);
	if (!(sh.sh_flags & SHF_EXECINSTR))
		return FAIL(err, EINVAL, "%s: %s: \"%s\" is in section \"%s\", which holds no "
			       "code", label, f->name, h->program, sec);
	if (!section_fits(sec, h->type))
		return FAIL(err, EINVAL, "%s: %s: program \"%s\" is in section \"%.64s\", which "
			       "does not fit hook %s (%s, or freplace/...)", label, f->name,
			       h->program, sec, hook_names[h->type], section_hint(h->type));
	return 0;
}

static void elf_maps(const struct elf_view *v, const struct lbm_manifest *m, bool *seen)
{
	Elf_Data *d = elf_getdata(v->symtab, NULL);
	size_t n = d ? sym_count(v) : 0;

	for (size_t i = 0; i < n && v->maps_idx; i++) {
		const char *name;
		GElf_Sym s;

		if (!gelf_getsym(d, (int)i, &s) || s.st_shndx != v->maps_idx ||
		    !(name = sym_name(v, &s)))
			continue;
		for (size_t j = 0; j < m->n_maps; j++)
			seen[j] |= !strcmp(name, m->maps[j].name);
	}
}

int lbm_elf_check(const struct lbm_file *obj, const struct lbm_manifest *m, bool *maps_seen,
		  const char *label, struct lb_err *err)
{
	struct elf_view v = { 0 };
	int r = elf_open(obj, label, &v, err) ?: elf_sections(obj, label, &v, err);

	for (size_t i = 0; !r && i < m->n_hooks; i++)
		if (!strcmp(m->hooks[i].object, obj->name))
			r = elf_program(obj, &m->hooks[i], label, &v, err);
	if (!r && maps_seen)
		elf_maps(&v, m, maps_seen);
	if (v.elf)
		elf_end(v.elf);
	return r;
}

/* ---- the artifact ------------------------------------------------------------ */

static const struct lbm_file *tar_find(const struct lbm_tar *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->files[i].name, name))
			return &t->files[i];
	return NULL;
}

/* Entries and $.objects are the same set; every object passes the ELF checks. */
static int check_objects(const struct lbm_artifact *a, const char *label, struct lb_err *err)
{
	const struct lbm_manifest *m = a->m;
	bool seen[LBM_MAPS_MAX] = { false };
	int r;

	for (size_t i = 1; i < a->tar.n; i++)
		if (!has_object(m, a->tar.files[i].name))
			return FAIL(err, EINVAL, "%s: entry \"%s\" is not listed in "
				       "manifest.json's $.objects", label, a->tar.files[i].name);
	for (size_t i = 0; i < m->n_objects; i++) {
		const struct lbm_file *f = tar_find(&a->tar, m->objects[i]);

		if (!f)
			return FAIL(err, ENOENT, "%s: manifest.json: $.objects[%zu]: \"%s\" is "
				       "not in the archive", label, i, m->objects[i]);
		if ((r = lbm_elf_check(f, m, seen, label, err)))
			return r;
	}
	for (size_t i = 0; i < m->n_maps; i++)
		if (!seen[i])
			return FAIL(err, ENOENT, "%s: manifest.json: $.maps[%zu]: \"%s\" is "
				       "defined by no object's .maps section", label, i,
				       m->maps[i].name);
	return 0;
}

static int parse_unpacked(struct lbm_artifact *a, const char *label, struct lb_err *err)
{
	const struct lbm_file *mf = &a->tar.files[0];
	char mlabel[300];
	int r;

	if (!a->tar.n || strcmp(mf->name, LBM_MANIFEST))
		return FAIL(err, EINVAL, "%s: the first entry is %s%s%s, not %s", label,
			       a->tar.n ? "\"" : "", a->tar.n ? mf->name : "missing",
			       a->tar.n ? "\"" : "", LBM_MANIFEST);
	snprintf(mlabel, sizeof(mlabel), "%s: %s", label, LBM_MANIFEST);
	r = lbm_manifest_parse((const char *)mf->data, mf->size, mlabel, &a->m, err);
	if (r)
		return r;
	if (a->m->abi != LBM_ABI)
		return FAIL(err, EINVAL, "%s: $.abi: %u is not this agent's module ABI (%d)",
			       mlabel, a->m->abi, LBM_ABI);
	return check_objects(a, label, err);
}

int lbm_parse(const uint8_t *buf, size_t len, const char *label, struct lbm_artifact *a,
	      struct lb_err *err)
{
	uint8_t *tar = NULL;
	size_t tar_len = 0;
	int r;

	a->tar.files = NULL;
	a->tar.n = 0;
	a->m = NULL;
	if (!len)
		return FAIL(err, EINVAL, "%s: empty file", label);
	r = lbm_gunzip(buf, len, LBM_TAR_MAX, &tar, &tar_len, label, err) ?:
	    lbm_tar_read(tar, tar_len, label, &a->tar, err) ?: parse_unpacked(a, label, err);
	free(tar);
	if (r) {
		lbm_tar_free(&a->tar);
		lbm_manifest_free(a->m);
		a->m = NULL;
	}
	return r;
}

int lbm_load(const char *path, const char *expect_sha512, struct lbm_artifact *a,
	     struct lb_err *err)
{
	const char *label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	memset(a, 0, sizeof(*a));
	r = lbm_read_file(path, LBM_FILE_MAX, &buf, &len, a->sha512, err);
	if (r)
		return r;
	a->size = len;
	if (expect_sha512 && strcasecmp(expect_sha512, a->sha512))
		r = FAIL(err, EBADMSG, "%s: sha512 mismatch: expected %.16s..., got %.16s...",
			    label, expect_sha512, a->sha512);
	else
		r = lbm_parse(buf, len, label, a, err);
	free(buf);
	return r;
}

void lbm_artifact_free(struct lbm_artifact *a)
{
	if (!a)
		return;
	lbm_tar_free(&a->tar);
	lbm_manifest_free(a->m);
	a->m = NULL;
}

/* Objects in manifest order, each given exactly once. */
static int pack_order(const struct lbm_manifest *m, const char *label, const struct lbm_file *objs,
		      size_t n, struct lbm_file *files, struct lb_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!has_object(m, objs[i].name))
			return FAIL(err, EINVAL, "%s: object \"%s\" is not listed in $.objects",
				       label, objs[i].name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(objs[i].name, objs[j].name))
				return FAIL(err, EINVAL, "object \"%s\" given twice",
					       objs[i].name);
	}
	for (size_t i = 0; i < m->n_objects; i++) {
		size_t j;

		for (j = 0; j < n && strcmp(objs[j].name, m->objects[i]); j++)
			;
		if (j == n)
			return FAIL(err, ENOENT, "%s: $.objects[%zu]: \"%s\" was not given",
				       label, i, m->objects[i]);
		files[1 + i] = objs[j];
	}
	return 0;
}

int lbm_pack(const char *label, const char *manifest, size_t manifest_len,
	     const struct lbm_file *objs, size_t n, uint8_t **out, size_t *out_len,
	     struct lb_err *err)
{
	struct lbm_file files[LBM_ENTRIES_MAX] = { { LBM_MANIFEST, (uint8_t *)manifest,
						     manifest_len } };
	struct lbm_artifact check = { 0 };
	struct lbm_manifest *m = NULL;
	uint8_t *tar = NULL, *gz = NULL;
	size_t tar_len = 0, gz_len = 0;
	char out_label[128];
	int r;

	r = lbm_manifest_parse(manifest, manifest_len, label, &m, err) ?:
	    pack_order(m, label, objs, n, files, err) ?:
	    lbm_tar_write(files, 1 + m->n_objects, &tar, &tar_len, err) ?:
	    lbm_gzip(tar, tar_len, &gz, &gz_len, err);
	if (!r) {
		/* What we wrote must pass exactly what `module verify` runs. */
		snprintf(out_label, sizeof(out_label), "%s-%s.lbm", m->name, m->version);
		r = lbm_parse(gz, gz_len, out_label, &check, err);
	}
	lbm_artifact_free(&check);
	lbm_manifest_free(m);
	free(tar);
	if (r) {
		free(gz);
		return r;
	}
	*out = gz;
	*out_len = gz_len;
	return 0;
}
