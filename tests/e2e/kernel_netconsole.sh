#!/usr/bin/env bash
# End-to-end against a real kernel: Debian's stock kernel boots under QEMU (TCG) and
# its own netconsole module sends to receivers on this host's loopback, one for an
# extended target and one for a legacy target (tests/qemu/init says what it writes).
# Passes only if the guest said it was done and every marker record arrived: on the
# extended target with its level and strictly increasing seq, on the legacy one as
# text. Run by scripts/run-tests (NCX_BIN, NCX_TOP); exit 77 = skipped (no QEMU or
# kernel installed: scripts/deps with NCX_DEPS_QEMU=0).
set -u
top=${NCX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${NCX_BIN:-$top/build/asan/bin}
qemu=$top/tests/qemu

fail() { echo "FAIL: $*"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
ls /boot/vmlinuz-* >/dev/null 2>&1 || { echo "skip: no /boot/vmlinuz-* (linux-image-amd64)"; exit 77; }
[ -x "$bin/ncx" ] || fail "$bin/ncx not built"

tmp=$(mktemp -d /tmp/ncx-e2e-kernel.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$qemu/mkinitramfs" "$tmp/guest" || fail "mkinitramfs"
echo "kernel $(cat "$tmp/guest/version")"

# start_receiver NAME: `ncx listen` on a free high port of 127.0.0.1; sets $port and
# appends the pid. A port someone else holds makes ncx exit at once: try another.
start_receiver() {
	local name=$1 i pid
	for i in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 40000))
		"$bin/ncx" listen -l "127.0.0.1:$port" >"$tmp/$name.out" 2>"$tmp/$name.err" &
		pid=$!
		# Bound once ss lists it; still alive means the bind worked.
		for _ in $(seq 50); do
			ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			pids+=("$pid")
			return 0
		fi
		wait "$pid"
	done
	cat "$tmp/$name.err"
	fail "could not start ncx listen for $name"
}
start_receiver ext; ext_port=$port ext_pid=${pids[-1]}
start_receiver legacy; legacy_port=$port legacy_pid=${pids[-1]}

# A tag of its own for each run, so nothing stale can satisfy the checks.
tag=t$$x$RANDOM
echo "tag $tag, extended -> 127.0.0.1:$ext_port, legacy -> 127.0.0.1:$legacy_port"
start=$(date +%s)
"$qemu/boot" "$tmp/guest" "$ext_port" "$legacy_port" "$tag" "$tmp/serial.log"
rc=$?
echo "qemu exited $rc after $(($(date +%s) - start)) s"
# The serial console ends its lines with \r\n.
if [ "$rc" -ne 0 ] || ! tr -d '\r' <"$tmp/serial.log" | grep -qx "ncx-guest: done $tag"; then
	echo "--- serial console (last 40 lines):"
	tail -40 "$tmp/serial.log"
	fail "the guest did not finish (qemu status $rc)"
fi

# The guest waited a second before powering off; give the host side a moment too,
# then stop the receivers (SIGTERM: they print what they hold and exit 0).
sleep 0.5
for p in "$ext_pid" "$legacy_pid"; do
	kill -TERM "$p"
	wait "$p" || fail "ncx listen (pid $p) exited $? (see sanitizer output below)
$(cat "$tmp"/*.err)"
done
pids=()

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
} >"$tmp/want"

# ncx listen lines: "ADDR:PORT seq=SEQ LEVEL [ SEC.USEC] TEXT" and
# "ADDR:PORT legacy [ SEC.USEC] TEXT". Reduced to "SEQ LEVEL TEXT" and "TEXT".
sed -n 's/^[^ ]* seq=\([0-9]*\) \([a-z]*\) \[ *[0-9]*\.[0-9]*\] \(.*\)$/\1 \2 \3/p' \
	"$tmp/ext.out" >"$tmp/ext.recs"
sed -n 's/^[^ ]* legacy \[ *[0-9]*\.[0-9]*\] \(.*\)$/\1/p' "$tmp/legacy.out" >"$tmp/legacy.recs"
echo "received: $(wc -l <"$tmp/ext.recs") extended records, $(wc -l <"$tmp/legacy.recs") legacy"

bad=0
while IFS= read -r w; do
	if ! cut -d' ' -f2- "$tmp/ext.recs" | grep -qxF -- "$w"; then
		echo "missing on the extended target: $w"
		bad=1
	fi
	if ! grep -qxF -- "${w#* }" "$tmp/legacy.recs"; then
		echo "missing on the legacy target: ${w#* }"
		bad=1
	fi
done <"$tmp/want"

# Seq strictly increasing over everything the extended target got (the boot log
# replay, then the markers, in the order they were written).
if ! awk 'NR > 1 && $1 <= prev { print "seq " $1 " after " prev; bad = 1 } { prev = $1 }
	END { exit bad }' "$tmp/ext.recs"; then
	bad=1
fi
# The markers among them in the order the guest wrote them.
cut -d' ' -f2- "$tmp/ext.recs" | grep -xF -f "$tmp/want" >"$tmp/ext.order"
if ! cmp -s "$tmp/ext.order" "$tmp/want"; then
	echo "extended markers out of order (or duplicated):"
	diff "$tmp/want" "$tmp/ext.order" | head -20
	bad=1
fi

if [ "$bad" -ne 0 ]; then
	echo "--- extended receiver (last 20 lines):"
	tail -20 "$tmp/ext.out" | cut -c1-200
	echo "--- legacy receiver (last 20 lines):"
	tail -20 "$tmp/legacy.out" | cut -c1-200
	fail "records missing or wrong"
fi
echo "ok: all $(wc -l <"$tmp/want") markers on both targets, levels and seq right"
