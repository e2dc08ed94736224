# SPDX-License-Identifier: MIT
# ncx listen on the recorded kernel traffic: every record of both boots comes
# out once, in order, with the reboot between them, no gap; legacy datagrams
# come out as legacy lines; malformed datagrams are counted, not fatal.
. "$NCX_TOP/tests/support/e2e.sh"

port=$(free_port)
out=$T/listen.out
bg "$NCX_BIN/ncx" listen -v -l "127.0.0.1:$port" >"$out" 2>"$T/listen.err"
lpid=$!
wait_udp_bound "$port" || fail "ncx listen did not bind 127.0.0.1:$port"

# Garbage first: random bytes, a broken extended header, a huge datagram.
{
	head -c 300 /dev/urandom | hexline
	printf '6,12,34,-,ncfrag=5000/10;x' | hexline
	printf '6,1' | hexline
	head -c 65000 /dev/zero | tr '\0' 'a' | hexline
} >"$T/garbage.hex"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p $((port + 3)) "$T/garbage.hex" || fail "replay garbage"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p $((port + 1)) "$DATA/ext.hex" || fail "replay ext"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p $((port + 2)) "$DATA/legacy.hex" || fail "replay legacy"

ext="127.0.0.1:$((port + 1)) "
leg="127.0.0.1:$((port + 2)) legacy "
# 2,424 + 2,425 records in the two boots; 4,853 legacy datagrams.
wait_for 60 bash -c "[ \$(grep -c '^$ext''seq=' $out) -ge 4849 ] && [ \$(grep -c '^$leg' $out) -ge 4853 ]"
kill -TERM "$lpid"
wait "$lpid"; rc=$?
[ "$rc" -eq 0 ] || fail "ncx listen exited $rc on SIGTERM: $(cat "$T/listen.err")"

n=$(grep -c "^${ext}seq=" "$out")
[ "$n" -eq 4849 ] || fail "expected 4849 extended records, got $n"
[ "$(count "${ext}reboot prev_seq=2423 seq=0" "$out")" -eq 1 ] || fail "no single reboot line"
[ "$(count "${ext}gap" "$out")" -eq 0 ] || fail "gap reported on a lossless capture"
n=$(grep -c "^$leg" "$out")
[ "$n" -eq 4853 ] || fail "expected 4853 legacy lines, got $n"

# In order within each boot: seq runs 0..2423, then 0..2424.
grep "^${ext}seq=" "$out" | sed 's/.* seq=\([0-9]*\) .*/\1/' >"$T/seqs"
{ seq 0 2423; seq 0 2424; } | cmp -s - "$T/seqs" || fail "records out of order or missing"

# Fields: level name, kernel time, escaped text as on the wire.
grep -qF "${ext}seq=0 notice [    0.000000] Linux version 6.1.0-56-amd64" "$out" ||
	fail "first record not printed as expected"
grep -F "${ext}seq=387 " "$out" | grep -q '\\xe9\\xe9' || fail "reassembled escaped record missing"
# Malformed input was seen and counted, and nothing from it became a record.
grep -q "^127.0.0.1:$((port + 3)) dropped 1 malformed" "$out" || fail "malformed datagram not reported"
[ "$(grep -c "^127.0.0.1:$((port + 3)) seq=" "$out")" -eq 0 ] || fail "garbage became a record"
note "ok: 4849 records, 4853 legacy lines, 1 reboot, garbage counted"
