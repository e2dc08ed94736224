# SPDX-License-Identifier: MIT
# The live view: ncxd's log lines (a new sender, a gap, a reboot, a sender
# gone idle); `ncx status` against a live ncxd with senders (the table, the
# busiest first, --top with a count of the rest, --raw, --watch redrawing);
# hostile control clients (one that never asks, one that never reads a big
# answer) stall nothing: ncxd goes on receiving and writing, and answers
# the next client; the socket is 0660 and gone after a clean exit.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

ncx=$NCX_BIN/ncx
start_ncxd st -d "$T/logs" --threads 2 --rate 0
[ -S "$ctl" ] || fail "no control socket $ctl"
[ "$(stat -c %a "$ctl")" = 660 ] || fail "control socket mode $(stat -c %a "$ctl"), want 660"

loadgen --hosts 3 --records 100 --rate 3000 2>"$T/lg.err" || fail "loadgen: $(cat "$T/lg.err")"
esrc=$(free_port) gsrc=$(free_port)
"$ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$esrc" "$DATA/ext.hex" || fail "replay"
for s in 0 1 2 5 6; do printf '6,%d,%d,-;gap test %d\n' $s $s $s | hexline; done >"$T/gap.hex"
"$ncx" replay -t "127.0.0.1:$port" -p "$gsrc" "$T/gap.hex" || fail "replay gap"
"$ncx" send -t "127.0.0.1:$port" "a reliable one" || fail "ncx send"

# The log lines.
wait_for 20 grep -q "gap from 127.0.0.1:$gsrc: seq 3..4, 2 records not received" "$T/st.err" ||
	fail "no gap line: $(cat "$T/st.err")"
grep -q "new sender $base:$sport (stock/extended)" "$T/st.err" || fail "no new sender line: $(cat "$T/st.err")"
grep -q "new sender 127.0.0.1:[0-9]* (reliable/extended)" "$T/st.err" || fail "no reliable sender line"
grep -q "reboot of 127.0.0.1:$esrc: seq [0-9]*, then a new boot from seq [0-9]*" "$T/st.err" ||
	fail "no reboot line: $(grep 127.0.0.1:$esrc "$T/st.err")"

# The table: every sender, loadgen's first host with its 100 records.
"$ncx" status --control "$ctl" >"$T/table" 2>"$T/status.err" || fail "ncx status: $(cat "$T/status.err")"
cat "$T/table"
grep -q '^ADDRESS  *PORT STREAM  *RECORDS  *BYTES  *GAPS  *LOST  *RATE/s  LAST SEEN$' "$T/table" ||
	fail "no table header"
grep -q ": 6 senders; 5155 records," "$T/table" || fail "summary line: $(head -1 "$T/table")"
grep -qE "^$base +$sport stock/extended +100 " "$T/table" || fail "loadgen host row"
grep -qE "^127\.0\.0\.1 +$gsrc stock/extended +5 +[0-9]+ +1 +2 " "$T/table" || fail "gap sender row"
grep -qE "^127\.0\.0\.1 +[0-9]+ reliable/extended +1 " "$T/table" || fail "reliable sender row"
grep -q 'more senders' "$T/table" && fail "all 6 fit, yet 'more senders'"
# --top: one sender, and a count of the rest.
"$ncx" status --control "$ctl" --top 1 >"$T/top" || fail "--top 1"
[ "$(grep -c '^127\|^'"$base" "$T/top")" -eq 1 ] || fail "--top 1 shows $(cat "$T/top")"
grep -q '^\.\.\. and 5 more senders' "$T/top" || fail "no count of the rest: $(cat "$T/top")"
# --raw: the machine-readable form, the busiest first (by rate, then records).
# (Which sender that is depends on when the snapshots fell: a rate is over
# an interval of 1 s at least, and 0.0 for a sender seen for less.)
"$ncx" status --control "$ctl" --raw >"$T/raw" || fail "--raw"
head -1 "$T/raw" | grep -qx 'ncxd-status 1' || fail "raw first line: $(head -1 "$T/raw")"
[ "$(tail -1 "$T/raw")" = end ] || fail "raw last line"
[ "$(grep -c '^sender ' "$T/raw")" -eq 6 ] || fail "raw: $(cat "$T/raw")"
awk '/^sender / { if (n++ && $10 > r) { print "out of order: " $0; exit 1 } r = $10 }' "$T/raw" ||
	fail "not the busiest first: $(cat "$T/raw")"
grep -qE "^sender 127\.0\.0\.1 $esrc stock/extended 4849 [0-9]+ 0 0 0 " "$T/raw" || fail "raw: the replay's row"
# Once every rate has had its second and the traffic is over, all rates are
# 0.0 and records decide: the 4849-record replay is the busiest.
idle() { "$ncx" status --control "$ctl" --raw | awk '/^sender / && $10 != "0.0" { busy = 1 } END { exit busy }'; }
wait_for 15 idle || fail "rates not back to 0.0: $("$ncx" status --control "$ctl" --raw)"
"$ncx" status --control "$ctl" --top 1 >"$T/top" || fail "--top 1"
grep -qE "^127\.0\.0\.1 +$esrc " "$T/top" || fail "the busiest is not first: $(cat "$T/top")"
# --watch: a new frame every second until stopped.
timeout 5 "$ncx" status --control "$ctl" --watch -i 1 >"$T/watch" 2>&1
frames=$(grep -o $'\033\\[H\033\\[2J' "$T/watch" | wc -l)
[ "$frames" -ge 2 ] || fail "--watch drew $frames frames in 5 s"
[ "$(grep -c "^$base  *$sport " "$T/watch")" -ge 2 ] || fail "--watch frames lack the table"
# A bad request gets an error line, and the next one an answer.
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "$!";
	print $s "bogus\n"; print while <$s>' "$ctl" >"$T/bogus"
grep -q '^error unknown request' "$T/bogus" || fail "bogus request: $(cat "$T/bogus")"

# Hostile clients: one connects and never asks; one asks for a big answer
# (4000 more senders) and never reads it. ncxd receives and writes on.
loadgen --hosts 4000 --records 1 --rate 20000 --src-port "$(free_port)" 2>"$T/lg2.err" ||
	fail "loadgen: $(cat "$T/lg2.err")"
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die; sleep 30' "$ctl" &
_pids+=($!)
perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
	print $s "status all\n"; $s->flush; sleep 30' "$ctl" &
_pids+=($!)
sleep 0.5
loadgen --hosts 3 --records 100 --seq-start 100 --rate 3000 2>"$T/lg3.err" || fail "loadgen: $(cat "$T/lg3.err")"
wait_for 20 bash -c "[ \$(cat '$T'/logs/$base/*.log | wc -l) -ge 200 ]" ||
	fail "ncxd stopped writing behind a hostile control client: $(cat "$T"/logs/$base/*.log | wc -l) lines"
# Both are dropped (2 s to ask, 5 s to read), and the next client is answered.
wait_for 20 grep -q 'control socket: a client did not ask in time: dropped' "$T/st.err" ||
	fail "silent client not dropped: $(grep control "$T/st.err")"
wait_for 20 grep -q 'control socket: a client did not read its answer in time: dropped' "$T/st.err" ||
	fail "non-reading client not dropped: $(grep control "$T/st.err")"
timeout 30 "$ncx" status --control "$ctl" --top 2 >"$T/after" 2>&1 || fail "status after: $(cat "$T/after")"
grep -q ': 4006 senders;' "$T/after" || fail "after: $(head -1 "$T/after")"
grep -q '^\.\.\. and 4004 more senders' "$T/after" || fail "after: $(cat "$T/after")"
# The live view's lines are rate-limited: 4006 new senders in well under a
# minute give 200 lines, then the log core's notice for that call site.
[ "$(grep -c 'new sender ' "$T/st.err")" -eq 200 ] || fail "$(grep -c 'new sender ' "$T/st.err") new sender lines, want 200"
grep -q 'ratelimit in effect: .*worker\.c:[0-9]*: silent for 60 s' "$T/st.err" || fail "no ratelimit notice: $(grep ratelimit "$T/st.err")"
stop_ncxd st
[ ! -e "$ctl" ] || fail "control socket left behind after exit"
"$ncx" status --control "$ctl" 2>"$T/dead.err" && fail "status with no ncxd succeeded"
grep -q "cannot reach ncxd at $ctl" "$T/dead.err" || fail "dead: $(cat "$T/dead.err")"

# --control '' turns it off; a sender gone idle gets its line.
start_ncxd idle -d "$T/idle" --idle 1 --control ''
[ ! -e "$T/idle.sock" ] || fail "--control '' made a socket"
"$ncx" replay -t "127.0.0.1:$port" -p "$gsrc" "$T/gap.hex" || fail "replay"
wait_for 20 grep -q "sender 127.0.0.1:$gsrc gone idle (silent for 1 s): forgotten after 5 records" "$T/idle.err" ||
	fail "no idle line: $(cat "$T/idle.err")"
stop_ncxd idle
note "ok: log lines, status table, --top, --raw, --watch ($frames frames), hostile clients"
