#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# demo.sh BUILD - the firewall enforcing examples/policy.json on real traffic
# between two network namespaces, then counters, rule hits and events.
# Everything it creates (namespaces, a private bpffs) goes away at the end.
cd "$(dirname "$0")/.."
BUILD=${1:-build}
. tests/lib/lib.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
try() {		# try LABEL CMD...: run a traffic probe, print its outcome
	local label=$1
	shift
	if "$@" >/dev/null 2>&1; then
		printf '  %-52s \033[32mgot through\033[0m\n' "$label"
	else
		printf '  %-52s \033[31mblocked\033[0m\n' "$label"
	fi
}
run() { echo "\$ lbagent $*"; lbagent "$@" | sed 's/^/  /'; }

say "Two namespaces: peer A ($A4, $A6) -- veth -- host B ($B4, $B6)"
topo_up
in_a ip addr add 198.18.2.1/24 dev a0
for port in 22 80 443 8080 8081; do tcp_echo "$NS_B" $port; done
bg nsenter --net=/run/netns/$NS_B socat UDP6-RECVFROM:5000,ipv6only=0,fork EXEC:cat
sleep 0.5

say "Attach the firewall to b0 (XDP ingress + TC egress, pinned links)"
run fw attach b0
say "Apply the example policy (examples/policy.json)"
sed 's/^/  /' examples/policy.json
run fw policy apply examples/policy.json
run status

say "Traffic from A to B"
try "tcp 198.18.0.1 -> :80 (rule allows)" tcp_ok "$NS_A" $B4 80
try "tcp [2001:db8::1] -> :443 (rule allows)" tcp_ok "$NS_A" "[$B6]" 443
try "tcp 198.18.0.1 -> :8080 (audit: passes, reported)" tcp_ok "$NS_A" $B4 8080
try "tcp 198.18.0.1 -> :8081 (default deny)" tcp_ok "$NS_A" $B4 8081
try "tcp 198.18.0.1 -> :22 (failsafe: management ssh)" tcp_ok "$NS_A" $B4 22
try "ping 198.18.0.2 (icmp echo allowed)" in_a ping -c1 -W1 $B4
try "ping 2001:db8::2 (icmpv6 echo allowed)" in_a ping -6 -c1 -W1 $B6
udp_ok() { [ "$(echo hi | in_a timeout 2 socat -t1 - "UDP:$1:5000,bind=$2" 2>/dev/null)" = hi ]; }
try "udp 198.18.0.1 -> :5000 (default deny)" udp_ok $B4 198.18.0.1
try "udp 198.18.2.1 -> :5000 (rule denies 198.18.2.0/24)" udp_ok $B4 198.18.2.1
tcp_echo "$NS_A" 7000
sleep 0.3
try "B opens tcp to A:7000: replies pass (conntrack)" tcp_ok "$NS_B" $A4 7000

say "Counters per interface x verdict x reason"
run fw stats
say "Rules and their hits"
run fw policy show
say "Events (sampled drops and audits, rate-limited in the datapath)"
lbagent fw events --timeout 3 &
evpid=$!
sleep 0.3
tcp_ok "$NS_A" $B4 8080; tcp_ok "$NS_A" $B4 8081
wait $evpid
say "Module update without a reboot: install revision 2, verdicts unchanged, roll back"
run module install "$BUILD"/modules/firewall-*.lbm --health-window 500
try "tcp 198.18.0.1 -> :80 on revision 2 (rule allows)" tcp_ok "$NS_A" $B4 80
try "tcp 198.18.0.1 -> :8081 on revision 2 (default deny)" tcp_ok "$NS_A" $B4 8081
run module rollback firewall --health-window 0
run module status
say "Detach; namespaces and the private bpffs are removed on exit"
run fw detach b0
