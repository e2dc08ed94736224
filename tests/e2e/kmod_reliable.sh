#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel module (kmod/, ncxcon) on a lossy network, then a panic, on every supported
# kernel (tests/qemu/kernels; each runs this script again with NCX_KERNEL set).
# The guest (tests/qemu/init-kmod) loads ncxcon pointed at ncxd through an ncx-relay that
# loses 50% both ways, reorders 10% and duplicates 5%, and the stock netconsole at a
# second ncxd through a relay just as bad; writes 10,000 numbered lines through /dev/kmsg
# at every level (levels 5-7 above the console loglevel), waits for ncxcon's acks, and
# crashes (sysrq c, oops=panic). Passes only if ncxcon's receiver got every record the
# kernel logged, boot log included, exactly once and in order, every numbered line at its
# level, and every line of the crash report the serial console showed. What the stock
# netconsole got of the same is only reported (bench/README.md has the comparison).
# Then a second guest, 300 lines and a panic, the same checks (two panics per kernel here;
# 20 per kernel and loss rate in bench/kmod/run). About 60 s per kernel.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/kmod.sh"

bad="--loss 0.5 --reorder 0.1 --dup 0.05"
kmod_guest "$T/guest"

# panic_run N LINES SEED: one guest, its receivers named ncxconN and stockN.
panic_run() {
	local n=$1 lines=$2 seed=$3 tag start last crash missing got sent smiss
	# shellcheck disable=SC2086 # $bad: several words
	kmod_rx "ncxcon$n" $bad --seed "$seed"
	# shellcheck disable=SC2086
	kmod_rx "stock$n" $bad --seed "$((seed + 1))"
	local rp=ncxcon${n}_port sp=stock${n}_port
	tag=k$$x$RANDOM
	start=$(date +%s)
	kmod_boot "$T/guest" "$tag" "${!rp}" "${!sp}" "ncx_lines=$lines ncx_crash=1"
	note "$krel: guest ran $(($(date +%s) - start)) s; ncxcon: $(grep -E '^status (datagrams|resent|emg_resent|probes|busy) ' "$T/report.log" | cut -d' ' -f2- | tr '\n' ' ')"
	sleep 1
	kmod_stop "ncxcon$n" "stock$n"

	kmod_check_stream "ncxcon$n"
	kmod_check_lines "ncxcon$n" "$tag" "$lines"
	last=$(kmod_report last)
	kmod_records "ncxcon$n" | awk -v l="$last" '$1 == 0 { z = 1 } $1 == l { e = 1 } END { exit !(z && e) }' ||
		fail "ncxcon: the boot log's first record or the last line ($last) is missing"

	crash=$(kmod_crash_report | wc -l)
	[ "$crash" -ge 10 ] || fail "only $crash lines of crash report on the serial console"
	missing=$(kmod_crash_missing "ncxcon$n")
	if [ -n "$missing" ]; then
		echo "$missing" | head -20
		fail "ncxcon: $(echo "$missing" | wc -l) of $crash crash report lines missing ($krel)"
	fi

	# The stock netconsole, for the comparison: the numbered lines it could send (levels
	# 0-4, at or below the console loglevel) and the crash report.
	got=$(kmod_records "stock$n" | grep -c " ncx-kmod $tag line " || true)
	sent=$((lines / 8 * 5 + (lines % 8 > 4 ? 4 : lines % 8)))
	smiss=$(kmod_crash_missing "stock$n" | grep -c . || true)
	note "$krel at 50% loss: ncxcon all $lines lines and $crash of $crash crash report lines;" \
		"stock netconsole $got of $sent lines it sends (levels 0-4), $((crash - smiss)) of $crash crash lines"
}

# Two panics per kernel: after 10,000 lines, and after 300 (more: bench/kmod/run).
panic_run 1 "${NCX_KMOD_LINES:-10000}" 11
panic_run 2 300 31
