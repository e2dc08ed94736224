# SPDX-License-Identifier: MIT
# A malformed flood while valid senders send: random bytes, truncated
# headers, bogus ncfrag, NUL bytes, 64 KiB datagrams. The valid senders'
# records are all written, in order, and the daemon (ASan+UBSan) stays up
# and exits cleanly.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

hosts=20 per=300
start_ncxd flood -d "$T/logs" --threads 2
bg loadgen --hosts "$hosts" --records "$per" --rate 1000 2>"$T/loadgen.err"
lg=$!

# flood N: garbage from a few sockets of 127.0.0.1 (one write = one datagram).
flood() {
	local i
	exec 3>"/dev/udp/127.0.0.1/$port" 4>"/dev/udp/127.0.0.1/$port"
	for ((i = 0; i < $1; i++)); do
		dd if=/dev/urandom bs=65507 count=1 2>/dev/null >&3
		head -c $((RANDOM % 1500 + 1)) /dev/urandom >&4
		printf '6,%d' $i >&3
		printf '6,%d,0,-,ncfrag=%d/%d;xyz' $i $((RANDOM * 3)) $((RANDOM % 9000)) >&4
		printf '6,%d,0,-,ncfrag=0/8192;%s' $i "$(head -c 900 /dev/zero | tr '\0' a)" >&3
		printf ',,,;;\n\x00\x01' >&4
		printf '99999999999999999999999,1,1,-;overflow' >&3
		printf '6,18446744073709551615,1,-;max seq' >&4
		printf '\\\\\\x\\x4' >&3
		printf '' >&4
		dd if=/dev/zero bs=65507 count=1 2>/dev/null >&3
	done
	exec 3>&- 4>&-
}
flood 150
kill -0 "$pid" 2>/dev/null || fail "ncxd died in the flood: $(tail -20 "$T/flood.err")"
wait "$lg" || fail "loadgen: $(cat "$T/loadgen.err")"
total=$((hosts * per))
wait_for 60 bash -c "[ \$(cat '$T'/logs/127.[1-9]*/*.log | wc -l) -ge $total ]" ||
	fail "$(cat "$T"/logs/127.[1-9]*/*.log | wc -l) of $total valid lines"
stop_ncxd flood
check_hosts "$per" "$T"/logs/127.[1-9]*/*.log || fail "valid records lost under the flood"
[ "$(ls -d "$T"/logs/127.[1-9]* | wc -l)" -eq "$hosts" ] || fail "host count"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/flood.err" && fail "sanitizer: $(cat "$T/flood.err")"
note "ok: $total valid records intact through the flood"
