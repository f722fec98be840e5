# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# lib.sh - shared set-up for the shell integration tests.
#
# Each test script sources this, calls topo_up, runs checks with t_pass /
# t_fail / t_skip (one line each: PASS/FAIL/SKIP name), and relies on the EXIT
# trap to tear everything down, failures included.  tests/run.sh counts the
# lines.  Safety: only namespaces created here (names carry $$), addresses in
# 198.18.0.0/15 and 2001:db8::/32, a private bpffs mount, bounded loops.

set -u

BUILD=${BUILD:-build}
LBAGENT_BIN=${LBAGENT_BIN:-$BUILD/lbagent}
TAG=lbt$$
NS_A=${TAG}a		# the peer: sends and receives traffic
NS_B=${TAG}b		# the host: runs the firewall on veth b0
A4=198.18.0.1
B4=198.18.0.2
A6=2001:db8::1
B6=2001:db8::2
WORK=$(mktemp -d /tmp/lbtest.XXXXXX)
BPFFS=$WORK/bpffs
STATE=$WORK/state
BG_PIDS=""

t_pass() { echo "PASS $*"; }
t_fail() { echo "FAIL $*"; }
t_skip() { echo "SKIP $*"; }

# check NAME CMD...: PASS when CMD succeeds.  Its output lands in $WORK/out
# afterwards, so the next check can grep what this one printed.
check() {
	local name=$1
	shift
	if "$@" >"$WORK/cur" 2>&1; then
		t_pass "$name"
	else
		t_fail "$name"
		sed 's/^/    /' "$WORK/cur" | head -20
	fi
	mv "$WORK/cur" "$WORK/out"
}

# check_not NAME CMD...: PASS when CMD fails.
check_not() {
	local name=$1
	shift
	if "$@" >"$WORK/cur" 2>&1; then
		t_fail "$name (succeeded, expected failure)"
		sed 's/^/    /' "$WORK/cur" | head -20
	else
		t_pass "$name"
	fi
	mv "$WORK/cur" "$WORK/out"
}

in_a() { nsenter --net=/run/netns/$NS_A "$@"; }
in_b() { nsenter --net=/run/netns/$NS_B "$@"; }
lbagent() { in_b "$LBAGENT_BIN" --bpffs "$BPFFS" --state-dir "$STATE" "$@"; }

bg() { "$@" & BG_PIDS="$BG_PIDS $!"; }

cleanup() {
	local p
	for p in $BG_PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	umount "$BPFFS" 2>/dev/null
	rm -rf "$WORK"
}

# Two namespaces joined by a veth pair, both families, and a private bpffs.
topo_up() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$BPFFS" "$STATE"
	mount -t bpf bpf "$BPFFS" || { echo "cannot mount bpffs"; exit 1; }
	ip netns add "$NS_A" && ip netns add "$NS_B" || exit 1
	ip link add a0 netns "$NS_A" type veth peer name b0 netns "$NS_B" || exit 1
	in_a ip addr add $A4/24 dev a0
	in_b ip addr add $B4/24 dev b0
	in_a ip addr add $A6/64 dev a0 nodad
	in_b ip addr add $B6/64 dev b0 nodad
	in_a ip link set lo up
	in_b ip link set lo up
	in_a ip link set a0 up
	in_b ip link set b0 up
	# ARP and ND settle before the tests measure anything.
	in_a ping -c1 -W2 $B4 >/dev/null 2>&1
	in_a ping -c1 -W2 $B6 >/dev/null 2>&1
}

# counter IFACE REASON: packets counted for that reason on that interface.
counter() {
	lbagent fw stats --json | jq -r --arg i "$1" --arg r "$2" \
		'[.interfaces[] | select(.interface == $i) | .counters[] |
		  select(.reason == $r) | .packets] | add // 0'
}

# tcp_ok NS ADDR PORT: a TCP connection and a round trip of data succeed.
tcp_ok() {
	local ns=$1 addr=$2 port=$3
	[ "$(echo ping | nsenter --net=/run/netns/$ns timeout 3 \
		socat -t2 - "TCP:$addr:$port,connect-timeout=2" 2>/dev/null)" = ping ]
}

# A TCP echo server in namespace NS on PORT (both families).
tcp_echo() { bg nsenter --net=/run/netns/$1 socat TCP6-LISTEN:$2,ipv6only=0,fork,reuseaddr EXEC:cat; }
