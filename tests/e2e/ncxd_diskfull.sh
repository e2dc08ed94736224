# SPDX-License-Identifier: MIT
# Disk full: DIR on a 1 MiB tmpfs, filled up. ncxd keeps running, buffers a
# little, drops the rest with a count, and once space returns writes again,
# with a "dropped ... reason=write_error" event where the loss happened. The
# accounting is exact: records written + records reported dropped = sent.
# Then a reliable sender (ncx send) on the full disk: no ack goes out while its
# lines cannot be written; once they can, every line is written once.
# Needs root (mount); exit 77 (skip) otherwise.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

mkdir -p "$T/mnt"
mount -t tmpfs -o size=1m tmpfs "$T/mnt" 2>/dev/null || { echo "skip: cannot mount tmpfs (needs root)"; exit 77; }
# Whatever still has files open on it (ncxd, after a failure) goes first.
umount_it() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	umount "$T/mnt" 2>/dev/null
}
trap 'umount_it; _cleanup' EXIT
mkdir "$T/mnt/logs"
# Fill it: the filler takes every free block.
dd if=/dev/zero of="$T/mnt/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$T/mnt" | tail -1)" -eq 0 ] || fail "tmpfs not full"

per=2000
start_ncxd full -d "$T/mnt/logs" --threads 1 --buffer-size 4096 --rate 0
bg loadgen --hosts 1 --records "$per" --rate 1000 2>"$T/loadgen.err"
lg=$!
wait_for 30 grep -q 'cannot \(write\|open\)' "$T/full.err" || fail "no write error reported: $(cat "$T/full.err")"
sleep 0.5 # (not a timing assumption: only lets some records be dropped)
kill -0 "$pid" || fail "ncxd died on a full disk"
rm -f "$T/mnt/filler"
wait_for 30 grep -q 'works again' "$T/full.err" || fail "no recovery: $(tail -5 "$T/full.err")"
wait "$lg" || fail "loadgen: $(cat "$T/loadgen.err")"
f=$(ls "$T"/mnt/logs/*/*.log)
# dropped N + lines written == sent
accounted() {
	awk '/ ncx: dropped records=/ { split($4, a, "="); d += a[2]; next } / ncx: / { next } { r++ }
	     END { print r + d }' "$f"
}
wait_for 60 bash -c "[ \$(awk '/ ncx: dropped records=/ { split(\$4, a, \"=\"); d += a[2]; next } / ncx: / { next } { r++ } END { print r + d }' '$f') -ge $per ]" ||
	fail "accounted $(accounted) of $per: $(grep ' ncx: ' "$f")"
stop_ncxd full
n=$(accounted)
[ "$n" -eq "$per" ] || fail "written + dropped = $n, want $per"
grep -qE '^[^ ]+ ncx: dropped records=[0-9]+ reason=write_error$' "$f" || fail "no dropped event in $f"
# The event sits where the loss is: the seq before it and after it differ by the count.
awk '/ ncx: dropped records=/ { split($4, a, "="); gap += a[2]; next }
     { split($NF, s, "="); if (gap) { if (s[2] != last + 1 + gap) { print "hole " last ".." s[2] " but dropped=" gap; exit 1 } gap = 0 }
       else if (NR > 1 && s[2] != last + 1) { print "unexplained hole after " last; exit 1 } last = s[2] }' "$f" ||
	fail "the dropped event does not match the hole: $(grep -B2 -A2 " ncx: " "$f" | cut -c1-90; cat "$T/full.err")"
note "ok: disk full, $(grep -c ' ncx: dropped' "$f") dropped event(s), exact accounting, recovered"

# --- A reliable sender: acked means written ---
# The disk full again, a buffer big enough for every line (nothing dropped).
# While the lines cannot be written the sender gets no ack, so it cannot
# finish even once ncxd has every record; once there is room, each line is
# written exactly once and the sender exits 0.
rm -rf "$T/mnt/logs" && mkdir "$T/mnt/logs"
dd if=/dev/zero of="$T/mnt/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$T/mnt" | tail -1)" -eq 0 ] || fail "tmpfs not full"
nrel=200
start_ncxd rel -d "$T/mnt/logs" --threads 1 --rate 0 --metrics "$T/rel.prom" --metrics-interval 1
seq "$nrel" | sed 's/^/reliable-line n=/' >"$T/lines"
# (Not through bg: a background command's stdin would be /dev/null.)
"$NCX_BIN/ncx" send -t "127.0.0.1:$port" --timeout 120 <"$T/lines" 2>"$T/send.err" &
sp=$! _pids+=($!)
wait_for 30 grep -q 'cannot \(write\|open\)' "$T/rel.err" || fail "no write error reported: $(cat "$T/rel.err")"
wait_for 30 grep -qx "ncxd_records_total $nrel" "$T/rel.prom" ||
	fail "ncxd did not get all $nrel records: $(grep '^ncxd_records_total' "$T/rel.prom")"
sleep 1 # acks would go out within 100 ms (a broken gate fails here; a slow machine cannot)
kill -0 "$sp" 2>/dev/null || fail "the sender finished while nothing could be written: acked unwritten records"
rm -f "$T/mnt/filler"
wait "$sp" || fail "sender exited $?: $(tail -3 "$T/send.err")"
stop_ncxd rel
f=$(ls "$T"/mnt/logs/*/*.log)
grep -q ' ncx: ' "$f" && fail "events in $f: $(grep ' ncx: ' "$f")"
sed -n 's/.* reliable-line n=\([0-9]*\) seq=.*/\1/p' "$f" >"$T/got"
seq "$nrel" | cmp -s - "$T/got" || fail "lines not 1..$nrel once each in order: $(head -5 "$T/got" | tr '\n' ' ')..."
note "ok: reliable sender on a full disk: no ack until written, then all $nrel lines once"
