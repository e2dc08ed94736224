#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ncx forward on this machine's real /dev/kmsg: marker records written to /dev/kmsg
# reach ncxd with the kernel's own seq and level, exactly once; a forwarder restarted
# with the same state file resumes after what was acked (it sends none of the old
# records again: its first record is a new one); without CAP_SYSLOG (when
# kernel.dmesg_restrict is 1) it exits 77 with a line that says so.
# Source port: a free one, not 6665, so nothing on the machine is disturbed.
# Exit 77 = skipped: not root (the test writes to /dev/kmsg).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (writes markers to /dev/kmsg)"; exit 77; }
[ -r /dev/kmsg ] && [ -w /dev/kmsg ] || { echo "skip: no /dev/kmsg"; exit 77; }
[ -x "$NCX_BIN/ncx" ] && [ -x "$NCX_BIN/ncxd" ] || fail "ncx or ncxd not built in $NCX_BIN"

names=(emerg alert crit err warn notice info debug)
tag=t$$x$RANDOM
port=$(free_port)
src=$(free_port)
[ "$src" != "$port" ] || src=$(free_port)

# marker BATCH N LEVEL: one record, facility user; the newline makes the kernel
# store it at once (without one it waits for the next write).
marker() { printf '<%d>ncx-forward-test %s %s %d\n' $((8 + $3)) "$tag" "$1" "$2" >/dev/kmsg; }

# kernel_view: our markers as the kernel numbered them, one "SEQ LEVEL TEXT" a line.
# Each read() of /dev/kmsg is one record; nonblocking, so dd stops at the end.
kernel_view() {
	dd if=/dev/kmsg iflag=nonblock bs=16384 2>/dev/null |
		sed -n "s/^\([0-9]*\),\([0-9]*\),[^;]*;\(ncx-forward-test $tag .*\)\$/\2 \1 \3/p" |
		while read -r seq pri text; do echo "$seq ${names[$((pri & 7))]} $text"; done
}

# received: what ncxd wrote for our markers, "SEQ LEVEL TEXT", from its lines
#   TIME LEVEL [ SEC.USEC] TEXT seq=SEQ
ts='\[ *[0-9]*\.[0-9]*\]'
received() {
	cat "$T"/logs/127.0.0.1/*.log 2>/dev/null |
		sed -n "s/^[^ ]* \([a-z]*\) $ts \(ncx-forward-test $tag .*\) seq=\([0-9]*\)\$/\3 \1 \2/p"
}

# all_arrived WANTFILE: every wanted line is in ncxd's files.
all_arrived() {
	received >"$T/got"
	while IFS= read -r w; do grep -qxF -- "$w" "$T/got" || return 1; done <"$1"
}

start_forward() { # NAME
	bg "$NCX_BIN/ncx" forward -t "127.0.0.1:$port" -p "$src" --state "$T/state" -v \
		>"$T/$1.out" 2>"$T/$1.err"
	fwd=$!
	wait_udp_bound "$src" || fail "ncx forward did not bind $src: $(cat "$T/$1.err")"
}

stop_forward() { # NAME
	kill -TERM "$fwd"
	wait "$fwd" || fail "ncx forward exited $? on SIGTERM: $(cat "$T/$1.err")"
}

# ---- without privileges ------------------------------------------------------
if [ "$(cat /proc/sys/kernel/dmesg_restrict)" = 1 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		"$NCX_BIN/ncx" forward -t "127.0.0.1:$port" -p "$src" --state none \
		>"$T/noperm.out" 2>"$T/noperm.err"
	rc=$?
	[ "$rc" -eq 77 ] || fail "unprivileged ncx forward exited $rc, not 77: $(cat "$T/noperm.err")"
	grep -q "cannot read /dev/kmsg: permission denied (needs CAP_SYSLOG" "$T/noperm.err" ||
		fail "unprivileged ncx forward did not name CAP_SYSLOG: $(cat "$T/noperm.err")"
	note "ok: without CAP_SYSLOG: exit 77 and the CAP_SYSLOG line"
else
	note "kernel.dmesg_restrict is not 1 (or no setpriv): anyone may read /dev/kmsg here;" \
		"the permission check is not exercised"
fi

# ---- first run ---------------------------------------------------------------
bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/logs" --threads 1 >"$T/ncxd.out" 2>"$T/ncxd.err"
ncxd=$!
wait_udp_bound "$port" || fail "ncxd did not bind $port: $(cat "$T/ncxd.err")"

start_forward fwd1
for l in 3 4 5 6 7; do marker a "$l" "$l"; done
kernel_view >"$T/want1"
[ "$(wc -l <"$T/want1")" -eq 5 ] || fail "the kernel did not keep our 5 markers: $(cat "$T/want1")"
note "kernel seqs of the first markers: $(cut -d' ' -f1 "$T/want1" | tr '\n' ' ')"
wait_for 20 all_arrived "$T/want1" || {
	cat "$T/fwd1.err"
	fail "first markers missing at ncxd (have: $(received))"
}
stop_forward fwd1
max1=$(cut -d' ' -f1 "$T/want1" | sort -n | tail -1)
acked=$(sed -n 's/^acked \([0-9]*\)$/\1/p' "$T/state")
[ -n "$acked" ] && [ "$acked" -ge "$max1" ] ||
	fail "state file acked '${acked}' not at or past seq $max1: $(cat "$T/state" 2>&1)"
grep -qx "boot_id $(cat /proc/sys/kernel/random/boot_id)" "$T/state" ||
	fail "state file without this boot's id: $(cat "$T/state")"

# ---- markers while no forwarder runs, then a restart -------------------------
for l in 4 6; do marker b "$l" "$l"; done
kernel_view | grep " ncx-forward-test $tag b " >"$T/want2"
[ "$(wc -l <"$T/want2")" -eq 2 ] || fail "the kernel did not keep our 2 markers"
start_forward fwd2
for l in 5 7; do marker c "$l" "$l"; done
kernel_view | grep " ncx-forward-test $tag c " >>"$T/want2"
wait_for 20 all_arrived "$T/want2" || {
	cat "$T/fwd2.err"
	fail "markers after the restart missing at ncxd (have: $(received))"
}
stop_forward fwd2

# The restart resumed after the acked seq and its first record was a new one:
# nothing of the first run was sent again (ncxd would drop a duplicate quietly,
# so its files alone could not show it).
grep -q "resuming after seq $acked " "$T/fwd2.err" || fail "no resume line: $(cat "$T/fwd2.err")"
first2=$(sed -n 's/.*first record forwarded: seq=\([0-9]*\)$/\1/p' "$T/fwd2.err")
[ -n "$first2" ] && [ "$first2" -gt "$max1" ] ||
	fail "second run's first record seq '$first2' is not after the first run's $max1"

# Every marker exactly once, with the kernel's seq and level.
received >"$T/got"
cat "$T/want1" "$T/want2" >"$T/want"
while IFS= read -r w; do
	n=$(grep -cxF -- "$w" "$T/got")
	[ "$n" -eq 1 ] || fail "'$w' at ncxd $n times, not once"
done <"$T/want"
[ "$(wc -l <"$T/got")" -eq "$(wc -l <"$T/want")" ] ||
	fail "ncxd has $(wc -l <"$T/got") marker lines for $(wc -l <"$T/want") markers"
kill -TERM "$ncxd"
wait "$ncxd" || fail "ncxd exited $? on SIGTERM"
note "ok: $(wc -l <"$T/want") markers, each once with its kernel seq and level; resumed after seq $acked"
