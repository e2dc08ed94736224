# --allow: senders inside the listed prefixes (v4 and v6) are written, the
# others are counted (ncxd_denied_total) and leave no trace on disk. The v6
# sender's file is under its inet_ntop text ("::1").
. "$NCX_TOP/tests/support/e2e.sh"

# start_ncxd NAME ARGS...: ncxd on a free port of 127.0.0.1; sets $port and $pid.
start_ncxd() {
	local name=$1 try; shift
	for try in 1 2 3 4 5; do
		port=$(free_port)
		: >"$T/$name.err"
		bg "$NCX_BIN/ncxd" -l "127.0.0.1:$port" "${@//@PORT@/$port}" 2>"$T/$name.err"
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

x=${base#127.}
x=${x%%.*}
hosts=10 per=50
ip -6 addr show lo 2>/dev/null | grep -q '::1/128' && v6=1 || v6=
start_ncxd allow -d "$T/logs" --allow "127.$x.0.0/24" --allow ::1 ${v6:+-l "[::1]:@PORT@"} \
	--metrics "$T/m.prom" --metrics-interval 1
loadgen --hosts "$hosts" --records "$per" --rate 2000 2>"$T/lg1.err" || fail "loadgen: $(cat "$T/lg1.err")"
"$NCX_BIN/ncx-loadgen" -t "127.0.0.1:$port" --base "127.$x.1.1" --src-port "$sport" \
	--hosts "$hosts" --records "$per" --rate 2000 2>"$T/lg2.err" || fail "loadgen: $(cat "$T/lg2.err")"
if [ -n "$v6" ]; then
	"$NCX_BIN/ncx" replay -r 20000 -t "[::1]:$port" -p "$(free_port)" "$DATA/ext.hex" || fail "replay v6"
fi
denied=$((hosts * per))
wait_for 60 grep -qx "ncxd_denied_total $denied" "$T/m.prom" ||
	fail "denied: $(grep '^ncxd_denied_total' "$T/m.prom"), want $denied"
wait_for 60 bash -c "[ \$(cat '$T'/logs/127.$x.0.*/*.log | wc -l) -ge $((hosts * per)) ]" ||
	fail "allowed hosts: $(cat "$T"/logs/127."$x".0.*/*.log | wc -l) lines"
if [ -n "$v6" ]; then
	wait_for 60 bash -c "[ \$(cat '$T'/logs/::1/*.log 2>/dev/null | wc -l) -ge 4850 ]" ||
		fail "v6 sender: $(ls -R "$T/logs" | head)"
fi
stop_ncxd allow
ls -d "$T"/logs/127."$x".1.* 2>/dev/null && fail "denied senders got files"
[ "$(ls -d "$T"/logs/127."$x".0.* | wc -l)" -eq "$hosts" ] || fail "allowed host count"
check_hosts "$per" "$T"/logs/127."$x".0.*/*.log || fail "allowed records"
[ -z "$v6" ] || [ "$(cat "$T"/logs/::1/*.log | wc -l)" -eq 4850 ] || fail "v6 lines"
grep -qx "ncxd_denied_total $denied" "$T/m.prom" || fail "final metrics: denied"
note "ok: allow v4 prefix${v6:+ and ::1}, $denied denied"
