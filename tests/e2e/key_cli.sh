# SPDX-License-Identifier: MIT
# ncx key: a new secret is 32 hex digits and a newline (-o: a new file, mode
# 0600, never over an existing one); derive is deterministic, canonicalizes
# the address (an IPv4-mapped IPv6 address is the IPv4 one), differs per
# address, refuses a port, and refuses a key file that group or others may
# read, saying chmod 600; usage errors are plain and exit 64.
. "$NCX_TOP/tests/support/e2e.sh"
ncx=$NCX_BIN/ncx

"$ncx" key new >"$T/out" || fail "key new"
grep -qxE '[0-9a-f]{32}' "$T/out" || fail "key new printed: $(cat "$T/out")"
[ "$(wc -c <"$T/out")" = 33 ] || fail "key new: not 32 hex digits and a newline"
"$ncx" key new -o "$T/secret" || fail "key new -o"
[ "$(stat -c %a "$T/secret")" = 600 ] || fail "key new -o: mode $(stat -c %a "$T/secret")"
"$ncx" key new -o "$T/secret" 2>"$T/err" && fail "key new -o overwrote a file"
a=$("$ncx" key derive --secret "$T/secret" 192.0.2.7) || fail "derive"
b=$("$ncx" key derive -s "$T/secret" ::ffff:192.0.2.7) || fail "derive mapped"
c=$("$ncx" key derive -s "$T/secret" 192.0.2.8) || fail "derive other"
[[ "$a" =~ ^[0-9a-f]{32}$ ]] || fail "derive printed '$a'"
[ "$a" = "$b" ] || fail "an IPv4-mapped address derived another key"
[ "$a" != "$c" ] || fail "two addresses, one key"
# A known answer: the secret 00..0f and 192.0.2.7 (docs/DESIGN.md's rule).
printf '000102030405060708090a0b0c0d0e0f\n' >"$T/k0f"
chmod 600 "$T/k0f"
[ "$("$ncx" key derive -s "$T/k0f" 192.0.2.7)" = f8b51fc21a22d028f7ccbe92a392cf73 ] ||
	fail "derive: not the known answer"
"$ncx" key derive -s "$T/secret" 192.0.2.7:6665 2>"$T/err"; rc=$?
[ "$rc" = 65 ] || fail "a port: exit $rc"
chmod 640 "$T/secret"
"$ncx" key derive -s "$T/secret" 192.0.2.7 >"$T/out" 2>"$T/err"; rc=$?
[ "$rc" = 65 ] && [ ! -s "$T/out" ] || fail "a group-readable key file: exit $rc, out $(cat "$T/out")"
grep -q 'chmod 600' "$T/err" || fail "no word on the mode: $(cat "$T/err")"
"$ncx" key 2>"$T/err"; [ $? = 64 ] || fail "ncx key alone: not 64"
"$ncx" key derive 192.0.2.7 2>"$T/err"; [ $? = 64 ] || fail "derive without --secret: not 64"
"$ncx" key --bogus 2>"$T/err"; [ $? = 64 ] || fail "unknown option: not 64"
printf "ncx key: unknown option '--bogus'\nTry 'ncx key --help'.\n" | cmp -s - "$T/err" ||
	fail "usage error not plain: $(cat "$T/err")"
"$ncx" key --help | grep -q 'derive --secret FILE ADDRESS' || fail "help"
note "ok: ncx key new and derive"
