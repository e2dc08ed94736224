# SPDX-License-Identifier: MIT
# Issue #10, finding 5: two `ncx send` runs from the same fixed source port,
# one right after the other, 200 distinct lines each. Both start at seq 0;
# before stream identity, ncxd took the second run's records for resends of
# the first (same address, port and seqs, within the hole timeout) and
# dropped them as duplicates. Each run names a stream of its own now (a
# random ncid): both must exit 0 and ncxd's file must hold all 400 lines,
# each exactly once. The metrics name the sender once (its two streams
# summed): a label set twice is a file Prometheus refuses.
. "$NCX_TOP/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"

m=$T/metrics
start_ncxd ncxd -d "$T/logs" --threads 1 --metrics "$m" --metrics-interval 1
ncxd_pid=$pid
src=$(free_port)
[ "$src" != "$port" ] || src=$(free_port)

for run in 1 2; do
	seq 1 200 | sed "s/^/run$run line /; s/\$/ two-runs/" >"$T/in$run"
	"$NCX_BIN/ncx" send -t "127.0.0.1:$port" -p "$src" --timeout 30 -v \
		<"$T/in$run" 2>"$T/send$run.err" ||
		fail "run $run exited $?: $(tail -3 "$T/send$run.err")"
done

log=$T/all.log
got() { cat "$T"/logs/127.0.0.1/*.log 2>/dev/null | grep -cE ' run[12] line [0-9]+ two-runs' || true; }
# Both runs are acked, so written; the wait only covers the file's buffer.
wait_for 10 bash -c "[ \$(cat '$T'/logs/127.0.0.1/*.log 2>/dev/null | grep -cE ' run[12] line [0-9]+ two-runs') -ge 400 ]" ||
	fail "$(got) of 400 lines written"
sleep 1.5 # a metrics write with both streams
series=$(grep -c "^ncxd_host_records_total{host=\"127.0.0.1\",port=\"$src\"}" "$m")
[ "$series" = 1 ] || fail "$series series for one sender: $(grep '^ncxd_host_records_total' "$m")"
grep -q "^ncxd_host_records_total{host=\"127.0.0.1\",port=\"$src\"} 400\$" "$m" ||
	fail "the sender's series does not sum its streams: $(grep '^ncxd_host_records_total' "$m")"
kill -TERM "$ncxd_pid"; wait "$ncxd_pid" || fail "ncxd exited $?: $(tail -5 "$T/ncxd.err")"
cat "$T"/logs/127.0.0.1/*.log >"$log" 2>/dev/null || fail "no log file"
for run in 1 2; do
	grep -oE " run$run line [0-9]+ two-runs" "$log" | awk '{ print $3 }' | sort -n | uniq -c |
		awk -v r="$run" '$1 != 1 { print "run " r " line " $2 ": " $1 " times"; bad = 1 }
			{ n++ } END { if (n != 200) { print "run " r ": " n " distinct lines, want 200"; bad = 1 }
			exit bad }' ||
		fail "run $run: lines missing or repeated"
done
note "ok: two runs from port $src, 200 lines each: all 400 written once"
