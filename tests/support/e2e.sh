# SPDX-License-Identifier: MIT
# Shared helpers for the end-to-end tests (bash). Source it first thing:
#   . "$NCX_TOP/tests/support/e2e.sh"
# It makes a scratch directory ($T), kills everything the test started on exit,
# and gives small bounded waits, so a test never hangs and never leaks.
set -u
: "${NCX_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${NCX_BIN:=$NCX_TOP/build/asan/bin}"
: "${NCX_MAIN_BIN:=$NCX_TOP/build/bin}"
DATA=$NCX_TOP/tests/data
T=$(mktemp -d /tmp/ncx-e2e.XXXXXX)
_pids=()

_mounts=()
_cleanup() {
	local p
	for p in "${_mounts[@]}"; do umount "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${NCX_KEEP:-}" ] || rm -rf "$T"
}
trap _cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# bg CMD...: start in the background, remember the pid in $! and for cleanup.
bg() { "$@" & _pids+=($!); }

# mounted DIR: DIR is a mount the test made: unmounted at the end if still there.
mounted() { _mounts+=("$1"); }
# unmount DIR: unmount it now (failing the test if that fails).
unmount() {
	umount "$1" || fail "umount $1"
	local m keep=()
	for m in "${_mounts[@]}"; do [ "$m" = "$1" ] || keep+=("$m"); done
	_mounts=("${keep[@]}")
}

# free_port: a UDP port nothing is bound to on loopback right now.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		ss -Hlun "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
	fail "no free UDP port"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds or time runs out.
wait_for() {
	local limit=$1 i; shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_udp_bound PORT: until something listens on that UDP port.
wait_udp_bound() { wait_for 20 bash -c "ss -Hlun 'sport = :$1' | grep -q ."; }

# count PATTERN FILE: lines matching (a fixed string), 0 if none.
count() { grep -cF -- "$1" "$2" 2>/dev/null || true; }

# hexlines: stdin bytes -> one hex line (for ncx replay).
hexline() { od -An -v -tx1 | tr -d ' \n'; echo; }
