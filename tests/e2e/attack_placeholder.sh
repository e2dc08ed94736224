# SPDX-License-Identifier: MIT
# Finding 2 of the hardening issue: one forged datagram
# "4,0,0,-,ncgone=4294967296,ncrx=1;x" from a reliable sender's address and
# port (no seq to guess) made ncxd close 2^32 seqs as lost and drop the
# sender's next records as duplicates, acking them: the sender exited 0
# with most of its records gone. A placeholder is a claim: it closes only
# what ncxd asked for. Here `ncx send` logs 100 lines, the forged datagram
# comes (a raw socket, source 127.0.0.1:SPORT, as root), then 100 more: all
# 200 must be in the file, and no gap.
. "$NCX_TOP/tests/support/e2e.sh"
[ "$(id -u)" = 0 ] || { echo "skip: a forged source address needs root (raw socket)"; exit 77; }
. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 1

mkfifo "$T/in"
"$NCX_BIN/ncx" send -t "127.0.0.1:$port" -p "$sport" --timeout 60 <"$T/in" 2>"$T/send.err" &
send_pid=$!
_pids+=("$send_pid")
exec 3>"$T/in"
for i in $(seq 1 100); do echo "p2 n$i placeholder test" >&3; done
wait_for 20 bash -c "[ \$(cat '$T'/logs/*/* 2>/dev/null | grep -c ' p2 n') -ge 100 ]" ||
	fail "the first 100 lines did not arrive"

perl -e '
	use Socket;
	my ($sport, $dport) = @ARGV;
	my $payload = "4,0,0,-,ncgone=4294967296,ncrx=1;x\n";
	my $udp = pack("nnnn", $sport, $dport, 8 + length $payload, 0) . $payload;
	# IPv4 header: the kernel fills in the checksum and total length (raw(7)).
	my $ip = pack("CCnnnCCnNN", 0x45, 0, 0, 0, 0, 64, 17, 0,
		unpack("N", inet_aton("127.0.0.1")), unpack("N", inet_aton("127.0.0.1")));
	socket(my $s, PF_INET, SOCK_RAW, 255) or die "raw socket: $!\n";
	send($s, $ip . $udp, 0, pack_sockaddr_in($dport, inet_aton("127.0.0.1"))) or die "send: $!\n";
' "$sport" "$port" || fail "could not forge the datagram"
sleep 0.5

for i in $(seq 101 200); do echo "p2 n$i placeholder test" >&3; done
exec 3>&-
wait "$send_pid" || fail "ncx send exited $?: $(cat "$T/send.err")"
stop_ncxd ncxd
f=$(ls "$T"/logs/*/*)
got=$(grep -c ' p2 n' $f)
for i in $(seq 1 200); do
	grep -q " p2 n$i placeholder" $f || fail "line n$i missing ($got of 200 in the file): $(grep ' ncx: ' $f | head -5)"
done
! grep -q ' ncx: gap' $f || fail "a gap from one forged datagram: $(grep ' ncx: gap' $f)"
note "all 200 lines, no gap"
