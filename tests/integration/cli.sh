#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# cli.sh - the lbagent command line: usage, help, and every class of bad
# input refused with one clear message and nothing changed.
. "$(dirname "$0")/../lib/lib.sh"
topo_up

P=$WORK/p
mkdir -p "$P"
cat >"$P/good.json" <<'J'
{"default": "allow",
 "failsafe": [{"src": "198.18.0.0/24", "proto": "tcp", "dport": 22}],
 "rules": [{"id": "deny-udp", "proto": "udp", "dport": 9999, "action": "deny"}]}
J

# The kernel's view of the active policy copy (not state.json's).
active_copy() { bpftool -j map lookup pinned "$BPFFS/maps/lb_active" key 0 0 0 0 | jq -c .value; }

# expect_err NAME FILE-CONTENT NEEDLE...: apply fails, stderr has every needle,
# and neither the recorded policy nor the kernel's active copy changed.
expect_err() {
	local name=$1 content=$2 n before after
	shift 2
	printf '%s' "$content" >"$P/$name.json"
	before=$(lbagent fw policy show --json | jq -c .policy)$(active_copy)
	if lbagent fw policy apply "$P/$name.json" >"$WORK/o" 2>"$WORK/e"; then
		t_fail "policy rejects $name (was applied)"
		return
	fi
	for n in "$@"; do
		if ! grep -qF -- "$n" "$WORK/e"; then
			t_fail "policy rejects $name: message lacks '$n': $(cat "$WORK/e")"
			return
		fi
	done
	after=$(lbagent fw policy show --json | jq -c .policy)$(active_copy)
	if [ "$before" != "$after" ] || [ "$(wc -l <"$WORK/e")" -ne 1 ]; then
		t_fail "policy rejects $name: state changed or not one line: $(cat "$WORK/e")"
		return
	fi
	t_pass "policy rejects $name: $(cat "$WORK/e")"
}

check "help exits 0 and lists commands" bash -c "'$LBAGENT_BIN' --help | grep -q 'fw '"
check "fw policy apply --help" bash -c "'$LBAGENT_BIN' fw policy apply --help | grep -q -- --dry-run"
check "version" bash -c "'$LBAGENT_BIN' --version | grep -q '^lbagent '"
"$LBAGENT_BIN" frobnicate >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
lbagent fw attach >/dev/null 2>&1
check "fw attach without an interface exits 2" test $? -eq 2
lbagent fw stats extra >/dev/null 2>&1
check "fw stats with a stray argument exits 2" test $? -eq 2
in_b ip tuntap add mode tun name lbtun0
check_not "attach to an L3 (tun) device is refused" lbagent fw attach lbtun0
check "the refusal says why" grep -q "not an Ethernet device" "$WORK/out"
check_not "attach with a name too long" lbagent fw attach abcdefghijklmnopq
check_not "attach to a missing interface" lbagent fw attach nosuchif0
check_not "attach with a bad mode" lbagent fw attach b0 --mode turbo
check_not "detach an interface never attached" lbagent fw detach b0
check_not "stats before anything is loaded" lbagent fw stats
check "attach b0" lbagent fw attach b0
xdp_on_b0() { in_b ip -d link show b0 | grep -q "prog/xdp"; }
check "attach b0 again is a no-op" lbagent fw attach b0
check "b0 still has its XDP program" xdp_on_b0
# A reboot: bpffs is empty, state.json remains.  attach must attach for real.
umount "$BPFFS" && mount -t bpf bpf "$BPFFS"
check_not "after the bpffs is wiped, b0 has no XDP program" xdp_on_b0
check "attach b0 after the wipe" lbagent fw attach b0
check "b0 has its XDP program again" xdp_on_b0
check "status shows the link pinned" bash -c "'$LBAGENT_BIN' --bpffs '$BPFFS' --state-dir '$STATE' status --json | jq -e '.interfaces[0].xdp_link_pinned'"
check_not "attach b0 in another mode" lbagent fw attach b0 --mode generic
check "dry run of a good policy" lbagent fw policy apply --dry-run "$P/good.json"
policy_is_null() { [ "$(lbagent fw policy show --json | jq -c .policy)" = null ]; }
check "dry run applied nothing" policy_is_null
printf '%s' '{"default": "deny", "rules": []}' >"$P/deny_nofs.json"
check_not "default deny with no failsafe is refused" lbagent fw policy apply "$P/deny_nofs.json"
check "the refusal names --force" grep -q -- "--force" "$WORK/out"
check "apply a good policy" lbagent fw policy apply "$P/good.json"

expect_err syntax '{"default": "deny",' "syntax.json:1:"
expect_err unknown_key '{"default": "deny", "rulez": []}' "unknown_key.json" "rulez"
expect_err bad_port '{"default":"deny","rules":[{"id":"r","proto":"tcp","dport":70000,"action":"allow"}]}' \
	"bad_port.json" '$.rules[0].dport' "70000"
expect_err reversed '{"default":"deny","rules":[{"id":"r","proto":"tcp","dport":"90-80","action":"allow"}]}' \
	'$.rules[0].dport' "90-80"
expect_err bad_cidr '{"default":"deny","rules":[{"id":"r","src":"198.18.300.0/24","action":"allow"}]}' \
	'$.rules[0].src' "198.18.300.0/24"
expect_err host_bits '{"default":"deny","rules":[{"id":"r","src":"198.18.0.1/24","action":"allow"}]}' \
	'$.rules[0].src' "198.18.0.1/24"
expect_err bad_action '{"default":"deny","rules":[{"id":"r","action":"permit"}]}' \
	'$.rules[0].action' "permit"
expect_err dup_id '{"default":"deny","rules":[{"id":"r","action":"allow"},{"id":"r","action":"deny"}]}' \
	'$.rules[1].id' '"r"'
expect_err ports_icmp '{"default":"deny","rules":[{"id":"r","proto":"icmp","dport":80,"action":"allow"}]}' \
	'$.rules[0].dport'
expect_err family_mix '{"default":"deny","rules":[{"id":"r","src":"198.18.0.0/24","dst":"2001:db8::/64","action":"allow"}]}' \
	'$.rules[0]' "2001:db8::/64"
expect_err bad_type '{"default":"deny","rules":{"id":"r"}}' '$.rules'
expect_err empty '' "empty.json"

# Writers serialise on the bpffs lock: 8 concurrent applies all succeed (without
# the lock two would pick the same inactive copy and one would be refused).
cp "$P/good.json" "$P/good1.json"; cp "$P/good.json" "$P/good2.json"
pids=""
for i in 1 2 3 4 5 6 7 8; do
	lbagent fw policy apply "$P/good$((i % 2 + 1)).json" >"$WORK/conc.$i" 2>&1 &
	pids="$pids $!"
done
ok=0
for p in $pids; do wait "$p" && ok=$((ok + 1)); done
check "8 concurrent policy applies all succeed ($ok)" test $ok -eq 8
policy_file_is_good() { lbagent fw policy show --json | jq -e '.policy.file | test("good[12][.]json$")'; }
check "state names one of the applied files" policy_file_is_good

check_not "apply a file that does not exist" lbagent fw policy apply "$P/nope.json"
grep -q "nope.json" "$WORK/out" && t_pass "missing file named in the error" ||
	t_fail "missing file named in the error: $(cat "$WORK/out")"

check "status --json is JSON naming b0" bash -c "lbagent status --json | jq -e '.interfaces[0].name == \"b0\"'"
check "stats --json is JSON" bash -c "lbagent fw stats --json | jq -e '.interfaces | length == 1'"
check "conntrack list --json is JSON" bash -c "lbagent fw conntrack list --json | jq -e 'type == \"array\"'"
check "events --timeout returns" lbagent fw events --timeout 1
tc_prog=$(lbagent status --json | jq '.programs.tc_root.id')
tc_links() { bpftool link list -j | jq --argjson p "$tc_prog" '[.[] | select(.prog_id == $p)] | length'; }
check "the egress program has one link while attached" test "$(tc_links)" -eq 1
check "detach b0" lbagent fw detach b0
check_not "no XDP left on b0" xdp_on_b0
check "no egress link left after detach" test "$(tc_links)" -eq 0
