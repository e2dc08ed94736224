#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DKMS builds and installs ncxcon (scripts/kmod-dkms, as `make dkms-install` runs it) for
# every supported kernel, against that kernel's headers, in trees of the test's own
# (--sourcetree, --dkmstree, --installtree: nothing under /usr/src or /var/lib/dkms is
# touched); the installed module carries that kernel's vermagic, loads in a guest booted
# with that kernel and sends its log; `kmod-dkms remove` removes every build.
# Each kernel runs this script again with NCX_KERNEL set (tests/support/kmod.sh).
. "${NCX_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/e2e.sh"
command -v dkms >/dev/null || { echo "skip: dkms not installed"; exit 77; }
NCX_KMOD_DIR=$T/kmod	# the module DKMS builds, not make kmod's
. "$NCX_TOP/tests/support/kmod.sh"
read -r rel _ hdr <<<"$NCX_KERNEL"
mkdir -p "$T/src" "$T/dkms" "$T/inst/$rel"
opts=(--sourcetree "$T/src" --dkmstree "$T/dkms" --installtree "$T/inst" -k "$rel"
	--kernelsourcedir "$hdr")
"$NCX_TOP/scripts/kmod-dkms" install "${opts[@]}" >"$T/dkms.log" 2>&1 ||
	{ cat "$T/dkms.log"; fail "dkms install for $rel"; }
ko=$(find "$T/inst/$rel" -name 'ncxcon.ko*' | head -n 1)
[ -n "$ko" ] || { cat "$T/dkms.log"; fail "dkms installed no ncxcon.ko for $rel"; }
dkms "${opts[@]}" status -m ncxcon | grep -q "$rel.*: installed" ||
	fail "dkms status does not say installed: $(dkms "${opts[@]}" status -m ncxcon)"
mkdir -p "$T/kmod/$rel"
case $ko in
*.xz) xz -dc "$ko" >"$T/kmod/$rel/ncxcon.ko" ;;
*.zst) zstd -qdc "$ko" >"$T/kmod/$rel/ncxcon.ko" ;;
*) cp "$ko" "$T/kmod/$rel/ncxcon.ko" ;;
esac
vm=$(modinfo -F vermagic "$T/kmod/$rel/ncxcon.ko" 2>/dev/null)
[ "${vm%% *}" = "$rel" ] || fail "vermagic '$vm' is not $rel's"

# The module DKMS built, in a guest of that kernel.
kmod_guest "$T/guest"
kmod_rx ncxcon
tag=m$$x$RANDOM
# shellcheck disable=SC2154 # ncxcon_port: set by kmod_rx
kmod_boot "$T/guest" "$tag" "$ncxcon_port" "$ncxcon_port" "ncx_lines=100 ncx_same_port=1"
sleep 0.5
kmod_stop ncxcon
kmod_check_stream ncxcon
kmod_check_lines ncxcon "$tag" 100

"$NCX_TOP/scripts/kmod-dkms" remove "${opts[@]}" >>"$T/dkms.log" 2>&1 ||
	{ cat "$T/dkms.log"; fail "dkms remove"; }
[ -z "$(dkms "${opts[@]}" status -m ncxcon)" ] || fail "still there after remove"
note "$rel: dkms built, installed ($vm), loaded and sent; removed"
