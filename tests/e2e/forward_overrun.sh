#!/usr/bin/env bash
# ncx forward when the kernel overwrites records before it reads them (/dev/kmsg's
# EPIPE): the forwarder is stopped (SIGSTOP), more than the kernel's whole log buffer
# is written to /dev/kmsg, and on SIGCONT it must report the exact count the kernel
# dropped (the seq jump from the last record it read to the oldest one left), go on
# forwarding, and deliver the markers written after the flood with their kernel seq.
#
# Opt-in: the flood overwrites this machine's kernel log (the boot messages are gone
# from dmesg afterwards). Run with NCX_E2E_KMSG_FLOOD=1; skipped (77) otherwise.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"

[ "${NCX_E2E_KMSG_FLOOD:-}" = 1 ] ||
	{ echo "skip: overwrites the kernel log; set NCX_E2E_KMSG_FLOOD=1 to run"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (writes to /dev/kmsg)"; exit 77; }
[ -x "$NCX_BIN/ncx" ] && [ -x "$NCX_BIN/ncxd" ] || fail "ncx or ncxd not built in $NCX_BIN"

tag=t$$x$RANDOM
port=$(free_port)
src=$(free_port)
[ "$src" != "$port" ] || src=$(free_port)

bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/logs" -t 1 >"$T/ncxd.out" 2>"$T/ncxd.err"
wait_udp_bound "$port" || fail "ncxd did not bind $port: $(cat "$T/ncxd.err")"
bg "$NCX_BIN/ncx" forward -t "127.0.0.1:$port" -p "$src" --state none --from now -v \
	>"$T/fwd.out" 2>"$T/fwd.err"
fwd=$!
wait_udp_bound "$src" || fail "ncx forward did not bind $src: $(cat "$T/fwd.err")"

# One record the forwarder reads before it stops: the seq the jump is counted from.
printf '<14>ncx-forward-overrun %s before\n' "$tag" >/dev/kmsg
before=$(dd if=/dev/kmsg iflag=nonblock bs=16384 2>/dev/null |
	sed -n "s/^[0-9]*,\([0-9]*\),[^;]*;ncx-forward-overrun $tag before\$/\1/p")
[ -n "$before" ] || fail "the kernel did not keep the first marker"
wait_for 20 grep -qF "ncx-forward-overrun $tag before seq=$before" "$T"/logs/127.0.0.1/*.log ||
	fail "the first marker did not arrive: $(cat "$T/fwd.err")"

# Stopped, the forwarder reads nothing; 4 MiB of 990-byte records is more than any
# log buffer on a test machine (log_buf_len is 128 KiB to 1 MiB as a rule).
kill -STOP "$fwd"
pad=$(printf 'x%.0s' $(seq 900))
for i in $(seq 4200); do
	printf '<15>ncx-forward-overrun %s flood %d %s\n' "$tag" "$i" "$pad"
done | while IFS= read -r line; do printf '%s\n' "$line" >/dev/kmsg; done
oldest=$(dd if=/dev/kmsg iflag=nonblock bs=16384 2>/dev/null | head -1 | cut -d, -f2)
[ "$oldest" -gt $((before + 1)) ] || fail "the flood did not overrun the kernel log (oldest seq $oldest)"
kill -CONT "$fwd"
printf '<14>ncx-forward-overrun %s after\n' "$tag" >/dev/kmsg
after=$(dd if=/dev/kmsg iflag=nonblock bs=16384 2>/dev/null |
	sed -n "s/^[0-9]*,\([0-9]*\),[^;]*;ncx-forward-overrun $tag after\$/\1/p")
wait_for 30 grep -qF "ncx-forward-overrun $tag after seq=$after" "$T"/logs/127.0.0.1/*.log ||
	fail "the marker after the overrun did not arrive: $(cat "$T/fwd.err")"
kill -TERM "$fwd"
wait "$fwd" || fail "ncx forward exited $? on SIGTERM: $(cat "$T/fwd.err")"

# The count is exact: from the record after "before" to the one before the oldest
# the kernel still held when the forwarder read again. That oldest can only have
# moved on since we looked (the kernel never gives back what it dropped), so the
# reported range starts at before+1 and ends at or after oldest-1.
line=$(grep "the kernel dropped [0-9]* records (seq" "$T/fwd.err") || fail "no overrun line: $(cat "$T/fwd.err")"
note "$line"
read -r n a b < <(sed -n 's/.*dropped \([0-9]*\) records (seq \([0-9]*\)\.\.\([0-9]*\)).*/\1 \2 \3/p' \
	<<<"$line")
[ "$a" -eq $((before + 1)) ] || fail "gap starts at $a, not $((before + 1))"
[ "$b" -ge $((oldest - 1)) ] || fail "gap ends at $b, before $((oldest - 1))"
[ "$n" -eq $((b - a + 1)) ] || fail "count $n does not match seq $a..$b"
note "ok: the kernel dropped $n records; counted exactly, and forwarding went on"
