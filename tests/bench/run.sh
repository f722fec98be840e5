#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# run.sh BUILD - every benchmark; a Markdown report and the raw figures.
#   BUILD/bench/report.md, BUILD/bench/raw.json, compare.json, swap.json
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
OUT=$BUILD/bench
mkdir -p "$OUT"

jit=$(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null || echo "?")
if [ "$jit" != 1 ] && [ "$jit" != 2 ]; then
	echo "bench: enabling the BPF JIT for the run (was $jit)"
	echo 1 >/proc/sys/net/core/bpf_jit_enable
	trap 'echo "$jit" >/proc/sys/net/core/bpf_jit_enable' EXIT
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
{
	echo "# Loopback agent benchmarks"
	echo
	echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $cpu ($(nproc) CPUs), kernel $(uname -r)," \
		"BPF JIT $(cat /proc/sys/net/core/bpf_jit_enable)."
	echo
	echo "## Firewall ns/packet under BPF_PROG_TEST_RUN (repeat mode)"
	echo
	echo "IPv4/UDP packet hitting one deny rule among N; medians of 7 runs, A B A B" \
		"order with the empty program measured between every policy size."
	echo
} >"$OUT/report.md"
"$BUILD/tests/bench/bench_prog" --json-out "$OUT/raw.json" | tee -a "$OUT/report.md"
echo >>"$OUT/report.md"


# Live traffic, side by side with xdp-filter, nftables and iptables
# (tests/bench/compare.sh: compare.md, compare.json).
rc=0
rm -f "$OUT/compare.md" "$OUT/compare.json"
tests/bench/compare.sh "$BUILD" "$OUT" || rc=$?
if [ -s "$OUT/compare.md" ]; then
	cat "$OUT/compare.md" >>"$OUT/report.md"
	cat "$OUT/compare.md"
fi

# Module updates under traffic: link swap, install, rollback, beside
# `ip link set dev IFACE xdp obj ...` (tests/bench/swap.sh: swap.md, swap.json).
rm -f "$OUT/swap.md" "$OUT/swap.json"
echo
tests/bench/swap.sh "$BUILD" "$OUT" || rc=$?
if [ -s "$OUT/swap.md" ]; then
	echo >>"$OUT/report.md"
	cat "$OUT/swap.md" >>"$OUT/report.md"
fi
echo
echo "report: $OUT/report.md, raw figures: $OUT/raw.json, $OUT/compare.json, $OUT/swap.json"
exit $rc
