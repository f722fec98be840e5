#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# check.sh BUILD - static analysis of user space: cppcheck, clang-tidy and
# scan-build.  Exits non-zero on any finding.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
INC="-Iheaders -Iuserspace -I$BUILD/bpf -Itests/lib $(pkg-config --cflags jansson libbpf 2>/dev/null)"
SRCS="userspace/*.c tests/unit/*.c"
rc=0

echo "  CPPCHECK"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	--inline-suppr --suppress=missingIncludeSystem --std=c11 -D_GNU_SOURCE \
	-D'LIBBPF_OPTS(TYPE,NAME,...)=struct TYPE NAME = {0}' \
	-Iheaders -Iuserspace -I"$BUILD/bpf" -Itests/lib $SRCS || rc=1

echo "  TIDY"
checks='-*,bugprone-*,clang-analyzer-*,cert-err34-c,misc-redundant-expression,-bugprone-easily-swappable-parameters,-bugprone-suspicious-string-compare,-bugprone-reserved-identifier,-bugprone-macro-parentheses,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-clang-analyzer-valist.Uninitialized'
out=$(clang-tidy --quiet --checks="$checks" --warnings-as-errors='*' $SRCS -- \
	-std=gnu11 -D_GNU_SOURCE $INC 2>&1 | grep -vE '^[0-9]+ warnings? generated|^Suppressed|^Use -header-filter|^$')
if [ -n "$out" ]; then echo "$out"; rc=1; fi

echo "  SCAN-BUILD"
tmp=$(mktemp -d)
scan-build --status-bugs --exclude "$tmp/b/bpf" -o "$tmp/report" make --no-print-directory O="$tmp/b" \
	"$tmp/b/lbagent" >"$tmp/log" 2>&1 || { tail -40 "$tmp/log"; rc=1; }
rm -rf "$tmp"

[ $rc -eq 0 ] && echo "  check: clean" || echo "  check: findings above"
exit $rc
