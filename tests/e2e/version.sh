# SPDX-License-Identifier: MIT
# One release number: VERSION, and everything that repeats it agrees with it:
# kmod/dkms.conf's PACKAGE_VERSION (the module's build reads that one), debian/changelog's
# upstream version, ncx(1)'s header, and what `ncxd --version` and `ncx --version` print
# ("ncxd 0.1.0 (git describe)", or "ncxd 0.1.0" outside a git checkout).
. "$NCX_TOP/tests/support/e2e.sh"

v=$(cat "$NCX_TOP/VERSION")
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "VERSION '$v' is not X.Y.Z"
note "VERSION $v"

dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$NCX_TOP/kmod/dkms.conf")
[ "$dkms" = "$v" ] || fail "kmod/dkms.conf PACKAGE_VERSION=\"$dkms\", VERSION $v"

deb=$(sed -n '1s/^ncx (\([^)]*\)).*/\1/p' "$NCX_TOP/debian/changelog")
[ "${deb%-*}" = "$v" ] || fail "debian/changelog's first entry is $deb, VERSION $v"

grep -q "^\.TH NCX 1 .* \"ncx $v\"" "$NCX_TOP/docs/man/ncx.1" || fail "docs/man/ncx.1 .TH does not say ncx $v"

# Built in a git checkout: "(git describe)" must follow.
if [ -e "$NCX_TOP/.git" ] && git -C "$NCX_TOP" rev-parse >/dev/null 2>&1; then git=' \(.+\)'; else git=; fi
for p in ncxd ncx; do
	out=$("$NCX_MAIN_BIN/$p" --version) || fail "$p --version exited $?"
	note "$out"
	[[ $out =~ ^$p\ ${v//./\\.}$git$ ]] || fail "$p --version printed '$out', not '$p $v${git:+ (git describe)}'"
done
