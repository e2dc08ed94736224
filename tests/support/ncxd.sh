# SPDX-License-Identifier: MIT
# Shared helpers for the ncxd end-to-end tests (bash), after e2e.sh:
#   . "$NCX_TOP/tests/support/e2e.sh"; . "$NCX_TOP/tests/support/ncxd.sh"
# start_ncxd NAME ARGS...: ncxd on 127.0.0.1:$port, stderr in $T/NAME.err,
# its control socket $T/NAME.sock (ARGS may say otherwise); sets $port, $pid
# and $ctl. A free port is picked, unless keep_port is set and
# $port already is (a restart keeps its port: its senders know no other).
# "@PORT@" in ARGS becomes the port.
start_ncxd() {
	local name=$1 try; shift
	for try in 1 2 3 4 5; do
		[ -n "${keep_port:-}" ] && [ -n "${port:-}" ] || port=$(free_port)
		: >"$T/$name.err"
		ctl=$T/$name.sock
		bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" --control "$ctl" "${@//@PORT@/$port}" 2>"$T/$name.err"
		pid=$!
		wait_for 30 bash -c "grep -q 'ready:' '$T/$name.err' || ! kill -0 $pid 2>/dev/null"
		kill -0 "$pid" 2>/dev/null && grep -q 'ready:' "$T/$name.err" && return 0
		grep -q 'in use' "$T/$name.err" || fail "ncxd did not start: $(cat "$T/$name.err")"
		[ -z "${keep_port:-}" ] || sleep 0.5
	done
	fail "ncxd could not listen on 127.0.0.1:$port"
}
# stop_ncxd NAME: SIGTERM, and it must exit 0.
stop_ncxd() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "ncxd exited $rc on SIGTERM: $(tail -5 "$T/$1.err")"
}
# A base address of our own in 127/8 for the simulated hosts, and a source port.
base="127.$((100 + RANDOM % 150)).0.1"
sport=$(free_port)
loadgen() { "$NCX_BIN/ncx-loadgen" -t "127.0.0.1:$port" --base "$base" --src-port "$sport" "$@"; }
# records FILE...: record lines (events excluded) in the files.
records() { cat "$@" 2>/dev/null | grep -cvE '^[^ ]+ ncx: ' || true; }
# check_hosts WANT FILE...: for each host directory, in the order given, the
# records are loadgen's seq 0..WANT-1 exactly once each, in order, with the
# seq inside the text equal to the record's own; no event lines.
check_hosts() {
	local want=$1; shift
	awk -v want="$want" '
	function dir(f) { sub(/\/[^\/]*$/, "", f); return f }
	/^[^ ]+ ncx: / { print FILENAME ": unexpected event: " $0; bad = 1; exit 1 }
	{
		d = dir(FILENAME)
		if (!match($0, /loadgen host=[0-9]+ seq=[0-9]+ /)) { print FILENAME ": not a loadgen line: " $0; bad = 1; exit 1 }
		split(substr($0, RSTART, RLENGTH), a, /[= ]/)
		n = d in next_seq ? next_seq[d] : 0
		if (a[5] != n || $NF != "seq=" n) { print d ": seq " a[5] " (" $NF ") where " n " was due"; bad = 1; exit 1 }
		if (d in host && host[d] != a[3]) { print d ": lines of two hosts"; bad = 1; exit 1 }
		host[d] = a[3]; next_seq[d] = n + 1
	}
	END {
		if (bad) exit 1
		for (d in next_seq) if (next_seq[d] != want) { print d ": " next_seq[d] " records, want " want; exit 1 }
	}' "$@"
}
# start_relay ARGS...: ncx-relay (a lossy network, ARGS say how) from a free
# port of 127.0.0.1 ($rport) to ncxd's $port, stderr in $T/relay.err; sets
# $relay_pid.
start_relay() {
	local try
	for try in 1 2 3 4 5; do
		rport=$(free_port)
		bg "$NCX_MAIN_BIN/ncx-relay" -l "127.0.0.1:$rport" -t "127.0.0.1:$port" "$@" \
			2>"$T/relay.err"
		relay_pid=$!
		wait_udp_bound "$rport" && kill -0 "$relay_pid" 2>/dev/null && return 0
	done
	fail "relay did not start: $(cat "$T/relay.err")"
}
