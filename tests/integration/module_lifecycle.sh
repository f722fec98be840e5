#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# module_lifecycle.sh - module updates on a live interface: install, rollback,
# each failure class rolled back with the old revision serving, toggles,
# restart adoption, a SIGKILL at every step of a transaction, and SWAPS
# (default 1,000) swaps under live-frames traffic without losing a packet.
#
# Namespace A sends to B over veth a0 -> b0; the firewall runs on b0 in B
# with the policy: UDP to 9000 denied, everything else allowed.
. "$(dirname "$0")/../lib/lib.sh"
topo_up
# No traffic but the test's own: the packet accounting below is exact.
# Permanent neighbours (no ARP probes) and no IPv6 (no ND, MLD, RS).
in_a ip neigh replace $B4 lladdr "$(in_b ip -j link show b0 | jq -r '.[0].address')" dev a0 nud permanent
in_b ip neigh replace $A4 lladdr "$(in_a ip -j link show a0 | jq -r '.[0].address')" dev b0 nud permanent
in_a sysctl -qw net.ipv6.conf.a0.disable_ipv6=1
in_b sysctl -qw net.ipv6.conf.b0.disable_ipv6=1

SWAPS=${SWAPS:-1000}
LBGEN=$BUILD/tests/bench/lbgen
FW=$BUILD/modules/firewall-1.0.0.lbm
MX=$(ls "$BUILD"/modules/metrics-*.lbm 2>/dev/null | head -1)
TM=$BUILD/tests/modules
P=$WORK/p
mkdir -p "$P"
cat >"$P/policy.json" <<'J'
{"default": "allow", "rules": [{"id": "deny-9000", "proto": "udp", "dport": 9000, "action": "deny"}]}
J

# ---- helpers ----

# status FIELD: a jq expression over `module status --json`.
status() { lbagent --json module status | jq -r "$1"; }
active_rev() { status '.modules[] | select(.name == "firewall") | .active.rev'; }
gen() { status '.generation'; }

# send N PORT: N UDP datagrams from A to B:PORT.
send() { in_a bash -c "for ((i = 0; i < $1; i++)); do echo x >/dev/udp/$B4/$2; done" 2>/dev/null; }

# deny_works: 20 datagrams to 9000 are all dropped by the rule.
deny_works() {
	local d0 d1
	d0=$(counter b0 rule_deny)
	send 20 9000
	sleep 0.1
	d1=$(counter b0 rule_deny)
	[ $((d1 - d0)) -eq 20 ] || { echo "rule_deny moved by $((d1 - d0)), not 20"; return 1; }
}

# Packets b0 received: each runs through the XDP chain exactly once.
b0_rx() { in_b ip -s -j link show b0 | jq '.[0].stats64.rx.packets'; }
b0_ifindex() { in_b ip -j link show b0 | jq '.[0].ifindex'; }

# xdp_count KEY [VERDICTS]: packets a revision's XDP program counted (lb_mod.h:
# index (key * 2 + hook) * 8 + verdict), all verdicts or the ones given.
xdp_count() {
	local key=$1 v i sum=0 n
	for v in ${2:-0 1 2 3 4 5}; do
		i=$(((key * 2) * 8 + v))
		n=$(bpftool map lookup pinned "$BPFFS/maps/lb_mod_stats" \
			key $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) 0 -j |
			jq '[.formatted.values[].value.packets] | add')
		sum=$((sum + n))
	done
	echo $sum
}
active_key() { status '.modules[] | select(.name == "firewall") | .verdicts.key'; }

# traffic SECS PORT: UDP datagrams from A to B:PORT for SECS seconds.
traffic() { in_a timeout "$1" bash -c "while :; do echo x >/dev/udp/$B4/$2; done" 2>/dev/null; }
# nsenter execs socat: the PID bg records is socat itself, which cleanup kills.
bg nsenter --net=/run/netns/$NS_B socat -u UDP-RECV:9001 /dev/null	# no ICMP errors for allowed traffic

# The link of b0 runs the dispatcher of the journal's generation; only that
# generation and the active and previous revisions are pinned; no txn.
consistent() {
	local g ifx lp dp revs want
	g=$(gen)
	ifx=$(b0_ifindex)
	lp=$(bpftool link show pinned "$BPFFS/links/xdp_$ifx" -j | jq .prog_id)
	dp=$(bpftool prog show pinned "$BPFFS/chain/$g/xdp" -j | jq .id)
	[ -n "$lp" ] && [ "$lp" = "$dp" ] || { echo "link runs prog $lp, generation $g is $dp"; return 1; }
	want=$(status '[.generation, .previous_generation] | map(select(. != null and . != 0)) |
		unique | map(tostring) | sort | join(" ")')
	[ "$(ls "$BPFFS/chain" | sort | xargs)" = "$want" ] ||
		{ echo "chain/ holds $(ls "$BPFFS/chain" | xargs), the journal names $want"; return 1; }
	revs=$(ls "$STATE/mods" | grep '^firewall-.*\.lbm$' | sed 's/^firewall-//; s/\.lbm$//' | sort -n | xargs)
	want=$(status '[.modules[] | select(.name == "firewall") | .active.rev, .previous.rev |
		select(. != null)] | sort | map(tostring) | join(" ")')
	[ "$revs" = "$want" ] || { echo "stored firewall revisions '$revs', journal names '$want'"; return 1; }
	[ "$(status .txn)" = null ] || { echo "txn left: $(status .txn)"; return 1; }
}

# pack NAME MANIFEST_JSON OBJECT...: an artifact in $P/NAME.lbm.
pack() {
	local name=$1 man=$2 args=() o
	shift 2
	echo "$man" >"$P/$name.json"
	for o in "$@"; do args+=(--object "$o"); done
	"$LBAGENT_BIN" module pack --manifest "$P/$name.json" "${args[@]}" -o "$P/$name.lbm"
}

VEC_ARP='{"name": "arp", "hook": "xdp", "expect": "pass", "packet": "ffffffffffff02000000000108060001080006040001020000000001c6120001000000000000c6120002"}'
VEC_SHORT='{"name": "short-ipv4", "hook": "xdp", "expect": "drop", "packet": "020000000002020000000001080045000014000000004011"}'
# manifest NAME VERSION OBJECT PROGRAM MAPS SELFTESTS: a one-hook XDP module.
manifest() {
	echo "{\"name\": \"$1\", \"version\": \"$2\", \"abi\": 1, \"objects\": [\"$3\"],
	  \"hooks\": [{\"hook\": \"xdp\", \"object\": \"$3\", \"program\": \"$4\"}],
	  \"maps\": [$5], \"kernel\": {\"min\": \"6.1\"}, \"selftest\": [$6]}"
}

echo "# at ${SECONDS} s"
# ---- install, rollback ----

check "attach b0 (the built-in firewall, revision 1)" lbagent fw attach b0
check "apply the policy" lbagent fw policy apply "$P/policy.json"
check "firewall revision 1 active" test "$(active_rev)" = 1
check "deny works on revision 1" deny_works
check "install the firewall artifact as revision 2" \
	lbagent module install "$FW" --sha512 "$(sha512sum "$FW" | cut -d' ' -f1)" --health-window 300
grep -o 'swap [0-9.]* ms' "$WORK/out" | sed 's/^/    /'
check "revision 2 active, 1 previous" test "$(status '.modules[0] | "\(.active.rev) \(.previous.rev)"')" = "2 1"
check "deny works on revision 2" deny_works
check "state consistent after install" consistent
check "rollback to revision 1" lbagent module rollback firewall --health-window 0
check "revision 1 active, 2 previous" test "$(status '.modules[0] | "\(.active.rev) \(.previous.rev)"')" = "1 2"
check "deny works after rollback" deny_works
check "rollback again: revision 2" lbagent module rollback firewall --health-window 0
check "state consistent after rollbacks" consistent

echo "# at ${SECONDS} s"
# ---- every failure class: refused or rolled back, the old revision serving ----

# fails NAME CAUSE CMD...: the command fails naming CAUSE; nothing changed.
# With TRAFFIC=SECS, allowed traffic flows while it runs.  Every packet b0
# received meanwhile was counted by the old revision or the refused one.
fails() {
	local name=$1 cause=$2 g r k a0 a1 p0 p1 bad=0 bk tp=
	shift 2
	g=$(gen)
	r=$(active_rev)
	k=$(active_key)
	a0=$(xdp_count "$k")
	p0=$(b0_rx)
	[ -n "${TRAFFIC:-}" ] && { traffic "$TRAFFIC" 9001 & tp=$!; }
	check_not "$name: refused" lbagent --json "$@"
	[ -n "$tp" ] && wait $tp
	if grep -q "$cause" "$WORK/out"; then t_pass "$name: says $cause"
	else t_fail "$name: says $cause"; sed 's/^/    /' "$WORK/out" | head -5; fi
	bk=$(grep '^{' "$WORK/out" | jq -r '.key // empty')
	check "$name: revision $r still active, generation $g" \
		test "$(active_rev) $(gen)" = "$r $g"
	check "$name: deny still works" deny_works
	check "$name: state consistent" consistent
	a1=$(xdp_count "$k")
	p1=$(b0_rx)
	[ -n "$bk" ] && [ "$bk" != 0 ] && [ "$bk" != "$k" ] && bad=$(xdp_count "$bk")
	check "$name: every packet counted by a revision ($((a1 - a0)) + $bad of $((p1 - p0)))" \
		test $((a1 - a0 + bad)) -eq $((p1 - p0))
}

fails "SHA-512 mismatch" "SHA-512 mismatch" module install "$FW" --sha512 "$(printf '0%.0s' $(seq 128))"

mkdir -p "$P/x" && tar -xzf "$FW" -C "$P/x"
printf '\x00' | dd of="$P/x/fw_xdp.bpf.o" bs=1 seek=18 conv=notrunc 2>/dev/null
(cd "$P/x" && tar --format=ustar --owner=0 --group=0 -cf - manifest.json fw_xdp.bpf.o fw_tc.bpf.o) |
	gzip -n >"$P/corrupt.lbm"
fails "corrupt ELF" "EM_BPF\|machine" module install "$P/corrupt.lbm"

pack bad_verifier "$(manifest firewall 1.0.1 bad_verifier.bpf.o lb_test_bad_verifier "" "")" \
	"$TM/bad_verifier.bpf.o" >/dev/null
fails "verifier rejection" "verifier log" module install "$P/bad_verifier.lbm"

sed 's/"expect": "pass"/"expect": "drop"/' "$BUILD/modules/firewall.json" >"$P/fw-badtest.json"
"$LBAGENT_BIN" module pack --manifest "$P/fw-badtest.json" --object "$BUILD/bpf/fw_xdp.bpf.o" \
	--object "$BUILD/bpf/fw_tc.bpf.o" -o "$P/fw-badtest.lbm" >/dev/null
fails "self-test failure" "self-test arp-passes failed" module install "$P/fw-badtest.lbm"

sed 's/"lb_stats", "layout": 1/"lb_stats", "layout": 2/' "$BUILD/modules/firewall.json" >"$P/fw-layout.json"
"$LBAGENT_BIN" module pack --manifest "$P/fw-layout.json" --object "$BUILD/bpf/fw_xdp.bpf.o" \
	--object "$BUILD/bpf/fw_tc.bpf.o" -o "$P/fw-layout.lbm" >/dev/null
fails "map layout version" "needs a migration" module install "$P/fw-layout.lbm"
pack bad_layout "$(manifest firewall 1.0.3 bad_layout.bpf.o lb_test_bad_layout \
	'{"name": "lb_stats", "layout": 1}' "$VEC_ARP")" "$TM/bad_layout.bpf.o" >/dev/null
fails "map of another shape" "does not match the pinned one" module install "$P/bad_layout.lbm"

# Health: traffic to the allowed port while the window runs.
pack drop_all "$(manifest firewall 1.0.4 drop_all.bpf.o lb_test_drop_all "" "$VEC_SHORT")" \
	"$TM/drop_all.bpf.o" >/dev/null
TRAFFIC=2 fails "health: drops everything" "health_drops" module install "$P/drop_all.lbm" --health-window 1500

pack abort_udp "$(manifest firewall 1.0.5 abort_udp.bpf.o lb_test_abort_udp "" "$VEC_ARP")" \
	"$TM/abort_udp.bpf.o" >/dev/null
TRAFFIC=2 fails "health: aborts" "health_aborted" module install "$P/abort_udp.lbm" --health-window 1500

echo "# at ${SECONDS} s"
# ---- toggles, with real traffic ----

udp_in() { in_b nstat -asz UdpInDatagrams UdpNoPorts | awk '$1 ~ /^Udp/ { s += $2 } END { print s + 0 }'; }
check "disable the firewall" lbagent module disable firewall
u0=$(udp_in)
send 20 9000
sleep 0.1
check "disabled: UDP to 9000 reaches the stack ($(($(udp_in) - u0)) of 20)" test $(($(udp_in) - u0)) -eq 20
check "module list says disabled" test "$(status '.modules[0].enabled')" = false
check "enable the firewall" lbagent module enable firewall --health-window 0
check "enabled: deny works again" deny_works
if [ -n "$MX" ]; then
	check "install the metrics module" lbagent module install "$MX" --health-window 200
	check "two modules on the hook" test "$(status '[.modules[] | select(.active != null)] | length')" = 2
	check "disable the firewall, metrics stays" lbagent module disable firewall
	mx0=$(status '.modules[] | select(.name == "metrics") | .verdicts.xdp.pass')
	send 20 9000
	sleep 0.1
	mx1=$(status '.modules[] | select(.name == "metrics") | .verdicts.xdp.pass')
	check "metrics saw the 20 datagrams ($((mx1 - mx0)))" test $((mx1 - mx0)) -ge 20
	check "enable the firewall" lbagent module enable firewall --health-window 0
	check "deny works with metrics before it" deny_works
	check "disable metrics" lbagent module disable metrics
	check "deny works without metrics" deny_works
else
	t_skip "metrics module: no metrics artifact in $BUILD/modules"
fi

echo "# at ${SECONDS} s"
# ---- restart adoption: a new process adopts what is pinned, reloads nothing ----

pid0=$(bpftool link show pinned "$BPFFS/links/xdp_$(b0_ifindex)" -j | jq .prog_id)
check "attach again: adopted" lbagent fw attach b0
check "the running dispatcher was kept" test "$(bpftool link show pinned \
	"$BPFFS/links/xdp_$(b0_ifindex)" -j | jq .prog_id)" = "$pid0"
check "recover finds nothing to do" lbagent module recover
check "state consistent" consistent

echo "# at ${SECONDS} s"
# ---- SIGKILL at every step of an install ----

for step in 1 2 3 4 5 50 51 6 7 8 9; do
	traffic 1 9001 &
	LB_TEST_CRASH_STEP=$step lbagent module install "$FW" --health-window 400 >/dev/null 2>&1
	rc=$?
	wait $!
	check "crash at step $step: killed (exit $rc)" test $rc -eq 137
	check "crash at step $step: recovered" lbagent module recover
	check "crash at step $step: one active revision, link, journal, no orphans" consistent
	check "crash at step $step: deny works" deny_works
done

echo "# at ${SECONDS} s"
# ---- no loss: SWAPS swaps under live-frames traffic ----

if [ -x "$LBGEN" ]; then
	# The two revisions alternate under allowed traffic (9001): every packet
	# must be counted by exactly one of them, and as a pass.
	k1=$(status '.modules[] | select(.name == "firewall") | .verdicts.key')
	k2=$(status '.modules[] | select(.name == "firewall") | .previous_verdicts.key')
	c0=$(($(xdp_count "$k1") + $(xdp_count "$k2")))
	d0=$(($(xdp_count "$k1" 1) + $(xdp_count "$k2" 1)))
	p0=$(b0_rx)
	# nsenter execs lbgen, so $! is lbgen itself and takes the SIGINT below.
	nsenter --net=/run/netns/$NS_A "$LBGEN" send --dev a0 --peer-netns "/run/netns/$NS_B" --dst $B4 --dport 9001 \
		--src 198.18.0.1/32 --duration 600 --json >"$WORK/gen.json" 2>"$WORK/gen.err" &
	gpid=$!
	sleep 0.5
	ok=0 t0=$SECONDS
	for ((i = 0; i < SWAPS; i++)); do
		lbagent module rollback firewall --health-window 0 >/dev/null 2>"$WORK/swap.err" && ok=$((ok + 1))
	done
	t1=$SECONDS
	sleep 0.2
	kill -INT $gpid
	wait $gpid
	sleep 0.2
	c1=$(($(xdp_count "$k1") + $(xdp_count "$k2")))
	d1=$(($(xdp_count "$k1" 1) + $(xdp_count "$k2" 1)))
	p1=$(b0_rx)
	sent=$(jq .packets "$WORK/gen.json")
	check "$ok of $SWAPS swaps succeeded in $((t1 - t0)) s" test "$ok" -eq "$SWAPS"
	check "traffic flowed: $sent frames sent, $((p1 - p0)) received" test "${sent:-0}" -gt 100000
	check "every packet counted by exactly one revision ($((c1 - c0)) of $((p1 - p0)))" \
		test $((c1 - c0)) -eq $((p1 - p0))
	check "no wrong verdict: $((d1 - d0)) drops of allowed traffic" test $((d1 - d0)) -eq 0
	check "state consistent after the swaps" consistent
else
	t_skip "no-loss swaps: $LBGEN not built"
fi
echo "# at ${SECONDS} s"
