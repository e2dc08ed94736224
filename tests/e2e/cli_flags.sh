# SPDX-License-Identifier: MIT
# One meaning per flag letter, and plain usage errors: ncxd and every ncx
# subcommand say "PROG: unknown option '--foo'" and "Try 'PROG --help'."
# (no log prefix), exit 64. The table: -p the source port (--src-port;
# --port stays a hidden alias in replay and forward), -l the listen address
# (send's level is -L/--level; -l is refused there), -t the target (ncxd's
# threads are --threads only). ncx send to a dead port says, once, after
# about 3 s, that nobody answers, and waits on; --tag/-T prefixes "TAG: ".
. "$NCX_TOP/tests/support/e2e.sh"

. "$NCX_TOP/tests/support/ncxd.sh"

ncx=$NCX_BIN/ncx
# plain PROG... : exit 64 with exactly the two plain lines.
plain() { # WANT_FIRST_LINE TRY_PROG CMD...
	local first=$1 try=$2 rc; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" -eq 64 ] || fail "$* exited $rc, want 64: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "$*: stdout: $(cat "$T/out")"
	printf '%s\nTry '\''%s --help'\''.\n' "$first" "$try" | cmp -s - "$T/err" ||
		fail "$*: stderr is not plain: $(cat -A "$T/err")"
}
plain "ncxd: unknown option '--foo'" ncxd "$NCX_BIN/ncxd" --foo
plain "ncxd: unknown option '--foo'" ncxd "$NCX_BIN/ncxd" --foo=1
plain "ncxd: unknown option '-t'" ncxd "$NCX_BIN/ncxd" -t 2
plain "ncxd: option '--dir' needs a value" ncxd "$NCX_BIN/ncxd" --dir
plain "ncxd: option '--help' takes no value" ncxd "$NCX_BIN/ncxd" --help=yes
plain "ncxd: unexpected argument 'extra'" ncxd "$NCX_BIN/ncxd" extra
plain "ncxd: --threads: '0' is not a number from 1 to 64" ncxd "$NCX_BIN/ncxd" --threads 0
for c in listen replay send forward status; do
	plain "ncx $c: unknown option '--foo'" "ncx $c" "$ncx" "$c" --foo
	plain "ncx $c: unknown option '-Z'" "ncx $c" "$ncx" "$c" -Z
done
plain "ncx send: unknown option '-l'" "ncx send" "$ncx" send -l info -t 127.0.0.1:1 x
plain "ncx send: option '--target' needs a value" "ncx send" "$ncx" send --target
plain "ncx replay: option '-p' needs a value" "ncx replay" "$ncx" replay -p
plain "ncx forward: unexpected argument 'x'" "ncx forward" "$ncx" forward -t 127.0.0.1:1 x
plain "ncx: unknown command 'nope'" ncx "$ncx" nope
# The help texts show the table.
"$ncx" send --help | grep -q -- '-L, --level LEVEL' || fail "send --help: -L"
"$ncx" send --help | grep -q -- '-T, --tag TAG' || fail "send --help: -T"
"$ncx" send --help | grep -q -- '-p, --src-port' || fail "send --help: -p"
"$ncx" replay --help | grep -q -- '-p, --src-port' || fail "replay --help: -p"
"$ncx" forward --help | grep -q -- '-p, --src-port' || fail "forward --help: -p"
"$NCX_BIN/ncxd" --help | grep -q -- '  --threads N' || fail "ncxd --help: --threads"
"$NCX_BIN/ncxd" --help | grep -q -- '-t, ' && fail "ncxd --help still has -t"

# -p/--src-port (and the old --port) is the source port in replay.
start_ncxd flags -d "$T/logs" --threads 1
printf '6,0,0,-;via src-port\n' | hexline >"$T/a.hex"
printf '6,0,0,-;via port\n' | hexline >"$T/b.hex"
p1=$(free_port) p2=$(free_port)
"$ncx" replay -t "127.0.0.1:$port" --src-port "$p1" "$T/a.hex" || fail "replay --src-port"
"$ncx" replay -t "127.0.0.1:$port" --port "$p2" "$T/b.hex" || fail "replay --port"
# send: -L level, --tag and -T.
"$ncx" send -t "127.0.0.1:$port" -L warning -T backup "finished ok" || fail "send -L -T"
printf 'one\ntwo\n' | "$ncx" send -t "127.0.0.1:$port" --level err --tag cron || fail "send --tag"
wait_for 20 grep -q "via src-port" "$T/flags.err" "$T"/logs/127.0.0.1/*.log 2>/dev/null
stop_ncxd flags
grep -q "new sender 127.0.0.1:$p1 " "$T/flags.err" || fail "--src-port: $(cat "$T/flags.err")"
grep -q "new sender 127.0.0.1:$p2 " "$T/flags.err" || fail "--port: $(cat "$T/flags.err")"
cat "$T"/logs/127.0.0.1/*.log >"$T/all"
grep -q ' warn .* backup: finished ok seq=0$' "$T/all" || fail "-L warning -T backup: $(cat "$T/all")"
grep -q ' err .* cron: one seq=0$' "$T/all" || fail "--tag cron: $(cat "$T/all")"
grep -q ' err .* cron: two seq=1$' "$T/all" || fail "--tag, second line: $(cat "$T/all")"

# A dead port: one line after ~3 s, still waiting until the timeout.
dead=$(free_port)
start=$(date +%s%N)
"$ncx" send -t "127.0.0.1:$dead" --timeout 6 "anyone?" 2>"$T/dead.err"
rc=$?
el=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -eq 69 ] || fail "dead port: exit $rc: $(cat "$T/dead.err")"
[ "$el" -ge 5500 ] || fail "dead port: gave up after $el ms, before its timeout"
[ "$(grep -c "^ncx send: no answer from 127.0.0.1:$dead yet (is ncxd running?)$" "$T/dead.err")" -eq 1 ] ||
	fail "dead port: $(cat "$T/dead.err")"
# ...and not said when the receiver answers, nor before 3 s.
start_ncxd live -d "$T/live" --threads 1
"$ncx" send -t "127.0.0.1:$port" "hello" 2>"$T/live.send.err" || fail "send to ncxd"
grep -q 'no answer' "$T/live.send.err" && fail "'no answer' with ncxd answering"
stop_ncxd live
timeout 2 "$ncx" send -t "127.0.0.1:$dead" "x" 2>"$T/early.err"
grep -q 'no answer' "$T/early.err" && fail "'no answer' before 3 s"
note "ok: plain usage errors, the flag table, --tag, the dead-port notice after ${el} ms"
