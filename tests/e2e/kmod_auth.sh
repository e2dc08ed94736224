#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel module with auth_key= (issue #10; docs/kmod.md) on every supported kernel
# (tests/qemu/kernels; each runs this script again with NCX_KERNEL set), against an ncxd
# that requires authentication (--auth-key SECRET --require-auth). ncxd sees the guest
# as 127.0.0.1 (the relay on this host's loopback), so that is the address whose key
# `ncx key derive` makes.
#  1. The right key, 5 records too long for one datagram (each fragment is tagged on its
#     own) and 300 lines through a relay losing 50% both ways, then a panic: every
#     record once and in order, every line at its level, every line of the crash report
#     (acks only come through when ncxcon takes ncxd's tagged responses, which bind the
#     stream id); ncxd counts no bad tag, ncxcon no bad response; the stream id is the
#     boot id's first 64 bits. Bad auth_key= values are refused first, with a
#     reason in dmesg and without the value.
#  2. The key of another address, and a second target from the same port: an ncxd with
#     no key, which skips ncmac as an unknown key. The requiring ncxd writes nothing and
#     counts the datagrams (ncxd_auth_bad_total); the keyless ncxd gets the records,
#     the crash report included, and its untagged acks are refused by ncxcon (status
#     auth_bad), which never sees anything acked.
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/kmod.sh"

"$NCX_MAIN_BIN/ncxd" --help 2>&1 | grep -q -- '--require-auth' ||
	{ echo "skip: this ncxd has no --require-auth"; exit 77; }
kmod_guest "$T/guest"
"$NCX_MAIN_BIN/ncx" key new -o "$T/secret" || fail "ncx key new"
key=$("$NCX_MAIN_BIN/ncx" key derive --secret "$T/secret" 127.0.0.1) || fail "ncx key derive"
other=$("$NCX_MAIN_BIN/ncx" key derive --secret "$T/secret" 127.0.0.2) || fail "ncx key derive"

# kmod_status KEY: ncxcon's counter as the guest reported it.
kmod_status() { kmod_report "status $1"; }

# 1. The right key.
lines=300
kmod_ncxd_args=(--auth-key "$T/secret" --require-auth --metrics "$T/good.prom" --metrics-interval 1)
kmod_rx good --loss 0.5 --reorder 0.1 --dup 0.05 --seed 41
kmod_ncxd_args=()
tag=k$$a$RANDOM
kmod_boot "$T/guest" "$tag" "$good_port" 9 "ncx_lines=$lines ncx_crash=1 ncx_stock=0" \
	"ncx_auth_key=$key ncx_bad_key=1 ncx_long=5"
[ "$(grep -c '^badkey [1-9][0-9]* .*ncxcon: auth_key: ' "$T/report.log")" = 3 ] || {
	grep '^badkey' "$T/report.log"
	fail "a bad auth_key= was not refused with a reason ($krel)"
}
for b in 0123456789abcdef0123456789abcdeX 0123456789abcdef0123456789abcde; do
	! grep -qF "$b" "$T/serial.log" || fail "dmesg shows a refused auth_key= value ($krel)"
done
bid=$(kmod_report bootid | tr -d - | cut -c1-16)
[ -n "$bid" ] && [ "$(kmod_status id)" = "$bid" ] ||
	fail "ncxcon's stream id $(kmod_status id) is not the boot id's first 64 bits ($bid, $krel)"
[ "$(kmod_status auth)" = 1 ] || fail "ncxcon's status says auth $(kmod_status auth) ($krel)"
[ "$(kmod_status auth_bad)" = 0 ] ||
	fail "ncxcon refused $(kmod_status auth_bad) of ncxd's responses ($krel)"
sleep 1
grep -q '^ncxd_auth_bad_total ' "$T/good.prom" && ! grep -qE '^ncxd_auth_bad_total [1-9]' "$T/good.prom" ||
	fail "ncxd counted bad tags from the right key: $(grep auth "$T/good.prom" | head -5)"
kmod_stop good
kmod_check_stream good
kmod_check_lines good "$tag" "$lines"
n=$(kmod_records good | grep -c " ncx-kmod $tag long [1-5] x\{950\}\$" || true)
[ "$n" = 5 ] || fail "$n of 5 long records (two tagged fragments each) arrived whole ($krel)"
crash=$(kmod_crash_report | wc -l)
[ "$crash" -ge 10 ] || fail "only $crash lines of crash report on the serial console"
missing=$(kmod_crash_missing good)
if [ -n "$missing" ]; then
	echo "$missing" | head -20
	fail "$(echo "$missing" | wc -l) of $crash crash report lines missing ($krel)"
fi
note "$krel: right key at 50% loss: all $lines lines, 5 of 5 long records and $crash of $crash crash report lines;" \
	"ncxcon $(kmod_status datagrams) datagrams, $(kmod_status resent) resent, 0 responses refused"

# 2. The wrong key (another address's), and a keyless second receiver.
kmod_ncxd_args=(--auth-key "$T/secret" --require-auth --metrics "$T/bad.prom" --metrics-interval 1)
kmod_rx bad
kmod_ncxd_args=()
kmod_rx plain
tag=k$$b$RANDOM
kmod_boot "$T/guest" "$tag" "$bad_port" 9 "ncx_crash=1 ncx_stock=0 ncx_ext2=$plain_port" \
	"ncx_auth_key=$other ncx_idle_s=3"
[ "$(kmod_status acked)" = -1 ] || fail "ncxcon took an ack: acked $(kmod_status acked) ($krel)"
refused=$(kmod_status auth_bad)
[ "${refused:-0}" -gt 0 ] || fail "ncxcon counted no refused response ($krel)"
wait_for 10 grep -qE '^ncxd_auth_bad_total [1-9]' "$T/bad.prom" ||
	fail "ncxd counted no bad tag: $(grep auth "$T/bad.prom" | head -5)"
nbad=$(sed -n 's/^ncxd_auth_bad_total //p' "$T/bad.prom")
kmod_stop bad plain
written=$(find "$T/bad.d" -name '*.log' -size +0 | head -5)
[ -z "$written" ] || fail "ncxd wrote what a wrong key tagged: $written ($krel)"
kmod_records plain | awk '$1 == 0 { z = 1 } END { exit !z }' ||
	fail "the keyless ncxd did not get seq 0 ($krel)"
missing=$(kmod_crash_missing plain)
[ -z "$missing" ] || fail "the keyless ncxd lacks $(echo "$missing" | wc -l) crash report lines ($krel)"
note "$krel: wrong key: ncxd wrote nothing and counted $nbad bad datagrams;" \
	"ncxcon refused $refused untagged responses; a keyless ncxd got the whole crash report"
