/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * testlib.h - a tiny test harness in the style of the kernel's BPF selftests.
 *
 *   static void test_x(void) { if (!ASSERT_EQ(a, b, "what")) return; ... }
 *   int main(void) { RUN(test_x); return test_summary(); }
 *
 * Each test prints "PASS name", "FAIL name" or "SKIP name: why"; the binary
 * ends with "N passed, N failed, N skipped" and exits non-zero on failure.
 * tests/run.sh adds the counts of every binary and script.
 */
#ifndef LB_TESTLIB_H
#define LB_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tl_passed, tl_failed, tl_skipped;
static int tl_cur_failed;
static const char *tl_skip_why;

static inline bool tl_check(bool ok, const char *file, int line, const char *what,
			    const char *detail)
{
	if (!ok) {
		fprintf(stderr, "  %s:%d: %s: %s\n", file, line, what, detail);
		tl_cur_failed = 1;
	}
	return ok;
}

#define TL_FMT(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

#define ASSERT_TRUE(x, what) tl_check(!!(x), __FILE__, __LINE__, what, "expected true: " #x)
#define ASSERT_FALSE(x, what) tl_check(!(x), __FILE__, __LINE__, what, "expected false: " #x)

#define ASSERT_EQ(a, b, what)                                                                     \
	({                                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		char _d[160];                                                                      \
		TL_FMT(_d, "%s = %lld, expected %s = %lld", #a, _a, #b, _b);                       \
		tl_check(_a == _b, __FILE__, __LINE__, what, _d);                                  \
	})

#define ASSERT_NEQ(a, b, what)                                                                    \
	({                                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		char _d[160];                                                                      \
		TL_FMT(_d, "%s = %lld, expected anything but %lld", #a, _a, _b);                   \
		tl_check(_a != _b, __FILE__, __LINE__, what, _d);                                  \
	})

#define ASSERT_OK(x, what)                                                                        \
	({                                                                                         \
		long long _x = (long long)(x);                                                     \
		char _d[160];                                                                      \
		TL_FMT(_d, "%s = %lld (%s), expected 0", #x, _x, _x < 0 ? strerror((int)-_x) : "");  \
		tl_check(_x == 0, __FILE__, __LINE__, what, _d);                                   \
	})

#define ASSERT_ERR(x, what)                                                                       \
	({                                                                                         \
		long long _x = (long long)(x);                                                     \
		char _d[160];                                                                      \
		TL_FMT(_d, "%s = %lld, expected an error (< 0)", #x, _x);                          \
		tl_check(_x < 0, __FILE__, __LINE__, what, _d);                                    \
	})

#define ASSERT_OK_PTR(p, what) tl_check((p) != NULL, __FILE__, __LINE__, what, #p " is NULL")

#define ASSERT_STR_CONTAINS(hay, needle, what)                                                    \
	({                                                                                         \
		const char *_h = (hay), *_n = (needle);                                            \
		char _d[700];                                                                      \
		TL_FMT(_d, "\"%.500s\" does not contain \"%s\"", _h ? _h : "(null)", _n);          \
		tl_check(_h && strstr(_h, _n), __FILE__, __LINE__, what, _d);                      \
	})

/* Call from a test to skip it; say why. */
#define TEST_SKIP(why)                                                                            \
	do {                                                                                       \
		tl_skip_why = (why);                                                               \
		return;                                                                            \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		tl_cur_failed = 0;                                                                 \
		tl_skip_why = NULL;                                                                \
		fn();                                                                              \
		if (tl_cur_failed) {                                                               \
			tl_failed++;                                                               \
			printf("FAIL %s\n", #fn);                                                  \
		} else if (tl_skip_why) {                                                          \
			tl_skipped++;                                                              \
			printf("SKIP %s: %s\n", #fn, tl_skip_why);                                 \
		} else {                                                                           \
			tl_passed++;                                                               \
			printf("PASS %s\n", #fn);                                                  \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed, %d skipped\n", tl_passed, tl_failed, tl_skipped);
	return tl_failed ? 1 : 0;
}

#endif
