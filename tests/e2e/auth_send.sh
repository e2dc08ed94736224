# SPDX-License-Identifier: MIT
# Issue #10, authentication end to end with `ncx send`: ncxd holds a secret
# and requires tags (--auth-key SECRET --require-auth).
#   - `ncx send --auth-key` with the key ncx key derives for 127.0.0.1: every
#     line written (one of 1000 bytes: a record sent in two fragments, each
#     with its own tag), exit 0, no response with a bad tag;
#   - without a key: nothing written, counted (ncxd_auth_missing_total);
#   - with another secret's key: nothing written, counted
#     (ncxd_auth_bad_total), and it exits non-zero: nothing was acked.
. "$NCX_TOP/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"

ncx=$NCX_BIN/ncx
"$ncx" key new -o "$T/secret" || fail "ncx key new failed"
"$ncx" key new -o "$T/other" || fail "ncx key new failed"
umask 077
"$ncx" key derive --secret "$T/secret" 127.0.0.1 >"$T/host.key" || fail "ncx key derive failed"
"$ncx" key derive --secret "$T/other" 127.0.0.1 >"$T/wrong.key" || fail "ncx key derive failed"
chmod 600 "$T/host.key" "$T/wrong.key"

m=$T/metrics
start_ncxd ncxd -d "$T/logs" --threads 1 --auth-key "$T/secret" --require-auth \
	--metrics "$m" --metrics-interval 1
ncxd_pid=$pid
written() { cat "$T"/logs/127.0.0.1/*.log 2>/dev/null | grep -cE " $1 line [0-9]+ auth" || true; }
metric() { sed -n "s/^$1 \([0-9]*\)\$/\1/p" "$m" 2>/dev/null; }

# ---- the right key -----------------------------------------------------------
seq 1 100 | sed 's/^/good line /; s/$/ auth/' >"$T/good.in"
printf 'good line 101 auth %0980d\n' 0 >>"$T/good.in"
"$ncx" send -t "127.0.0.1:$port" --auth-key "$T/host.key" --timeout 30 -v \
	<"$T/good.in" 2>"$T/good.err" || fail "ncx send with the key exited $?: $(tail -3 "$T/good.err")"
grep -q 'bad tags 0,' "$T/good.err" || fail "responses with a bad tag: $(cat "$T/good.err")"
wait_for 10 bash -c "[ \$(cat '$T'/logs/127.0.0.1/*.log 2>/dev/null | grep -cE ' good line [0-9]+ auth') -ge 101 ]" ||
	fail "$(written good) of 101 tagged lines written"
# (ncxd may add " seq=N" after the text)
grep -qh " good line 101 auth 0\{980\}\( \|\$\)" "$T"/logs/127.0.0.1/*.log ||
	fail "the fragmented line is not whole: $(grep -h " good line 101 " "$T"/logs/127.0.0.1/*.log | awk '{ print length($0) ": " substr($0, length($0) - 40) }')"
note "ok: 101 tagged lines written (one in fragments), all acked"

# ---- no key, and the wrong key: refused, counted, not acked -------------------
seq 1 20 | sed 's/^/nokey line /; s/$/ auth/' >"$T/nokey.in"
"$ncx" send -t "127.0.0.1:$port" --timeout 3 <"$T/nokey.in" 2>"$T/nokey.err" &&
	fail "ncx send without a key exited 0 (acked?)"
wait_for 10 bash -c "grep -qE '^ncxd_auth_missing_total [1-9]' '$m'" ||
	fail "untagged datagrams not counted: $(grep '^ncxd_auth' "$m" 2>&1)"

seq 1 20 | sed 's/^/wrong line /; s/$/ auth/' >"$T/wrong.in"
# --timeout 5: past the 3 s after which it says nothing answered, and why.
"$ncx" send -t "127.0.0.1:$port" --auth-key "$T/wrong.key" --timeout 5 -v \
	<"$T/wrong.in" 2>"$T/wrong.err"
rc=$?
[ "$rc" -ne 0 ] || fail "ncx send with the wrong key exited 0: $(cat "$T/wrong.err")"
grep -q 'were not acked' "$T/wrong.err" || fail "no 'not acked' line: $(cat "$T/wrong.err")"
grep -q 'is --auth-key the key' "$T/wrong.err" || fail "no hint at the key: $(cat "$T/wrong.err")"
wait_for 10 bash -c "grep -qE '^ncxd_auth_bad_total [1-9]' '$m'" ||
	fail "badly tagged datagrams not counted: $(grep '^ncxd_auth' "$m" 2>&1)"

sleep 1	# anything wrongly taken would be written by now (--flush-ms is far less)
[ "$(written nokey)" -eq 0 ] || fail "$(written nokey) untagged lines written"
[ "$(written wrong)" -eq 0 ] || fail "$(written wrong) lines with a wrong tag written"
[ "$(written good)" -eq 101 ] || fail "$(written good) good lines, want exactly 101"
note "ok: refused without a key (auth_missing $(metric ncxd_auth_missing_total))" \
	"and with the wrong one (auth_bad $(metric ncxd_auth_bad_total), exit $rc)"
stop_ncxd ncxd
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T"/*.err && fail "sanitizer: $(grep -l Sanitizer "$T"/*.err)"
exit 0
