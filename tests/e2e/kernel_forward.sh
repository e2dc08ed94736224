#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ncx forward` against a real kernel: Debian's stock kernel boots under QEMU (TCG) and
# runs its own netconsole (extended, source port 6665) and `ncx forward -p 6665` (this
# tree's -O2 build, with its libraries), both to one ncxd on this host's loopback. Slirp
# gives both flows the same host-side source, so ncxd sees one sender: the two copies
# of a record must become one record with the kernel's seq, and ncxd's acks must reach
# the forwarder. tests/qemu/init-forward says what the guest does; in short:
#  1. markers at every level (debug ones only the forwarder sends) land exactly once,
#     with the seq the guest's /dev/kmsg gave them, level and text;
#  2. the forwarder is stopped while the kernel's log buffer is overrun (odd flood
#     records info, even ones debug); on SIGCONT it reports the exact count the kernel
#     dropped (seq before+1 .. oldest-1) and carries on. In ncxd's file the dropped
#     range holds the info records (netconsole sent them at the time) and, for the
#     debug ones, which no copy carried, gap events `lost` (the sender is reliable) that
#     cover exactly those seqs; the rest of the flood is there once each. The forwarder
#     answers ncxd's requests for the dropped ones with ncgone placeholders, so those
#     gaps close at once: ncxd acks past the flood before the guest stops the forwarder.
# Nothing else may be in the file for this sender: no other gap (the boot log is
# complete), no reboot, no drop. Exit 77: no QEMU or kernel there. One boot per kernel
# tests/qemu/kernels lists (Debian's 6.1 and 6.12), 10-20 s each under TCG: this script
# runs itself again for each, with NCX_KERNEL="RELEASE ROOT HEADERS" (set it to run one).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
[ -x "$NCX_MAIN_BIN/ncx" ] || fail "$NCX_MAIN_BIN/ncx not built (make main-bins)"
[ -x "$NCX_BIN/ncxd" ] || fail "$NCX_BIN/ncxd not built"
. "$NCX_TOP/tests/support/each_kernel.sh"

"$qemu/mkinitramfs" "$T/guest" "$krel" "$kroot" "$NCX_MAIN_BIN/ncx" || fail "mkinitramfs"
note "kernel $krel from $kroot"

port=$(free_port)
bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/logs" --threads 1 >"$T/ncxd.out" 2>"$T/ncxd.err"
ncxd=$!
wait_udp_bound "$port" || fail "ncxd did not bind 127.0.0.1:$port: $(cat "$T/ncxd.err")"

# Debian's log buffer is 128 KiB (CONFIG_LOG_BUF_SHIFT=17; log_buf_len= can only make
# it bigger): 300 records of ~750 bytes are ~220 KiB, so well over a hundred are dropped.
tag=t$$x$RANDOM flood=300 pad=700
note "tag $tag, netconsole and ncx forward -> 127.0.0.1:$port, flood $flood x $pad bytes"
start=$(date +%s%N)
# ipv6.disable=1: IPv6's "eth0: link becomes ready" comes a second after the link is up,
# at no fixed point; any record logged during the flood would shift its seqs.
NCX_QEMU_APPEND="ncx_mode=forward ncx_flood=$flood ncx_pad=$pad ipv6.disable=1" \
	"$qemu/boot" "$T/guest" "$port" 0 "$tag" "$T/serial.log" "$T/report.log"
rc=$?
note "qemu exited $rc after $(awk -v t="$(($(date +%s%N) - start))" 'BEGIN { printf "%.1f", t / 1e9 }') s ($krel)"
tr -d '\r' <"$T/report.log" >"$T/report" 2>/dev/null # a tty ends lines with \r\n
if [ "$rc" -ne 0 ] || ! grep -qx "done $tag" "$T/report"; then
	echo "--- serial console (last 30 lines):"
	tail -30 "$T/serial.log" | cut -c1-200
	echo "--- report (last 30 lines):"
	tail -30 "$T/report" | cut -c1-200
	fail "the guest did not finish (qemu status $rc)"
fi

# The guest waited until ncxd had acked past the flood: the forwarder answered ncxd's
# requests for the dropped debug records with ncgone placeholders, so those holes closed
# at once as lost gaps and everything behind them was written then, not held for the
# 30 s hole timeout. SIGTERM writes nothing more for a reliable sender (what it holds
# behind a hole is left to the sender): the file must be complete already.
grep -q '^acked ' "$T/report" || fail "the guest did not report the acks past the flood"
kill -TERM "$ncxd"
wait "$ncxd" || fail "ncxd exited $? on SIGTERM: $(cat "$T/ncxd.err")"
log=$(echo "$T"/logs/127.0.0.1/*.log)
[ -f "$log" ] || fail "ncxd wrote no file for 127.0.0.1: $(ls -R "$T/logs")"

# ---- the forwarder's own account ----------------------------------------------
grep '^fwd ' "$T/report" | cut -c5- >"$T/fwd.err"
echo "--- ncx forward in the guest:"
cat "$T/fwd.err"
grep -qx 'fwd-exit 0' "$T/report" || fail "ncx forward did not exit 0: $(grep '^fwd-exit' "$T/report")"
read -r _ s o last < <(grep '^flood ' "$T/report") || fail "no flood line from the guest"
# Seqs are dense: if the last flood record is before+flood, every flood record i has
# seq before+i, the dropped ones included (no other record came in between).
[ "$last" -eq $((s + flood)) ] ||
	fail "flood seqs $((s + 1))..$last are not the $flood flood records (another record came between)"
[ "$o" -gt $((s + 1)) ] || fail "the flood did not overrun the kernel's buffer (oldest $o, before $s)"
# The kernel dropped before+1 .. oldest-1: the forwarder had read "before" (acked), and
# nothing was logged after the guest read the oldest seq and before it let it go on.
read -r n a b < <(sed -n 's/.*the kernel dropped \([0-9]*\) records (seq \([0-9]*\)\.\.\([0-9]*\)).*/\1 \2 \3/p' \
	"$T/fwd.err") || fail "no report of the kernel's drop"
[ "$a" -eq $((s + 1)) ] && [ "$b" -eq $((o - 1)) ] && [ "$n" -eq $((o - s - 1)) ] ||
	fail "drop reported as $n (seq $a..$b), want $((o - s - 1)) (seq $((s + 1))..$((o - 1)))"
grep -q "the kernel dropped $n in 1 gaps\$" "$T/fwd.err" || fail "exit statistics disagree on the drop"
read -r resent emg responses < <(sed -n \
	's/.*; resent \([0-9]*\) on request, \([0-9]*\) in emergency .*; \([0-9]*\) responses, .*/\1 \2 \3/p' \
	"$T/fwd.err") || fail "no statistics from ncx forward -v"
[ "$responses" -gt 0 ] || fail "the forwarder got no responses from ncxd"
# No resend storm: no emergency (10 s unacked: the guest stops the forwarder seconds
# after the flood); the stream-start hold may retry the first record as ncemg, requests
# may ask again for what was in flight, but all that stays below one resend per record.
read -r sent emgs < <(sed -n 's/.*: sent \([0-9]*\) records in .*(\([0-9]*\) emergencies).*/\1 \2/p' \
	"$T/fwd.err")
[ "$emgs" -eq 0 ] && [ $((resent + emg)) -le "$sent" ] ||
	fail "resend storm: $resent resent on request, $emg in $emgs emergencies, for $sent records"

note "ok: the forwarder saw the kernel drop $n records (seq $a..$b), exactly; $responses responses"

# ---- the merged stream at ncxd --------------------------------------------------
# want: "SEQ LEVEL TEXT" for every record of ours ncxd must hold once: the markers as
# the guest's /dev/kmsg numbered them, and the flood records some copy carried: every
# info one, and the debug ones the kernel still held when the forwarder read again.
names=(emerg alert crit err warn notice info debug)
x=$(printf 'x%.0s' $(seq "$pad"))
{
	sed -n 's/^kmsg \([0-9]*\),\([0-9]*\),[^;]*;\(.*\)$/\1 \2 \3/p' "$T/report" |
		while read -r pri seq text; do echo "$seq ${names[$((pri & 7))]} $text"; done
	for ((i = 1; i <= flood; i++)); do
		if ((i % 2)); then
			echo "$((s + i)) info ncx-qemu-fwd $tag flood $i $x"
		elif ((s + i >= o)); then
			echo "$((s + i)) debug ncx-qemu-fwd $tag flood $i $x"
		fi
	done
} | sort >"$T/want"
# lost: the seqs no copy carried, the dropped debug records.
for ((i = 2; s + i < o; i += 2)); do echo $((s + i)); done >"$T/want.lost"
[ "$(grep -c " ncx-qemu-fwd $tag level " "$T/want")" -eq 8 ] || fail "the guest reported no 8 level markers"

# got: ncxd's lines "TIME LEVEL [ SEC.USEC] TEXT seq=SEQ" for our records, and every
# event line "TIME ncx: ...", gaps as the seqs they cover.
ts='\[ *[0-9]*\.[0-9]*\]'
sed -n "s/^[^ ]* \([a-z]*\) $ts \(ncx-qemu-fwd $tag .*\) seq=\([0-9]*\)\$/\3 \1 \2/p" "$log" |
	sort >"$T/got"
grep '^[^ ]* ncx: ' "$log" >"$T/events"
sed -n 's/^[^ ]* ncx: gap seq=\([0-9]*\)\.\.\([0-9]*\) count=[0-9]* lost$/\1 \2/p' "$T/events" |
	while read -r g1 g2; do seq "$g1" "$g2"; done >"$T/got.lost"
note "ncxd: $(wc -l <"$T/got") records of ours, $(wc -l <"$T/events") events:" \
	"$(cut -d' ' -f3- "$T/events" | head -3 | tr '\n' ';') ..."

bad=0
if ! cmp -s "$T/want" "$T/got"; then
	echo "records: want (<) vs ncxd (>): missing, doubled, or with another seq or level:"
	diff "$T/want" "$T/got" | cut -c1-160 | head -20
	bad=1
fi
if ! cmp -s "$T/want.lost" "$T/got.lost"; then
	echo "lost seqs: want (<) vs ncxd's gap events (>):"
	diff "$T/want.lost" "$T/got.lost" | head -20
	bad=1
fi
# Every event is one of those gaps: no "not received" (the boot log came whole), no
# reboot (netconsole's replay and the forwarder's resend of old seqs are duplicates),
# no dropped records.
if grep -v ' ncx: gap seq=[0-9.]* count=[0-9]* lost$' "$T/events"; then
	echo "events other than the lost debug records (above)"
	bad=1
fi
if [ "$bad" -ne 0 ]; then
	cat "$T/ncxd.err"
	fail "ncxd's file is not the merged stream it must be"
fi
note "ok: $(wc -l <"$T/want") records each once with the kernel's seq (markers at 8 levels," \
	"special bytes, ncfrag pieces, $flood flood records minus the $(wc -l <"$T/want.lost") dropped" \
	"debug ones); those $(wc -l <"$T/want.lost") exactly as lost gaps; no other event"
