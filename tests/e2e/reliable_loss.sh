# SPDX-License-Identifier: MIT
# Reliable senders through a lossy network: 100 `ncx send` processes, 1,000
# records each, through one ncx-relay (50% loss, 10% reordering, 5%
# duplication, both directions) to one ncxd. Every sender must exit 0 (all
# acked), and ncxd's file must hold each sender's records 1..N exactly once
# and in order, with no gap event. Prints how long after the last first send
# the last record arrived (a number for the log, not an assertion: shared
# machines are noisy).
#
# NCX_LOSS (default 0.5; reliable_loss80.sh sets 0.8), NCX_REORDER, NCX_DUP,
# NCX_SENDERS, NCX_PER, NCX_SEED (default random, printed, so a failure can be replayed).
#
# Builds: the senders are the plain -O2 ones ($NCX_MAIN_BIN): 100 ASan
# processes would swamp a 2-core machine. ncxd is the ASan+UBSan one
# ($NCX_BIN): it keeps up with this load.
. "$NCX_TOP/tests/support/e2e.sh"

loss=${NCX_LOSS:-0.5}
senders=${NCX_SENDERS:-100} per=${NCX_PER:-1000}
reorder=${NCX_REORDER:-0.1} dup=${NCX_DUP:-0.05}
seed=${NCX_SEED:-$RANDOM}
note "loss $loss, reorder $reorder, dup $dup both ways; $senders senders x $per records; seed $seed"

# ncxd on a free port ($port, $ncxd_pid). --rate 0: the test floods on purpose,
# and every relayed sender shares 127.0.0.1.
. "$NCX_TOP/tests/support/ncxd.sh"
start_ncxd ncxd -d "$T/logs" --threads 2 --rate 0
ncxd_pid=$pid

# The relay, on another free port ($rport, $relay_pid).
start_relay --seed "$seed" --loss "$loss" --reorder "$reorder" --dup "$dup"

# Inputs first (one awk), so the senders start together and send at full speed.
# Record text: "s<ID> n<N> <padding>", ~100 bytes.
mkdir "$T/in"
awk -v s="$senders" -v n="$per" -v dir="$T/in" 'BEGIN {
	pad = sprintf("%80s", ""); gsub(/ /, "x", pad)
	for (i = 1; i <= s; i++) { f = dir "/" i; for (j = 1; j <= n; j++) print "s" i " n" j " " pad > f; close(f) }
}'

start=$(date +%s.%N)
pids=()
for i in $(seq "$senders"); do
	# (Not through bg: a background command's stdin would be /dev/null.)
	"$NCX_MAIN_BIN/ncx" send -t "127.0.0.1:$rport" --timeout 200 -v \
		<"$T/in/$i" 2>"$T/send.$i.err" &
	pids+=($!) _pids+=($!)
done
bad=0
for i in $(seq "$senders"); do
	wait "${pids[$((i - 1))]}"
	rc=$?
	[ "$rc" -eq 0 ] || { bad=$((bad + 1)); note "sender $i exited $rc: $(tail -3 "$T/send.$i.err")"; }
done
done_at=$(date +%s.%N)
[ "$bad" -eq 0 ] || fail "$bad of $senders senders did not get everything acked"

# CPU seconds the relay and ncxd used (to see which one was the bottleneck).
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
note "CPU: relay $(cpu "$relay_pid") s, ncxd $(cpu "$ncxd_pid") s"
# Relay counts (it prints them on SIGTERM), then ncxd writes out and exits.
kill -TERM "$relay_pid"; wait "$relay_pid" || fail "relay exited $?: $(tail -3 "$T/relay.err")"
kill -TERM "$ncxd_pid"; wait "$ncxd_pid" || fail "ncxd exited $? on SIGTERM: $(tail -5 "$T/ncxd.err")"
cat "$T/relay.err"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/ncxd.err" && fail "sanitizer: $(cat "$T/ncxd.err")"

log=$T/all.log
cat "$T"/logs/127.0.0.1/*.log >"$log" 2>/dev/null || fail "no log file"

# Time from the last first send (the relay saw the highest seq of any sender
# first at last_new) to the last record written (ncxd's receive time). If the
# relay's socket overflowed (sock_drops_fwd), a first send it never saw makes
# last_new a resend's time: the delay printed is then a little short.
last_new=$(sed -n 's/.*stats .*last_new=\([0-9.]*\).*/\1/p' "$T/relay.err" | tail -1)
last_rx=$(grep -E ' s[0-9]+ n[0-9]+ x' "$log" | cut -d' ' -f1 | sort | tail -1)
last_rx=$(date -d "$last_rx" +%s.%N)
fwd_in=$(sed -n 's/.*stats .*fwd_in=\([0-9]*\).*/\1/p' "$T/relay.err" | tail -1)
awk -v a="$last_new" -v b="$last_rx" -v s="$start" -v d="$done_at" -v f="$fwd_in" -v r=$((senders * per)) \
	'BEGIN { printf "# last record arrived %.3f s after the last first send; senders done %.1f s after start; %.3f datagrams sent per record\n", b - a, d - s, f / r }'

# Exactly once, in order, per sender; no event lines. All relayed senders share
# the relay's address, so they share one file (or one per UTC day).
# Reports every problem (the first 10 in full), then a count.
awk -v s="$senders" -v n="$per" '
function bad(msg) { if (++nbad <= 10) print msg }
/^[^ ]+ ncx: / { bad("event: " $0); next }
{
	if (!match($0, / s[0-9]+ n[0-9]+ x/)) { bad("not ours: " $0); next }
	split(substr($0, RSTART + 2, RLENGTH - 4), a, / n/)
	id = a[1] + 0; k = a[2] + 0
	if (k != got[id] + 1) bad("sender " id ": n" k " after n" got[id] + 0)
	if (k > got[id]) { miss[id] += k - got[id] - 1; got[id] = k } else dups++
}
END {
	for (i = 1; i <= s; i++) {
		if (got[i] != n) { bad("sender " i ": last n" got[i] + 0 " of " n); miss[i] += n - got[i] }
		if (miss[i]) short++
		missing += miss[i]
	}
	if (nbad) { printf "%d problems; %d senders short, %d records missing, %d repeated or late\n", nbad, short, missing, dups; exit 1 }
}' "$log" || fail "records missing, repeated or out of order"
lines=$(wc -l <"$log")
[ "$lines" -eq $((senders * per)) ] || fail "$lines lines, want $((senders * per))"

note "ok: $senders senders x $per records at loss $loss: all exactly once, in order"
