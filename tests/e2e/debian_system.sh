#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end on a real Debian system: ncx's packages (`make deb`) installed into Debian 12,
# booted under QEMU (TCG) with systemd as PID 1. tests/qemu/debian-image debootstraps the
# base system once (cached under /var/cache/ncx/images, keyed on its inputs); each run
# copies it, installs the packages into the copy from here (chroot + dpkg -i: ncx-dkms's
# install builds ncxcon with DKMS for the image's kernel), adds tests/qemu/debian-check as
# a systemd service, and boots the image's own kernel and initrd. The guest checks (one
# "ncx-check NAME ok|FAIL" line each on its second serial port, see tests/qemu/debian-check):
# ncxd.service active and receiving, ncx-forward.service shipping the kernel log to it,
# `systemctl reload ncxd` and logrotate reopening files, ncxcon built by DKMS and loaded
# with modprobe. Its records go to an ncxd here (guest 10.0.2.2 = 127.0.0.1), which must
# have the marker the guest logged after loading it. Every check must say ok; a missing line
# fails (with the serial console's tail).
# NCX_DEBS=DIR: take the packages from DIR instead of `make deb`.
# Exit 77 = skipped: a tool missing, or not root. Measured on a 2-CPU machine under a load of
# about 10: the first run, building the image, 6.7 min (debootstrap 2-4.5 min); later runs
# about 2 min (make deb 0.5, dpkg -i with the DKMS build 20-30 s, boot to power-off 1 min).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
qemu=$NCX_TOP/tests/qemu

for t in qemu-system-x86_64 debootstrap mkfs.ext4 dpkg-deb chroot mount losetup; do
	command -v "$t" >/dev/null || { echo "skip: no $t (scripts/deps)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: needs root (debootstrap, mount)"; exit 77; }
[ -x "$NCX_BIN/ncxd" ] || fail "$NCX_BIN/ncxd not built"

# The packages, from the tree under test.
if [ -n "${NCX_DEBS:-}" ]; then
	debs=$NCX_DEBS
else
	debs=$NCX_TOP/build/deb
	make -C "$NCX_TOP" --no-print-directory deb >"$T/make-deb.log" 2>&1 ||
		{ tail -30 "$T/make-deb.log"; fail "make deb"; }
fi
ls "$debs"/ncx_*.deb "$debs"/ncx-dkms_*.deb >/dev/null 2>&1 || fail "no ncx and ncx-dkms packages in $debs"
note "packages: $(cd "$debs" && ls ./*.deb | tr '\n' ' ')"

t0=$(date +%s)
line=$("$qemu/debian-image") || { rc=$?; [ "$rc" = 69 ] && { echo "skip: cannot build the Debian image"; exit 77; }; fail "debian-image"; }
read -r img kernel initrd kver <<<"$line"
note "image $img (kernel $kver), ready after $(($(date +%s) - t0)) s"

# The copy, and the packages installed into it as a system administrator would.
cp --reflink=auto --sparse=always "$img" "$T/root.img"
mnt=$T/mnt
mkdir -p "$mnt"
mounted=()
unmount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}"; done
	mounted=()
}
trap 'unmount_all; _cleanup' EXIT
mount -o loop "$T/root.img" "$mnt" || fail "mount the image's copy"
mounted+=("$mnt")
mount -t proc proc "$mnt/proc" && mounted+=("$mnt/proc")
mount -t sysfs sysfs "$mnt/sys" && mounted+=("$mnt/sys")
mount --bind /dev "$mnt/dev" && mounted+=("$mnt/dev")
mkdir -p "$mnt/tmp/ncx-debs"
cp "$debs"/ncx_*.deb "$debs"/ncx-dkms_*.deb "$mnt/tmp/ncx-debs/"
# Nothing starts in the chroot (a booted system's postinst would start the services).
printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
chmod 755 "$mnt/usr/sbin/policy-rc.d"
t1=$(date +%s)
if ! chroot "$mnt" sh -c 'dpkg -i /tmp/ncx-debs/*.deb' >"$T/dpkg.log" 2>&1; then
	tail -40 "$T/dpkg.log"
	fail "dpkg -i of the packages in the image"
fi
note "dpkg -i (with the DKMS build) took $(($(date +%s) - t1)) s"
grep -iE 'dkms|ncxcon|warning|error' "$T/dpkg.log" | head -20 | sed 's/^/# dpkg: /'
# DKMS built and installed the module for the image's kernel during the install itself.
[ -f "$mnt/lib/modules/$kver/updates/dkms/ncxcon.ko" ] ||
	fail "installing ncx-dkms did not build ncxcon.ko for $kver with DKMS"
rm -rf "$mnt/usr/sbin/policy-rc.d" "$mnt/tmp/ncx-debs"
# The forwarder is installed but off until a collector is set (/etc/default/ncx-forward):
# set the guest's own ncxd and enable it, as its comments say.
grep -q '^NCX_FORWARD_OPTS=' "$mnt/etc/default/ncx-forward" || fail "no NCX_FORWARD_OPTS in /etc/default/ncx-forward"
sed -i 's/^NCX_FORWARD_OPTS=.*/NCX_FORWARD_OPTS="-t 127.0.0.1:6666"/' "$mnt/etc/default/ncx-forward"
chroot "$mnt" systemctl enable -q ncx-forward.service || fail "systemctl enable ncx-forward"

# The checks, as a service after ncx's own.
install -m 755 "$qemu/debian-check" "$mnt/usr/local/sbin/ncx-system-check"
cat >"$mnt/etc/systemd/system/ncx-system-check.service" <<'EOF'
[Unit]
Description=ncx system test (tests/qemu/debian-check)
After=ncxd.service ncx-forward.service systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ncx-system-check
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
chroot "$mnt" systemctl enable -q ncx-system-check.service || fail "enable the check service"
unmount_all

port=$(free_port)
bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" -d "$T/rx" --threads 1 >"$T/rx.out" 2>"$T/rx.err"
rx_pid=$!
wait_udp_bound "$port" || fail "ncxd did not bind 127.0.0.1:$port: $(cat "$T/rx.err")"

tag=d$$x$RANDOM
note "booting: tag $tag, ncxcon -> 127.0.0.1:$port"
t2=$(date +%s)
timeout -k 5 "${NCX_QEMU_TIMEOUT:-600}" qemu-system-x86_64 \
	-machine pc,accel=tcg -cpu qemu64 -smp 2 -m 1024 \
	-nodefaults -no-user-config -display none -no-reboot \
	-serial "file:$T/serial.log" -serial "file:$T/report.log" \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
	-drive "file=$T/root.img,format=raw,if=virtio,cache=unsafe" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 printk.devkmsg=on panic=1 ncx_tag=$tag ncx_port=$port"
rc=$?
note "qemu exited $rc after $(($(date +%s) - t2)) s"

sleep 0.5
kill -TERM "$rx_pid"
wait "$rx_pid" || fail "the host's ncxd exited $? on SIGTERM: $(cat "$T/rx.err")"

tr -d '\r' <"$T/report.log" >"$T/report"
sed 's/^/# guest: /' "$T/report"
bad=0
for c in ncxd_active ncxd_receives ncx_status forward_active forward_kmsg reload_reopens \
	logrotate_reopens dkms_installed ncxcon_loaded; do
	if ! grep -q "^ncx-check $c ok" "$T/report"; then
		grep -q "^ncx-check $c " "$T/report" || echo "no result for $c"
		bad=1
	fi
done
grep -qx "ncx-check-done $tag" "$T/report" || { echo "the guest did not finish (qemu status $rc)"; bad=1; }
# The ncxcon marker at the host's ncxd, from the guest (user networking: 127.0.0.1).
if ! cat "$T/rx"/127.0.0.1/*.log 2>/dev/null | grep -qF "ncx-debtest $tag ncxcon"; then
	echo "the host's ncxd has no ncxcon marker ($(cat "$T/rx"/*/*.log 2>/dev/null | wc -l) lines)"
	bad=1
fi
if [ "$bad" -ne 0 ]; then
	echo "--- serial console (last 60 lines):"
	tr -d '\r' <"$T/serial.log" | tail -60
	fail "checks failed in the Debian system"
fi
note "ok: all checks passed on Debian $kver (total $(($(date +%s) - t0)) s)"
