# SPDX-License-Identifier: MIT
# ncxd's options are named once, in cmd/ncxd/options.c's table: the man page's
# OPTIONS list must be what the table makes (`make man` rewrites it), and
# docs/ncxd.md's options table must name every option that --help shows.
. "$NCX_TOP/tests/support/e2e.sh"

d=$NCX_BIN/ncxd
page=$NCX_TOP/docs/man/ncxd.8
"$NCX_TOP/scripts/man-options" "$d" "$page" >"$T/ncxd.8" || fail "scripts/man-options failed"
diff -u "$page" "$T/ncxd.8" >"$T/diff" ||
	fail "docs/man/ncxd.8's option list differs from the table (run make man): $(head -40 "$T/diff")"

# Every option in --help: in the man page (made from the same table, so this
# checks the generator) and in docs/ncxd.md's table.
"$d" --help | sed -n 's/^  \(-., \|    \)--\([a-z-]*\).*/\2/p' >"$T/names"
[ "$(wc -l <"$T/names")" -ge 20 ] || fail "--help lists only $(wc -l <"$T/names") options"
while read -r name; do
	roff=$(printf '%s' "$name" | sed 's/-/\\\\-/g')
	grep -q "^\\\\fB\\\\-\\\\-$roff\\\\fR\|, \\\\fB\\\\-\\\\-$roff\\\\fR" "$page" ||
		fail "--$name is not in docs/man/ncxd.8"
	grep -q "^| .*\`--$name[ \`]" "$NCX_TOP/docs/ncxd.md" ||
		fail "--$name is not in docs/ncxd.md's options table"
done <"$T/names"
note "ok: $(wc -l <"$T/names") options, man page and docs/ncxd.md agree with the table"
