# SPDX-License-Identifier: MIT
# Issue #10, finding 4: a forged ack past what `ncx send` has sent, from the
# receiver's own address and port (a raw socket forges the source), while the
# receiver is unreachable (relay blackout for the first 6 s). Before the fix
# the sender took it as acking everything (and more: its count of unacked
# records wrapped to 18446744073708551668) and gave up on what it had sent.
# It must ignore it, count it, wait for the real receiver, get all 50 records
# through and exit 0, with no wrapped count anywhere.
. "$NCX_TOP/tests/support/e2e.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (a raw socket to forge the source)"; exit 77; }

. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1
ncxd_pid=$pid
start_relay --blackout 0:6

sport=$(free_port)
seq 1 50 | sed 's/^/a1 n/; s/$/ ack-ahead test record/' >"$T/in"
"$NCX_BIN/ncx" send -t "127.0.0.1:$rport" -p "$sport" --timeout 60 -v <"$T/in" 2>"$T/send.err" &
send_pid=$!
_pids+=("$send_pid")
wait_udp_bound "$sport" || fail "ncx send did not bind $sport"
sleep 1
# From the receiver's (the relay's) address and port, as the sender checks.
for ack in 1000000 50 18446744073709551614; do
	perl "$NCX_TOP/tests/support/forge_udp.pl" 127.0.0.1 "$rport" 127.0.0.1 "$sport" \
		"ncrx$ack" 3 || fail "could not forge a datagram"
done
sleep 1
kill -0 "$send_pid" 2>/dev/null ||
	fail "ncx send exited on a forged ack ahead of what it sent: $(cat "$T/send.err")"

wait "$send_pid" || fail "ncx send exited $?: $(cat "$T/send.err")"
cat "$T/send.err"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/send.err" && fail "sanitizer in ncx send"
grep -qE '[0-9]{15,}' "$T/send.err" && fail "a wrapped count: $(grep -E '[0-9]{15,}' "$T/send.err")"
ahead=$(sed -n 's/.*acks ahead \([0-9]*\).*/\1/p' "$T/send.err" | tail -1)
[ "${ahead:-0}" -ge 9 ] || fail "acks ahead ${ahead:-none} in the sender's stats, want >= 9"

kill -TERM "$relay_pid"; wait "$relay_pid" || fail "relay exited $?: $(tail -3 "$T/relay.err")"
kill -TERM "$ncxd_pid"; wait "$ncxd_pid" || fail "ncxd exited $?: $(tail -5 "$T/ncxd.err")"
log=$T/all.log
cat "$T"/logs/127.0.0.1/*.log >"$log" 2>/dev/null || fail "no log file"
grep -oE ' a1 n[0-9]+ ' "$log" | awk '{ sub(/n/, "", $2) } $2 != NR { print "n" $2 " at line " NR; exit 1 }
	END { if (NR != 50) { print NR " records, want 50"; exit 1 } }' ||
	fail "records missing, repeated or out of order"
note "ok: 9 forged acks ahead ignored and counted ($ahead), all 50 records delivered"
