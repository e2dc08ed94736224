#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ncx bcon init` on real filesystems (loop-mounted images on this host): it makes a
# good file on ext4 and xfs (fully written, immutable, its extents printed as the
# module's parameters, the same when run again) and refuses, with the reason and exit
# 65, each unsafe layout it can be shown here: a sparse file, an fallocated (unwritten)
# one, a reflinked copy on xfs (and the original, now shared), btrfs copy-on-write, btrfs
# NOCOW (its FIEMAP addresses are not device offsets), tmpfs, a file that is not a bcon
# file. A refused new file is removed. `ncx bcon read` exits 0 on a file with no tiles
# and 74 on one it cannot open.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
[ "$(id -u)" = 0 ] || { echo "skip: needs root (loop mounts)"; exit 77; }
for p in mkfs.ext4 mkfs.xfs mkfs.btrfs lsattr; do
	command -v $p >/dev/null || { echo "skip: no $p (scripts/deps)"; exit 77; }
done
ncx=$NCX_BIN/ncx

# fs NAME TYPE SIZE: a fresh TYPE filesystem mounted on $T/NAME.
fs() {
	truncate -s "$3" "$T/$1.img"
	case $2 in
	ext4) mkfs.ext4 -q -F "$T/$1.img" ;;
	xfs) mkfs.xfs -q -f "$T/$1.img" ;;
	btrfs) mkfs.btrfs -q -f "$T/$1.img" >/dev/null ;;
	esac || fail "mkfs.$2"
	mkdir -p "$T/$1"
	mount -o loop "$T/$1.img" "$T/$1" 2>"$T/mount.err" ||
		{ echo "skip: cannot loop-mount $2 here: $(cat "$T/mount.err")"; exit 77; }
	mounted "$T/$1"
}

# refused FILE REASON [ARGS...]: ncx bcon init FILE ARGS exits 65 saying REASON.
refused() {
	local f=$1 why=$2 rc
	shift 2
	"$ncx" bcon init "$f" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 65 ] || fail "init $f: exit $rc, not 65: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "init $f printed parameters while refusing"
	grep -qF "refused: $f: " "$T/err" && grep -qF -- "$why" "$T/err" ||
		fail "init $f: the reason is not '$why': $(cat "$T/err")"
	note "refused $(basename "$f"): $(sed 's/^.*refused: [^:]*: //' "$T/err")"
}

# good FS: a good file on FS, and the checks on it.
good() {
	local f=$T/$1/bcon p again sum
	p=$("$ncx" bcon init "$f" --size 256K --tile 16K) || fail "init on $1"
	[[ "$p" =~ ^dev=[0-9]+:[0-9]+\ id=[0-9a-f]{16}\ tile=16384\ extents=[0-9]+\+[0-9]+(,[0-9]+\+[0-9]+)*$ ]] ||
		fail "init on $1 printed '$p'"
	sum=$(echo "${p#*extents=}" | tr ',' '\n' | awk -F+ '{ s += $2 } END { print s }')
	[ "$sum" = 512 ] || fail "$1: the extents cover $sum sectors, not 512"
	[ "$(stat -c %s "$f")" = 262144 ] || fail "$1: size $(stat -c %s "$f")"
	lsattr "$f" | cut -d' ' -f1 | grep -q i || fail "$1: not immutable"
	again=$("$ncx" bcon init "$f") || fail "init again on $1"
	[ "$again" = "$p" ] || fail "$1: init again printed '$again', not '$p'"
	[ "$(grep -ac 'ncx-bcon 1 id' "$f")" = 16 ] || fail "$1: not 16 tile headers"
	"$ncx" bcon read "$f" >"$T/read.out" 2>"$T/read.err" || fail "read of a new file: exit $?"
	[ ! -s "$T/read.out" ] || fail "read of a new file printed: $(head -3 "$T/read.out")"
	note "$1: $p"
}

fs e ext4 64M
good e
truncate -s 1M "$T/e/sparse"
refused "$T/e/sparse" "a hole at bytes 0-1048575"
dd if=/dev/zero of="$T/e/half" bs=64K count=1 status=none
truncate -s 1M "$T/e/half"
refused "$T/e/half" "a hole at bytes 65536-1048575"
fallocate -l 1M "$T/e/fa"
refused "$T/e/fa" "it is unwritten"
head -c 65536 /dev/urandom >"$T/e/data"
refused "$T/e/data" "it exists and is not a block console file"
refused "$T/e/bcon" "exists with 262144 bytes, --size says 524288" --size 512K
"$ncx" bcon init "$T/e/new" >/dev/null 2>&1
[ $? = 64 ] || fail "init of a new file without --size: not exit 64"
[ ! -e "$T/e/new" ] || fail "a refused new file was left behind"
"$ncx" bcon init "$T/e/new" --size 256K --tile 3000 >/dev/null 2>&1
[ $? = 64 ] || fail "--tile 3000 accepted"

fs x xfs 320M
good x
cp --reflink=always "$T/x/bcon" "$T/x/copy" || fail "cp --reflink on xfs"
refused "$T/x/copy" "it is shared with another file"
refused "$T/x/bcon" "it is shared with another file"

fs b btrfs 256M
refused "$T/b/cow" "btrfs copy-on-write file" --size 256K
[ ! -e "$T/b/cow" ] || fail "the refused btrfs file was left behind"
touch "$T/b/nocow"
chattr +C "$T/b/nocow" || fail "chattr +C"
refused "$T/b/nocow" "btrfs: FIEMAP gives btrfs logical addresses" --size 256K

mkdir -p "$T/t"
mount -t tmpfs none "$T/t" || fail "mount tmpfs"
mounted "$T/t"
refused "$T/t/bcon" "not one known here to keep a file's blocks in place" --size 256K

"$ncx" bcon read "$T/e/data" >"$T/out" 2>"$T/err" || fail "read of a file with no tiles: exit $?"
grep -q "no block console tiles found" "$T/err" || fail "read did not say it found no tiles"
"$ncx" bcon read "$T/nosuch" >/dev/null 2>&1
[ $? = 74 ] || fail "read of a missing file: not exit 74"
for f in bcon; do chattr -i "$T/e/$f" "$T/x/$f" 2>/dev/null; done
