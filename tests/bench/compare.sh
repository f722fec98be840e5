#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# compare.sh [BUILD] [OUT] - the firewall beside xdp-filter, nftables and
# iptables on the same live traffic, the same veth pair, in one run.
#
# Writes OUT/compare.md (Markdown tables: medians, min-max, ratios) and
# OUT/compare.json (every run, and the medians).  OUT defaults to BUILD/bench.
#
# Topology: namespace G holds veth g0, namespace P its peer p0.  `lbgen send`
# in G redirects live frames (BPF_PROG_RUN, XDP live frames) into g0; they
# arrive at p0 as received packets.  Every figure is packets received at p0
# (its device counter, read before and after the run) per second of sending;
# the generator shares the CPU with p0's NAPI, so its cost is inside every
# figure, and the ceiling row (a trivial XDP_DROP on p0) shows it.
#
# Traffic: IPv4 UDP, 64-byte frames, sources in 198.18.192.0/18 (1 flow, or
# 1,000,000 flows: 16,382 sources x 62 source ports, scattered), to
# 198.18.0.2, dport 9000 (the "deny" traffic) or 9001 (the "pass" traffic).
#
# Policy of N rules (N = 10, 1,000, 10,000, 100,000), the same for every tool:
# N-1 deny rules "src 198.19.x.y/32 (then 198.18.0.0/17, 198.18.128.0/18),
# udp dport 9000" that the traffic never matches, and last the rule it
# matches: "src 198.18.192.0/18, udp dport 9000, deny".  Default allow.
#   lbagent      the policy JSON, `fw policy apply`; attached/detached per run
#   xdp-filter   exact matches only: "udp dst port 9000" denies the traffic,
#                the N-1 sources go into its address map (at most 10,000)
#   nft netdev   ingress hook on p0: ip saddr @set udp dport 9000 drop,
#                one interval set of N elements
#   nft inet     the same rule in an inet table's input hook
#   iptables     raw PREROUTING -> a chain of N linear rules, the matching one
#                last (iptables as installed: iptables-nft on Debian 12)
# Between the runs of one rule count the filters are switched on and off in
# turn (A B C ... A B C ...), so noise lands on all alike.
#
# Environment: RUNS (5), SECS (1) seconds per run, RULES ("10 1000 10000
# 100000"), IPT_MAX (10000) the largest iptables policy, CPU (the last one),
# SCENARIOS ("throughput apply stateful"), APPLY_RUNS (5).
#
# Safety: everything lives in two network namespaces made here (names carry
# $$) and in a private mount namespace with its own bpffs on /sys/fs/bpf
# (xdp-filter pins into the first bpffs it finds, libxdp into LIBXDP_BPFFS);
# nft and iptables only ever run inside namespace P; addresses in
# 198.18.0.0/15; every traffic run is bounded in time; a trap cleans up.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${LBB_PRIVATE_MNT:-}" ]; then
	# A private mount namespace: our bpffs mounts vanish with the script.
	exec env LBB_PRIVATE_MNT=1 unshare --mount --propagation private "$0" "$@"
fi
BUILD=${1:-build}
OUT=${2:-$BUILD/bench}
LBGEN=$BUILD/tests/bench/lbgen
LBAGENT=$BUILD/lbagent
CTSEED=$BUILD/tests/bench/ctseed
RUNS=${RUNS:-5}
SECS=${SECS:-1}
RULES=${RULES:-"10 1000 10000 100000"}
IPT_MAX=${IPT_MAX:-10000}
XDPF_MAX=10000 # xdp-filter's filter_ipv4 map holds 10,000 addresses
CPU=${CPU:-$(($(nproc) - 1))}
SCENARIOS=${SCENARIOS:-"throughput apply stateful"}
APPLY_RUNS=${APPLY_RUNS:-5}
FLOWS_MANY=1000000
SRC=198.18.192.0/18
NS_G=lbb$$g
NS_P=lbb$$p
WORK=$(mktemp -d /tmp/lbbench.XXXXXX)
BPFFS=/sys/fs/bpf
RAW=$WORK/raw.jsonl
STACK_PID= DROP_PID=
export LIBXDP_BPFFS=$BPFFS

log() { echo "compare: $*" >&2; }

cleanup() {
	local p
	for p in $DROP_PID $STACK_PID; do
		kill -INT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -e /run/netns/$NS_P ]; then
		in_p "$LBAGENT" --bpffs $BPFFS/lbbench --state-dir "$WORK/state" fw detach p0 \
			>/dev/null 2>&1
		in_p xdp-filter unload --all >/dev/null 2>&1
	fi
	ip netns del "$NS_G" 2>/dev/null
	ip netns del "$NS_P" 2>/dev/null
	umount "$BPFFS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_g() { nsenter --net=/run/netns/$NS_G "$@"; }
in_p() { nsenter --net=/run/netns/$NS_P "$@"; }
agent() { in_p "$LBAGENT" --bpffs "$BPFFS/lbbench" --state-dir "$WORK/state" "$@"; }

topo_up() {
	ip netns add "$NS_G" && ip netns add "$NS_P" &&
		ip link add g0 netns "$NS_G" type veth peer name p0 netns "$NS_P" || return 1
	in_p ip addr add 198.18.0.2/24 dev p0 &&
		in_g ip addr add 198.18.0.1/24 dev g0 &&
		in_g ip link set lo up && in_p ip link set lo up &&
		in_g ip link set g0 up && in_p ip link set p0 up || return 1
	# Every source must reach UDP: no reverse-path filter.  The sources have
	# no route in P, so the ICMP errors they provoke go nowhere.
	in_p sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.p0.rp_filter=0
}

# wait_ready FILE PID: the sink wrote FILE, or died.
wait_ready() {
	local i
	for i in $(seq 100); do
		[ -f "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# ---- traffic ----

# udp_in: datagrams that reached UDP in P (delivered or refused: no socket).
udp_in() {
	in_p nstat -asz UdpInDatagrams UdpNoPorts UdpInErrors |
		awk '$1 ~ /^Udp/ { s += $2 } END { print s + 0 }'
}

# measure SCEN RULES TOOL TRAFFIC RUN: one lbgen run, one JSON line in $RAW.
# TRAFFIC: deny1 denyM pass1 passM (deny/pass: dport 9000/9001; 1 or many flows).
measure() {
	local scen=$1 n=$2 tool=$3 traffic=$4 run=$5 args u0 u1 out
	case $traffic in
	deny1) args="--dport 9000" ;;
	denyM) args="--dport 9000 --flows $FLOWS_MANY" ;;
	pass1) args="--dport 9001" ;;
	passM) args="--dport 9001 --flows $FLOWS_MANY" ;;
	esac
	u0=$(udp_in)
	# shellcheck disable=SC2086
	out=$(in_g timeout --foreground $((SECS * 3 + 60)) "$LBGEN" send --dev g0 \
		--peer-netns /run/netns/$NS_P --cpu "$CPU" --src $SRC --json \
		--duration "$SECS" $args) || { log "lbgen failed: $tool $traffic"; return 1; }
	u1=$(udp_in)
	jq -c --arg s "$scen" --argjson n "$n" --arg t "$tool" --arg tr "$traffic" \
		--argjson r "$run" --argjson u $((u1 - u0)) \
		'{scenario: $s, rules: $n, tool: $t, traffic: $tr, run: $r, seconds,
		  sent: .packets, rx: .peer_rx, mpps: (.peer_rx / .seconds / 1e6),
		  sent_mpps: .mpps, to_udp: $u}' <<<"$out" >>"$RAW"
}

# ---- policies: the same N rules for every tool ----

# fillers N: the N-1 filler sources, one per line.
fillers() {
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n - 1; i++) {
			if (i < 65536) b = 19 * 65536 + i
			else if (i < 98304) b = 18 * 65536 + i - 65536
			else b = 18 * 65536 + 32768 + i - 98304
			printf "198.%d.%d.%d\n", int(b / 65536), int(b / 256) % 256, b % 256
		}
	}'
}

# policy_files N: $WORK/{policy.json, nd.nft, in.nft, ipt.txt, xdpf.batch}.
policy_files() {
	local n=$1
	fillers "$n" >"$WORK/fill"
	{
		echo '{"default": "allow", "rules": ['
		awk '{ printf "{\"id\": \"f%d\", \"src\": \"%s\", \"proto\": \"udp\", \"dport\": 9000, \"action\": \"deny\"},\n", NR, $1 }' "$WORK/fill"
		echo "{\"id\": \"match\", \"src\": \"$SRC\", \"proto\": \"udp\", \"dport\": 9000, \"action\": \"deny\"}"
		echo ']}'
	} >"$WORK/policy.json"
	local fam tbl
	for fam in netdev inet; do
		tbl=lbb_$fam
		{
			echo "table $fam $tbl {"
			echo "  set srcs { type ipv4_addr; flags interval; elements = {"
			awk '{ print "    " $1 "," }' "$WORK/fill"
			echo "    $SRC }"
			echo "  }"
			echo "}"
		} >"$WORK/$fam.nft"
	done
	{
		echo "*raw"
		echo ":lbb - [0:0]"
		awk '{ print "-A lbb -s " $1 "/32 -p udp -m udp --dport 9000 -j DROP" }' "$WORK/fill"
		echo "-A lbb -s $SRC -p udp -m udp --dport 9000 -j DROP"
		echo "COMMIT"
	} >"$WORK/ipt.txt"
	# xdp-filter's address map: key the address (network order), value
	# FILTER_MODE_SRC (1) in a u64, the same on every CPU.
	awk -v m="$BPFFS/xdp-filter/filter_ipv4" '{ gsub(/\./, " "); print "map update pinned " m " key " $0 " value 1 0 0 0 0 0 0 0" }' \
		"$WORK/fill" >"$WORK/xdpf.batch"
}

# ---- filters: load once per rule count, switch on and off per run ----

load_all() {
	local n=$1
	agent fw attach p0 >/dev/null &&
		agent fw policy apply "$WORK/policy.json" --force >/dev/null &&
		agent fw detach p0 >/dev/null || { log "lbagent policy failed"; return 1; }
	in_p nft delete table netdev lbb_netdev 2>/dev/null
	in_p nft delete table inet lbb_inet 2>/dev/null
	in_p nft -f "$WORK/netdev.nft" && in_p nft -f "$WORK/inet.nft" || return 1
	in_p nft delete table ip raw 2>/dev/null
	if [ "$n" -le "$IPT_MAX" ]; then
		in_p iptables-restore --noflush "$WORK/ipt.txt" || return 1
		# No hook until switched on: drop the base chain iptables made.
		in_p nft delete chain ip raw PREROUTING 2>/dev/null
	fi
	return 0
}

# on TOOL / off TOOL
on() {
	case $1 in
	ceiling)
		rm -f "$WORK/drop.ready"
		# nsenter execs lbgen: $! is the sink itself, which takes SIGINT.
		nsenter --net=/run/netns/$NS_P "$LBGEN" sink --dev p0 --mode drop --duration 600 --ready "$WORK/drop.ready" \
			>/dev/null 2>"$WORK/drop.err" &
		DROP_PID=$!
		wait_ready "$WORK/drop.ready" $DROP_PID || { cat "$WORK/drop.err" >&2; return 1; }
		;;
	none) ;;
	lbagent) agent fw attach p0 >/dev/null ;;
	xdp-filter)
		in_p xdp-filter load p0 -m native -p allow -f udp,ipv4 &&
			in_p xdp-filter port 9000 -p udp -m dst &&
			{ [ ! -s "$WORK/xdpf.batch" ] || bpftool batch file "$WORK/xdpf.batch" >/dev/null; }
		;;
	nft-netdev)
		in_p nft "add chain netdev lbb_netdev c { type filter hook ingress device p0 priority 0; };
			add rule netdev lbb_netdev c ip saddr @srcs udp dport 9000 counter drop"
		;;
	nft-inet)
		in_p nft "add chain inet lbb_inet c { type filter hook input priority 0; };
			add rule inet lbb_inet c ip saddr @srcs udp dport 9000 counter drop"
		;;
	iptables) in_p iptables -t raw -A PREROUTING -j lbb ;;
	esac
}

off() {
	case $1 in
	ceiling)
		kill -INT "$DROP_PID" && wait "$DROP_PID"
		DROP_PID=
		;;
	none) ;;
	lbagent) agent fw detach p0 >/dev/null ;;
	xdp-filter) in_p xdp-filter unload p0 >/dev/null ;;
	nft-netdev) in_p nft delete chain netdev lbb_netdev c ;;
	nft-inet) in_p nft delete chain inet lbb_inet c ;;
	iptables) in_p nft delete chain ip raw PREROUTING ;;
	esac
}

# tools N: the filters that can hold a policy of N rules.
tools() {
	local t="ceiling none lbagent"
	[ "$1" -le "$XDPF_MAX" ] && t="$t xdp-filter"
	t="$t nft-netdev nft-inet"
	[ "$1" -le "$IPT_MAX" ] && t="$t iptables"
	echo "$t"
}

traffics() {
	case $1 in
	ceiling) echo "deny1 denyM" ;;
	none) echo "pass1 passM" ;;
	*) echo "deny1 denyM pass1 passM" ;;
	esac
}

# Scenarios 1 and 2: deny and pass traffic, per rule count.
scen_throughput() {
	local n run tool tr t0
	for n in $RULES; do
		t0=$SECONDS
		policy_files "$n" && load_all "$n" || return 1
		log "$n rules: loaded in $((SECONDS - t0)) s; tools: $(tools "$n")"
		for run in $(seq "$RUNS"); do
			for tool in $(tools "$n"); do
				on "$tool" || { log "switching $tool on failed"; return 1; }
				for tr in $(traffics "$tool"); do
					measure throughput "$n" "$tool" "$tr" "$run" || { off "$tool"; return 1; }
				done
				off "$tool" || { log "switching $tool off failed"; return 1; }
			done
		done
		log "$n rules: done at $SECONDS s"
	done
	in_p nft delete table netdev lbb_netdev 2>/dev/null
	in_p nft delete table inet lbb_inet 2>/dev/null
	in_p nft delete table ip raw 2>/dev/null
	return 0
}

# Scenario 4: policy apply time, lbagent vs nft -f (the same rules as a set)
# vs iptables-restore (linear rules), alternating.
scen_apply() {
	local n run t0 t1
	agent fw attach p0 >/dev/null || return 1
	for n in 1000 100000; do
		policy_files "$n"
		# The inet file with the chain and rule, as a user would load it.
		{
			cat "$WORK/inet.nft"
			echo "table inet lbb_inet {"
			echo "  chain c {"
			echo "    type filter hook input priority 0;"
			echo "    ip saddr @srcs udp dport 9000 counter drop"
			echo "  }"
			echo "}"
		} >"$WORK/apply.nft"
		for run in $(seq "$APPLY_RUNS"); do
			t0=$(date +%s%N)
			agent fw policy apply "$WORK/policy.json" --force >/dev/null || return 1
			t1=$(date +%s%N)
			apply_rec "$n" lbagent "$run" "$t0" "$t1"
			t0=$(date +%s%N)
			in_p nft -f "$WORK/apply.nft" || return 1
			t1=$(date +%s%N)
			apply_rec "$n" nft "$run" "$t0" "$t1"
			in_p nft delete table inet lbb_inet
			t0=$(date +%s%N)
			in_p iptables-restore --noflush "$WORK/ipt.txt" || return 1
			t1=$(date +%s%N)
			apply_rec "$n" iptables-restore "$run" "$t0" "$t1"
			in_p nft delete table ip raw
		done
		log "apply $n rules: done at $SECONDS s"
	done
	agent fw detach p0 >/dev/null
}

apply_rec() {
	jq -nc --argjson n "$1" --arg t "$2" --argjson r "$3" --argjson s "$(((${5} - ${4}) / 1000))" \
		'{scenario: "apply", rules: $n, tool: $t, traffic: "-", run: $r, ms: ($s / 1000)}' >>"$RAW"
}

# Scenario 3: stateful.  Replies of F tracked UDP flows (ctseed sends one
# datagram out of P per flow first), and the rate of new flows, lbagent
# (conntrack in its TC egress program, policy default deny) against nftables
# conntrack in the inet input hook.
scen_stateful() {
	local f=100000 run tool tr i
	[ -x "$CTSEED" ] || { log "no $CTSEED: stateful scenario skipped"; return 0; }
	# Replies from G go back to the 198.18.192.0/18 sources through g0.
	in_p ip route add $SRC via 198.18.0.1 dev p0 || return 1
	in_p ip neigh replace 198.18.0.1 lladdr "$(in_g cat /sys/class/net/g0/address 2>/dev/null ||
		in_g ip -j link show g0 | jq -r '.[0].address')" dev p0 nud permanent || return 1
	cat >"$WORK/st_policy.json" <<-EOF
		{"default": "deny", "rules": [
		 {"id": "new", "src": "$SRC", "proto": "udp", "dport": 9002, "action": "allow"}]}
	EOF
	agent fw attach p0 >/dev/null &&
		agent fw policy apply "$WORK/st_policy.json" --force >/dev/null &&
		agent fw detach p0 >/dev/null || return 1
	cat >"$WORK/st.nft" <<-EOF
		table inet lbb_ct {
		  chain c { type filter hook input priority 0; policy drop;
		    ct state established,related accept
		    ip saddr $SRC udp dport 9002 accept
		  }
		  chain o { type filter hook output priority 0; policy accept; }
		}
	EOF
	for run in $(seq "$RUNS"); do
		i=0
		for tool in lbagent-ct nft-ct; do
			case $tool in
			lbagent-ct) agent fw attach p0 >/dev/null || return 1 ;;
			nft-ct) in_p nft -f "$WORK/st.nft" || return 1 ;;
			esac
			# Seed F flows: 198.18.0.2:9000 -> flow i of lbgen --flows F.
			in_p "$CTSEED" --src 198.18.0.2 --sport 9000 --dst 198.18.192.1 \
				--addrs 16382 --dport 40000 --flows $f >/dev/null || return 1
			measure_st "$tool" replies "$run" --dport 9000 --flows $f
			# New flows: each frame a flow not seen before in this run
			# (fresh source ports per run), allowed by a rule.
			measure_st "$tool" new "$run" --dport 9002 --flows $FLOWS_MANY \
				--sport $((1024 + ((run - 1) * 2 + i) * 62))
			i=$((i + 1))
			case $tool in
			lbagent-ct) agent fw detach p0 >/dev/null ;;
			nft-ct) in_p nft delete table inet lbb_ct ;;
			esac
		done
	done
	in_p ip route del $SRC
}

measure_st() {
	local tool=$1 tr=$2 run=$3 out u0 u1
	shift 3
	u0=$(udp_in)
	out=$(in_g timeout --foreground $((SECS * 3 + 60)) "$LBGEN" send --dev g0 \
		--peer-netns /run/netns/$NS_P --cpu "$CPU" --src $SRC --json \
		--duration "$SECS" "$@") || { log "lbgen failed: $tool $tr"; return 1; }
	u1=$(udp_in)
	jq -c --arg t "$tool" --arg tr "$tr" --argjson r "$run" --argjson u $((u1 - u0)) \
		'{scenario: "stateful", rules: 0, tool: $t, traffic: $tr, run: $r, seconds,
		  sent: .packets, rx: .peer_rx, mpps: (.peer_rx / .seconds / 1e6),
		  sent_mpps: .mpps, to_udp: $u}' <<<"$out" >>"$RAW"
}

# ---- report ----

# The medians: one object per (scenario, rules, tool, traffic).
summarise() {
	jq -s '
	  def med: sort | if length % 2 == 1 then .[length / 2 | floor]
	                  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	  group_by([.scenario, .rules, .tool, .traffic]) | map(
	    (if .[0].scenario == "apply" then map(.ms) else map(.mpps) end) as $v |
	    { scenario: .[0].scenario, rules: .[0].rules, tool: .[0].tool,
	      traffic: .[0].traffic, runs: length, median: ($v | med),
	      min: ($v | min), max: ($v | max),
	      to_udp: (if .[0].to_udp == null then null else
	               ((map(.to_udp) | add) / ([map(.rx) | add, 1] | max)) end) })' "$RAW"
}

# cell SCEN RULES TOOL TRAFFIC: "median (min-max)" from $WORK/sum.json.
val() {
	jq -r --arg s "$1" --argjson n "$2" --arg t "$3" --arg tr "$4" \
		'.[] | select(.scenario == $s and .rules == $n and .tool == $t and .traffic == $tr) | .median' \
		"$WORK/sum.json"
}

report() {
	local md=$OUT/compare.md
	jq -n --slurpfile runs "$RAW" --slurpfile sum "$WORK/sum.json" \
		--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
		--arg kernel "$(uname -r)" --arg jit "$(cat /proc/sys/net/core/bpf_jit_enable)" \
		--argjson secs "$SECS" --argjson runs_per "$RUNS" \
		'{cpu: $cpu, kernel: $kernel, bpf_jit_enable: $jit, seconds_per_run: $secs,
		  runs: $runs_per, medians: $sum[0], raw: $runs}' >"$OUT/compare.json"
	cat >"$md" <<-EOF
		## Side by side on live traffic: lbagent, xdp-filter, nftables, iptables

		Method: namespace G holds veth g0, namespace P its peer p0. \`lbgen send\` (BPF_PROG_RUN
		with XDP live frames, pinned to CPU $CPU) redirects 64-byte IPv4 UDP frames into g0; each
		figure is the packets p0's device counter received, per second of sending. p0's NAPI runs on
		the generator's CPU, so the generator's cost is inside every figure; the ceiling row (a
		trivial XDP_DROP on p0) shows how much. $SECS s per run, $RUNS runs per figure; within
		each rule count the filters are switched on in turn (A B C ... A B C ...), so the machine's
		noise lands on all alike. Sources 198.18.192.0/18, destination 198.18.0.2.

		Policy of N rules, the same for every tool: N-1 deny rules "src host (198.19.0.0/16, then
		198.18.0.0/17, 198.18.128.0/18), udp dport 9000" that the traffic never matches, and last the
		one it matches, "src $SRC, udp dport 9000, deny"; default allow. xdp-filter matches exact
		values only, each field on its own: it denies "udp dst port 9000" and holds the N-1 sources
		in its address map, which has 10,000 entries (n/a above 10,000 rules). iptables (as
		installed: $(iptables --version 2>/dev/null)) scans its rules in order, the matching one
		last, and is capped at $IPT_MAX rules: 100,000 linear rules would run at a tenth of the
		10,000-rule rate (about 0.0006 Mpps), so each run's first 4,096-frame batch alone would
		take about 7 s and the scenario minutes, to show what the scan already shows. The nftables rules use one interval set of N elements.

	EOF
	jq -r -f /dev/stdin "$WORK/sum.json" >>"$md" <<-'JQ'
		def fx($d): (pow(10; $d)) as $p | (. * $p | round) as $i
		  | ($i % $p | tostring) as $fr
		  | "\($i / $p | floor).\(("0000" + $fr)[-$d:])";
		def f2: fx(2);
		def f3: if . < 0.1 then fx(4) else fx(2) end;
		def cell: "\(.median | f3) (\(.min | f3)-\(.max | f3))";
		def pct($c): if $c == null or $c == 0 then "" else " \(.median / $c * 100 | round)%" end;
		def names: {ceiling: "ceiling: XDP_DROP (xdp_drop_prog)", none: "no filter (stack)",
		  lbagent: "lbagent (lb_fw_xdp)", "xdp-filter": "xdp-filter (xdp-tools 1.3.1)",
		  "nft-netdev": "nftables netdev ingress, interval set",
		  "nft-inet": "nftables inet input, interval set",
		  iptables: "iptables raw PREROUTING, linear rules"};
		. as $all
		| [.[] | select(.scenario == "throughput")] as $tp
		| ($tp | map(.rules) | unique) as $ns
		| def get($n; $t; $tr): ($tp | map(select(.rules == $n and .tool == $t and .traffic == $tr)) | .[0]);
		  def table($tr; $ref; $tools):
		    "| filter | " + ($ns | map("\(.) rules") | join(" | ")) + " |",
		    "|---|" + ($ns | map("---:") | join("|")) + "|",
		    ($tools[] as $t | "| \(names[$t]) | " + ($ns | map(. as $n | get($n; $t; $tr) as $c |
		       if $c == null then "n/a" else ($c | cell) + ($c | pct(get($n; $ref; $ref | if . == "ceiling" then $tr else ($tr | sub("deny"; "pass")) end) | .median)) end) | join(" | ")) + " |");
		  if ($tp | length) == 0 then empty else
		  "## 1. Drop throughput: Mpps received and dropped at the receiving veth",
		  "",
		  "Median (min-max) Mpps of packets p0 received, and the share of the ceiling measured in the same",
		  "rounds. Every packet matches the last of N deny rules (see the policy above).",
		  "",
		  ("deny1", "denyM" | . as $tr |
		    "### \(if $tr == "deny1" then "1 flow" else "1,000,000 flows (16,382 sources x 62 ports, scattered)" end)",
		    "",
		    table($tr; "ceiling"; ["ceiling", "lbagent", "xdp-filter", "nft-netdev", "nft-inet", "iptables"]),
		    ""),
		  "## 2. Pass throughput: Mpps of allowed traffic into the stack",
		  "",
		  "The same policies; the traffic (udp dport 9001) matches no rule and passes (default allow) into",
		  "UDP, which refuses it (no socket). Share: of the no-filter figure in the same rounds.",
		  "",
		  ("pass1", "passM" | . as $tr |
		    "### \(if $tr == "pass1" then "1 flow" else "1,000,000 flows" end)",
		    "",
		    table($tr; "none"; ["none", "lbagent", "xdp-filter", "nft-netdev", "nft-inet", "iptables"]),
		    ""),
		  "## Ratios (medians of the same rounds)",
		  "",
		  "| rules | flows | lbagent / ceiling | lbagent / xdp-filter | lbagent / nft netdev | lbagent / nft inet | lbagent / iptables | lbagent pass / no filter |",
		  "|---:|---|---:|---:|---:|---:|---:|---:|",
		  ($ns[] as $n | (["deny1", "1"], ["denyM", "1,000,000"]) as [$tr, $fl] |
		    get($n; "lbagent"; $tr).median as $o |
		    def r($t): get($n; $t; $tr) | if . == null then "n/a" else "\($o / .median | f2)x" end;
		    "| \($n) | \($fl) | \(r("ceiling")) | \(r("xdp-filter")) | \(r("nft-netdev")) | \(r("nft-inet")) | \(r("iptables")) | \(get($n; "lbagent"; $tr | sub("deny"; "pass")).median / get($n; "none"; $tr | sub("deny"; "pass")).median | f2)x |"),
		  "",
		  "lbagent at \($ns[-1]) rules against \($ns[0]): " +
		    ([(["deny1", "1 flow"], ["denyM", "1,000,000 flows"]) as [$tr, $fl] |
		      "\($fl) \(get($ns[-1]; "lbagent"; $tr).median / get($ns[0]; "lbagent"; $tr).median | f2)x"] | join(", ")) +
		    " of the drop rate (1.00x: flat).",
		  "",
		  "Check: share of received packets that reached UDP (should be 0% for deny, 100% for pass):",
		  "",
		  "| filter | deny, 1 flow | deny, many | pass, 1 flow | pass, many |",
		  "|---|---:|---:|---:|---:|",
		  (["lbagent", "xdp-filter", "nft-netdev", "nft-inet", "iptables", "none"][] as $t |
		    "| \(names[$t]) | " + (["deny1", "denyM", "pass1", "passM"] | map(. as $tr |
		      [$tp[] | select(.tool == $t and .traffic == $tr) | .to_udp] |
		      if length == 0 then "-" else "\((max * 100 | round))%" end) | join(" | ")) + " |"),
		  "" end,
		  ([$all[] | select(.scenario == "apply")] as $ap |
		   if ($ap | length) == 0 then empty else
		    "## 4. Policy apply time (ms)",
		    "",
		    "The same rules: `lbagent fw policy apply --force` (firewall attached), `nft -f` (one table, the",
		    "sources as an interval set, one rule), `iptables-restore --noflush` (linear rules), alternating.",
		    "",
		    "| rules | lbagent | nft -f | iptables-restore | lbagent / nft |",
		    "|---:|---:|---:|---:|---:|",
		    ($ap | map(.rules) | unique | .[] as $n |
		      def g($t): $ap | map(select(.rules == $n and .tool == $t)) | .[0];
		      "| \($n) | \(g("lbagent") | "\(.median | round) (\(.min | round)-\(.max | round))") | \(g("nft") | "\(.median | round) (\(.min | round)-\(.max | round))") | \(g("iptables-restore") | "\(.median | round) (\(.min | round)-\(.max | round))") | \(g("lbagent").median / g("nft").median | f2)x |"),
		    "" end),
		  ([$all[] | select(.scenario == "stateful")] as $st |
		   if ($st | length) == 0 then empty else
		    "## 3. Stateful: Mpps received at the veth",
		    "",
		    "replies: 100,000 UDP flows seeded outbound from P (one datagram each, through lbagent`s TC egress",
		    "program or nftables conntrack), then their replies from G, policy default deny. new: 1,000,000",
		    "flows never seen before, allowed by a rule (nftables creates a conntrack entry for each).",
		    "",
		    "| traffic | lbagent | nftables conntrack (inet input) | lbagent / nft | reached UDP (lbagent, nft) |",
		    "|---|---:|---:|---:|---:|",
		    (["replies", "new"][] as $tr |
		      def g($t): $st | map(select(.tool == $t and .traffic == $tr)) | .[0];
		      "| \($tr) | \(g("lbagent-ct") | cell) | \(g("nft-ct") | cell) | \(g("lbagent-ct").median / g("nft-ct").median | f2)x | \(g("lbagent-ct").to_udp * 100 | round)%, \(g("nft-ct").to_udp * 100 | round)% |"),
		    "" end)
	JQ
}

# ---- main ----

for b in "$LBGEN" "$LBAGENT"; do
	[ -x "$b" ] || { log "no $b: build first (make O=$BUILD)"; exit 1; }
done
for c in xdp-filter nft iptables-restore bpftool jq nstat; do
	command -v "$c" >/dev/null || { log "$c missing (make deps)"; exit 1; }
done
mkdir -p "$OUT" "$WORK/state" && mount -t bpf bpf "$BPFFS" || { log "no private bpffs"; exit 1; }
topo_up || { log "setting up the namespaces failed"; exit 1; }
# The stack needs NAPI on p0 for redirected frames: a sink with GRO on, all along.
nsenter --net=/run/netns/$NS_P "$LBGEN" sink --dev p0 --mode stack --duration 3000 --ready "$WORK/stack.ready" \
	>/dev/null 2>"$WORK/stack.err" &
STACK_PID=$!
wait_ready "$WORK/stack.ready" $STACK_PID || { cat "$WORK/stack.err" >&2; exit 1; }
: >"$RAW"
rc=0
t0=$SECONDS
for s in $SCENARIOS; do
	"scen_$s" || rc=1
done
log "all scenarios: $((SECONDS - t0)) s"
summarise >"$WORK/sum.json" && report || rc=1
exit $rc
