/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lberr.h - one error message carried up to the command's top level.
 *
 * Library code never prints: it fills a struct lb_err and returns -errno (or
 * false for parsers).  The command prints err.msg once.  Messages name the
 * object (file, JSON path, interface, map) and quote the bad value.
 */
#ifndef LB_ERR_H
#define LB_ERR_H

#include <stdarg.h>

struct lb_err {
	char msg[512];
};

/* Formats into err (may be NULL) and returns -code, for "return lb_errf(...)". */
int lb_errf(struct lb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
