#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# module_verify.sh - `lbagent module verify` and `module pack` on the firewall
# artifact the build made: summaries (text and JSON), the SHA-512 option,
# corrupt and hostile files, exit statuses, reproducible packing, and that
# neither command touches bpffs.  Files only: no namespaces, no traffic.
. "$(dirname "$0")/../lib/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

ART=$(ls "$BUILD"/modules/firewall-*.lbm 2>/dev/null | head -1)
if [ -z "$ART" ]; then
	t_fail "the build made no firewall artifact under $BUILD/modules"
	exit 1
fi
VER=$(basename "$ART" .lbm)
VER=${VER#firewall-}
SHA=$(sha512sum "$ART" | cut -d' ' -f1)
M=$WORK/m
mkdir -p "$M"
# Private paths that must stay absent: verify and pack need no bpffs.
lbm() { "$LBAGENT_BIN" --bpffs "$WORK/nobpffs" --state-dir "$WORK/nostate" module "$@"; }

# rc_is N NAME CMD...: CMD exits with status N; its stderr lands in $WORK/err.
rc_is() {
	local want=$1 name=$2 rc
	shift 2
	"$@" >"$WORK/stdout" 2>"$WORK/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		t_pass "$name (exit $rc)"
	else
		t_fail "$name: exit $rc, expected $want"
		sed 's/^/    /' "$WORK/err" | head -5
	fi
}
# err_has NAME TEXT: the last rc_is printed TEXT on stderr, in one line.
err_has() {
	if grep -qF -- "$2" "$WORK/err" && [ "$(wc -l <"$WORK/err")" -eq 1 ]; then
		t_pass "$1: $(cat "$WORK/err")"
	else
		t_fail "$1: stderr lacks '$2' or is not one line: $(cat "$WORK/err")"
	fi
}

# ---- the real artifact -------------------------------------------------------
rc_is 0 "verify the built artifact" lbm verify "$ART"
check "text summary names the module and version" \
	grep -q "^  version      $VER\$" "$WORK/stdout"
check "text summary shows the hooks" grep -qE "xdp +-> lb_fw_xdp in fw_xdp.bpf.o" "$WORK/stdout"
check "text summary shows the hash" grep -q "sha512       $SHA" "$WORK/stdout"
check "text summary counts the self-tests" grep -q "self-tests   3" "$WORK/stdout"

lbm verify "$ART" --json >"$WORK/v.json"
check "--json is one JSON object" jq -e 'type == "object" and .valid == true' "$WORK/v.json"
check "--json: name, version, abi" jq -e --arg v "$VER" \
	'.name == "firewall" and .version == $v and .abi == 1' "$WORK/v.json"
check "--json: the sha512 is the file's" jq -e --arg s "$SHA" '.sha512 == $s' "$WORK/v.json"
check "--json: size is the file's" jq -e --argjson n "$(stat -c %s "$ART")" '.size == $n' \
	"$WORK/v.json"
check "--json: objects in manifest order with sizes" jq -e \
	'[.objects[].name] == ["fw_xdp.bpf.o", "fw_tc.bpf.o"] and all(.objects[]; .size > 1000)' \
	"$WORK/v.json"
check "--json: hooks" jq -e '[.hooks[] | "\(.hook)=\(.program)"] ==
	["xdp=lb_fw_xdp", "tc_egress=lb_fw_tc_egress"]' "$WORK/v.json"
check "--json: maps with layouts" jq -e \
	'(.maps | length) >= 20 and any(.maps[]; .name == "lb_ct_tcp" and .layout == 1)' \
	"$WORK/v.json"
check "--json: self-test vectors (ARP passes, malformed IPv4 drops)" jq -e \
	'[.selftests[] | "\(.hook):\(.expect)"] == ["xdp:pass", "xdp:drop", "xdp:drop"]' \
	"$WORK/v.json"
check "--json: kernel" jq -e '.kernel.min == "6.1" and (.kernel.features | index("btf"))' \
	"$WORK/v.json"
check "verify created no bpffs or state directory" \
	test ! -e "$WORK/nobpffs" -a ! -e "$WORK/nostate"

# ---- --sha512 ----------------------------------------------------------------
rc_is 0 "--sha512 of the file" lbm verify "$ART" --sha512 "$SHA"
rc_is 0 "--sha512 in upper case" lbm verify --sha512 "${SHA^^}" "$ART"
BAD=$(printf '%s' "$SHA" | tr '0-9a-f' '1-9a-f0')
rc_is 1 "--sha512 mismatch" lbm verify "$ART" --sha512 "$BAD"
err_has "mismatch names both hashes" "sha512 mismatch: expected ${BAD:0:16}..., got ${SHA:0:16}..."
rc_is 2 "--sha512 that is not 128 hex digits" lbm verify "$ART" --sha512 "${SHA:0:64}"
rc_is 2 "--sha512 with a non-hex digit" lbm verify "$ART" --sha512 "${SHA:0:127}g"
rc_is 2 "--sha512 without a value" lbm verify "$ART" --sha512

# ---- usage ---------------------------------------------------------------------
rc_is 2 "verify without a file" lbm verify
rc_is 2 "verify with two files" lbm verify "$ART" "$ART"
rc_is 2 "verify with an unknown option" lbm verify "$ART" --frobnicate
rc_is 2 "an unknown module command" lbm frobnicate "$ART"
check "verify --help explains the checks" bash -c \
	"'$LBAGENT_BIN' module verify --help | grep -q -- '--sha512 HEX'"
check "pack --help explains reproducibility" bash -c \
	"'$LBAGENT_BIN' module pack --help | grep -q 'reproducible'"
check "lbagent --help lists module" bash -c "'$LBAGENT_BIN' --help | grep -q '^  module '"

# ---- corrupt files ---------------------------------------------------------------
SIZE=$(stat -c %s "$ART")
rc_is 1 "a missing file" lbm verify "$M/nope.lbm"
err_has "missing file named" "cannot open $M/nope.lbm"
: >"$M/empty.lbm"
rc_is 1 "an empty file" lbm verify "$M/empty.lbm"
err_has "empty file" "empty.lbm: empty file"
head -c $((SIZE / 2)) "$ART" >"$M/half.lbm"
rc_is 1 "a file cut in half" lbm verify "$M/half.lbm"
err_has "truncation reported" "half.lbm: truncated gzip stream"
head -c $((SIZE - 4)) "$ART" >"$M/short.lbm"
rc_is 1 "a file missing its last 4 bytes" lbm verify "$M/short.lbm"
# flip FILE OFFSET: xor one byte with 0x20.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0x20)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
cp "$ART" "$M/flip.lbm" && flip "$M/flip.lbm" $((SIZE / 2))
rc_is 1 "one byte flipped in the middle" lbm verify "$M/flip.lbm"
err_has "corruption reported" "flip.lbm: corrupt gzip stream"
rc_is 1 "one byte flipped, checked by hash" lbm verify "$M/flip.lbm" --sha512 "$SHA"
err_has "the hash catches it first" "flip.lbm: sha512 mismatch"
# The gzip header's mtime is outside every checksum: only the hash sees it.
cp "$ART" "$M/mtime.lbm" && flip "$M/mtime.lbm" 5
rc_is 0 "a changed gzip mtime still unpacks" lbm verify "$M/mtime.lbm"
rc_is 1 "but not under the published hash" lbm verify "$M/mtime.lbm" --sha512 "$SHA"
{ cat "$ART"; printf 'garbage'; } >"$M/tail.lbm"
rc_is 1 "trailing garbage after the gzip stream" lbm verify "$M/tail.lbm"
err_has "trailing data reported" "7 bytes of trailing data"
rc_is 1 "a file that is not gzip" lbm verify "$BUILD/bpf/fw_xdp.bpf.o"
err_has "not gzip" "not a gzip file"

# ---- archives made by GNU tar ----------------------------------------------------
X=$WORK/x
mkdir -p "$X"
tar -xzf "$ART" -C "$X"
check "GNU tar lists manifest.json first" \
	bash -c "tar -tzf '$ART' | head -1 | grep -qx manifest.json"
check "GNU tar sees uid 0, mtime 0, mode 0644" \
	bash -c "tar --numeric-owner -tvzf '$ART' | grep -c '^-rw-r--r-- 0/0 .* 1970-01-01' | grep -qx 3"
(cd "$X" && tar --format=ustar -czf "$M/gnu.lbm" manifest.json fw_xdp.bpf.o fw_tc.bpf.o)
rc_is 0 "an archive GNU tar wrote verifies" lbm verify "$M/gnu.lbm"
ln -s fw_xdp.bpf.o "$X/link.o"
(cd "$X" && tar --format=ustar -czf "$M/symlink.lbm" manifest.json fw_xdp.bpf.o fw_tc.bpf.o link.o)
rc_is 1 "an archive with a symlink" lbm verify "$M/symlink.lbm"
err_has "symlink refused" "entry \"link.o\" is a symlink, not a regular file"
mkdir -p "$X/sub" && cp "$X/fw_tc.bpf.o" "$X/sub/"
(cd "$X" && tar --format=ustar -czf "$M/subdir.lbm" manifest.json fw_xdp.bpf.o sub/fw_tc.bpf.o)
rc_is 1 "an archive with a subdirectory" lbm verify "$M/subdir.lbm"
err_has "directory refused" "directories are not allowed"
(cd "$X" && tar --format=ustar -czf "$M/order.lbm" fw_xdp.bpf.o manifest.json fw_tc.bpf.o)
rc_is 1 "an archive whose manifest is not first" lbm verify "$M/order.lbm"
err_has "order refused" "the first entry is \"fw_xdp.bpf.o\", not manifest.json"

# A corrupt object: e_machine 62 (x86-64) instead of 247 (BPF).
cp "$X/fw_xdp.bpf.o" "$X/good_xdp.o"
printf '\076' | dd of="$X/fw_xdp.bpf.o" bs=1 seek=18 conv=notrunc 2>/dev/null
(cd "$X" && tar --format=ustar -czf "$M/elf.lbm" manifest.json fw_xdp.bpf.o fw_tc.bpf.o)
rc_is 1 "an artifact with a non-BPF object" lbm verify "$M/elf.lbm"
err_has "ELF check names object and field" "elf.lbm: fw_xdp.bpf.o: e_machine is 62, not EM_BPF"

# ---- pack ------------------------------------------------------------------------
cp "$X/good_xdp.o" "$X/fw_xdp.bpf.o"
rc_is 0 "pack from the extracted parts" lbm pack --manifest "$X/manifest.json" \
	--object "$X/fw_xdp.bpf.o" --object "$X/fw_tc.bpf.o" -o "$M/re.lbm"
check "the repack is byte-identical (reproducible)" cmp "$ART" "$M/re.lbm"
rc_is 0 "pack with objects in another order" lbm pack --object "$X/fw_tc.bpf.o" \
	--manifest "$X/manifest.json" --object "$X/fw_xdp.bpf.o" --output "$M/re2.lbm"
check "same bytes again" cmp "$ART" "$M/re2.lbm"
check "the artifact is mode 0644" test "$(stat -c %a "$M/re.lbm")" = 644
check "no temporary file left" test ! -e "$M/re.lbm.tmp"
lbm pack --json --manifest "$X/manifest.json" --object "$X/fw_xdp.bpf.o" \
	--object "$X/fw_tc.bpf.o" -o "$M/re3.lbm" >"$WORK/p.json"
check "pack --json reports the hash" jq -e --arg s "$SHA" '.sha512 == $s' "$WORK/p.json"
sed 's/"version": "[^"]*"/"version": "1.02.0"/' "$X/manifest.json" >"$X/bad.json"
rc_is 1 "pack refuses a bad version" lbm pack --manifest "$X/bad.json" \
	--object "$X/fw_xdp.bpf.o" --object "$X/fw_tc.bpf.o" -o "$M/bad.lbm"
err_has "the refusal names file, field and value" \
	'bad.json: $.version: "1.02.0" is not semver (leading zero in minor)'
check "nothing written on failure" test ! -e "$M/bad.lbm" -a ! -e "$M/bad.lbm.tmp"
printf '\076' | dd of="$X/fw_xdp.bpf.o" bs=1 seek=18 conv=notrunc 2>/dev/null
rc_is 1 "pack refuses a non-BPF object" lbm pack --manifest "$X/manifest.json" \
	--object "$X/fw_xdp.bpf.o" --object "$X/fw_tc.bpf.o" -o "$M/bad.lbm"
err_has "pack runs the ELF checks" "fw_xdp.bpf.o: e_machine is 62"
rc_is 1 "pack without an object the manifest lists" lbm pack --manifest "$X/manifest.json" \
	--object "$X/fw_tc.bpf.o" -o "$M/bad.lbm"
err_has "missing object named" '$.objects[0]: "fw_xdp.bpf.o" was not given'
rc_is 2 "pack without -o" lbm pack --manifest "$X/manifest.json" --object "$X/fw_tc.bpf.o"
rc_is 2 "pack without --manifest" lbm pack --object "$X/fw_tc.bpf.o" -o "$M/bad.lbm"
rc_is 2 "pack with a stray argument" lbm pack --manifest "$X/manifest.json" -o "$M/b.lbm" x
check "pack created no bpffs or state directory" \
	test ! -e "$WORK/nobpffs" -a ! -e "$WORK/nostate"
