/* SPDX-License-Identifier: GPL-2.0 */
#include "ncx_libc.h"
