#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ncx forward while its receiver is down: markers written to /dev/kmsg with no
# receiver listening arrive once ncxd comes up (tx's emergency mode resends what
# nobody acked), each with the kernel's seq, and the forwarder never gave up.
# About 15 s: the receiver stays down past the 10 s emergency threshold.
# Exit 77 = skipped: not root (the test writes to /dev/kmsg).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (writes markers to /dev/kmsg)"; exit 77; }
[ -r /dev/kmsg ] && [ -w /dev/kmsg ] || { echo "skip: no /dev/kmsg"; exit 77; }
[ -x "$NCX_BIN/ncx" ] && [ -x "$NCX_BIN/ncxd" ] || fail "ncx or ncxd not built in $NCX_BIN"

tag=t$$x$RANDOM
port=$(free_port)
src=$(free_port)
[ "$src" != "$port" ] || src=$(free_port)

# Only what is logged from now on: the test is about the markers.
bg "$NCX_BIN/ncx" forward -t "127.0.0.1:$port" -p "$src" --state "$T/state" --from now -v \
	>"$T/fwd.out" 2>"$T/fwd.err"
fwd=$!
wait_udp_bound "$src" || fail "ncx forward did not bind $src: $(cat "$T/fwd.err")"

for i in 1 2 3; do printf '<14>ncx-forward-down %s %d\n' "$tag" "$i" >/dev/kmsg; done
dd if=/dev/kmsg iflag=nonblock bs=16384 2>/dev/null |
	sed -n "s/^[0-9]*,\([0-9]*\),[^;]*;\(ncx-forward-down $tag .*\)\$/\2 seq=\1/p" >"$T/want"
[ "$(wc -l <"$T/want")" -eq 3 ] || fail "the kernel did not keep our 3 markers"

note "receiver down; waiting past the emergency threshold"
sleep 12
kill -0 "$fwd" 2>/dev/null || fail "ncx forward gave up while the receiver was down: $(cat "$T/fwd.err")"
[ -e "$T/logs" ] && fail "something wrote $T/logs before ncxd ran"

bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/logs" --threads 1 >"$T/ncxd.out" 2>"$T/ncxd.err"
ncxd=$!
wait_udp_bound "$port" || fail "ncxd did not bind $port: $(cat "$T/ncxd.err")"

# arrived: every "TEXT seq=N" wanted ends one of ncxd's lines.
arrived() {
	while IFS= read -r w; do
		grep -qF -- "] $w" "$T"/logs/127.0.0.1/*.log 2>/dev/null || return 1
	done <"$T/want"
}
wait_for 30 arrived || {
	cat "$T/fwd.err"
	fail "markers did not arrive after the receiver came up"
}
kill -TERM "$fwd"
wait "$fwd" || fail "ncx forward exited $? on SIGTERM: $(cat "$T/fwd.err")"
emg=$(sed -n 's/.*, \([0-9]*\) in emergency .*/\1/p' "$T/fwd.err")
[ -n "$emg" ] && [ "$emg" -gt 0 ] || fail "no emergency resends counted: $(cat "$T/fwd.err")"
while IFS= read -r w; do
	n=$(cat "$T"/logs/127.0.0.1/*.log | grep -cF -- "] $w")
	[ "$n" -eq 1 ] || fail "'$w' at ncxd $n times, not once"
done <"$T/want"
kill -TERM "$ncxd"
wait "$ncxd" || fail "ncxd exited $? on SIGTERM"
note "ok: 3 markers arrived after the receiver came up ($emg emergency resends)"
