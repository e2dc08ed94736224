# SPDX-License-Identifier: MIT
# Emergency mode: the relay drops everything both ways for the sender's first
# 15 s (a silent receiver), then lets traffic through, lossless. ncxd never
# heard of the sender, so it asks for nothing: only the sender's emergency
# resends (oldest unacked record older than 10 s) can bring the records in.
# They must all arrive, exactly once and in order, and the sender's -v stats
# must show the emergency.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1
ncxd_pid=$pid
start_relay --blackout 0:15

# 300 records: 200 at once, 100 more 5 s later (still dark), so the emergency
# resends must cover records of different ages. The sender is the ASan build:
# one process is cheap.
gen() { seq "$1" "$2" | sed 's/^/e1 n/; s/$/ emergency test record/'; }
{ gen 1 200; sleep 5; gen 201 300; } |
	"$NCX_BIN/ncx" send -t "127.0.0.1:$rport" --timeout 60 -v 2>"$T/send.err" &
send_pid=$!
_pids+=("$send_pid")
wait "$send_pid" || fail "ncx send exited $?: $(cat "$T/send.err")"
cat "$T/send.err"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/send.err" && fail "sanitizer in ncx send"

kill -TERM "$relay_pid"; wait "$relay_pid" || fail "relay exited $?: $(tail -3 "$T/relay.err")"
kill -TERM "$ncxd_pid"; wait "$ncxd_pid" || fail "ncxd exited $?: $(tail -5 "$T/ncxd.err")"
cat "$T/relay.err"
grep -q 'blackout ends' "$T/relay.err" || fail "the sender finished before the blackout ended"
blacked=$(sed -n 's/.*forward: .*blackout \([0-9]*\).*/\1/p' "$T/relay.err")
[ "${blacked:-0}" -ge 300 ] || fail "only ${blacked:-0} datagrams fell into the blackout"

# From -v: "... emergency resends N (M emergencies) ...".
emg_resent=$(sed -n 's/.*emergency resends \([0-9]*\).*/\1/p' "$T/send.err")
emg=$(sed -n 's/.*(\([0-9]*\) emergencies).*/\1/p' "$T/send.err")
[ "${emg:-0}" -ge 1 ] || fail "no emergency in the sender's stats"
[ "${emg_resent:-0}" -ge 300 ] || fail "emg_resent ${emg_resent:-0}, want >= 300"

log=$T/all.log
cat "$T"/logs/127.0.0.1/*.log >"$log" 2>/dev/null || fail "no log file"
grep -q ' ncx: ' "$log" && fail "event lines: $(grep ' ncx: ' "$log")"
grep -oE ' e1 n[0-9]+ ' "$log" | awk '{ sub(/n/, "", $2) } $2 != NR { print "n" $2 " at line " NR; exit 1 }
	END { if (NR != 300) { print NR " records, want 300"; exit 1 } }' ||
	fail "records missing, repeated or out of order"
[ "$(wc -l <"$log")" -eq 300 ] || fail "extra lines"
note "ok: 300 records through a 15 s blackout by emergency resends ($emg_resent resent, $emg emergencies)"
