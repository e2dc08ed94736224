# SPDX-License-Identifier: MIT
# ncxd on the recorded kernel traffic (tests/data): text with the default path
# template, every record once and in order with the reboot between the two
# boots; SIGTERM writes everything at once; a restart appends and never
# truncates; then JSON for the extended and the legacy capture.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

tre='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'

# --- text, default template ---
start_ncxd text -d "$T/logs" --threads 2
src=$(free_port)
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$src" "$DATA/ext.hex" || fail "replay ext"
# No waiting for the lines: SIGTERM must drain the socket and write everything.
stop_ncxd text
files=("$T"/logs/127.0.0.1/*.log)
[ "${#files[@]}" -eq 1 ] || fail "expected one file, got: ${files[*]}"
f=${files[0]}
case "$f" in */127.0.0.1/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].log) ;;
*) fail "file name $f does not follow %h/%Y-%m-%d.log" ;; esac
[ "$(stat -c %a "$f")" = 640 ] || fail "mode $(stat -c %a "$f"), want 640"
[ "$(stat -c %a "$T/logs/127.0.0.1")" = 750 ] || fail "dir mode, want 750"

recre="^$tre (emerg|alert|crit|err|warn|notice|info|debug) \\[ *[0-9]+\\.[0-9]{6}\\] .* seq=[0-9]+\$"
recs=$(grep -cE "$recre" "$f")
[ "$recs" -eq 4849 ] || fail "$recs record lines, want 4849 (2424 + 2425)"
[ "$(wc -l <"$f")" -eq 4850 ] || fail "$(wc -l <"$f") lines, want 4849 records + 1 reboot"
head -1 "$f" | grep -qE "^$tre notice \[    0\.000000\] Linux version 6\.1\.0-56-amd64 .* seq=0\$" ||
	fail "first line: $(head -1 "$f")"
tail -1 "$f" | grep -qE "^$tre info \[ +[0-9]+\.[0-9]{6}\] printk: console \[netcon_ext0\] disabled seq=2424\$" ||
	fail "last line: $(tail -1 "$f")"
[ "$(grep -c ' ncx: ' "$f")" -eq 1 ] || fail "events besides the reboot: $(grep ' ncx: ' "$f" | head -3)"
sed -n 2425p "$f" | grep -qE "^$tre ncx: reboot prev_seq=2423 seq=0\$" ||
	fail "line 2425 should be the reboot: $(sed -n 2425p "$f")"
# Every record once, in order: seq 0..2423, then 0..2424.
grep -E "$recre" "$f" | grep -oE ' seq=[0-9]+$' | awk -F= '
	NR == 1 { want = 0 }
	$2 == 0 && NR > 1 { boots++; want = 0 }
	$2 != want { print "seq " $2 " where " want " was due at record " NR; exit 1 }
	{ want++ }
	END { if (boots != 1) { print boots " restarts of seq, want 1"; exit 1 } }' || fail "seq order"
# Escapes kept as on the wire: the 600 x 0xE9 record is one line; tab, backslash, BEL escaped.
# (The 600 bytes come as a record of their own, in three fragments.)
[ "$(grep -cE '\] (\\xe9){600} seq=[0-9]+$' "$f")" -eq 2 ] || fail "600 x \\xe9 record: not once per boot"
grep -q '\\x09' "$f" && grep -q '\\x5c' "$f" && grep -q '\\x07' "$f" || fail "escapes not kept"
grep -qE "^$tre (emerg|alert|crit|err|warn|notice|info|debug) \[ +[0-9]+\.[0-9]{6}\] .*bootb user level 3 seq=[0-9]+\$" "$f" ||
	fail "level line format"
grep -q 'err \[.*bootb user level 3 seq=' "$f" || fail "level 3 should be named err"

# --- restart appends, never truncates ---
cp "$f" "$T/before"
start_ncxd text2 -d "$T/logs" --threads 1
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$src" "$DATA/ext.hex" || fail "replay ext again"
wait_for 60 bash -c "[ \$(wc -l <'$f') -ge 9700 ]" || fail "second run: $(wc -l <"$f") lines, want 9700"
stop_ncxd text2
size=$(stat -c %s "$T/before")
cmp -n "$size" "$T/before" "$f" || fail "the restart changed what was written before"
[ "$(wc -l <"$f")" -eq 9700 ] || fail "$(wc -l <"$f") lines after the restart, want 2 x 4850"

# --- JSON, extended and legacy ---
start_ncxd json -d "$T/json" --format json --path '%h/%p.log'
esrc=$(free_port)
lsrc=$(free_port)
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$esrc" "$DATA/ext.hex" || fail "replay ext (json)"
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$lsrc" "$DATA/legacy.hex" || fail "replay legacy (json)"
stop_ncxd json
ej=$T/json/127.0.0.1/$esrc.log
lj=$T/json/127.0.0.1/$lsrc.log
[ -f "$ej" ] && [ -f "$lj" ] || fail "json files missing: $(ls -R "$T/json")"
[ "$(wc -l <"$ej")" -eq 4850 ] || fail "$(wc -l <"$ej") json lines, want 4850"
[ "$(wc -l <"$lj")" -eq 4853 ] || fail "$(wc -l <"$lj") legacy json lines, want 4853"
bad=$(grep -cvE '^\{"time":"'"$tre"'","host":"127\.0\.0\.1","port":[0-9]+,.*\}$' "$ej" "$lj" | awk -F: '{ s += $2 } END { print s }')
[ "$bad" -eq 0 ] || fail "$bad json lines without the time/host/port head or closing brace"
[ "$(grep -c "\"port\":$esrc,\"seq\":[0-9]*,\"facility\":[0-9]*,\"level\":[0-7],\"level_name\":\"[a-z]*\",\"ts_usec\":[0-9]*,\"text\":\"" "$ej")" -eq 4849 ] ||
	fail "json records lack seq/facility/level/ts_usec/text"
[ "$(grep -c '"event":"reboot","prev_seq":2423,"seq":0}$' "$ej")" -eq 1 ] || fail "json reboot event"
grep -q '"dict":{"SUBSYSTEM":"' "$ej" || fail "json dict"
grep -qF '"flags":[]' "$ej" || fail "json flags (the captures have no continuation records)"
[ "$(grep -cE '"text":"(\\u00e9){600}"' "$ej")" -eq 2 ] || fail "json: invalid UTF-8 bytes as \\u00XX"
# Valid UTF-8 stays as it is; control bytes become \u00XX.
grep -q "bootb utf8 caf$(printf '\xc3\xa9') $(printf '\xe2\x9c\x93') and tab\\\\u0009here and backslash \\\\\\\\ and bell \\\\u0007 end" "$ej" ||
	fail "json: the utf8 line"
grep -q '\\u0009' "$ej" && grep -q '\\u0007' "$ej" || fail "json: control bytes as \\u00XX"
[ "$(grep -c '"legacy":true}$' "$lj")" -eq 4853 ] || fail "json legacy flag"
grep -q '"text":"bootb done' "$lj" || fail "json legacy text"
note "ok: text, SIGTERM flush, restart append, json"
