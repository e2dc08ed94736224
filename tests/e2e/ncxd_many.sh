# SPDX-License-Identifier: MIT
# ncxd with 1,000 senders, each its own 127.x.y.z address, sending interleaved,
# on two workers, with far fewer open files and write buffers than hosts
# (--max-files 64, --buffers 32 per worker): every record lands in its host's
# file exactly once and in order, and the fds stay bounded.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

hosts=1000 per=20
start_ncxd many -d "$T/logs" --threads 2 --max-files 64 --buffers 32 --buffer-size 4096
loadgen --hosts "$hosts" --records "$per" --rate 10000 2>"$T/loadgen.err" ||
	fail "loadgen: $(cat "$T/loadgen.err")"
total=$((hosts * per))
wait_for 90 bash -c "[ \$(cat '$T'/logs/*/*.log 2>/dev/null | wc -l) -ge $total ]" ||
	fail "$(cat "$T"/logs/*/*.log 2>/dev/null | wc -l) of $total lines written"
fds=$(ls /proc/"$pid"/fd | wc -l)
# 2 x 64 files, 2 sockets, stdio and a few of the runtime's own.
[ "$fds" -le 170 ] || fail "$fds fds open with --max-files 64 on 2 workers"
stop_ncxd many
n=$(ls "$T/logs" | wc -l)
[ "$n" -eq "$hosts" ] || fail "$n host directories, want $hosts"
check_hosts "$per" "$T"/logs/*/*.log || fail "records missing, repeated or out of order"
[ "$(cat "$T"/logs/*/*.log | wc -l)" -eq "$total" ] || fail "extra lines"
grep -q 'ERROR: AddressSanitizer' "$T/many.err" && fail "ASan: $(cat "$T/many.err")"
note "ok: $hosts hosts x $per records, each file complete and in order, $fds fds"
