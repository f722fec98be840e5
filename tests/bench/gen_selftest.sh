#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# gen_selftest.sh [BUILD] - the traffic generator between two namespaces: do
# its frames arrive, do its flows vary, does the stack take them (valid
# checksums); then the ceiling figures, Mpps into a trivial XDP_DROP and into
# the stack, for 1 and 1,000,000 flows.
#
# Namespace G holds veth g0, namespace P its peer p0.  `lbgen send` runs in G
# and redirects live frames into g0; `lbgen sink` in P holds xdp_drop, the
# flow-counting program or nothing (the stack) on p0.  Prints PASS/FAIL lines,
# "N passed, N failed", then the figures.
#
# Environment: RUNS (3) runs per figure, SECS (3) seconds per run, CPU (the
# last one) to pin the generator to; the peer's NAPI runs on the same CPU.
# Safety: only the namespaces made here (names carry $$), addresses in
# 198.18.0.0/15 and 2001:db8::/32, every run bounded in count or time.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${1:-build}
LBGEN=$BUILD/tests/bench/lbgen
RUNS=${RUNS:-3}
SECS=${SECS:-3}
CPU=${CPU:-$(($(nproc) - 1))}
NS_G=lbg$$g
NS_P=lbg$$p
WORK=$(mktemp -d /tmp/lbgen.XXXXXX)
SINK_PID=
passed=0 failed=0

cleanup() {
	if [ -n "$SINK_PID" ]; then
		kill -TERM "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
	fi
	ip netns del "$NS_G" 2>/dev/null
	ip netns del "$NS_P" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_g() { nsenter --net=/run/netns/$NS_G "$@"; }
in_p() { nsenter --net=/run/netns/$NS_P "$@"; }

# gen ARGS...: one lbgen run into g0, JSON on stdout.
gen() {
	in_g timeout --foreground $((SECS + 60)) "$LBGEN" send --dev g0 --peer-netns /run/netns/$NS_P \
		--cpu "$CPU" --json "$@"
}

# check NAME OK DETAIL: one PASS/FAIL line (OK 0 passes); DETAIL says what was seen.
check() {
	if [ "$2" -eq 0 ]; then
		echo "PASS $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $3"
		failed=$((failed + 1))
	fi
}

topo_up() {
	ip netns add "$NS_G" && ip netns add "$NS_P" &&
		ip link add g0 netns "$NS_G" type veth peer name p0 netns "$NS_P" || return 1
	in_p ip addr add 198.18.0.2/24 dev p0
	in_p ip addr add 2001:db8::2/64 dev p0 nodad
	in_g ip link set lo up
	in_p ip link set lo up
	in_g ip link set g0 up
	in_p ip link set p0 up
	# Every source must reach UDP/TCP: no reverse-path filter.  The sources
	# have no route here, so the ICMP errors and RSTs they provoke go nowhere.
	in_p sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.p0.rp_filter=0
}

# sink_start MODE: `lbgen sink` on p0 until sink_stop (it ends itself after 600 s).
sink_start() {
	local _
	rm -f "$WORK/ready"
	# nsenter execs lbgen, so $! is the sink itself (not a subshell).
	nsenter --net=/run/netns/$NS_P "$LBGEN" sink --dev p0 --mode "$1" --duration 600 \
		--ready "$WORK/ready" --json >"$WORK/sink.json" 2>"$WORK/sink.err" &
	SINK_PID=$!
	for _ in $(seq 100); do
		[ -f "$WORK/ready" ] && return 0
		kill -0 "$SINK_PID" 2>/dev/null || break
		sleep 0.1
	done
	check "sink $1 starts" 1 "$(cat "$WORK/sink.err")"
	kill -TERM "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	SINK_PID=
	return 1
}

# sink_stop: ends the sink; its JSON report lands in $WORK/sink.json.  Not in
# a subshell: only this shell can wait for the sink.  SIGTERM, since
# background commands of a script start with SIGINT ignored.
sink_stop() {
	kill -TERM "$SINK_PID"
	wait "$SINK_PID"
	SINK_PID=
}

# snmp NAME: a protocol counter of the peer namespace (absolute value).
snmp() { in_p nstat -asz "$1" | awk -v k="$1" '$1 == k { print $2 }' | grep . || echo 0; }

# median of the numbers on stdin, and min-max.
stats() {
	sort -g | awk '{ a[NR] = $1 }
		END { printf "%.2f %.2f-%.2f", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

# ---- correctness ----

t_drop_delivery() {
	local out rx ok=1
	sink_start drop || return 1
	out=$(gen --count 2000000)
	sink_stop
	rx=$(jq .rx_packets "$WORK/sink.json")
	# The peer may also see a stray IPv6 router solicitation or two.
	[ "$(jq .packets <<<"$out")" = 2000000 ] && [ "$(jq .peer_rx <<<"$out")" -ge 2000000 ] &&
		[ "$rx" -ge 2000000 ] && ok=0
	check "drop: every frame reaches the peer" $ok \
		"sent $(jq -c '[.packets, .peer_rx]' <<<"$out"), sink saw $rx"
}

# t_flows NAME FLOWS COUNT WANT_SOURCES LBGEN-ARGS...
t_flows() {
	local name=$1 flows=$2 count=$3 want_src=$4 out sink ok=1
	shift 4
	sink_start count || return 1
	out=$(gen --flows "$flows" --count "$count" "$@")
	sink_stop
	sink=$(cat "$WORK/sink.json")
	[ "$(jq .flows <<<"$sink")" = "$flows" ] && [ "$(jq .sources <<<"$sink")" = "$want_src" ] &&
		[ "$(jq .packets <<<"$sink")" -ge "$count" ] && [ "$(jq .full <<<"$sink")" = 0 ] && ok=0
	check "count: $name: $flows distinct flows, $want_src sources" $ok \
		"sent $(jq -c '[.packets, .peer_rx]' <<<"$out"), counted $sink"
}

# t_stack NAME PREFIX COUNTER LBGEN-ARGS...: every frame reaches the protocol
# (PREFIX: Udp, Udp6 or Tcp); COUNTER: the one that counts them there.
t_stack() {
	local name=$1 p=$2 counter=$3 c0 e0 out c1 e1 ok=1
	shift 3
	sink_start stack || return 1
	c0=$(snmp "$counter")
	e0=$(snmp "${p}InCsumErrors")
	out=$(gen --count 500000 "$@")
	sleep 0.2
	c1=$(snmp "$counter")
	e1=$(snmp "${p}InCsumErrors")
	sink_stop
	[ $((c1 - c0)) -eq 500000 ] && [ $((e1 - e0)) -eq 0 ] && ok=0
	check "stack: $name: 500000 frames counted in $counter, no checksum errors" $ok \
		"sent $(jq -c '[.packets, .peer_rx]' <<<"$out"), $counter +$((c1 - c0)),
		${p}InCsumErrors +$((e1 - e0))"
}

# ---- figures ----

# ceiling MODE: Mpps for 1 and 1,000,000 flows, alternating, RUNS runs each.
ceiling() {
	local mode=$1 run f out
	sink_start "$mode" || return 1
	for run in $(seq "$RUNS"); do
		for f in 1 1000000; do
			out=$(gen --flows $f --duration "$SECS")
			jq -r .mpps <<<"$out" >>"$WORK/$mode.$f"
			jq -r '(.peer_rx / .packets * 100)' <<<"$out" >>"$WORK/$mode.$f.rx"
			echo "  run $run, $mode, $f flows: $(jq -c '{mpps, packets, peer_rx}' <<<"$out")"
		done
	done
	sink_stop
}

figures() {
	local mode f
	echo
	echo "Ceiling: IPv4 UDP 64-byte frames, lbgen on CPU $CPU, $SECS s per run," \
		"median (min-max) of $RUNS, kernel $(uname -r)"
	ceiling drop || return 1
	ceiling stack || return 1
	echo
	echo "| peer of the veth            | flows     | Mpps median | min-max   | received |"
	echo "|-----------------------------|-----------|-------------|-----------|----------|"
	for mode in drop stack; do
		for f in 1 1000000; do
			read -r med range < <(stats <"$WORK/$mode.$f")
			printf "| %-27s | %9s | %11s | %-9s | %7s%% |\n" \
				"$([ $mode = drop ] && echo "XDP_DROP (xdp_drop_prog)" || echo "no XDP program (stack)")" \
				"$f" "$med" "$range" "$(stats <"$WORK/$mode.$f.rx" | cut -d' ' -f1)"
		done
	done
}

[ -x "$LBGEN" ] || { echo "FAIL no $LBGEN: build it first"; exit 1; }
topo_up || { echo "FAIL setting up namespaces"; exit 1; }
t_drop_delivery
t_flows "IPv4 UDP" 1000 100000 1000
t_flows "IPv4 UDP" 1000000 3000000 32766
# One cycle: N frames carry N distinct flows, so each flow exactly once.
t_flows "IPv4 UDP, one cycle" 1000000 1000000 32766
t_flows "IPv4 UDP, one cycle, sequential" 1000000 1000000 32766 --order seq
t_flows "IPv6 TCP SYN" 1000 100000 1000 --family 6 --proto tcp
t_flows "IPv6 UDP, addresses only" 1000000 3000000 1000000 --family 6 --vary addr
t_flows "IPv4 UDP, ports only" 1000 100000 1 --src 198.18.200.1 --vary port
t_stack "IPv4 UDP, 1000 flows" Udp UdpNoPorts --flows 1000
t_stack "IPv6 UDP, 1000 flows" Udp6 Udp6NoPorts --family 6 --flows 1000
t_stack "IPv4 TCP SYN, 1000 flows" Tcp TcpInSegs --proto tcp --flows 1000
t_stack "IPv6 TCP ACK, 1000 flows, 200 bytes" Tcp TcpInSegs --family 6 --proto tcp \
	--tcp-flags ack --size 200 --flows 1000
echo "$passed passed, $failed failed, 0 skipped"
figures
[ "$failed" -eq 0 ]
