# SPDX-License-Identifier: MIT
# ncxd killed (SIGKILL) and restarted in the middle of a run: nothing lost,
# nothing doubled. Several reliable senders (`ncx send`, ncrx=1) log numbered
# lines at a moderate pace; ncxd is killed twice while they run and started
# again on the same port and DIR (the second time with another thread count,
# so a sender may land on another worker). Every sender must exit 0 (all its
# records acked), and its lines must be in the files exactly once each, in
# order, with no gap and no reboot reported.
. "$NCX_TOP/tests/support/e2e.sh"

"$NCX_BIN/ncx" send --help >/dev/null 2>&1 || { echo "skip: no ncx send"; exit 77; }

senders=4
per=1500

. "$NCX_TOP/tests/support/ncxd.sh"

# lines: record lines of our senders written so far, all files.
lines() { cat "$T"/logs/*/*.log 2>/dev/null | grep -c ' restart-test sender=' || true; }

start_ncxd run1 -d "$T/logs" --rate 0 --threads 2
keep_port=1 # every restart keeps the port: the senders know no other
for k in $(seq "$senders"); do
	# About 300 lines a second each: the run lasts several seconds, and the
	# kills land while every sender is busy.
	bg bash -c "for i in \$(seq $per); do echo \"restart-test sender=$k n=\$i\"; \
		[ \$((i % 3)) -eq 0 ] && sleep 0.01; done |
		'$NCX_BIN/ncx' send -t 127.0.0.1:$port --timeout 120 >'$T/send$k.out' 2>'$T/send$k.err'"
	spid[k]=$!
done

total=$((senders * per))
# kill_at FRACTION NAME ARGS...: once that share of the lines is in the files,
# SIGKILL ncxd, wait a moment, and start it again.
kill_at() {
	local want=$(( total * $1 / 100 )) name=$2; shift 2
	wait_for 60 bash -c "[ \$(cat '$T'/logs/*/*.log 2>/dev/null | grep -c ' restart-test sender=') -ge $want ]" ||
		fail "only $(lines) of $want lines arrived: $(tail -3 "$T"/run*.err)"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	note "killed ncxd at $(lines) lines"
	sleep 1.5 # down for a while (no assertion rests on it: senders keep trying)
	[ "$(lines)" -lt "$total" ] || fail "the run was over before the kill; slow the senders down"
	start_ncxd "$name" -d "$T/logs" --rate 0 "$@"
}
kill_at 25 run2 --threads 3
kill_at 60 run3 --threads 1

for k in $(seq "$senders"); do
	wait "${spid[k]}" || fail "sender $k exited $?: $(tail -3 "$T/send$k.err")"
done
kill -TERM "$pid"
wait "$pid" || fail "ncxd exited $? on SIGTERM: $(tail -5 "$T/run3.err")"
[ -s "$T/logs/.ncxd-state" ] || fail "no state file"

# Per sender: n = 1..per, each once, in order; no event lines at all.
cat "$T"/logs/*/*.log | awk -v senders="$senders" -v per="$per" '
	/ ncx: / { print "event: " $0; bad = 1; next }
	!/ restart-test sender=/ { next }
	{
		match($0, /sender=[0-9]+ n=[0-9]+/)
		split(substr($0, RSTART, RLENGTH), f, /[= ]/)
		k = f[2]; n = f[4]
		want = next_n[k] ? next_n[k] : 1
		if (n != want) {
			if (n < want) print "sender " k ": line " n " doubled (" want " was due)"
			else print "sender " k ": line " n " where " want " was due (lost)"
			bad = 1
		}
		if (n >= want) next_n[k] = n + 1
	}
	END {
		for (k = 1; k <= senders; k++)
			if (next_n[k] != per + 1) { print "sender " k ": " next_n[k] - 1 " lines, want " per; bad = 1 }
		exit bad
	}' >"$T/check" || fail "$(head -20 "$T/check")"
note "$total lines from $senders senders, two SIGKILLs: each once, in order"

# --- A sender that started over while ncxd was down ---
# Same source port, a new `ncx send` (seqs from 0 again, later timestamps):
# a new stream, not resends of the old one. Its lines are written, none taken
# for duplicates, no gap. Each run names its stream (a random ncid), so ncxd
# knows it for a new stream at once: no reboot line (there was one before
# senders named their streams).
sp=$(free_port)
start_ncxd run4 -d "$T/logs" --rate 0 --threads 2
seq 100 | sed 's/^/first-run n=/' | "$NCX_BIN/ncx" send -t "127.0.0.1:$port" -p "$sp" --timeout 60 \
	2>"$T/first.err" || fail "first run: $(tail -3 "$T/first.err")"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
sleep 1.5 # the new run's first record is stamped well after the last one written
port_keep=$port
start_ncxd run5 -d "$T/logs" --rate 0 --threads 1
[ "$port" = "$port_keep" ] || fail "port changed"
seq 100 | sed 's/^/second-run n=/' | "$NCX_BIN/ncx" send -t "127.0.0.1:$port" -p "$sp" --timeout 60 \
	2>"$T/second.err" || fail "second run: $(tail -3 "$T/second.err")"
kill -TERM "$pid"
wait "$pid" || fail "ncxd exited $? on SIGTERM: $(tail -5 "$T/run5.err")"
[ "$(cat "$T"/logs/*/*.log | grep -c ' first-run n=')" -eq 100 ] || fail "first run not written once"
got=$(cat "$T"/logs/*/*.log | grep -c ' second-run n=')
[ "$got" -eq 100 ] || fail "$got of 100 lines of the second run written: $(grep ' ncx: ' "$T"/logs/*/*.log)"
grep -q ' ncx: gap ' "$T"/logs/*/*.log && fail "a gap line: $(grep ' ncx: ' "$T"/logs/*/*.log)"
note "a sender restarted while ncxd was down: a new stream, all its lines written"
