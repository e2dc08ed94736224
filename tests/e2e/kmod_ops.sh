#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel module (kmod/, ncxcon) as an operator meets it, on every supported kernel
# (tests/qemu/kernels; each runs this script again with NCX_KERNEL set). Two guests:
#  1. bad target= values are refused with a clear line in dmesg and leave no module, no
#     warning and no oops; then ncxcon and the stock netconsole send from the same source
#     port (6665) to one ncxd through a relay losing 30%, and ncxcon is unloaded and
#     loaded again halfway through 3,000 lines, and given a bad target= through sysfs
#     (refused, the old one kept) and the good one again at three quarters: ncxd sees
#     one stream, every record once, in order.
#  2. two targets from one source port, one of them down (its relay drops everything)
#     for the first 60 s, the boot and 1,000 lines included: the other gets everything
#     meanwhile, and once the first is back, everything the kernel still holds arrives
#     there too, once, in order (emergency transmission).
#  3. a pacing cap of 50 datagrams/s (max_pps): the boot log and 200 lines take at least
#     the time the cap allows, and all of it arrives (what it holds back stays in the
#     kernel's buffer).
# About 2 minutes of emulated time per kernel.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/kmod.sh"
kmod_guest "$T/guest"

# 1. Bad targets, one stream from two senders on one port, unload and reload.
kmod_rx one --loss 0.3 --reorder 0.1 --dup 0.05 --seed 21
tag=o$$x$RANDOM
# shellcheck disable=SC2154 # one_port: set by kmod_rx
kmod_boot "$T/guest" "$tag" "$one_port" "$one_port" "ncx_bad=1 ncx_same_port=1 ncx_reload=1 ncx_retarget=1 ncx_lines=3000"
sleep 1
kmod_stop one
n=$(grep -c '^bad ' "$T/report.log")
[ "$n" -eq 5 ] || fail "$n of 5 bad targets reported"
while read -r _ rc msg; do
	[ "$rc" -ne 0 ] || fail "insmod took a bad target: $msg"
	case $msg in
	*"ncxcon: target 1 "*) note "$krel: insmod $rc: ${msg#*] }" ;;
	*) fail "no clear error for a bad target: '$msg'" ;;
	esac
done < <(grep '^bad ' "$T/report.log")
if tr -d '\r' <"$T/serial.log" | grep -E 'WARNING:|BUG:|Oops|Call Trace' | head -5 | grep .; then
	fail "the kernel warned or oopsed ($krel)"
fi
grep -q '^retarget-bad .*ncxcon: target 1 .*not a MAC address' "$T/report.log" ||
	fail "no clear error for a bad target= through sysfs: $(grep '^retarget-bad' "$T/report.log")"
[ "$(ls "$T/one.d")" = 127.0.0.1 ] || fail "ncxd saw more than one host: $(ls "$T/one.d")"
kmod_check_stream one
kmod_check_lines one "$tag" 3000
note "$krel: bad targets refused (insmod and sysfs); one stream through unload, reload and a new target="

# 2. Two targets, one of them down for the first 60 s.
kmod_rx down --blackout 0:60 --seed 22
kmod_rx up --loss 0.1 --seed 23
tag=d$$x$RANDOM
start=$(date +%s)
# shellcheck disable=SC2154 # down_port, up_port: set by kmod_rx
kmod_boot "$T/guest" "$tag" "$down_port" "$down_port" \
	"ncx_lines=1000 ncx_stock=0 ncx_wait_s=150 ncx_ext2=$up_port"
took=$(($(date +%s) - start))
[ "$took" -ge 60 ] || fail "the guest was done after $took s, before the receiver came back"
sleep 1
kmod_stop down up
for r in down up; do
	kmod_check_stream $r
	kmod_check_lines $r "$tag" 1000
done
# The other target was not held back: it had the last line long before the first came back.
l=$(grep -h "ncx-kmod $tag line 1000 " "$T/up.d"/127.0.0.1/*.log | cut -d' ' -f1)
f=$(head -n 1 "$T/down.d"/127.0.0.1/*.log | cut -d' ' -f1)
[ -n "$l" ] && [ -n "$f" ] && [ "$(date -d "$l" +%s%N)" -lt "$(date -d "$f" +%s%N)" ] ||
	fail "the target that was up got the last line ($l) only after the down one's first record ($f)"
note "$krel: two targets, one down 60 s: the other had everything at once; then both, once, in order, $took s after boot"

# 3. The pacing cap.
kmod_rx paced
tag=p$$x$RANDOM
# shellcheck disable=SC2154 # paced_port: set by kmod_rx
kmod_boot "$T/guest" "$tag" "$paced_port" "$paced_port" "ncx_lines=200 ncx_pps=50 ncx_stock=0"
sleep 0.5
kmod_stop paced
kmod_check_stream paced
kmod_check_lines paced "$tag" 200
# The receive times (ncxd's first field) of the first and the last record: a bucket of
# one second's worth (50), then 50 a second.
n=$(kmod_records paced | wc -l)
f=$(cat "$T/paced.d"/127.0.0.1/*.log | head -n 1 | cut -d' ' -f1)
l=$(cat "$T/paced.d"/127.0.0.1/*.log | tail -n 1 | cut -d' ' -f1)
ms=$((($(date -d "$l" +%s%N) - $(date -d "$f" +%s%N)) / 1000000))
least=$(((n - 50) * 1000 / 50 * 9 / 10))
[ "$ms" -ge "$least" ] || fail "$n records in $ms ms at max_pps=50: the cap did not hold (want >= $least ms)"
note "$krel: max_pps=50: $n records over $ms ms, all arrived"
