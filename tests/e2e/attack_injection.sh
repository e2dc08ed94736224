# SPDX-License-Identifier: MIT
# Finding 3 of the hardening issue: records forged from a reliable sender's
# address and port, at seqs inside the window ahead of the stream, were
# written in place of the real ones (which then were duplicates). With keys
# (ncxd --auth-key, ncx send --auth-key) the stream tags every datagram, and
# a forged untagged record never goes before or replaces a tagged one: here
# `ncx send` logs 100 lines, 51 forged records come for the seqs it sends
# next (a raw socket, source 127.0.0.1:SPORT, as root), then the real 100
# more: all 200 real lines are written, in order, no forged one, and ncxd
# counts the forgeries the tagged stream contradicted. Then the same with
# --require-auth: the forgeries are dropped at once, counted.
. "$NCX_TOP/tests/support/e2e.sh"
[ "$(id -u)" = 0 ] || { echo "skip: a forged source address needs root (raw socket)"; exit 77; }
. "$NCX_TOP/tests/support/ncxd.sh"

ncx=$NCX_BIN/ncx
umask 077
"$ncx" key new -o "$T/secret" || fail "ncx key new failed"
"$ncx" key derive --secret "$T/secret" 127.0.0.1 >"$T/host.key" || fail "ncx key derive failed"
m=$T/metrics
metric() { sed -n "s/^$1 \([0-9]*\)\$/\1/p" "$m" 2>/dev/null; }

# run TAG NCXD-ARGS...: one round, the forged records between the halves.
run() {
	local tag=$1 f i last=0 n
	shift
	rm -rf "$T/logs"
	start_ncxd ncxd -d "$T/logs" --threads 1 --auth-key "$T/secret" \
		--metrics "$m" --metrics-interval 1 "$@"
	mkfifo "$T/in.$tag"
	"$ncx" send -t "127.0.0.1:$port" -p "$sport" --auth-key "$T/host.key" --timeout 60 \
		<"$T/in.$tag" 2>"$T/send.$tag.err" &
	send_pid=$!
	_pids+=("$send_pid")
	exec 3>"$T/in.$tag"
	for i in $(seq 1 100); do echo "$tag real n$i" >&3; done
	wait_for 20 bash -c "[ \$(cat '$T'/logs/*/* 2>/dev/null | grep -c ' $tag real n') -ge 100 ]" ||
		fail "$tag: the first 100 lines did not arrive"
	# The next seqs `ncx send` will use are 100 and on (its first is 0).
	for i in $(seq 100 150); do
		perl "$NCX_TOP/tests/support/forge_udp.pl" 127.0.0.1 "$sport" 127.0.0.1 "$port" \
			"6,$i,0,-;$tag FORGED $i" || fail "could not forge a datagram"
	done
	sleep 0.3
	for i in $(seq 101 200); do echo "$tag real n$i" >&3; done
	exec 3>&-
	wait "$send_pid" || fail "$tag: ncx send exited $?: $(cat "$T/send.$tag.err")"
	sleep 1.5 # a metrics write
	cp "$m" "$T/metrics.$tag"
	stop_ncxd ncxd
	f=$(ls "$T"/logs/*/*)
	! grep -q "$tag FORGED" $f || fail "$tag: forged lines written: $(grep "$tag FORGED" $f | head -3)"
	for i in $(seq 1 200); do
		n=$(grep -n " $tag real n$i\( \|\$\)" $f | head -1 | cut -d: -f1)
		[ -n "$n" ] || fail "$tag: line n$i missing ($(grep -c " $tag real n" $f) of 200)"
		[ "$n" -gt "$last" ] || fail "$tag: line n$i out of order"
		last=$n
	done
}

run opt
m=$T/metrics.opt
[ "$(metric ncxd_unverified_dropped_total)" -ge 51 ] ||
	fail "forgeries not counted as contradicted: $(grep unverified "$m")"
[ "$(metric ncxd_unverified_records_total)" = 0 ] ||
	fail "copies written while the tagged sender was alive: $(grep unverified "$m")"
note "without --require-auth: all 200 real lines in order, 51 forgeries counted, none written"

m=$T/metrics
run req --require-auth
m=$T/metrics.req
[ "$(metric ncxd_auth_missing_total)" -ge 51 ] ||
	fail "forgeries not dropped as untagged: $(grep auth_ "$m")"
note "with --require-auth: all 200 real lines in order, 51 forgeries dropped at once"
