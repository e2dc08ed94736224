# SPDX-License-Identifier: MIT
# Shared by the kernel module's tests (tests/e2e/kmod_*.sh) and its benchmark
# (bench/kmod/run), after tests/support/e2e.sh: a guest with ncxcon.ko booted under
# QEMU (tests/qemu/init-kmod says what it does), receivers behind lossy relays on this
# host's loopback, and what came out of them.
# Without NCX_KERNEL, it runs the sourcing script once per supported kernel with
# NCX_KERNEL="RELEASE ROOT HEADERS" set (tests/qemu/kernels each) and exits with the
# result. The module must be built for each (make kmod: build/kmod/RELEASE/ncxcon.ko; or
# NCX_KMOD_DIR/RELEASE/ncxcon.ko).
. "$NCX_TOP/tests/support/each_kernel.sh"
. "$NCX_TOP/tests/support/guest.sh"
kmod_ko=${NCX_KMOD_DIR:-$NCX_TOP/build/kmod}/$krel/ncxcon.ko

# kmod_guest DIR: kernel and initramfs with ncxcon.ko, for tests/qemu/boot.
kmod_guest() {
	[ -f "$kmod_ko" ] || fail "$kmod_ko not built (make kmod)"
	NCX_INITRAMFS_EXTRA=$kmod_ko "$qemu/mkinitramfs" "$1" "$krel" "$kroot" >/dev/null ||
		fail "mkinitramfs $krel"
}

# kmod_rx NAME [RELAY ARGS...]: ncxd writing to $T/NAME.d, behind an ncx-relay with
# those arguments (a perfect one if none). Sets NAME_port (the relay's port, where the
# guest sends) and NAME_pid (ncxd's). The array kmod_ncxd_args, if set, goes to ncxd.
kmod_ncxd_args=()
kmod_rx() {
	local name=$1 port rport pid try
	shift
	port=$(free_port)
	bg "$NCX_MAIN_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/$name.d" --threads 1 "${kmod_ncxd_args[@]}" \
		>"$T/$name.out" 2>"$T/$name.err"
	pid=$!
	wait_udp_bound "$port" || fail "ncxd ($name) did not bind: $(cat "$T/$name.err")"
	for try in 1 2 3 4 5; do
		rport=$(free_port)
		[ "$rport" != "$port" ] || continue
		bg "$NCX_MAIN_BIN/ncx-relay" -l "127.0.0.1:$rport" -t "127.0.0.1:$port" "$@" \
			2>"$T/$name.relay"
		wait_udp_bound "$rport" && kill -0 $! 2>/dev/null && break
	done
	printf -v "${name}_port" %s "$rport"
	printf -v "${name}_pid" %s "$pid"
}

# kmod_boot DIR TAG EXT_PORT LEGACY_PORT WORDS...: boot the guest (WORDS go on the
# kernel command line, after oops=panic and a log buffer that holds every test line);
# fails unless it said "done TAG" (guest_boot, tests/support/guest.sh: the serial console
# in $T/serial.log, the report in $T/report.log).
kmod_boot() {
	local dir=$1 tag=$2 ext=$3 legacy=$4
	shift 4
	NCX_QEMU_APPEND="ncx_mode=kmod oops=panic log_buf_len=8M $*" NCX_QEMU_MEM=512 NCX_QEMU_TIMEOUT=300 \
		guest_boot "$dir" "$tag" "$ext" "$legacy"
}

# kmod_report KEY: the value of the report's "KEY VALUE" line.
kmod_report() { sed -n "s/^$1 //p" "$T/report.log" | tail -n 1; }

# kmod_stop NAME...: SIGTERM the receivers (they write what they hold, exit 0).
kmod_stop() {
	local n p
	for n in "$@"; do
		p=${n}_pid
		kill -TERM "${!p}" 2>/dev/null
		wait "${!p}" || fail "ncxd ($n) exited $? on SIGTERM: $(cat "$T/$n.err")"
	done
}

# kmod_records NAME: what ncxd wrote for the guest, one "SEQ LEVEL [ TIME] TEXT" a line
# (its "TIME LEVEL [ TIME] TEXT seq=SEQ" lines); kmod_events NAME: its "ncx:" lines.
kmod_records() {
	cat "$T/$1.d"/127.0.0.1/*.log 2>/dev/null |
		sed -n 's/^[^ ]* \([a-z]*\) \(\[ *[0-9]*\.[0-9]*\] .*\) seq=\([0-9]*\)$/\3 \1 \2/p'
}
kmod_events() { cat "$T/$1.d"/127.0.0.1/*.log 2>/dev/null | grep -F ' ncx: ' || true; }

# kmod_crash_report: the last boot's crash report (guest_crash_report).
kmod_crash_report() { guest_crash_report; }

# kmod_crash_missing NAME: the crash report's lines NAME's ncxd did not get.
kmod_crash_missing() {
	kmod_records "$1" | cut -d' ' -f3- >"$T/$1.texts"
	kmod_crash_report | grep -vxF -f "$T/$1.texts" || true
}

# kmod_check_stream NAME: every seq from 0 to the last exactly once, in order, and no
# loss line: the whole log, boot log included, arrived once.
kmod_check_stream() {
	kmod_records "$1" | awk '
		NR == 1 && $1 != 0 { print "the stream starts at seq " $1; bad = 1 }
		NR > 1 && $1 != prev + 1 { print "seq " $1 " after " prev; bad = 1 }
		{ prev = $1 }
		END { if (NR == 0) { print "no records"; bad = 1 }; exit bad }' ||
		fail "$1: the stream has holes or repeats ($krel)"
	if [ -n "$(kmod_events "$1" | grep -E 'lost|not received|reboot')" ]; then
		kmod_events "$1" | head
		fail "$1: ncxd reported a loss or a reboot ($krel)"
	fi
}

# kmod_check_lines NAME TAG N: the guest's numbered lines 1..N, each once, in order,
# with its level (line I at level I % 8).
kmod_check_lines() {
	local names=(emerg alert crit err warn notice info debug)
	kmod_records "$1" | sed -n "s/^[0-9]* \([a-z]*\) \[[^]]*\] ncx-kmod $2 line \([0-9]*\)\$/\2 \1/p" |
		awk -v n="$3" -v names="${names[*]}" '
			BEGIN { split(names, lv, " ") }
			{ i++; if ($1 != i) { print "line " $1 " where " i " belongs"; bad = 1; exit 1 }
			  if ($2 != lv[$1 % 8 + 1]) { print "line " $1 " at " $2; bad = 1; exit 1 } }
			END { if (!bad && i != n) { print i " of " n " lines"; bad = 1 }; exit bad }' ||
		fail "$1: the numbered lines are not all there once, in order, at their levels ($krel)"
}
