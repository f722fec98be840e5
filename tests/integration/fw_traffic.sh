#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# fw_traffic.sh - the firewall on real traffic: allow, deny, default, audit,
# replies of established flows, related ICMP errors, failsafe, the lockout
# guard, and policies applied while traffic flows.
#
# Namespace A (198.18.0.1, 2001:db8::1) talks to namespace B (198.18.0.2,
# 2001:db8::2) over veth a0 <-> b0; the firewall runs on b0 in B.
. "$(dirname "$0")/../lib/lib.sh"
topo_up
in_a ip addr add 198.18.0.3/24 dev a0

P=$WORK/p
mkdir -p "$P"
common_rules='
  {"id": "web", "src": "198.18.0.0/24", "proto": "tcp", "dport": 80, "action": "allow"},
  {"id": "web6", "src": "2001:db8::/64", "proto": "tcp", "dport": 80, "action": "allow"},
  {"id": "audit-8080", "proto": "tcp", "dport": 8080, "action": "audit"},
  {"id": "ping", "proto": "icmp", "icmp_type": 8, "action": "allow"},
  {"id": "ping6", "proto": "icmpv6", "icmp_type": 128, "action": "allow"},
  {"id": "no-ssh", "src": "198.18.0.0/24", "proto": "tcp", "dport": 22, "action": "deny"},
  {"id": "deny-udp", "proto": "udp", "dport": 9999, "action": "deny"}'
failsafe='"failsafe": [{"src": "198.18.0.1/32", "proto": "tcp", "dport": 22}]'
cat >"$P/p1.json" <<J
{"default": "deny", $failsafe, "rules": [$common_rules,
  {"id": "stream-a", "proto": "udp", "dport": 7000, "action": "allow"},
  {"id": "stream-deny", "proto": "udp", "dport": 7001, "action": "deny"}]}
J
# The same verdicts for the streams, reached through other rules and classes.
cat >"$P/p2.json" <<J
{"default": "deny", $failsafe, "rules": [$common_rules,
  {"id": "stream-range", "proto": "udp", "dport": "6990-7010", "action": "allow"},
  {"id": "stream-deny-24", "src": "198.18.0.0/24", "proto": "udp", "dport": 7001, "action": "deny"}]}
J
cat >"$P/nofs.json" <<J
{"default": "deny", "rules": [$common_rules]}
J

for port in 80 81 8080 22 5000; do tcp_echo "$NS_B" $port; done
tcp_echo "$NS_A" 5000
bg nsenter --net=/run/netns/$NS_A socat UDP6-RECVFROM:5353,ipv6only=0,fork EXEC:cat
sleep 0.5

check "attach b0" lbagent fw attach b0
check "apply p1" lbagent fw policy apply "$P/p1.json"

# -- allow, deny, default --
check "tcp/80 allowed by rule (IPv4)" tcp_ok "$NS_A" $B4 80
check "tcp/80 allowed by rule (IPv6)" tcp_ok "$NS_A" "[$B6]" 80
check_not "tcp/81 refused by default deny" tcp_ok "$NS_A" $B4 81
check_not "tcp/81 refused by default deny (IPv6)" tcp_ok "$NS_A" "[$B6]" 81
check "ping allowed by icmp rule" in_a ping -c2 -i0.2 -W1 $B4
check "ping6 allowed by icmpv6 rule" in_a ping -6 -c2 -i0.2 -W1 $B6
hits=$(lbagent fw policy show --json | jq '.rules[] | select(.id == "web") | .hits')
check "rule hits counted for web ($hits)" test "${hits:-0}" -gt 0

d0=$(counter b0 rule_deny)
in_a bash -c "for i in 1 2 3 4 5; do echo x >/dev/udp/$B4/9999; done"
sleep 0.2
d1=$(counter b0 rule_deny)
check "5 udp/9999 datagrams counted as rule_deny ($d0 -> $d1)" test $((d1 - d0)) -eq 5

# -- audit: passes, and the event names the rule --
lbagent fw events --json --count 3 --timeout 5 >"$WORK/events" &
evpid=$!
sleep 0.5
check "tcp/8080 passes under audit" tcp_ok "$NS_A" $B4 8080
wait $evpid
check "audit event names rule audit-8080" \
	jq -e 'select(.verdict == "audit" and .rule == "audit-8080" and .dport == 8080)' "$WORK/events"

# -- stateful: replies of flows B opened pass the default deny --
check "B -> A tcp/5000: replies pass (conntrack)" tcp_ok "$NS_B" $A4 5000
check "B -> A tcp/5000 over IPv6: replies pass" tcp_ok "$NS_B" "[$A6]" 5000
check "B -> A udp/5353: reply passes" bash -c "[ \"\$(echo hi | nsenter --net=/run/netns/$NS_B timeout 3 socat -t1 - UDP:$A4:5353)\" = hi ]"
check "B pings A: echo replies pass" in_b ping -c2 -i0.2 -W1 $A4
check_not "A -> B tcp/5000 (not a reply) refused" tcp_ok "$NS_A" $B4 5000
check "conntrack lists the tcp flow to 198.18.0.1:5000" \
	bash -c "lbagent fw conntrack list --json | jq -e '.[] | select(.remote == \"$A4\" and .remote_port == 5000)'"
r0=$(counter b0 ct_related)
in_b bash -c "echo x >/dev/udp/$A4/5999"
sleep 0.3
r1=$(counter b0 ct_related)
check "ICMP port unreachable for a tracked UDP flow passes as related ($r0 -> $r1)" test $((r1 - r0)) -ge 1

# -- failsafe beats the no-ssh deny rule, only for the management source --
check "ssh from 198.18.0.1 passes the failsafe" tcp_ok "$NS_A" $B4 22
check_not "ssh from 198.18.0.3 is denied by rule no-ssh" \
	bash -c "echo ping | nsenter --net=/run/netns/$NS_A timeout 3 socat -t2 - TCP:$B4:22,bind=198.18.0.3,connect-timeout=2 | grep -q ping"
check "failsafe counter moved" test "$(counter b0 failsafe)" -gt 0

# -- the lockout guard --
check_not "policy without the failsafe is refused" lbagent fw policy apply "$P/nofs.json"
cp "$WORK/out" "$WORK/refusal"
check "refusal names the failsafe entry and --force" grep -q -- "failsafe entry.*198.18.0.1/32.*--force" "$WORK/refusal"
check "failsafe still in force" tcp_ok "$NS_A" $B4 22
check_not "a policy denying this SSH session's source is refused" \
	env SSH_CONNECTION="198.18.0.9 40000 $B4 22" "$LBAGENT_BIN" --bpffs "$BPFFS" --state-dir "$STATE" \
	fw policy apply "$P/p2.json"
cp "$WORK/out" "$WORK/refusal"
check "refusal quotes SSH_CONNECTION" grep -q "SSH_CONNECTION=.198.18.0.9 40000" "$WORK/refusal"
check "--force applies it" lbagent fw policy apply --force "$P/nofs.json"
check_not "ssh from 198.18.0.1 now denied" tcp_ok "$NS_A" $B4 22
check "back to p1" lbagent fw policy apply --force "$P/p1.json"

# -- policies applied while traffic flows never misclassify a packet --
# The sender runs until the flips are done (bounded by MAX), and says how many
# rounds it sent: N datagrams to 7000 (allowed) and N/2 to 7001 (denied).  The
# counts differ, so a packet judged by the wrong rule shows up as a wrong count.
MAX=200000 FLIPS=12
a0=$(counter b0 rule_allow) x0=$(counter b0 rule_deny)
da0=$(counter b0 default_allow) dd0=$(counter b0 default_deny)
in_a bash -c "for ((i = 0; i < $MAX; i++)); do [ -e $WORK/stop ] && break;
	echo a >/dev/udp/$B4/7000; ((i % 2)) && echo d >/dev/udp/$B4/7001; done; echo \$i >$WORK/sent" &
sender=$!
sleep 0.2
flips=0 apply_failures=0
while [ $flips -lt $FLIPS ] && kill -0 $sender 2>/dev/null; do
	lbagent fw policy apply "$P/p$((flips % 2 + 1)).json" >/dev/null 2>&1 ||
		apply_failures=$((apply_failures + 1))
	flips=$((flips + 1))
done
touch "$WORK/stop"
wait $sender
sleep 0.3
N=$(cat "$WORK/sent") H=$(($(cat "$WORK/sent") / 2))
a1=$(counter b0 rule_allow) x1=$(counter b0 rule_deny)
da1=$(counter b0 default_allow) dd1=$(counter b0 default_deny)
check "$flips policy flips while the stream ran ($N rounds sent)" test $flips -eq $FLIPS -a "$N" -lt $MAX
check "no apply failed meanwhile ($apply_failures)" test $apply_failures -eq 0
check "all $N udp/7000 datagrams allowed by a rule ($((a1 - a0)))" test $((a1 - a0)) -eq "$N"
check "all $H udp/7001 datagrams denied by a rule ($((x1 - x0)))" test $((x1 - x0)) -eq "$H"
check "no packet fell to a default meanwhile" test $((da1 - da0 + dd1 - dd0)) -eq 0
stats_table() { lbagent fw stats | grep -q "b0 .*drop .*rule_deny"; }
check "stats table prints" stats_table
check "detach b0" lbagent fw detach b0
check "after detach tcp/81 connects again" tcp_ok "$NS_A" $B4 81
