#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# swap.sh [BUILD] [OUT] - module updates under traffic: link-swap latency,
# full install time and rollback time, beside replacing an XDP program with
# `ip link set dev IFACE xdp obj ...`, on the same interface in the same run.
#
# Writes OUT/swap.md (the Markdown section, also printed) and OUT/swap.json
# (every sample, and the summary).  OUT defaults to BUILD/bench.
#
# Topology: namespace A holds veth a0 (198.18.0.1), namespace B its peer b0
# (198.18.0.2).  The firewall runs on b0 (`fw attach b0`, a two-rule policy);
# A sends a paced UDP stream (a bash /dev/udp loop) to B:9001, which the
# policy allows, for the whole run, so every swap happens under traffic.
#
# Steps, each checked (any failure: a message and exit 1):
#   1 one `module install` of BUILD/modules/firewall-*.lbm (active and
#     previous revisions now exist), then SWAPS `module rollback firewall`:
#     each swaps between two pinned generations, loading nothing.  From each:
#     ms.swap (the bpf_link_update phase) and the command's wall-clock.
#   2 INSTALLS `module install` of the same artifact: wall-clock and phases.
#   3 `fw detach b0`, then IP_RUNS `ip -force link set dev b0 xdp obj OBJ sec
#     xdp`, OBJ alternating fw_xdp.bpf.o and xdp_pass.bpf.o, so every call
#     replaces the program attached before it.
#   4 EXEC_RUNS `nsenter --net=B true`: the process start every wall-clock
#     figure above includes.
# All with --health-window 0: no health window in any figure.
#
# Wall-clock: bash's $EPOCHREALTIME around the command (no fork to read the
# clock); the command runs as `nsenter --net=/run/netns/B CMD`, lbagent and ip
# alike.
#
# Environment: SWAPS (300), INSTALLS (15), IP_RUNS (SWAPS / 3), EXEC_RUNS (30).
#
# Safety: a private mount namespace with its own bpffs on /sys/fs/bpf (ip
# creates its tc/, xdp/, ip/ directories there, lbagent pins below lbswap/),
# two network namespaces made here (names carry $$), addresses in
# 198.18.0.0/15, loops bounded by counts, traffic bounded by `timeout`, and a
# trap that removes all of it, failures included.
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${LBS_PRIVATE_MNT:-}" ]; then
	# A private mount namespace: our bpffs mount vanishes with the script.
	exec env LBS_PRIVATE_MNT=1 unshare --mount --propagation private "$0" "$@"
fi
BUILD=${1:-build}
OUT=${2:-$BUILD/bench}
LBAGENT=$BUILD/lbagent
OBJ_FW=$BUILD/bpf/fw_xdp.bpf.o
OBJ_PASS=$BUILD/bpf/xdp_pass.bpf.o
SWAPS=${SWAPS:-300}
INSTALLS=${INSTALLS:-15}
IP_RUNS=${IP_RUNS:-$((SWAPS / 3))}
EXEC_RUNS=${EXEC_RUNS:-30}
TRAFFIC_SECS=300	# a bound; the stream is stopped when the steps end
NS_A=lbs$$a
NS_B=lbs$$b
A4=198.18.0.1
B4=198.18.0.2
WORK=$(mktemp -d /tmp/lbswap.XXXXXX)
BPFFS=/sys/fs/bpf
ROOT=$BPFFS/lbswap
RAW=$WORK/raw.jsonl
MOUNTED='' TRAFFIC_PID='' SINK_PID=''

log() { echo "swap: $*" >&2; }
fail() {
	log "FAILED: $*"
	exit 1
}

stop_traffic() {
	local p
	for p in $TRAFFIC_PID $SINK_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	TRAFFIC_PID='' SINK_PID=''
}

cleanup() {
	stop_traffic
	if [ -e "/run/netns/$NS_B" ]; then
		in_b ip link set dev b0 xdp off >/dev/null 2>&1
		agent fw detach b0 >/dev/null 2>&1
	fi
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	[ -n "$MOUNTED" ] && umount "$BPFFS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

in_a() { nsenter --net="/run/netns/$NS_A" "$@"; }
in_b() { nsenter --net="/run/netns/$NS_B" "$@"; }
agent() { in_b "$LBAGENT" --bpffs "$ROOT" --state-dir "$WORK/state" "$@"; }

# Microseconds since the epoch, without a fork ($EPOCHREALTIME, bash >= 5).
# Inlined where it times something: ${EPOCHREALTIME//[!0-9]/}.

topo_up() {
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
		ip link add a0 netns "$NS_A" type veth peer name b0 netns "$NS_B" &&
		in_a ip addr add $A4/24 dev a0 && in_b ip addr add $B4/24 dev b0 &&
		in_a ip link set lo up && in_b ip link set lo up &&
		in_a ip link set a0 up && in_b ip link set b0 up || return 1
	in_a ping -c1 -W2 $B4 >/dev/null
}

b0_rx() { in_b ip -s -j link show b0 | jq '.[0].stats64.rx.packets'; }
xdp_prog() { in_b ip -d -j link show b0 | jq -r '.[0].xdp.prog.name // "none"'; }

# A paced stream A -> B:9001 (bursts of 20 datagrams, then a 2 ms pause),
# and a socket in B that takes it, so no ICMP errors flow back.
traffic_start() {
	# nsenter execs its command: $! is socat, and timeout, themselves.
	nsenter --net="/run/netns/$NS_B" socat -u UDP-RECV:9001 /dev/null &
	SINK_PID=$!
	nsenter --net="/run/netns/$NS_A" timeout "$TRAFFIC_SECS" bash -c "while :; do
		for ((i = 0; i < 20; i++)); do echo x >/dev/udp/$B4/9001; done
		sleep 0.002; done" 2>/dev/null &
	TRAFFIC_PID=$!
	sleep 0.3
	kill -0 "$TRAFFIC_PID" 2>/dev/null || fail "the traffic loop did not start"
}

# phase_rx NAME RX0 T0_US: record the packets b0 received during a phase.
phase_rx() {
	local rx t
	rx=$(b0_rx)
	t=${EPOCHREALTIME//[!0-9]/}
	kill -0 "$TRAFFIC_PID" 2>/dev/null || fail "$1: the traffic loop ended early"
	[ "$rx" -gt "$2" ] || fail "$1: no packet reached b0 during the phase"
	jq -nc --arg p "$1" --argjson n $((rx - $2)) --argjson us $((t - $3)) \
		'{phase: "traffic", during: $p, packets: $n, seconds: ($us / 1e6),
		  pps: ($n / $us * 1e6)}' >>"$RAW"
}

# ---- steps ----

# A module command with --json; its JSON result in $OUTJ, its wall-clock in $US.
OUTJ='' US=''
mod_cmd() {
	local t0 t1
	t0=${EPOCHREALTIME//[!0-9]/}
	OUTJ=$(agent --json module "$@" 2>"$WORK/err") ||
		fail "lbagent module $*: $(tail -1 "$WORK/err")"
	t1=${EPOCHREALTIME//[!0-9]/}
	US=$((t1 - t0))
	[ "$(jq -r '.ok' <<<"$OUTJ")" = true ] || fail "lbagent module $*: not ok: $OUTJ"
}

step_setup() {
	cat >"$WORK/policy.json" <<-'EOF'
		{"default": "allow", "rules": [
		 {"id": "deny-9000", "proto": "udp", "dport": 9000, "action": "deny"},
		 {"id": "lab-9001", "src": "198.18.0.0/24", "proto": "udp", "dport": 9001, "action": "allow"}]}
	EOF
	agent fw attach b0 >/dev/null || fail "fw attach b0"
	agent fw policy apply "$WORK/policy.json" >/dev/null || fail "fw policy apply"
	[ "$(xdp_prog)" != none ] || fail "fw attach b0: no XDP program on b0"
}

step_rollbacks() {
	local i rev prev='' rx0 t0
	mod_cmd install "$FW" --health-window 0
	rx0=$(b0_rx)
	t0=${EPOCHREALTIME//[!0-9]/}
	for ((i = 1; i <= SWAPS; i++)); do
		mod_cmd rollback firewall --health-window 0
		rev=$(jq -r '.revision' <<<"$OUTJ")
		[ "$rev" != "$prev" ] || fail "rollback $i: revision $rev again, no swap"
		prev=$rev
		jq -c --argjson i "$i" --argjson us "$US" \
			'{phase: "rollback", i: $i, revision, wall_ms: ($us / 1000),
			  swap_ms: .ms.swap, build_ms: .ms.build, total_ms: .ms.total}' \
			<<<"$OUTJ" >>"$RAW"
	done
	phase_rx rollback "$rx0" "$t0"
	log "$SWAPS rollbacks: done at $SECONDS s"
}

step_installs() {
	local i rx0 t0
	rx0=$(b0_rx)
	t0=${EPOCHREALTIME//[!0-9]/}
	for ((i = 1; i <= INSTALLS; i++)); do
		mod_cmd install "$FW" --health-window 0
		jq -c --argjson i "$i" --argjson us "$US" \
			'{phase: "install", i: $i, revision, wall_ms: ($us / 1000),
			  verify_ms: .ms.verify, load_ms: .ms.load, build_ms: .ms.build,
			  selftest_ms: .ms.selftest, swap_ms: .ms.swap, total_ms: .ms.total}' \
			<<<"$OUTJ" >>"$RAW"
	done
	phase_rx install "$rx0" "$t0"
	log "$INSTALLS installs: done at $SECONDS s"
}

# iproute2: without -force it sets XDP_FLAGS_UPDATE_IF_NOEXIST and refuses
# to replace ("XDP program already attached"); with it, IFLA_XDP replaces.
step_ip() {
	local i obj want got t0 t1 rx0 tr0 name_fw name_pass
	agent fw detach b0 >/dev/null || fail "fw detach b0"
	[ "$(xdp_prog)" = none ] || fail "fw detach b0: $(xdp_prog) still on b0"
	# The names the kernel gives the two programs (their first 15 bytes).
	in_b ip link set dev b0 xdp obj "$OBJ_FW" sec xdp || fail "ip cannot load $OBJ_FW"
	name_fw=$(xdp_prog)
	in_b ip -force link set dev b0 xdp obj "$OBJ_PASS" sec xdp || fail "ip cannot load $OBJ_PASS"
	name_pass=$(xdp_prog)
	[ "$name_fw" != "$name_pass" ] || fail "both objects load as $name_fw"
	rx0=$(b0_rx)
	tr0=${EPOCHREALTIME//[!0-9]/}
	for ((i = 1; i <= IP_RUNS; i++)); do
		if ((i % 2)); then obj=$OBJ_FW want=$name_fw; else obj=$OBJ_PASS want=$name_pass; fi
		t0=${EPOCHREALTIME//[!0-9]/}
		in_b ip -force link set dev b0 xdp obj "$obj" sec xdp 2>"$WORK/err" ||
			fail "ip link set dev b0 xdp obj $obj: $(tail -1 "$WORK/err")"
		t1=${EPOCHREALTIME//[!0-9]/}
		got=$(xdp_prog)
		[ "$got" = "$want" ] || fail "ip replace $i: b0 runs $got, not $want"
		jq -nc --argjson i "$i" --arg o "${obj##*/}" --arg p "$got" \
			--argjson us $((t1 - t0)) \
			'{phase: "ip", i: $i, object: $o, program: $p, wall_ms: ($us / 1000)}' >>"$RAW"
	done
	phase_rx ip "$rx0" "$tr0"
	in_b ip link set dev b0 xdp off || fail "ip link set dev b0 xdp off"
	# The maps ip pinned by name (LIBBPF_PIN_BY_NAME in the object): the
	# first load creates them, every later one reuses them.
	find "$BPFFS/tc" "$BPFFS/xdp" "$BPFFS/ip" -mindepth 2 2>/dev/null |
		sed "s|^$BPFFS/||" | sort >"$WORK/ip_pins"
	log "$IP_RUNS ip replaces: done at $SECONDS s"
}

step_exec() {
	local i t0 t1
	for ((i = 1; i <= EXEC_RUNS; i++)); do
		t0=${EPOCHREALTIME//[!0-9]/}
		in_b true || fail "nsenter true"
		t1=${EPOCHREALTIME//[!0-9]/}
		jq -nc --argjson i "$i" --argjson us $((t1 - t0)) \
			'{phase: "exec", i: $i, wall_ms: ($us / 1000)}' >>"$RAW"
	done
}

# ---- report ----

report() {
	jq -s -f /dev/stdin \
		--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
		--arg kernel "$(uname -r)" --arg iproute2 "$(ip -V)" \
		--arg lbagent "$("$LBAGENT" --version 2>/dev/null)" --arg artifact "${FW##*/}" \
		--rawfile ip_pins "$WORK/ip_pins" \
		--argjson swaps "$SWAPS" --argjson installs "$INSTALLS" \
		--argjson ip_runs "$IP_RUNS" --argjson nproc "$(nproc)" "$RAW" >"$OUT/swap.json" <<-'JQ' || return 1
		def pct($p): sort as $s | $s[((($p / 100) * ($s | length)) | ceil) - 1
		  | if . < 0 then 0 else . end];
		def st: {n: length, p50: pct(50), p99: pct(99), min: min, max: max};
		def of($ph; $f): map(select(.phase == $ph) | .[$f]) | st;
		. as $raw
		| {cpu: $cpu, nproc: $nproc, kernel: $kernel, iproute2: $iproute2, lbagent: $lbagent,
		   artifact: $artifact, swaps: $swaps, installs: $installs, ip_runs: $ip_runs,
		   ip_pinned_maps: ($ip_pins | split("\n") | map(select(length > 0))),
		   traffic: map(select(.phase == "traffic")),
		   summary: {
		     rollback: {swap_ms: of("rollback"; "swap_ms"), wall_ms: of("rollback"; "wall_ms"),
		                total_ms: of("rollback"; "total_ms"), build_ms: of("rollback"; "build_ms")},
		     install: ({wall_ms: of("install"; "wall_ms")} + ([
		       "verify_ms", "load_ms", "build_ms", "selftest_ms", "swap_ms", "total_ms"]
		       | map(. as $k | {key: $k, value: ($raw | of("install"; $k))}) | from_entries)),
		     ip: (map(select(.phase == "ip")) as $ip
		       | ($ip | group_by(.object) | map({key: .[0].object, value: (map(.wall_ms) | st)})
		         | from_entries) + {all: ($ip | map(.wall_ms) | st)}),
		     exec_ms: of("exec"; "wall_ms")},
		   samples: map(select(.phase != "traffic"))}
		| .summary as $s
		| .ratios = {
		    rollback_wall_over_ip_fw_xdp: ($s.rollback.wall_ms.p50 / $s.ip["fw_xdp.bpf.o"].p50),
		    rollback_wall_over_ip_xdp_pass: ($s.rollback.wall_ms.p50 / $s.ip["xdp_pass.bpf.o"].p50),
		    install_wall_over_ip_fw_xdp: ($s.install.wall_ms.p50 / $s.ip["fw_xdp.bpf.o"].p50)}
	JQ
	jq -r -f /dev/stdin "$OUT/swap.json" >"$OUT/swap.md" <<-'JQ'
		def fx($d): (pow(10; $d)) as $p | (. * $p | round) as $i
		  | ($i % $p | tostring) as $fr
		  | "\($i / $p | floor).\(("0000" + $fr)[-$d:])";
		def f: if . < 1 then fx(3) elif . < 100 then fx(2) else fx(1) end;
		def row($what; $s): "| \($what) | \($s.n) | \($s.p50 | f) | \($s.p99 | f) | \($s.min | f) | \($s.max | f) |";
		.summary as $s | (.traffic | map({key: .during, value: .}) | from_entries) as $t
		| def pps($p): "\($t[$p].pps | round) packets/s";
		"## Module updates: swap, install, rollback",
		"",
		"One run on veth a0 -> b0 in two namespaces, the firewall on b0 (`lbagent fw attach b0`, a two-rule",
		"policy), a paced UDP stream from a0 to an allowed port all along (b0 received \(pps("rollback"))",
		"during the rollbacks, \(pps("install")) during the installs, \(pps("ip")) during the ip replaces).",
		"Artifact \(.artifact); every lbagent command with `--json` and `--health-window 0`; \(.iproute2).",
		"Milliseconds.",
		"",
		"| figure | n | p50 | p99 | min | max |",
		"|---|---:|---:|---:|---:|---:|",
		row("**link swap**: `ms.swap` of `module rollback firewall`"; $s.rollback.swap_ms),
		row("**rollback**, wall-clock of `module rollback firewall`"; $s.rollback.wall_ms),
		row("rollback, in-process total (`ms.total`)"; $s.rollback.total_ms),
		row("**install**, wall-clock of `module install`"; $s.install.wall_ms),
		row("install: verify"; $s.install.verify_ms),
		row("install: load"; $s.install.load_ms),
		row("install: build (remainder outside load and self-test)"; $s.install.build_ms),
		row("install: self-test"; $s.install.selftest_ms),
		row("install: swap"; $s.install.swap_ms),
		row("install: in-process total (`ms.total`)"; $s.install.total_ms),
		row("**ip** `-force link set dev b0 xdp obj fw_xdp.bpf.o sec xdp`, wall-clock"; $s.ip["fw_xdp.bpf.o"]),
		row("ip, the same with xdp_pass.bpf.o, wall-clock"; $s.ip["xdp_pass.bpf.o"]),
		row("process start alone: `nsenter --net=B true`"; $s.exec_ms),
		"",
		"Ratios of medians: lbagent rollback / ip replacing with fw_xdp.bpf.o " +
		  "**\(.ratios.rollback_wall_over_ip_fw_xdp | fx(3))x**; " +
		  "rollback / ip replacing with the trivial xdp_pass.bpf.o \(.ratios.rollback_wall_over_ip_xdp_pass | fx(2))x; " +
		  "full install / ip replacing with fw_xdp.bpf.o \(.ratios.install_wall_over_ip_fw_xdp | fx(2))x.",
		"",
		"*Link swap* is the time lbagent spends in `bpf_link_update` with `BPF_F_REPLACE` on every " +
		  "link of the module's hooks: b0's XDP link and its TC egress attachment, two updates. " +
		  "*Rollback* (\(.swaps) calls, alternating between two pinned revisions) is the whole command as " +
		  "an operator runs it: nsenter and process start, the bpffs lock, recovery check, journal, " +
		  "opening the previous generation's pinned root programs, the swap, the journal's fsync and " +
		  "rename, unpinning; it loads and verifies nothing. *Install* (\(.installs) calls of the " +
		  "same artifact) adds the artifact checks (SHA-512, archive, ELF), loading both programs " +
		  "through the verifier, building the new generation and the self-test vectors.",
		"",
		"The baseline replaces the same program, lb_fw_xdp from fw_xdp.bpf.o, on the same b0 after " +
		  "`lbagent fw detach b0`: \(.ip_runs) calls of iproute2, fw_xdp.bpf.o and xdp_pass.bpf.o " +
		  "alternating so every call replaces the program before it. iproute2 needs `-force` to replace " +
		  "(without it, it asks for `XDP_FLAGS_UPDATE_IF_NOEXIST`: \"XDP program already attached\"). " +
		  "Each call opens the object with libbpf, " +
		  (if (.ip_pinned_maps | length) == 0 then "creates its maps afresh" else
		     "finds its maps pinned by name (the object asks for LIBBPF_PIN_BY_NAME; the first call " +
		     "created and pinned \(.ip_pinned_maps | length) of them in " +
		     "/sys/fs/bpf/\(.ip_pinned_maps[0] | split("/")[:-1] | join("/")), later calls reuse them)" end) +
		  ", loads the program through the verifier and replaces it over netlink. Those maps are " +
		  "not lbagent's, so the program ip attaches runs with no policy and no managed interface: " +
		  "the baseline measures the update path, not a usable firewall. The figures include " +
		  "the same nsenter and process start as lbagent's (last row)."
	JQ
}

# ---- main ----

FW=$(find "$BUILD/modules" -maxdepth 1 -name "firewall-*.lbm" 2>/dev/null | sort | head -1)
for f in "$LBAGENT" "$FW" "$OBJ_FW" "$OBJ_PASS"; do
	[ -e "$f" ] || fail "no ${f:-$BUILD/modules/firewall-*.lbm}: build first (make O=$BUILD)"
done
for c in jq socat nsenter unshare timeout; do
	command -v "$c" >/dev/null || fail "$c missing (make deps)"
done
[ -n "${EPOCHREALTIME:-}" ] || fail "bash 5 needed (\$EPOCHREALTIME)"
mkdir -p "$OUT" "$WORK/state" || fail "mkdir $OUT"
rm -f "$OUT/swap.md" "$OUT/swap.json"
mount -t bpf bpf "$BPFFS" || fail "no private bpffs on $BPFFS"
MOUNTED=1
topo_up || fail "setting up the namespaces"
: >"$RAW"
traffic_start
step_setup
step_rollbacks
step_installs
step_ip
step_exec
stop_traffic
report || fail "writing the report"
cat "$OUT/swap.md"
log "$SECONDS s; $OUT/swap.md, $OUT/swap.json"
