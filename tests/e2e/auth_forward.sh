# SPDX-License-Identifier: MIT
# Issue #10 with `ncx forward` on this machine's real /dev/kmsg: ncxd requires
# tags (--auth-key SECRET --require-auth); the forwarder, with the key ncx key
# derives for 127.0.0.1 (read before its sandbox closes the files), gets
# marker records through, tagged; its stream id is the boot id's first 16 hex
# digits; a restart within the boot keeps that id, and its records arrive too.
# Source port: a free one, not 6665, so nothing on the machine is disturbed.
# Exit 77 = skipped: not root (the test writes to /dev/kmsg).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (writes markers to /dev/kmsg)"; exit 77; }
[ -r /dev/kmsg ] && [ -w /dev/kmsg ] || { echo "skip: no /dev/kmsg"; exit 77; }

ncx=$NCX_BIN/ncx
tag=a$$x$RANDOM
src=$(free_port)
umask 077
"$ncx" key new -o "$T/secret" || fail "ncx key new failed"
"$ncx" key derive --secret "$T/secret" 127.0.0.1 >"$T/host.key" || fail "ncx key derive failed"

m=$T/metrics
start_ncxd ncxd -d "$T/logs" --threads 1 --auth-key "$T/secret" --require-auth \
	--metrics "$m" --metrics-interval 1
ncxd_pid=$pid
[ "$src" != "$port" ] || src=$(free_port)

marker() { printf '<14>ncx-auth-forward %s %s\n' "$tag" "$1" >/dev/kmsg; }
arrived() { cat "$T"/logs/127.0.0.1/*.log 2>/dev/null | grep -c " ncx-auth-forward $tag $1 " || true; }
want_id=$(tr -d '-' </proc/sys/kernel/random/boot_id | cut -c1-16)
[ "$want_id" != 0000000000000000 ] || want_id=0000000000000001

run_forward() { # NAME MARKER
	bg "$ncx" forward -t "127.0.0.1:$port" -p "$src" --state "$T/state" --from now \
		--auth-key "$T/host.key" -v >"$T/$1.out" 2>"$T/$1.err"
	local fwd=$!
	wait_udp_bound "$src" || fail "ncx forward did not bind $src: $(cat "$T/$1.err")"
	grep -q "stream id $want_id, datagrams tagged" "$T/$1.err" ||
		fail "$1: stream id not $want_id (the boot id's) or not tagged: $(cat "$T/$1.err")"
	marker "$2"
	wait_for 20 bash -c "cat '$T'/logs/127.0.0.1/*.log 2>/dev/null | grep -q ' ncx-auth-forward $tag $2 '" ||
		fail "$1: marker $2 did not arrive: $(cat "$T/$1.err")"
	kill -TERM "$fwd"
	wait "$fwd" || fail "$1: ncx forward exited $? on SIGTERM: $(cat "$T/$1.err")"
	grep -q ' 0 with a bad tag' "$T/$1.err" || fail "$1: responses with a bad tag: $(cat "$T/$1.err")"
}

run_forward fwd1 one
run_forward fwd2 two
[ "$(arrived one)" -eq 1 ] && [ "$(arrived two)" -eq 1 ] ||
	fail "markers not once each: one $(arrived one), two $(arrived two)"
wait_for 5 bash -c "grep -qx 'ncxd_auth_bad_total 0' '$m'" ||
	fail "ncxd counted bad tags: $(grep '^ncxd_auth' "$m" 2>&1)"
stop_ncxd ncxd
note "ok: tagged, stream id $want_id across a restart, both markers once"
