# SPDX-License-Identifier: MIT
# Metrics: the Prometheus textfile is well-formed (HELP/TYPE before samples,
# no duplicate series, numbers only) and counts right, per host and in
# total: records, reboots, malformed, gaps/missed. Totals and per-host
# series are separate families (ncxd_X_total unlabelled, ncxd_host_X_total
# per host), so sum() never counts twice; per-host series are bounded by
# --metrics-per-host (the busiest); build_info and start_time are there;
# every drop reason is documented; the file is removed when ncxd exits.
# Then the rate limit: what it suppresses is reported in the host's file
# and in the metrics, and written + suppressed = sent. Then the kernel's
# socket drops (SO_RXQ_OVFL): records + socket drops = sent.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

m=$T/m.prom
start_ncxd met -d "$T/logs" --threads 2 --rate 0 --metrics "$m" --metrics-interval 1
esrc=$(free_port) msrc=$(free_port) gsrc=$(free_port)
loadgen --hosts 3 --records 100 --rate 3000 2>"$T/lg.err" || fail "loadgen: $(cat "$T/lg.err")"
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$esrc" "$DATA/ext.hex" || fail "replay"
# Seven malformed datagrams (NUL bytes; extended headers cut short).
{ for i in 1 2 3 4; do printf 'a\0b%d' $i | hexline; done
  for i in 1 2 3; do printf '6,%d' $i | hexline; done; } >"$T/bad.hex"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$msrc" "$T/bad.hex" || fail "replay bad"
# A stock sender skipping seq 3 and 4: a gap of 2 "not received".
for s in 0 1 2 5 6; do printf '6,%d,%d,-;gap test %d\n' $s $s $s | hexline; done >"$T/gap.hex"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$gsrc" "$T/gap.hex" || fail "replay gap"

want_records=$((300 + 4849 + 5))
wait_for 60 grep -qx "ncxd_records_total $want_records" "$m" ||
	fail "records: $(grep '^ncxd_records_total ' "$m"), want $want_records"
wait_for 30 grep -qx 'ncxd_gaps_total 1' "$m" || fail "gaps: $(grep '^ncxd_gaps_total' "$m")"
wait_for 30 grep -qx 'ncxd_hosts 5' "$m" || fail "hosts: $(grep '^ncxd_hosts' "$m")"

x() { grep -qxF "$1" "$m" || fail "metrics lack '$1': $(grep "^${1%% *}" "$m" | head -5)"; }
x "ncxd_records_total $want_records"
x "ncxd_host_records_total{host=\"${base}\",port=\"$sport\"} 100"
x "ncxd_host_records_total{host=\"127.0.0.1\",port=\"$esrc\"} 4849"
x "ncxd_host_reboots_total{host=\"127.0.0.1\",port=\"$esrc\"} 1"
x "ncxd_reboots_total 1"
x "ncxd_malformed_total 7"
x "ncxd_host_gaps_total{host=\"127.0.0.1\",port=\"$gsrc\"} 1"
x "ncxd_host_missed_total{host=\"127.0.0.1\",port=\"$gsrc\"} 2"
x "ncxd_lost_total 0"
x 'ncxd_dropped_total{reason="write_error"} 0'
# (A sender that only ever sent garbage gets no state in the engine: counted in the total only.)
x "ncxd_hosts 5"
x "ncxd_metrics_hosts_omitted 0"
# "ncxd 0.1.0 (git describe)": the release, and the commit if there is one.
v=$("$NCX_BIN/ncxd" --version)
rev=$(echo "$v" | sed -n 's/^ncxd [^ ]* (\(.*\))$/\1/p')
x "ncxd_build_info{version=\"$(echo "$v" | cut -d' ' -f2)\",revision=\"$rev\"} 1"
start_s=$(awk '/^ncxd_start_time_seconds / { print $2 }' "$m")
now=$(date +%s)
[ -n "$start_s" ] && [ "$start_s" -le "$now" ] && [ "$start_s" -gt $((now - 600)) ] ||
	fail "ncxd_start_time_seconds '$start_s', now $now"
# Separate families: no family has both an unlabelled total and host-labelled
# series; the per-host families add up to the totals.
awk '/^#/ { next } { n = $1; lab = (n ~ /\{/); sub(/\{.*/, "", n)
	if (lab && $1 ~ /host="/) h[n] = 1; else if (!lab) t[n] = 1 }
	END { for (n in h) if (n in t) { print "mixed family: " n; exit 1 } }' "$m" || fail "families mixed"
[ "$(awk '/^ncxd_host_records_total\{/ { s += $2 } END { print s }' "$m")" -eq "$want_records" ] ||
	fail "per-host records do not add up to the total"
# Every drop reason in the file is documented in docs/ncxd.md.
for r in $(sed -n 's/^ncxd_dropped_total{reason="\([a-z_]*\)"}.*/\1/p' "$m"); do
	grep -q "^| \`$r\` |" "$NCX_TOP/docs/ncxd.md" || fail "drop reason '$r' not documented in docs/ncxd.md"
done
[ "$(grep -c '^ncxd_dropped_total{reason=' "$m")" -eq 7 ] || fail "drop reasons: $(grep '^ncxd_dropped_total' "$m")"
cp "$m" "$T/m.last"
stop_ncxd met
[ ! -e "$m" ] || fail "metrics file left behind after a clean exit"
m=$T/m.last
grep -q ' ncx: gap seq=3..4 count=2 not received$' "$T"/logs/127.0.0.1/*.log || fail "gap event line"

# Well-formed: comments are HELP/TYPE, samples are name[{labels}] integer,
# every sample's family was TYPEd first, no series twice.
awk '
/^# HELP [a-z_]+ / { next }
/^# TYPE [a-z_]+ (counter|gauge)$/ { typed[$3] = 1; next }
/^#/ { print "bad comment: " $0; exit 1 }
!/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+$/ { print "bad sample: " $0; exit 1 }
{ name = $1; sub(/\{.*/, "", name); if (!(name in typed)) { print "untyped: " $0; exit 1 }
  if ($1 in seen) { print "duplicate: " $1; exit 1 } seen[$1] = 1 }' "$m" || fail "metrics not well-formed"
[ ! -e "$T/m.prom.tmp" ] || fail "$T/m.prom.tmp left behind"

# --- the rate limit: 1000 B/s, burst 2000, against ~12 KB/s ---
start_ncxd rate -d "$T/rate" --rate 1000:2000 --metrics "$T/r.prom" --metrics-interval 1
loadgen --hosts 1 --records 200 --rate 100 2>"$T/lg2.err" || fail "loadgen: $(cat "$T/lg2.err")"
f=$T/rate/$base/$(date -u +%Y-%m-%d).log
# Suppression is counted as each record comes: once all 200 are in, so are they.
wait_for 30 grep -qx 'ncxd_records_total 200' "$T/r.prom" || fail "rate: $(grep '^ncxd_records_total' "$T/r.prom")"
cp "$T/r.prom" "$T/r.last"
stop_ncxd rate
f=$(ls "$T"/rate/"$base"/*.log)
read -r written supp <<<"$(awk '/ ncx: suppressed records=/ { split($4, a, "="); s += a[2]; next } { r++ } END { print r + 0, s + 0 }' "$f")"
[ "$supp" -gt 0 ] || fail "nothing suppressed at 12x the rate"
[ "$written" -gt 0 ] || fail "nothing written"
[ $((written + supp)) -eq 200 ] || fail "written $written + suppressed $supp != 200"
grep -qx "ncxd_suppressed_total $supp" "$T/r.last" || fail "metrics: $(grep '^ncxd_suppressed_total' "$T/r.last")"
# --- socket drops (SO_RXQ_OVFL): a stopped daemon with a tiny buffer ---
start_ncxd ovfl -d "$T/ovfl" --threads 1 --rcvbuf 4096 --rate 0 --metrics "$T/o.prom" --metrics-interval 1
kill -STOP "$pid"
loadgen --hosts 1 --records 500 --rate 0 2>"$T/lg3.err"
lgrc=$?
kill -CONT "$pid" # (before anything can fail: a stopped process would not take SIGTERM)
[ "$lgrc" -eq 0 ] || fail "loadgen: $(cat "$T/lg3.err")"
sum_o() { awk '/^ncxd_records_total |^ncxd_socket_drops_total / { s += $2 } END { print s + 0 }' "$T/o.prom"; }
wait_for 60 bash -c "[ \$(awk '/^ncxd_records_total |^ncxd_socket_drops_total / { s += \$2 } END { print s + 0 }' '$T/o.prom' 2>/dev/null) -ge 500 ]" ||
	fail "records + socket drops = $(sum_o), want 500"
cp "$T/o.prom" "$T/o.last"
stop_ncxd ovfl
sum_o() { awk '/^ncxd_records_total |^ncxd_socket_drops_total / { s += $2 } END { print s + 0 }' "$T/o.last"; }
drops=$(awk '/^ncxd_socket_drops_total / { print $2 }' "$T/o.last")
[ "$drops" -gt 0 ] || fail "no socket drops counted with a 4 KiB buffer"
[ "$(sum_o)" -eq 500 ] || fail "records + socket drops = $(sum_o), want 500"
# --metrics-per-host bounds the per-host series: the busiest only, the rest counted.
start_ncxd few -d "$T/few" --rate 0 --metrics "$T/f.prom" --metrics-interval 1 --metrics-per-host 2
loadgen --hosts 5 --records 20 --rate 2000 2>"$T/lg4.err" || fail "loadgen: $(cat "$T/lg4.err")"
"$NCX_BIN/ncx" replay -r 20000 -t "127.0.0.1:$port" -p "$esrc" "$DATA/ext.hex" || fail "replay"
wait_for 30 grep -qx "ncxd_records_total $((100 + 4849))" "$T/f.prom" || fail "few: $(grep '^ncxd_records_total' "$T/f.prom")"
wait_for 30 grep -qx 'ncxd_metrics_hosts_omitted 4' "$T/f.prom" || fail "few: $(grep omitted "$T/f.prom")"
[ "$(grep -c '^ncxd_host_records_total{' "$T/f.prom")" -eq 2 ] || fail "few: $(grep '^ncxd_host_records_total' "$T/f.prom")"
grep -qxF "ncxd_host_records_total{host=\"127.0.0.1\",port=\"$esrc\"} 4849" "$T/f.prom" || fail "few: the busiest is missing"
stop_ncxd few
[ ! -e "$T/f.prom" ] || fail "metrics file left behind"
note "ok: metrics well-formed and exact; rate limit: $written written, $supp suppressed; $drops socket drops"
