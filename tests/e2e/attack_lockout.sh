# SPDX-License-Identifier: MIT
# Finding 6 of the hardening issue (lock-out): forged (address, port) pairs
# filled the sender table, and for the next hour (--idle) new hosts got no
# file and no ack, with nothing logged. Now a full table makes room: those
# heard only once go first, so a host that has spoken twice keeps its state
# and a newcomer still gets in; the first eviction is said once on stderr.
# (A table of 50 here: --max-senders; the default is 100,000 per worker.)
. "$NCX_TOP/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1 --max-senders 50

perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
	my $port = $ARGV[0];
	sub sock { IO::Socket::INET->new(Proto => "udp", LocalAddr => $_[0],
		PeerAddr => "127.0.0.1", PeerPort => $port) or die "socket $_[0]: $!\n" }
	my $a = sock("127.0.0.1");
	$a->send("6,$_,$_,-;host a line $_\n") for 1 .. 2;
	sleep 0.2;
	for my $i (1 .. 200) {	# 200 forged pairs, a datagram each
		sock(sprintf("127.0.2.%d", $i))->send("6,7,7,-;forged $i\n");
	}
	sleep 0.2;
	$a->send("6,3,3,-;host a line 3\n");
	sock("127.0.0.3")->send("6,1,1,-;host b line 1\n");
' "$port" || fail "perl could not send"
wait_for 10 bash -c "grep -qs 'host b line 1' '$T'/logs/127.0.0.3/*" || fail "the newcomer got no file"
wait_for 10 bash -c "grep -qs 'host a line 3' '$T'/logs/127.0.0.1/*" || fail "host a's third line is missing"
a=$(cat "$T"/logs/127.0.0.1/*)
for i in 1 2 3; do
	grep -q "host a line $i" <<<"$a" || fail "host a line $i missing"
done
! grep -q ' ncx: ' <<<"$a" || fail "host a's file has events: $(grep ' ncx: ' <<<"$a")"
# Kept: it was never new again (an evicted sender comes back as a new one).
n=$(grep -c 'new sender 127.0.0.1:' "$T/ncxd.err")
[ "$n" -eq 1 ] || fail "host a was new $n times: evicted"
[ "$(grep -c 'sender table full' "$T/ncxd.err")" -eq 1 ] ||
	fail "want one 'sender table full' line: $(grep -c 'sender table full' "$T/ncxd.err")"
stop_ncxd ncxd
note "host a kept its state through 200 forged senders; the newcomer got in"
