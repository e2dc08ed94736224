# SPDX-License-Identifier: MIT
# Shared by the block console's QEMU tests (tests/e2e/bcon_*.sh) and its benchmark
# (bench/bcon/run), after tests/support/e2e.sh: a guest with ncxbcon.ko, a disk image with
# a filesystem, booted under QEMU (tests/qemu/init-bcon says what the guest does), and
# what the host reads back from the image.
# Without NCX_KERNEL, it runs the sourcing script once per supported kernel
# (tests/support/each_kernel.sh). The module must be built for each (make kmod:
# build/kmod/RELEASE/ncxbcon.ko; or NCX_KMOD_DIR/RELEASE/).
. "$NCX_TOP/tests/support/each_kernel.sh"
. "$NCX_TOP/tests/support/guest.sh"
bcon_kdir=${NCX_KMOD_DIR:-$NCX_TOP/build/kmod}/$krel
# The guest runs the plain build (no sanitizer runtime in the guest).
bcon_ncx=$NCX_MAIN_BIN/ncx

[ "$(id -u)" = 0 ] || { echo "skip: needs root (loop mounts of the guest's disk image)"; exit 77; }

# bcon_guest DIR: kernel and initramfs with ncxbcon.ko and ncxcon.ko, the disk drivers
# and filesystems, and ncx.
bcon_guest() {
	[ -f "$bcon_kdir/ncxbcon.ko" ] || fail "$bcon_kdir/ncxbcon.ko not built (make kmod)"
	[ -x "$bcon_ncx" ] || fail "$bcon_ncx not built (make)"
	NCX_INITRAMFS_EXTRA="$bcon_kdir/ncxbcon.ko $bcon_kdir/ncxcon.ko" \
		NCX_INITRAMFS_WANT="virtio_blk crc32c_generic ext4 xfs" \
		"$qemu/mkinitramfs" "$1" "$krel" "$kroot" "$bcon_ncx" >/dev/null ||
		fail "mkinitramfs $krel"
}

# bcon_image IMG FS: a new disk image with an empty FS (ext4 or xfs).
bcon_image() {
	rm -f "$1"
	truncate -s 320M "$1"
	case $2 in
	ext4) mkfs.ext4 -q -F "$1" ;;
	xfs) mkfs.xfs -q -f "$1" ;;
	*) fail "bcon_image: $2?" ;;
	esac || fail "mkfs.$2"
}

# bcon_boot DIR IMG TAG WORDS...: boot the guest on IMG (WORDS go on the kernel command
# line); fails unless it said "done TAG", booted once more if it died before its test
# began (guest_boot, tests/support/guest.sh). NCX_BCON_POLL_QUEUES=0: the disk without a
# poll queue.
bcon_boot() {
	local dir=$1 img=$2 tag=$3
	shift 3
	NCX_QEMU_DISK=$img NCX_QEMU_SMP=2 \
		NCX_QEMU_APPEND="ncx_mode=bcon oops=panic log_buf_len=8M virtio_blk.poll_queues=${NCX_BCON_POLL_QUEUES:-1} $*" \
		NCX_QEMU_MEM=512 NCX_QEMU_TIMEOUT=${NCX_BCON_TIMEOUT:-400} \
		guest_boot "$dir" "$tag" "${bcon_ext_port:-9}" 9 '^params \|^refused '
}

bcon_report() { sed -n "s/^$1 //p" "$T/report.log" | tail -n 1; }

# bcon_crash_report: guest_crash_report of $bcon_serial (default the last boot's).
bcon_crash_report() { guest_crash_report "${bcon_serial:-}"; }

# bcon_plain <READER OUTPUT: its record lines as the serial console prints them,
# "[ TIME] TEXT" (the level and CPU taken out).
bcon_plain() { sed -n 's/^\(\[ *[0-9]*\.[0-9]*\]\) <[0-7]> C[0-9?]* /\1 /p'; }

# bcon_crash_missing OUT: the crash report's lines (serial) not in reader output OUT,
# or found out of order; empty if all are there in order.
bcon_crash_missing() {
	bcon_plain <"$1" >"$T/plain"
	bcon_crash_report | awk -v f="$T/plain" '
		BEGIN { while ((getline l < f) > 0) { n++; line[n] = l } ; at = 1 }
		{ for (i = at; i <= n; i++) if (line[i] == $0) break
		  if (i > n) print "missing: " $0; else at = i + 1 }'
}

# bcon_crash_twice OUT: crash report lines that reader output OUT has more often (from
# its "sysrq: Trigger a crash" on) than the serial console showed them (a stack trace can
# show one line twice, so twice is not in itself wrong).
bcon_crash_twice() {
	bcon_crash_report >"$T/serial.crash"
	bcon_plain <"$1" | sed -n '/^\[ *[0-9]*\.[0-9]*\] sysrq: Trigger a crash/,$p' |
		awk -v f="$T/serial.crash" '
			BEGIN { while ((getline l < f) > 0) want[l]++ }
			($0 in want) { got[$0]++ }
			END { for (l in got) if (got[l] > want[l]) print got[l] "x (serial " want[l] "x): " l }'
}

# bcon_check_lines OUT TAG N: the numbered lines in reader output OUT are lines K..N for
# some K, each once, in order, each at its level (I % 8); prints K.
bcon_check_lines() {
	sed -n "s/^\[ *[0-9]*\.[0-9]*\] <\([0-7]\)> C[0-9?]* ncx-bcon $2 line \([0-9]*\)\$/\2 \1/p" "$1" |
		awk -v n="$3" '
			NR == 1 { k = $1; want = $1 }
			{ if ($1 != want) { print "line " $1 " where " want " belongs" > "/dev/stderr"; bad = 1; exit 1 }
			  if ($2 != $1 % 8) { print "line " $1 " at level " $2 > "/dev/stderr"; bad = 1; exit 1 }
			  want++ }
			END { if (bad) exit 1
			      if (NR == 0 || want - 1 != n) { print "the last line is " want - 1 ", not " n > "/dev/stderr"; exit 1 }
			      print k }'
}

# bcon_mount IMG DIR: loop-mount IMG on DIR (replays the journal or log after the crash);
# unmounted when the test ends (or by unmount DIR).
bcon_mount() {
	mkdir -p "$2"
	mount -o loop "$1" "$2" || fail "mount $1"
	mounted "$2"
}

# bcon_fsck IMG FS: the filesystem check, read-only; fails unless clean.
bcon_fsck() {
	case $2 in
	ext4) e2fsck -fn "$1" >"$T/fsck.log" 2>&1 ;;
	xfs) xfs_repair -n -f "$1" >"$T/fsck.log" 2>&1 ;;
	esac || { tail -20 "$T/fsck.log"; fail "fsck.$2 of the image is not clean ($krel)"; }
}
