#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kmod/ in the kernel's coding style: scripts/checkpatch.pl of Debian's linux-source-6.1
# over every C file and header of the module's own (not lib/wire.c, lib/tx.c, lib/num.c and
# lib/auth.c, which kmod/ links to and which follow the project's style), no error and no
# warning.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "skip: no linux-source-6.1 (scripts/deps)"; exit 77; }
d=linux-source-6.1/scripts
tar -xf "$tarball" -C "$T" "$d/checkpatch.pl" "$d/spelling.txt" "$d/const_structs.checkpatch" ||
	fail "no checkpatch.pl in $tarball"
files=()
for f in "$NCX_TOP"/kmod/*.[ch] "$NCX_TOP"/kmod/compat/*.h; do
	[ -L "$f" ] || files+=("$f")
done
[ "${#files[@]}" -ge 8 ] || fail "only ${#files[@]} files in kmod/"
out=$(cd "$NCX_TOP" && perl "$T/$d/checkpatch.pl" --no-tree --terse --show-types -f "${files[@]#"$NCX_TOP"/}" 2>&1)
bad=$(echo "$out" | grep -v '^total: 0 errors, 0 warnings,' || true)
[ -z "$bad" ] || { echo "$bad"; fail "checkpatch is not clean on kmod/"; }
note "checkpatch clean: ${#files[@]} files"
