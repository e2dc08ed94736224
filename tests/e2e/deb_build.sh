# SPDX-License-Identifier: MIT
# The packages and the installed layout. scripts/deb (what `make deb` runs) builds
# ncx, libncx-dev and ncx-dkms into a scratch directory; lintian reports no error;
# each package holds what it should (ncxd in /usr/sbin, ncx in /usr/bin, not the test
# tools, the units, sysusers and tmpfiles entries, the conffiles, libncx.pc, the
# module's source with wire.c, tx.c and auth.c as real files); the units pass
# systemd-analyze verify. Then `make install DESTDIR=... PREFIX=/usr` puts the same
# files in place and `make uninstall` removes every one of them, except an /etc file
# the admin edited. About a minute, mostly dpkg-buildpackage and lintian.
. "$NCX_TOP/tests/support/e2e.sh"

for t in dpkg-buildpackage dh dh_dkms lintian dpkg-deb; do
	command -v "$t" >/dev/null || { echo "skipped: no $t (scripts/deps installs it)"; exit 77; }
done
v=$(cat "$NCX_TOP/VERSION")
arch=$(dpkg --print-architecture)

# --- the packages --------------------------------------------------------------------
"$NCX_TOP/scripts/deb" "$T/deb" >"$T/deb.log" 2>&1 || { tail -30 "$T/deb.log"; fail "scripts/deb failed"; }
ncx=$T/deb/ncx_${v}-1_${arch}.deb
dev=$T/deb/libncx-dev_${v}-1_${arch}.deb
dkms=$T/deb/ncx-dkms_${v}-1_all.deb
for d in "$ncx" "$dev" "$dkms"; do [ -f "$d" ] || fail "no $(basename "$d") in $T/deb: $(ls "$T/deb")"; done
note "built: $(cd "$T/deb" && echo ./*.deb)"

lintian "$T"/deb/*.changes >"$T/lintian.log" 2>&1
cat "$T/lintian.log"
! grep -q '^E:' "$T/lintian.log" || fail "lintian reports errors"

# contents PKG FILE...: each FILE is in the package, as a regular file.
contents() {
	local deb=$1 f; shift
	dpkg-deb -c "$deb" >"$T/c" || fail "dpkg-deb -c $deb"
	for f; do
		grep -qE "^-[rwx-]{9} .* \./${f#/}\$" "$T/c" || fail "$(basename "$deb"): no regular file $f"
	done
}
contents "$ncx" /usr/sbin/ncxd /usr/bin/ncx /usr/share/man/man1/ncx.1.gz /usr/share/man/man8/ncxd.8.gz \
	/lib/systemd/system/ncxd.service /lib/systemd/system/ncx-forward.service \
	/usr/lib/sysusers.d/ncx.conf /usr/lib/tmpfiles.d/ncx.conf \
	/etc/ncx/ncxd.conf /etc/default/ncx-forward /etc/logrotate.d/ncx
grep -qE 'ncx-loadgen|ncx-relay' "$T/c" && fail "ncx ships a test tool: $(grep -E 'ncx-loadgen|ncx-relay' "$T/c")"
dpkg-deb -e "$ncx" "$T/ctl"
for f in /etc/ncx/ncxd.conf /etc/default/ncx-forward /etc/logrotate.d/ncx; do
	grep -qx "$f" "$T/ctl/conffiles" || fail "$f is not a conffile"
done
grep -q 'systemd-sysusers' "$T/ctl/postinst" || fail "postinst does not create the ncx user"
contents "$dev" /usr/include/ncx/wire.h /usr/include/ncx/rx.h \
	"/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libncx.a" \
	"/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig/libncx.pc"
src=/usr/src/ncxcon-$v
contents "$dkms" "$src/dkms.conf" "$src/wire.c" "$src/tx.c" "$src/auth.c" "$src/Kbuild" "$src/Makefile" \
	"$src/main.c" "$src/include/ncx/wire.h" "$src/compat/ncx_libc.h"
dpkg-deb -I "$dkms" | grep -q 'Depends:.*dkms' || fail "ncx-dkms does not depend on dkms"

# The programs in the package say the release, and which commit when built from a checkout.
dpkg-deb -x "$ncx" "$T/x"
if [ -e "$NCX_TOP/.git" ] && git -C "$NCX_TOP" rev-parse >/dev/null 2>&1; then git=' \(.+\)'; else git=; fi
for p in sbin/ncxd bin/ncx; do
	out=$("$T/x/usr/$p" --version)
	[[ $out =~ ^${p#*/}\ ${v//./\\.}$git$ ]] || fail "packaged $p --version printed '$out'"
	note "packaged: $out"
done
grep -q "^ExecStart=/usr/sbin/ncxd -c /etc/ncx/ncxd.conf\$" "$T/x/lib/systemd/system/ncxd.service" ||
	fail "ncxd.service ExecStart"

# The units: every directive known to this systemd, every command there (pointed at
# the unpacked binaries, since they are not installed here).
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units"
	for u in ncxd ncx-forward; do
		sed -e "s|=/usr/sbin/ncxd|=$T/x/usr/sbin/ncxd|" -e "s|=/usr/bin/ncx |=$T/x/usr/bin/ncx |" \
			"$T/x/lib/systemd/system/$u.service" >"$T/units/$u.service"
	done
	out=$(systemd-analyze verify --man=no "$T/units/ncxd.service" "$T/units/ncx-forward.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
fi

# --- make install / make uninstall ---------------------------------------------------
root=$T/root
make -C "$NCX_TOP" --no-print-directory install DESTDIR="$root" PREFIX=/usr >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "make install"; }
for f in usr/sbin/ncxd usr/bin/ncx usr/include/ncx/wire.h usr/lib/libncx.a usr/lib/pkgconfig/libncx.pc \
	usr/share/man/man1/ncx.1 usr/share/man/man8/ncxd.8 usr/lib/systemd/system/ncxd.service \
	usr/lib/systemd/system/ncx-forward.service usr/lib/sysusers.d/ncx.conf usr/lib/tmpfiles.d/ncx.conf \
	etc/ncx/ncxd.conf etc/default/ncx-forward etc/logrotate.d/ncx; do
	[ -f "$root/$f" ] || fail "make install put no /$f"
done
[ -z "$(find "$root" -name 'ncx-loadgen*' -o -name 'ncx-relay*')" ] || fail "make install installed a test tool"
grep -qx 'prefix=/usr' "$root/usr/lib/pkgconfig/libncx.pc" || fail "libncx.pc prefix"
if command -v pkg-config >/dev/null; then
	out=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/pkgconfig pkg-config --cflags --libs libncx)
	[[ $out == *"-I$root/usr/include"*"-lncx"* ]] || fail "pkg-config --cflags --libs libncx: $out"
fi
# The installed package's layout, file for file (the deb has /lib/systemd and a multiarch
# libdir, which debian/rules asks for; the rest is the same).
( cd "$T/x" && find . -type f ! -path './usr/share/doc/*' | sed 's|^\./||; s|\.gz$||; s|^lib/systemd|usr/lib/systemd|' | sort ) >"$T/deb.list"
( cd "$root" && find . -type f ! -path './usr/include/*' ! -name 'libncx*' | sed 's|^\./||' | sort ) >"$T/inst.list"
diff -u "$T/deb.list" "$T/inst.list" >&2 || fail "make install and the ncx package differ (above)"

make -C "$NCX_TOP" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >"$T/uninstall.log" 2>&1 ||
	{ cat "$T/uninstall.log"; fail "make uninstall"; }
left=$(find "$root" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
note "install + uninstall: nothing left"

# An /etc file the admin edited survives uninstall, and a second install keeps it.
make -C "$NCX_TOP" --no-print-directory install DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1 || fail "make install (2)"
echo "listen 127.0.0.1:6666" >>"$root/etc/ncx/ncxd.conf"
make -C "$NCX_TOP" --no-print-directory install DESTDIR="$root" PREFIX=/usr >"$T/install.log" 2>&1 || fail "make install (3)"
grep -q '^listen 127.0.0.1:6666$' "$root/etc/ncx/ncxd.conf" || fail "make install overwrote an edited ncxd.conf"
make -C "$NCX_TOP" --no-print-directory uninstall DESTDIR="$root" PREFIX=/usr >/dev/null 2>&1 || fail "make uninstall (2)"
left=$(find "$root" ! -type d)
[ "$left" = "$root/etc/ncx/ncxd.conf" ] || fail "after editing ncxd.conf, uninstall left: ${left:-nothing}"
note "an edited ncxd.conf is kept"
