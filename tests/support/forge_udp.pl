#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# forge_udp.pl SRC_ADDR SRC_PORT DST_ADDR DST_PORT PAYLOAD [COUNT]
# Sends PAYLOAD as one UDP datagram with a forged IPv4 source (address and
# port), through a raw socket (root): what an off-path attacker on the same
# network can do. Tests send only to loopback (127.0.0.0/8). perl-base only.
use strict;
use warnings;
use Socket;

@ARGV >= 5 or die "usage: forge_udp.pl SRC_ADDR SRC_PORT DST_ADDR DST_PORT PAYLOAD [COUNT]\n";
my ($src, $sport, $dst, $dport, $payload, $count) = @ARGV;
$count //= 1;
$dst =~ /^127\./ or die "forge_udp.pl: loopback destinations only\n";
my $ulen = 8 + length($payload);
my $udp = pack('nnnn', $sport, $dport, $ulen, 0) . $payload;	# checksum 0: none (IPv4)
# IP_HDRINCL (implied by IPPROTO_RAW): the kernel fills in the checksum and id.
my $ip = pack('CCnnnCCna4a4', 0x45, 0, 20 + $ulen, 0, 0, 64, 17, 0,
	inet_aton($src), inet_aton($dst));
socket(my $s, PF_INET, SOCK_RAW, 255) or die "forge_udp.pl: raw socket: $!\n";
for (1 .. $count) {
	send($s, $ip . $udp, 0, sockaddr_in($dport, inet_aton($dst))) or die "forge_udp.pl: send: $!\n";
}
