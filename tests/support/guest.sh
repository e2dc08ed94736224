# SPDX-License-Identifier: MIT
# Shared by tests/support/kmod.sh and tests/support/bcon.sh: booting a test guest under
# QEMU (tests/qemu/boot) and telling whether it finished. Only defines functions, so
# sourcing it twice does no harm.

# guest_boot DIR TAG EXT_PORT LEGACY_PORT [BEGAN]: boot the guest in DIR with the
# NCX_QEMU_* the caller set; fails unless it said "done TAG". The serial console in
# $T/serial.log, the report (ttyS1) in $T/report.log. With BEGAN (a grep pattern), a
# guest whose report has no line matching it died before its test began (under TCG a
# two-vCPU guest has been seen to oops in early boot, text patching): it is booted once
# more, and says so; anything later counts.
guest_boot() {
	local dir=$1 tag=$2 ext=$3 legacy=$4 began=${5:-} rc try
	for try in 1 2; do
		"$qemu/boot" "$dir" "$ext" "$legacy" "$tag" "$T/serial.log" "$T/report.log"
		rc=$?
		sed -i 's/\r$//' "$T/report.log"	# a tty's \r\n
		[ -n "$began" ] || break
		grep -q "$began" "$T/report.log" && break
		[ "$try" = 1 ] || break
		echo "# $krel: the guest died before its test began (qemu status $rc; serial:" \
			"$(tr -d '\r' <"$T/serial.log" | grep -m 1 -E 'Oops|BUG|panic' || echo nothing)); booting it again"
		cp "$T/serial.log" "$T/serial.first.log"
	done
	if [ "$rc" -ne 0 ] || ! grep -qx "done $tag" "$T/report.log"; then
		echo "--- serial console (last 40 lines):"
		tr -d '\r' <"$T/serial.log" | tail -40
		echo "--- report:"
		cat "$T/report.log"
		fail "the guest did not finish (qemu status $rc, $krel)"
	fi
}

# guest_crash_report [SERIAL]: the crash report as the serial console showed it, one
# "[ TIME] TEXT" a line, from "sysrq: Trigger a crash" on (SERIAL: the last boot's).
guest_crash_report() {
	tr -d '\r' <"${1:-$T/serial.log}" |
		sed -n '/^\[ *[0-9]*\.[0-9]*\] sysrq: Trigger a crash/,$p' |
		grep '^\[ *[0-9]*\.[0-9]*\] '
}
