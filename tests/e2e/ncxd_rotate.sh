# SPDX-License-Identifier: MIT
# logrotate while senders send: move every file away, SIGHUP, keep sending,
# twice. The moved files and the new ones together hold every record exactly
# once and in order; the daemon writes to the new files after each SIGHUP.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

hosts=5 per=1500
start_ncxd rot -d "$T/logs" --threads 2 --path '%h/current.log'
bg loadgen --hosts "$hosts" --records "$per" --rate 1500 2>"$T/loadgen.err"
lg=$!
for round in 1 2; do
	# Wait until every host has written something since the last rotation.
	wait_for 30 bash -c "[ \$(ls '$T'/logs/*/current.log 2>/dev/null | wc -l) -eq $hosts ] &&
		[ -z \"\$(find '$T/logs' -name current.log -empty)\" ]" ||
		fail "round $round: not every host has a fresh file"
	for d in "$T"/logs/*/; do mv "$d/current.log" "$d/rotated.$round"; done
	kill -HUP "$pid"
	# Lines still buffered go to the moved files; then the new files appear.
	wait_for 30 bash -c "[ \$(ls '$T'/logs/*/current.log 2>/dev/null | wc -l) -eq $hosts ]" ||
		fail "round $round: no new files after SIGHUP"
done
wait "$lg" || fail "loadgen: $(cat "$T/loadgen.err")"
total=$((hosts * per))
wait_for 60 bash -c "[ \$(cat '$T'/logs/*/* | wc -l) -ge $total ]" ||
	fail "$(cat "$T"/logs/*/* | wc -l) of $total lines"
stop_ncxd rot
files=()
for d in "$T"/logs/*/; do files+=("$d/rotated.1" "$d/rotated.2" "$d/current.log"); done
check_hosts "$per" "${files[@]}" || fail "rotation lost, repeated or reordered records"
for f in "${files[@]}"; do [ -s "$f" ] || fail "$f is empty: no writes in one of the rounds"; done
grep -c 'SIGHUP' "$T/rot.err" | grep -qx 2 || fail "SIGHUP not logged twice"
note "ok: two rotations under load, nothing lost or repeated"
