#!/usr/bin/env bash
# End-to-end against a real kernel: Debian's stock kernel boots under QEMU (TCG) and
# its own netconsole module sends to receivers on this host's loopback, one for an
# extended target and one for a legacy target (tests/qemu/init says what it writes).
# Passes only if the guest said it was done and every marker record arrived: on the
# extended target with its level and strictly increasing seq, on the legacy one as
# text. Exit 77 = skipped: no QEMU or kernel installed (scripts/deps with
# NCX_DEPS_QEMU=0). About 10 s of emulated boot.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
qemu=$NCX_TOP/tests/qemu

command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "skip: no /boot/vmlinuz-* (linux-image-amd64)"; exit 77; }
[ -x "$NCX_BIN/ncx" ] || fail "$NCX_BIN/ncx not built"

"$qemu/mkinitramfs" "$T/guest" || fail "mkinitramfs"
note "kernel $(cat "$T/guest/version")"

# One receiver per target, so each output holds one target's records.
ext_port=$(free_port)
bg "$NCX_BIN/ncx" listen -l "127.0.0.1:$ext_port" >"$T/ext.out" 2>"$T/ext.err"
ext_pid=$!
legacy_port=$(free_port)
[ "$legacy_port" != "$ext_port" ] || legacy_port=$(free_port)
bg "$NCX_BIN/ncx" listen -l "127.0.0.1:$legacy_port" >"$T/legacy.out" 2>"$T/legacy.err"
legacy_pid=$!
wait_udp_bound "$ext_port" || fail "ncx listen did not bind 127.0.0.1:$ext_port: $(cat "$T/ext.err")"
wait_udp_bound "$legacy_port" || fail "ncx listen did not bind 127.0.0.1:$legacy_port: $(cat "$T/legacy.err")"

# A tag of its own for each run, so nothing stale can satisfy the checks.
tag=t$$x$RANDOM
note "tag $tag, extended -> 127.0.0.1:$ext_port, legacy -> 127.0.0.1:$legacy_port"
start=$(date +%s)
"$qemu/boot" "$T/guest" "$ext_port" "$legacy_port" "$tag" "$T/serial.log"
rc=$?
note "qemu exited $rc after $(($(date +%s) - start)) s"
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
	wait "$p" || fail "ncx listen (pid $p) exited $? on SIGTERM: $(cat "$T"/*.err)"
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
	echo "notice ncx-qemu-test $tag special tab[\\x09] backslash[\\x5c] utf8[\\xc3\\xa9] bel[\\x07]"
	echo "info ncx-qemu-test $tag long $e $d"
	echo "info ncx-qemu-test $tag done"
} >"$T/want"

# ncx listen lines: "ADDR:PORT seq=SEQ LEVEL [ SEC.USEC] TEXT" and
# "ADDR:PORT legacy [ SEC.USEC] TEXT". Reduced to "SEQ LEVEL TEXT" and "TEXT".
sed -n 's/^[^ ]* seq=\([0-9]*\) \([a-z]*\) \[ *[0-9]*\.[0-9]*\] \(.*\)$/\1 \2 \3/p' \
	"$T/ext.out" >"$T/ext.recs"
sed -n 's/^[^ ]* legacy \[ *[0-9]*\.[0-9]*\] \(.*\)$/\1/p' "$T/legacy.out" >"$T/legacy.recs"
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
	echo "--- extended receiver (last 20 lines):"
	tail -20 "$T/ext.out" | cut -c1-200
	echo "--- legacy receiver (last 20 lines):"
	tail -20 "$T/legacy.out" | cut -c1-200
	fail "records missing or wrong"
fi
note "ok: all $(wc -l <"$T/want") markers on both targets, levels and seq right"
