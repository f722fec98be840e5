// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lberr.c - fill a struct lb_err and hand back the error code in one statement.
 */
#include <stdio.h>
#include "lberr.h"

int lb_errf(struct lb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	/* Accept EINVAL and -EINVAL alike: both mean "fail with -EINVAL". */
	return code > 0 ? -code : code;
}
