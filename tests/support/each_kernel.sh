# SPDX-License-Identifier: MIT
# Sourced by the tests that boot a kernel, after tests/support/e2e.sh. Without
# NCX_KERNEL, runs the sourcing script once per supported kernel (tests/qemu/kernels
# each: NCX_KERNEL="RELEASE ROOT HEADERS") and exits with the result; with it, sets
# $qemu, $krel and $kroot for that kernel. Skips (77) without QEMU.
qemu=$NCX_TOP/tests/qemu
command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
if [ -z "${NCX_KERNEL:-}" ]; then
	"$qemu/kernels" each bash "$0"
	exit
fi
read -r krel kroot _ <<<"$NCX_KERNEL"
