# SPDX-License-Identifier: MIT
# The sandbox is on by default: a running ncxd (the build under test, and
# the release build, which has Landlock too) has a seccomp filter (Seccomp
# 2 in /proc/PID/status, the kernel's "filter" mode) and no_new_privs, says
# so once on stderr, and still receives, writes, answers ncx status, reopens
# on SIGHUP and exits 0. --no-sandbox turns it off. ncx forward the same.
# (Every other e2e test runs ncxd and ncx forward with the sandbox on: a
# system call missing from a list kills them, loudly.)
. "$NCX_TOP/tests/support/e2e.sh"
. "$NCX_TOP/tests/support/ncxd.sh"

status_of() { grep -E "^$2:" "/proc/$1/status" | awk '{ print $2 }'; }

for bin in "$NCX_BIN" "$NCX_MAIN_BIN"; do
	NCX_BIN=$bin start_ncxd sb -d "$T/logs" --metrics "$T/m.prom" --metrics-interval 1
	[ "$(status_of "$pid" Seccomp)" = 2 ] || fail "$bin/ncxd: Seccomp $(status_of "$pid" Seccomp), want 2"
	[ "$(status_of "$pid" NoNewPrivs)" = 1 ] || fail "$bin/ncxd: NoNewPrivs not set"
	grep -q 'sandbox: seccomp on' "$T/sb.err" || fail "no sandbox line: $(cat "$T/sb.err")"
	if [ "$bin" = "$NCX_MAIN_BIN" ] && ! grep -q 'no Landlock' "$T/sb.err"; then
		grep -q "Landlock (ABI [0-9]*) to $T/logs" "$T/sb.err" ||
			fail "release ncxd: no Landlock line: $(grep sandbox "$T/sb.err")"
	fi
	seq 1 20 | sed 's/^/sb n/' | "$NCX_BIN/ncx" send -t "127.0.0.1:$port" --timeout 20 ||
		fail "ncx send to a sandboxed ncxd"
	"$NCX_BIN/ncx" status --control "$ctl" >"$T/status" 2>&1 || fail "ncx status: $(cat "$T/status")"
	kill -HUP "$pid"
	wait_for 10 grep -q '^ncxd_records_total 20$' "$T/m.prom" ||
		fail "metrics: $(grep records_total "$T/m.prom")"
	stop_ncxd sb
	[ "$(cat "$T"/logs/127.0.0.1/*.log | grep -c ' sb n')" = 20 ] || fail "records not written"
	rm -rf "$T/logs"
done

start_ncxd off -d "$T/logs" --no-sandbox
[ "$(status_of "$pid" Seccomp)" = 0 ] || fail "--no-sandbox: Seccomp $(status_of "$pid" Seccomp)"
grep -q 'sandbox: off' "$T/off.err" || fail "--no-sandbox not said: $(cat "$T/off.err")"
stop_ncxd off

# ncx forward, if /dev/kmsg can be read here.
if [ -r /dev/kmsg ] && head -c0 /dev/kmsg 2>/dev/null; then
	start_ncxd fw -d "$T/fw"
	fport=$(free_port)
	"$NCX_BIN/ncx" forward -t "127.0.0.1:$port" -p "$fport" --state "$T/st/fwd.state" \
		--from now -v 2>"$T/fwd.err" &
	fpid=$!
	_pids+=("$fpid")
	wait_for 10 grep -q 'sandbox: seccomp on' "$T/fwd.err" || fail "forward: $(cat "$T/fwd.err")"
	[ "$(status_of "$fpid" Seccomp)" = 2 ] || fail "forward: Seccomp $(status_of "$fpid" Seccomp)"
	[ "$(status_of "$fpid" NoNewPrivs)" = 1 ] || fail "forward: NoNewPrivs not set"
	tag="ncx-sandbox-test-$$-$RANDOM"
	echo "<6>$tag" >/dev/kmsg
	wait_for 10 bash -c "cat '$T'/fw/127.0.0.1/*.log 2>/dev/null | grep -q '$tag'" ||
		fail "forward: the kernel's record did not arrive"
	kill -TERM "$fpid"
	wait "$fpid" || fail "forward exited $?: $(cat "$T/fwd.err")"
	grep -q '^acked ' "$T/st/fwd.state" || fail "forward: no state written: $(cat "$T/fwd.err")"
	stop_ncxd fw
fi
note "ok: ncxd and ncx forward run sandboxed (Seccomp 2, NoNewPrivs 1) and work"
