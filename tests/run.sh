#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# run.sh BUILD SANBUILD - run every test; end with "N passed, N failed, N skipped".
#
# Layers: user-space unit tests (plain and under ASan+UBSan), BPF unit tests
# (BPF_PROG_TEST_RUN on the real programs), shell integration tests (network
# namespaces, veth, real traffic).  Each prints PASS/FAIL/SKIP lines; this
# script adds them up.  A binary that dies without saying FAIL counts as one.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SAN=${2:-build-san}
LOG=$(mktemp -d /tmp/lbrun.XXXXXX)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1

passed=0 failed=0 skipped=0
tally() {	# tally NAME LOGFILE EXIT
	local p f s
	p=$(grep -c '^PASS ' "$2")
	f=$(grep -c '^FAIL ' "$2")
	s=$(grep -c '^SKIP ' "$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $1 (exit status $3, no test reported failing)"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

run() {		# run NAME CMD...
	local name=$1 out="$LOG/$(echo "$1" | tr '/ ' '__').log" rc t0=$SECONDS
	shift
	echo "== $name"
	"$@" >"$out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | sed 's/^/   /'
	echo "   ($((SECONDS - t0)) s)"
	grep -q '^FAIL ' "$out" || [ $rc -ne 0 ] && {
		echo "   --- output of $name ---"
		grep -vE '^(PASS|SKIP) ' "$out" | head -60 | sed 's/^/   | /'
	}
	tally "$name" "$out" "$rc"
}

start=$(date +%s)
for t in "$BUILD"/tests/unit/*; do
	[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in "$SAN"/tests/unit/*; do
	[ -x "$t" ] && run "unit-asan-ubsan/$(basename "$t")" "$t"
done
for t in "$BUILD"/tests/bpf/*; do
	[ -x "$t" ] && run "bpf/$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
	run "integration/$(basename "$t" .sh)" env BUILD="$BUILD" bash "$t"
done
# The CLI's error paths once more with the sanitized binary.
run "integration-asan-ubsan/cli" env BUILD="$BUILD" LBAGENT_BIN="$SAN/lbagent" \
	bash tests/integration/cli.sh

rm -rf "$LOG"
echo "(tests took $(($(date +%s) - start)) s)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
