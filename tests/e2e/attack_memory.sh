# SPDX-License-Identifier: MIT
# Finding 7 of the hardening issue: 20,000 forged senders with 8 open
# reassemblies each (the first piece of an 8,000-byte record) took ncxd to
# 1.09 GB resident, and kept it after the pieces timed out (marked ncrx=1,
# they wait the reliable hole timeout, 30 s): the bound on
# held bytes was per worker (512 MiB each). Now all workers together hold
# at most NCXD_HELD_BYTES (256 MiB), and what is freed goes back. The
# uninstrumented build is measured (ASan keeps freed memory in quarantine).
. "$NCX_TOP/tests/support/e2e.sh"
NCX_BIN=${NCX_MAIN_BIN:-$NCX_BIN}
. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 2
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
before=$(rss VmRSS)

perl -MIO::Socket::INET -e '
	my ($port, $base) = @ARGV;
	my $body = "x" x 990;
	for my $h (0 .. 19999) {
		my $addr = sprintf("127.%d.%d.%d", 40 + int($h / 65025), int($h / 255) % 255, 1 + $h % 255);
		my $s = IO::Socket::INET->new(Proto => "udp", LocalAddr => $addr,
			PeerAddr => "127.0.0.1", PeerPort => $port) or die "socket $addr: $!\n";
		$s->send("6,$_,0,-,ncrx=1,ncfrag=0/8000;$body") for 1 .. 8;
	}' "$port" || fail "could not send the pieces"
# The pieces time out (30 s after they came) and are freed; the memory goes back.
sleep 33
after=$(rss VmRSS) peak=$(rss VmHWM)
note "RSS before ${before} kB, at the peak ${peak} kB, 33 s later ${after} kB"
[ "$peak" -lt $((600 * 1024)) ] || fail "peak RSS ${peak} kB: held bytes are not bounded for the whole process"
[ "$after" -lt $((before + 200 * 1024)) ] || fail "RSS ${after} kB 33 s later (was ${before} kB): not given back"
stop_ncxd ncxd
