# A malformed flood while valid senders send: random bytes, truncated
# headers, bogus ncfrag, NUL bytes, 64 KiB datagrams. The valid senders'
# records are all written, in order, and the daemon (ASan+UBSan) stays up
# and exits cleanly.
. "$NCX_TOP/tests/support/e2e.sh"

# start_ncxd NAME ARGS...: ncxd on a free port of 127.0.0.1; sets $port and $pid.
start_ncxd() {
	local name=$1 try; shift
	for try in 1 2 3 4 5; do
		port=$(free_port)
		: >"$T/$name.err"
		bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" "$@" 2>"$T/$name.err"
		pid=$!
		wait_for 30 bash -c "grep -q 'ready:' '$T/$name.err' || ! kill -0 $pid 2>/dev/null"
		kill -0 "$pid" 2>/dev/null && grep -q 'ready:' "$T/$name.err" && return 0
		grep -q 'in use' "$T/$name.err" || fail "ncxd did not start: $(cat "$T/$name.err")"
	done
	fail "ncxd: no free port"
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

hosts=20 per=300
start_ncxd flood -d "$T/logs" -t 2
bg loadgen --hosts "$hosts" --records "$per" --rate 1000 2>"$T/loadgen.err"
lg=$!

# flood N: garbage from a few sockets of 127.0.0.1 (one write = one datagram).
flood() {
	local i
	exec 3>"/dev/udp/127.0.0.1/$port" 4>"/dev/udp/127.0.0.1/$port"
	for ((i = 0; i < $1; i++)); do
		dd if=/dev/urandom bs=65507 count=1 2>/dev/null >&3
		head -c $((RANDOM % 1500 + 1)) /dev/urandom >&4
		printf '6,%d' $i >&3
		printf '6,%d,0,-,ncfrag=%d/%d;xyz' $i $((RANDOM * 3)) $((RANDOM % 9000)) >&4
		printf '6,%d,0,-,ncfrag=0/8192;%s' $i "$(head -c 900 /dev/zero | tr '\0' a)" >&3
		printf ',,,;;\n\x00\x01' >&4
		printf '99999999999999999999999,1,1,-;overflow' >&3
		printf '6,18446744073709551615,1,-;max seq' >&4
		printf '\\\\\\x\\x4' >&3
		printf '' >&4
		dd if=/dev/zero bs=65507 count=1 2>/dev/null >&3
	done
	exec 3>&- 4>&-
}
flood 150
kill -0 "$pid" 2>/dev/null || fail "ncxd died in the flood: $(tail -20 "$T/flood.err")"
wait "$lg" || fail "loadgen: $(cat "$T/loadgen.err")"
total=$((hosts * per))
wait_for 60 bash -c "[ \$(cat '$T'/logs/127.[1-9]*/*.log | wc -l) -ge $total ]" ||
	fail "$(cat "$T"/logs/127.[1-9]*/*.log | wc -l) of $total valid lines"
stop_ncxd flood
check_hosts "$per" "$T"/logs/127.[1-9]*/*.log || fail "valid records lost under the flood"
[ "$(ls -d "$T"/logs/127.[1-9]* | wc -l)" -eq "$hosts" ] || fail "host count"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/flood.err" && fail "sanitizer: $(cat "$T/flood.err")"
note "ok: $total valid records intact through the flood"
