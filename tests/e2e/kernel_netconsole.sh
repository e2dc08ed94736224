#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end against a real kernel: Debian's stock kernel boots under QEMU (TCG) and
# its own netconsole module sends to receivers on this host's loopback, one for an
# extended target and one for a legacy target (tests/qemu/init says what it writes).
# Passes only if the guest said it was done and every marker record arrived: on the
# extended target with its level and strictly increasing seq, on the legacy one as
# text. Runs once per kernel tests/qemu/kernels lists (Debian's 6.1 and 6.12), each
# run this script again with NCX_KERNEL="RELEASE ROOT HEADERS" (set it to run one).
# Exit 77 = skipped: no QEMU or kernel there (scripts/deps with NCX_DEPS_QEMU=0).
# About 10 s of emulated boot per kernel.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/each_kernel.sh"

"$qemu/mkinitramfs" "$T/guest" "$krel" "$kroot" || fail "mkinitramfs"
note "kernel $krel from $kroot"

# The receiver: ncxd (default) or `ncx listen` (NCX_KERNEL_RX=listen), one per target,
# so each one's output holds one target's records.
rx=${NCX_KERNEL_RX:-ncxd}
case $rx in
listen) prog=ncx ;;
ncxd) prog=ncxd ;;
*) fail "NCX_KERNEL_RX=$rx: listen or ncxd" ;;
esac
[ -x "$NCX_BIN/$prog" ] || fail "$NCX_BIN/$prog not built"
start_rx() { # NAME PORT
	case $rx in
	listen) bg "$NCX_BIN/ncx" listen -l "127.0.0.1:$2" >"$T/$1.out" 2>"$T/$1.err" ;;
	ncxd) bg "$NCX_BIN/ncxd" -l "127.0.0.1:$2" -d "$T/$1.d" --threads 1 >"$T/$1.out" 2>"$T/$1.err" ;;
	esac
	wait_udp_bound "$2" || fail "$rx did not bind 127.0.0.1:$2: $(cat "$T/$1.err")"
}
# ext_records NAME: the extended target's records as "SEQ LEVEL TEXT";
# legacy_texts NAME: the legacy target's records as "TEXT". From the lines
#   ncx listen:  ADDR:PORT seq=SEQ LEVEL [ SEC.USEC] TEXT
#                ADDR:PORT legacy [ SEC.USEC] TEXT
#   ncxd, in DIR/127.0.0.1/DATE.log:
#                TIME LEVEL [ SEC.USEC] TEXT seq=SEQ
#                TIME [ SEC.USEC] TEXT
ts='\[ *[0-9]*\.[0-9]*\]'
ext_records() {
	case $rx in
	listen) sed -n "s/^[^ ]* seq=\([0-9]*\) \([a-z]*\) $ts \(.*\)\$/\1 \2 \3/p" "$T/$1.out" ;;
	ncxd) cat "$T/$1.d"/127.0.0.1/*.log |
		sed -n "s/^[^ ]* \([a-z]*\) $ts \(.*\) seq=\([0-9]*\)\$/\3 \1 \2/p" ;;
	esac
}
legacy_texts() {
	case $rx in
	listen) sed -n "s/^[^ ]* legacy $ts \(.*\)\$/\1/p" "$T/$1.out" ;;
	ncxd) cat "$T/$1.d"/127.0.0.1/*.log | sed -n "s/^[^ ]* $ts \(.*\)\$/\1/p" ;;
	esac
}

ext_port=$(free_port)
start_rx ext "$ext_port"
ext_pid=$!
legacy_port=$(free_port)
[ "$legacy_port" != "$ext_port" ] || legacy_port=$(free_port)
start_rx legacy "$legacy_port"
legacy_pid=$!

# A tag of its own for each run, so nothing stale can satisfy the checks.
tag=t$$x$RANDOM
note "$rx: tag $tag, extended -> 127.0.0.1:$ext_port, legacy -> 127.0.0.1:$legacy_port"
start=$(date +%s%N)
"$qemu/boot" "$T/guest" "$ext_port" "$legacy_port" "$tag" "$T/serial.log"
rc=$?
note "qemu exited $rc after $(awk -v t="$(($(date +%s%N) - start))" 'BEGIN { printf "%.1f", t / 1e9 }') s ($krel)"
# The serial console ends its lines with \r\n.
if [ "$rc" -ne 0 ] || ! tr -d '\r' <"$T/serial.log" | grep -qx "ncx-guest: done $tag"; then
	echo "--- serial console (last 40 lines):"
	tail -40 "$T/serial.log"
	fail "the guest did not finish (qemu status $rc)"
fi

# The guest waited a second before powering off; give the host side a moment too,
# then stop the receivers (SIGTERM: they print what they hold and exit 0).
sleep 0.5
for p in "$ext_pid" "$legacy_pid"; do
	kill -TERM "$p"
	wait "$p" || fail "$rx (pid $p) exited $? on SIGTERM: $(cat "$T"/*.err)"
done

# What the guest wrote (tests/qemu/init), as the receiver prints it: text escaped the
# kernel's way (\xNN for bytes < 0x20, >= 0x7f and backslash). One "LEVEL TEXT" a line.
e=$(printf '\\xc3\\xa9%.0s' $(seq 100))
d=$(printf '0123456789%.0s' $(seq 60))
n=(emerg alert crit err warn notice info debug)
{
	for l in 0 1 2 3 4 5 6 7; do
		echo "${n[$l]} ncx-qemu-test $tag level $l"
	done
	printf '%s\n' "notice ncx-qemu-test $tag special tab[\x09] backslash[\x5c] utf8[\xc3\xa9] bel[\x07]"
	echo "info ncx-qemu-test $tag long $e $d"
	echo "info ncx-qemu-test $tag done"
} >"$T/want"

ext_records ext >"$T/ext.recs"
legacy_texts legacy >"$T/legacy.recs"
note "received: $(wc -l <"$T/ext.recs") extended records, $(wc -l <"$T/legacy.recs") legacy"

bad=0
while IFS= read -r w; do
	if ! cut -d' ' -f2- "$T/ext.recs" | grep -qxF -- "$w"; then
		echo "missing on the extended target: $w"
		bad=1
	fi
	if ! grep -qxF -- "${w#* }" "$T/legacy.recs"; then
		echo "missing on the legacy target: ${w#* }"
		bad=1
	fi
done <"$T/want"

# Seq strictly increasing over everything the extended target got (the boot log
# replay, then the markers, in the order they were written).
if ! awk 'NR > 1 && $1 <= prev { print "seq " $1 " after " prev; bad = 1 } { prev = $1 }
	END { exit bad }' "$T/ext.recs"; then
	bad=1
fi
# The markers among them in the order the guest wrote them.
cut -d' ' -f2- "$T/ext.recs" | grep -xF -f "$T/want" >"$T/ext.order"
if ! cmp -s "$T/ext.order" "$T/want"; then
	echo "extended markers out of order (or duplicated):"
	diff "$T/want" "$T/ext.order" | head -20
	bad=1
fi

if [ "$bad" -ne 0 ]; then
	echo "--- extended target, as parsed (last 20):"
	tail -20 "$T/ext.recs" | cut -c1-200
	echo "--- legacy target, as parsed (last 20):"
	tail -20 "$T/legacy.recs" | cut -c1-200
	cat "$T"/*.err
	fail "records missing or wrong"
fi
note "ok: all $(wc -l <"$T/want") markers on both targets, levels and seq right"
