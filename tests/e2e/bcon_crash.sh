#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The block console (ncxbcon.ko, docs/bcon.md) through a crash, on every supported kernel
# and on ext4 and xfs. The guest (tests/qemu/init-bcon) makes a 96 KiB bcon file of 12
# tiles of 8 KiB on its virtio disk with `ncx bcon init`, loads ncxbcon with what init printed,
# writes numbered lines at every level through /dev/kmsg (far more than the ring holds:
# it wraps several times) and crashes (sysrq c, oops=panic). On the host, from the disk
# image: `ncx bcon read IMAGE` (scanning the raw image) must show numbered lines K..N each
# once, in order, at their levels, the ring wrapped at least 3 times, and every line of
# the crash report the serial console showed, in order, none twice; the filesystem
# (after its journal replays) must be fsck clean, the file's size and extents the same as
# at init; `ncx bcon read FILE` through the mounted filesystem must print the same.
# On the ext4 image also: a torn tile (a sector of one tile's text zeroed, as a write cut
# in the middle leaves it) and a corrupt header are marked and the rest read; then a
# second boot on the same image continues after the newest tile.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/bcon.sh"
command -v mkfs.xfs >/dev/null || { echo "skip: no mkfs.xfs (xfsprogs: scripts/deps)"; exit 77; }
lines=${NCX_BCON_LINES:-8000}
bcon_guest "$T/guest"

# run FS: one guest and its checks; leaves the image in $T/FS.img, the reader's output
# in $T/FS.out.
run() {
	local fs=$1 tag img=$T/$1.img out=$T/$1.out start k wraps missing crash params after
	bcon_image "$img" "$fs"
	tag=b$$x$RANDOM
	start=$(date +%s)
	bcon_boot "$T/guest" "$img" "$tag" "ncx_fs=$fs ncx_size=96K ncx_tile=8K ncx_lines=$lines ncx_crash=1"
	note "$krel $fs: guest ran $(($(date +%s) - start)) s; ncxbcon: $(grep -E '^status (pos|writes|panic_poll|panic_writes|panic_errors|panic_timeouts|lost) ' "$T/report.log" | cut -d' ' -f2- | tr '\n' ' ')"
	params=$(bcon_report params)
	[ -n "$params" ] || fail "no params from the guest"
	[ "$(bcon_report 'status panic_poll')" = 1 ] || fail "the device had no poll queue ($krel)"
	cp "$T/serial.log" "$T/$fs.serial"

	"$NCX_MAIN_BIN/ncx" bcon read "$img" >"$out" 2>"$T/$fs.read.err" ||
		fail "ncx bcon read $img: exit $?: $(cat "$T/$fs.read.err")"
	if grep -q '^--- ncx-bcon: ' "$out"; then
		grep '^--- ncx-bcon: ' "$out" | head
		fail "$fs: the reader marked torn tiles or gaps after a clean crash ($krel)"
	fi
	k=$(bcon_check_lines "$out" "$tag" "$lines") || fail "$fs: the numbered lines are wrong ($krel)"
	wraps=$(grep -ao 'wrap [0-9a-f]\{8\}' "$img" | sort | tail -n 1 | cut -d' ' -f2)
	[ $((16#${wraps:-0})) -ge 3 ] || fail "$fs: the ring wrapped only $((16#${wraps:-0})) times"
	crash=$(bcon_crash_report | wc -l)
	[ "$crash" -ge 10 ] || fail "only $crash lines of crash report on the serial console"
	missing=$(bcon_crash_missing "$out")
	if [ -n "$missing" ]; then
		echo "$missing" | head -20
		fail "$fs: $(echo "$missing" | wc -l) of $crash crash report lines missing or out of order ($krel)"
	fi
	twice=$(bcon_crash_twice "$out")
	if [ -n "$twice" ]; then
		echo "$twice" | head -5
		fail "$fs: crash report lines read back more often than the serial console showed them ($krel)"
	fi
	note "$krel $fs: lines $k-$lines of $lines (the ring wrapped $((16#$wraps)) times), $crash of $crash crash report lines, in order"

	# --follow prints the same (whole lines: the stream ends with one), and SIGINT ends it, 0.
	timeout --preserve-status -s INT 3 "$NCX_MAIN_BIN/ncx" bcon read --follow --interval 0.5 "$img" >"$T/$fs.follow" ||
		fail "ncx bcon read --follow: exit $? on SIGINT"
	cmp -s "$out" "$T/$fs.follow" || { diff "$out" "$T/$fs.follow" | head; fail "$fs: --follow printed something else"; }

	bcon_mount "$img" "$T/mnt"
	after=$("$NCX_MAIN_BIN/ncx" bcon init "$T/mnt/bcon" 2>&1) || fail "ncx bcon init on the file after the crash: $after"
	# (dev= differs: the host sees the image through a loop device.)
	[ "${after#dev=* }" = "${params#dev=* }" ] ||
		fail "$fs: the file's size or extents changed: '$params' then '$after'"
	"$NCX_MAIN_BIN/ncx" bcon read "$T/mnt/bcon" >"$T/$fs.file.out" || fail "ncx bcon read FILE"
	cmp -s "$out" "$T/$fs.file.out" || {
		diff "$out" "$T/$fs.file.out" | head
		fail "$fs: reading the file through the filesystem differs from reading the image"
	}
	unmount "$T/mnt"
	bcon_fsck "$img" "$fs"
}

run ext4
run xfs

# A torn tile: zero one sector in the middle of an older tile's text on a copy of the
# ext4 image, as a write cut in the middle leaves it; and break another tile's header.
cp "$T/ext4.img" "$T/torn.img"
# The tiles' image offsets by position (grep -b gives where "ncx-bcon" starts, one byte
# into the tile); tear the third newest, corrupt the fifth newest's header (its crc).
grep -abo 'ncx-bcon 1 id [0-9a-f]* tile [0-9a-f]* tiles [0-9a-f]* wrap [0-9a-f]* index [0-9a-f]* pos [0-9a-f]*' "$T/torn.img" |
	while IFS=: read -r off hdr; do echo "$((16#${hdr##* })) $((off - 1))"; done | sort -n >"$T/tiles"
n=$(wc -l <"$T/tiles")
[ "$n" -ge 8 ] || fail "only $n tile headers found in the image"
torn_off=$(sed -n "$((n - 2))p" "$T/tiles" | cut -d' ' -f2)
bad_off=$(sed -n "$((n - 4))p" "$T/tiles" | cut -d' ' -f2)
dd if=/dev/zero of="$T/torn.img" bs=512 seek=$(((torn_off + 4096) / 512)) count=1 conv=notrunc status=none
# The crc's last hex digit (bytes 129-136 of the header line), changed.
c=$(dd if="$T/torn.img" bs=1 skip=$((bad_off + 136)) count=1 status=none)
[ "$c" = 0 ] && c=1 || c=0
printf '%s' "$c" | dd of="$T/torn.img" bs=1 seek=$((bad_off + 136)) conv=notrunc status=none
"$NCX_MAIN_BIN/ncx" bcon read "$T/torn.img" >"$T/torn.out" 2>"$T/torn.err" ||
	fail "ncx bcon read of the torn image: exit $?"
grep -q '^--- ncx-bcon: tile [0-9]* (slot [0-9]*): torn: 512 bytes missing at offset 4096' "$T/torn.out" ||
	{ grep '^---' "$T/torn.out"; fail "the torn tile was not reported"; }
grep -q '^--- ncx-bcon: slot [0-9]*: header corrupt' "$T/torn.out" || fail "the corrupt header was not reported"
grep -q '^--- ncx-bcon: gap: tile [0-9]* missing' "$T/torn.out" || fail "the corrupt tile's gap was not reported"
grep -q 'torn' "$T/torn.err" || fail "no summary of what was marked on stderr"
# Everything else is there: the lines lost are one tile's and one sector's worth.
before=$(grep -c " ncx-bcon .* line " "$T/ext4.out")
now=$(grep -c " ncx-bcon .* line " "$T/torn.out")
lost=$((before - now))
per_tile=$((8192 / 40))
[ "$lost" -gt 0 ] && [ "$lost" -lt $((per_tile + 20)) ] ||
	fail "a torn sector and a corrupt tile lost $lost numbered lines (of $before)"
# The crash report, in the newest tiles, is still whole.
missing=$(bcon_serial=$T/ext4.serial bcon_crash_missing "$T/torn.out")
[ -z "$missing" ] || fail "the crash report is not whole after tearing an older tile"
note "$krel: torn tile and corrupt header marked; $lost of $before numbered lines lost with them, the rest read"

# A second boot on the same (intact) image: ncxbcon continues after the newest tile.
newest=$(grep -ao 'pos [0-9a-f]\{16\}' "$T/ext4.img" | sort | tail -n 1 | cut -d' ' -f2)
tag2=c$$x$RANDOM
bcon_boot "$T/guest" "$T/ext4.img" "$tag2" "ncx_fs=ext4 ncx_lines=300 ncx_crash=0"
"$NCX_MAIN_BIN/ncx" bcon read "$T/ext4.img" >"$T/again.out" || fail "ncx bcon read after the second boot"
bcon_check_lines "$T/again.out" "$tag2" 300 >/dev/null || fail "the second boot's lines are wrong"
first=$(grep -n " ncx-bcon $tag2 line 1\$" "$T/again.out" | cut -d: -f1)
lastold=$(grep -n "sysrq: Trigger a crash" "$T/again.out" | tail -n 1 | cut -d: -f1)
[ -n "$lastold" ] && [ -n "$first" ] && [ "$lastold" -lt "$first" ] ||
	fail "the first boot's crash report is not before the second boot's lines"
pos2=$(grep -ao 'pos [0-9a-f]\{16\}' "$T/ext4.img" | sort | tail -n 1 | cut -d' ' -f2)
[ $((16#$pos2)) -gt $((16#$newest)) ] || fail "the second boot did not write after tile $((16#$newest))"
grep -q '^--- ncx-bcon: ' "$T/again.out" && { grep '^---' "$T/again.out"; fail "marks after a clean second boot"; }
bcon_fsck "$T/ext4.img" ext4
note "$krel: a second boot continued at tile $((16#$newest + 1)) after the crash's newest, $((16#$pos2)) now"
