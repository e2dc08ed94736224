# logrotate while senders send: move every file away, SIGHUP, keep sending,
# twice. The moved files and the new ones together hold every record exactly
# once and in order; the daemon writes to the new files after each SIGHUP.
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

hosts=5 per=1500
start_ncxd rot -d "$T/logs" -t 2 --path '%h/current.log'
bg loadgen --hosts "$hosts" --records "$per" --rate 1500 2>"$T/loadgen.err"
lg=$!
for round in 1 2; do
	# Wait until every host has written something since the last rotation.
	wait_for 30 bash -c "[ \$(ls '$T'/logs/*/current.log 2>/dev/null | wc -l) -eq $hosts ] &&
		[ -z \"\$(find '$T/logs' -name current.log -empty)\" ]" ||
		fail "round $round: not every host has a fresh file"
	for d in "$T"/logs/*/; do mv "$d/current.log" "$d/rotated.$round"; done
	kill -HUP "$pid"
	# Lines still buffered go to the moved files; then the new files appear.
	wait_for 30 bash -c "[ \$(ls '$T'/logs/*/current.log 2>/dev/null | wc -l) -eq $hosts ]" ||
		fail "round $round: no new files after SIGHUP"
done
wait "$lg" || fail "loadgen: $(cat "$T/loadgen.err")"
total=$((hosts * per))
wait_for 60 bash -c "[ \$(cat '$T'/logs/*/* | wc -l) -ge $total ]" ||
	fail "$(cat "$T"/logs/*/* | wc -l) of $total lines"
stop_ncxd rot
files=()
for d in "$T"/logs/*/; do files+=("$d/rotated.1" "$d/rotated.2" "$d/current.log"); done
check_hosts "$per" "${files[@]}" || fail "rotation lost, repeated or reordered records"
for f in "${files[@]}"; do [ -s "$f" ] || fail "$f is empty: no writes in one of the rounds"; done
grep -c 'SIGHUP' "$T/rot.err" | grep -qx 2 || fail "SIGHUP not logged twice"
note "ok: two rotations under load, nothing lost or repeated"
