# SPDX-License-Identifier: MIT
# The command line: --help, --version, exit codes for bad options (64), a bad
# config file (78) and its line number, an unusable DIR (73), a port in use
# (69); -c FILE settings with the command line winning; --user drops
# privileges after binding (files owned by that user); --idle expires a
# sender and the next records are not taken for a reboot or a gap.
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

d=$NCX_BIN/ncxd
"$d" --help | grep -q -- '--allow CIDR' || fail "--help"
"$d" --version | grep -q '^ncxd ' || fail "--version"
expect() { # CODE ARGS...
	local want=$1 rc; shift
	"$d" "$@" >"$T/out" 2>&1; rc=$?
	[ "$rc" -eq "$want" ] || fail "ncxd $* exited $rc, want $want: $(cat "$T/out")"
}
expect 64 --bogus
expect 64 --format xml
expect 64 --threads 0
expect 64 --path /abs/%h.log
expect 64 --path 'x/../%h'
expect 64 --allow 10.0.0.0/33
expect 64 -l nowhere:1
expect 64 extra-argument
printf 'format json\n# comment\n\nthreads two\n' >"$T/bad.conf"
expect 78 -c "$T/bad.conf"
grep -q "bad.conf:4: threads: 'two'" "$T/out" || fail "config error without file:line: $(cat "$T/out")"
expect 66 -c "$T/missing.conf"
: >"$T/afile"
expect 73 -d "$T/afile" -l 127.0.0.1:0
expect 67 --user no-such-user-ncxd -l 127.0.0.1:0 -d "$T/x"

# A port in use (held by another ncxd) is refused, not shared.
start_ncxd one -d "$T/one"
expect 69 -l "127.0.0.1:$port" -d "$T/two"
stop_ncxd one

# -c FILE, and the command line wins over it.
printf 'dir %s\nformat json\npath %%h/from-file.log\n' "$T/conf" >"$T/good.conf"
start_ncxd conf -c "$T/good.conf" --path '%h/from-cli.log'
printf '6,0,0,-;hello from conf\n' | hexline >"$T/one.hex"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$(free_port)" "$T/one.hex"
wait_for 20 test -s "$T/conf/127.0.0.1/from-cli.log" || fail "-c with --path: $(ls -R "$T/conf")"
stop_ncxd conf
grep -q '^{"time":.*"text":"hello from conf"' "$T/conf/127.0.0.1/from-cli.log" || fail "format json from -c"

# --user: bind as root, then run as nobody; DIR is created for that user.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"
	start_ncxd user -d "$T/u/logs" --user nobody
	[ "$(stat -c %u /proc/"$pid")" = "$(id -u nobody)" ] || fail "still running as uid $(stat -c %u /proc/"$pid")"
	"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$(free_port)" "$T/one.hex"
	wait_for 20 bash -c "ls '$T'/u/logs/127.0.0.1/*.log >/dev/null 2>&1" || fail "--user: nothing written: $(cat "$T/user.err")"
	stop_ncxd user
	[ "$(stat -c %U "$T"/u/logs/127.0.0.1/*.log)" = nobody ] || fail "file not owned by nobody"
else
	note "not root: --user not tested"
fi

# --idle: the sender's state expires; its next records continue the file
# with no reboot and no gap event.
start_ncxd idle -d "$T/idle" --idle 1 --metrics "$T/i.prom" --metrics-interval 1
isrc=$(free_port)
for s in 0 1 2 3 4; do printf '6,%d,%d,-;idle test %d\n' $s $s $s | hexline; done >"$T/a.hex"
for s in 5 6 7 8 9; do printf '6,%d,%d,-;idle test %d\n' $s $s $s | hexline; done >"$T/b.hex"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$isrc" "$T/a.hex"
wait_for 20 grep -qx 'ncxd_hosts 1' "$T/i.prom" || fail "sender not seen"
wait_for 30 grep -qx 'ncxd_hosts 0' "$T/i.prom" || fail "sender state did not expire"
"$NCX_BIN/ncx" replay -t "127.0.0.1:$port" -p "$isrc" "$T/b.hex"
wait_for 20 bash -c "[ \$(cat '$T'/idle/127.0.0.1/*.log | wc -l) -ge 10 ]" || fail "after expiry"
stop_ncxd idle
f=$(ls "$T"/idle/127.0.0.1/*.log)
grep ' ncx: ' "$f" && fail "expiry taken for an event"
[ "$(grep -c 'idle test' "$f")" -eq 10 ] || fail "idle: $(cat "$f")"
# A reliable sender (ncrx=1) gets acks and retransmission requests, from the
# address and port it sent to (bash's /dev/udp socket is connected: it only
# receives from there); the retransmitted record fills the hole.
start_ncxd rel -d "$T/rel"
exec 3<>"/dev/udp/127.0.0.1/$port"
printf '6,0,0,-,ncrx=1;rel 0\n' >&3
printf '6,1,0,-,ncrx=1;rel 1\n' >&3
printf '6,3,0,-,ncrx=1;rel 3\n' >&3
# read_until WANT: responses until one equals WANT (bounded).
read_until() {
	local r i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		r=$(timeout 5 dd bs=1000 count=1 <&3 2>/dev/null)
		[ "$r" = "$1" ] && return 0
	done
	fail "no response '$1' (last: '$r')"
}
read_until 'ncrx1 2'
printf '6,2,0,-,ncrx=1;rel 2\n' >&3
read_until 'ncrx3'
exec 3>&-
stop_ncxd rel
[ "$(grep -c 'rel [0-3] seq=[0-3]$' "$T"/rel/127.0.0.1/*.log)" -eq 4 ] || fail "reliable: $(cat "$T"/rel/127.0.0.1/*.log)"
grep ' ncx: ' "$T"/rel/127.0.0.1/*.log && fail "reliable: the hole was filled, no event expected"
# A stock sender never gets a packet it did not ask for.
start_ncxd stock -d "$T/stock"
exec 3<>"/dev/udp/127.0.0.1/$port"
printf '6,0,0,-;stock 0\n' >&3
printf '6,2,0,-;stock 2\n' >&3
r=$(timeout 1 dd bs=1000 count=1 <&3 2>/dev/null)
[ -z "$r" ] || fail "a stock sender got '$r'"
exec 3>&-
stop_ncxd stock
note "ok: command line, config file, --user, --idle, reliable and stock senders"
