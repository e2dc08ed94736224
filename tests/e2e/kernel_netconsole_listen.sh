# SPDX-License-Identifier: MIT
# The same real-kernel test as kernel_netconsole.sh, with `ncx listen` as the
# receiver instead of ncxd: both must understand a stock kernel's netconsole.
NCX_KERNEL_RX=listen exec bash "$(dirname "$0")/kernel_netconsole.sh"
