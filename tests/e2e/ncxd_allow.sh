# SPDX-License-Identifier: MIT
# --allow: senders inside the listed prefixes (v4 and v6) are written, the
# others are counted (ncxd_denied_total) and leave no trace on disk. The v6
# sender's file is under its inet_ntop text ("::1").
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

x=${base#127.}
x=${x%%.*}
hosts=10 per=50
ip -6 addr show lo 2>/dev/null | grep -q '::1/128' && v6=1 || v6=
start_ncxd allow -d "$T/logs" --allow "127.$x.0.0/24" --allow ::1 ${v6:+-l "[::1]:@PORT@"} \
	--metrics "$T/m.prom" --metrics-interval 1
loadgen --hosts "$hosts" --records "$per" --rate 2000 2>"$T/lg1.err" || fail "loadgen: $(cat "$T/lg1.err")"
"$NCX_BIN/ncx-loadgen" -t "127.0.0.1:$port" --base "127.$x.1.1" --src-port "$sport" \
	--hosts "$hosts" --records "$per" --rate 2000 2>"$T/lg2.err" || fail "loadgen: $(cat "$T/lg2.err")"
if [ -n "$v6" ]; then
	"$NCX_BIN/ncx" replay -r 20000 -t "[::1]:$port" -p "$(free_port)" "$DATA/ext.hex" || fail "replay v6"
fi
denied=$((hosts * per))
wait_for 60 grep -qx "ncxd_denied_total $denied" "$T/m.prom" ||
	fail "denied: $(grep '^ncxd_denied_total' "$T/m.prom"), want $denied"
wait_for 60 bash -c "[ \$(cat '$T'/logs/127.$x.0.*/*.log | wc -l) -ge $((hosts * per)) ]" ||
	fail "allowed hosts: $(cat "$T"/logs/127."$x".0.*/*.log | wc -l) lines"
if [ -n "$v6" ]; then
	wait_for 60 bash -c "[ \$(cat '$T'/logs/::1/*.log 2>/dev/null | wc -l) -ge 4850 ]" ||
		fail "v6 sender: $(ls -R "$T/logs" | head)"
fi
cp "$T/m.prom" "$T/m.last" # (the file goes when ncxd exits)
stop_ncxd allow
[ ! -e "$T/m.prom" ] || fail "metrics file left behind"
ls -d "$T"/logs/127."$x".1.* 2>/dev/null && fail "denied senders got files"
[ "$(ls -d "$T"/logs/127."$x".0.* | wc -l)" -eq "$hosts" ] || fail "allowed host count"
check_hosts "$per" "$T"/logs/127."$x".0.*/*.log || fail "allowed records"
[ -z "$v6" ] || [ "$(cat "$T"/logs/::1/*.log | wc -l)" -eq 4850 ] || fail "v6 lines"
grep -qx "ncxd_denied_total $denied" "$T/m.last" || fail "final metrics: denied"
note "ok: allow v4 prefix${v6:+ and ::1}, $denied denied"
