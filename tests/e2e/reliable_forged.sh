# SPDX-License-Identifier: MIT
# Forged responses: while the receiver is unreachable (relay blackout for the
# first 8 s), datagrams that look like acks and resend requests reach the
# sender's port from elsewhere: another port of the relay's address, and the
# relay's own port on another address (127.0.0.2). The sender must take none
# of them: a forged "ncrx999999" taken as an ack would let it exit at once
# with nothing delivered, a forged "ncrx0 1 2 3" would make it resend. It must
# keep waiting, get everything through once the real receiver answers, and
# count every forged datagram.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1
ncxd_pid=$pid
start_relay --blackout 0:8

# relay_stat NAME: a count from the relay's stats line, fresh (SIGUSR1).
# fwd_in is every datagram the sender has sent so far, new_seqs its records.
relay_stat() {
	local before
	before=$(grep -c 'stats ' "$T/relay.err")
	kill -USR1 "$relay_pid"
	wait_for 5 bash -c "[ \$(grep -c 'stats ' '$T/relay.err') -gt $before ]" || fail "no relay stats"
	sed -n "s/.*stats .*$1=\\([0-9]*\\).*/\\1/p" "$T/relay.err" | tail -1
}

sport=$(free_port)
seq 1 50 | sed 's/^/f1 n/; s/$/ forged test record/' >"$T/in"
# (Not through bg: a background command's stdin would be /dev/null.)
"$NCX_BIN/ncx" send -t "127.0.0.1:$rport" -p "$sport" --timeout 60 -v <"$T/in" 2>"$T/send.err" &
send_pid=$!
_pids+=("$send_pid")
for i in $(seq 50); do
	[ "$(relay_stat new_seqs)" -ge 50 ] && break
	sleep 0.2
done
[ "$(relay_stat new_seqs)" -ge 50 ] || fail "the sender did not send its 50 records: $(cat "$T/send.err")"
sent=$(relay_stat fwd_in)

# 10 of each kind, 40 in all, well before the sender's emergency mode (10 s).
for i in $(seq 10); do
	printf 'ncrx999999' >/dev/udp/127.0.0.1/"$sport"
	printf 'ncrx0 1 2 3' >/dev/udp/127.0.0.1/"$sport"
done
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(Proto => "udp", LocalAddr => "127.0.0.2", LocalPort => $ARGV[0],
		PeerAddr => "127.0.0.1", PeerPort => $ARGV[1]) or die "socket: $!\n";
	for (1 .. 10) { $s->send("ncrx999999"); $s->send("ncrx0 1 2 3") }' "$rport" "$sport" ||
	fail "could not send from 127.0.0.2:$rport"
sleep 1
kill -0 "$send_pid" 2>/dev/null || fail "the sender exited on forged acks: $(cat "$T/send.err")"
now=$(relay_stat fwd_in)
[ "$now" -eq "$sent" ] || fail "the sender sent $((now - sent)) datagrams after forged resend requests"

wait "$send_pid" || fail "ncx send exited $?: $(cat "$T/send.err")"
cat "$T/send.err"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/send.err" && fail "sanitizer in ncx send"
forged=$(grep -oE '\bforged[=: ]+[0-9]+' "$T/send.err" | grep -oE '[0-9]+$' | tail -1)
[ "${forged:-0}" -ge 40 ] || fail "forged ${forged:-none} in the sender's stats, want >= 40"

kill -TERM "$relay_pid"; wait "$relay_pid" || fail "relay exited $?: $(tail -3 "$T/relay.err")"
kill -TERM "$ncxd_pid"; wait "$ncxd_pid" || fail "ncxd exited $?: $(tail -5 "$T/ncxd.err")"
cat "$T/relay.err"
log=$T/all.log
cat "$T"/logs/127.0.0.1/*.log >"$log" 2>/dev/null || fail "no log file"
grep -q ' ncx: ' "$log" && fail "event lines: $(grep ' ncx: ' "$log")"
grep -oE ' f1 n[0-9]+ ' "$log" | awk '{ sub(/n/, "", $2) } $2 != NR { print "n" $2 " at line " NR; exit 1 }
	END { if (NR != 50) { print NR " records, want 50"; exit 1 } }' ||
	fail "records missing, repeated or out of order"
note "ok: 40 forged responses ignored and counted ($forged), all 50 records delivered after"
