# SPDX-License-Identifier: MIT
# Finding 1 of the hardening issue (reflection): two forged datagrams that
# claim to be a reliable sender, seq 1 and then seq 1,000,000, made ncxd ask
# for the whole window every 100 ms for the hole's life: 2.45 MB in 30 s
# sent to the forged address for 94 bytes received. ncxd must never send an
# address more than 3x the bytes it received from it (rx.h, NCX_RX_AMPLIFY),
# and count what it held back. A real sender's next datagram buys more.
. "$NCX_TOP/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1

# One socket (the "victim"): sends the two datagrams, then counts for 4 s
# every byte that comes back. Prints "sent received".
out=$(perl -MIO::Socket::INET -MIO::Select -e '
	my $s = IO::Socket::INET->new(Proto => "udp", LocalAddr => "127.0.0.1",
		PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die "socket: $!\n";
	my @d = ("6,1,10,-,ncrx=1;forged one\n", "6,1000000,20,-,ncrx=1;forged two\n");
	my $sent = 0;
	for (@d) { $s->send($_) or die "send: $!\n"; $sent += length }
	my ($got, $sel, $end) = (0, IO::Select->new($s), time + 4);
	while ((my $left = $end - time) > 0) {
		next unless $sel->can_read($left);
		my $buf; $s->recv($buf, 65536); $got += length $buf;
	}
	print "$sent $got\n";' "$port") || fail "perl: $out"
read -r sent got <<<"$out"
note "sent $sent bytes, got $got back"
[ "$got" -gt 0 ] || fail "no ack at all"
[ "$got" -le $((3 * sent)) ] || fail "ncxd sent $got bytes for $sent received (over 3x)"
stop_ncxd ncxd
