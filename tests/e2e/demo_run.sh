# SPDX-License-Identifier: MIT
# `make run` (scripts/run-demo): asks scripts/deps only for what the demo
# uses (no QEMU, no kernel image); keeps its summary, with what the `ncx:`
# lines mean, at the top of every live frame; stops by itself with
# NCX_DEMO_SECONDS; and on Ctrl-C through make stops everything and exits 0,
# without make's "*** [Makefile:...: run] Interrupt".
. "$NCX_TOP/tests/support/e2e.sh"

# The package sets.
run_pkgs=$("$NCX_TOP/scripts/deps" --list run) || fail "deps --list run"
all_pkgs=$("$NCX_TOP/scripts/deps" --list) || fail "deps --list"
echo "$run_pkgs" | grep -qwE 'qemu-system-x86|linux-image-amd64|linux-headers-amd64|dkms|clang' &&
	fail "make run's packages: $run_pkgs"
echo "$all_pkgs" | grep -qw qemu-system-x86 || fail "deps lost the QEMU packages: $all_pkgs"
# The Makefile's run rule: no 'deps' prerequisite (it installs QEMU), the
# demo exec'd (make must not see a shell killed by SIGINT).
rule=$(sed -n '/^run:/,/^$/p' "$NCX_TOP/Makefile")
echo "$rule" | head -1 | grep -qx 'run:' || fail "run rule: $rule"
echo "$rule" | grep -q 'scripts/deps run$' || fail "run rule: $rule"
echo "$rule" | grep -q 'exec ./scripts/run-demo$' || fail "run rule: $rule"

# The demo on its own, stopping after 4 s of live view.
dport=$(free_port)
NCX_DEMO_BIN=$NCX_BIN NCX_RUN_DIR=$T/run NCX_PORT=$dport NCX_DEMO_SECONDS=4 \
	timeout 90 "$NCX_TOP/scripts/run-demo" >"$T/demo.out" 2>"$T/demo.err"
rc=$?
[ "$rc" -eq 0 ] || fail "run-demo exited $rc: $(tail -5 "$T/demo.out") $(cat "$T/demo.err")"
frames=$(grep -c -- '^--- live' "$T/demo.out")
[ "$frames" -ge 2 ] || fail "$frames live frames"
# The summary and the explanation of the ncx: lines, once and atop every frame.
[ "$(grep -c '^Lines with "ncx:" are ncxd' "$T/demo.out")" -eq $((frames + 1)) ] ||
	fail "the summary is not kept on screen"
grep -q '^  ncx: reboot prev_seq=A seq=B ' "$T/demo.out" || fail "no explanation of ncx: reboot"
grep -q ' ncx: reboot prev_seq=2423 seq=0$' "$T/demo.out" || fail "no sample ncx: line"
grep -q '^  ADDRESS  *PORT STREAM' "$T/demo.out" || fail "no ncx status table in the frames"
grep -q '^  127.0.0.1  *6667 stock/legacy ' "$T/demo.out" || fail "legacy sender not in the table"
grep -q '^ncxd stopped; the logs stay in ' "$T/demo.out" || fail "no clean stop"
[ ! -e "$T/run/ncxd.sock" ] || fail "ncxd left its socket"
grep -q 'AddressSanitizer' "$T/run/ncxd.err" "$T/demo.err" && fail "ASan: $(cat "$T/run/ncxd.err")"

# Ctrl-C through make: the demo's own process group gets SIGINT, as from a
# terminal. Only if `make run` would not install anything.
missing=
for p in $run_pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	note "make run would install$missing: its Ctrl-C not tested"
else
	set -m
	mport=$(free_port)
	NCX_RUN_DIR=$T/mrun NCX_PORT=$mport make -C "$NCX_TOP" --no-print-directory \
		B="${NCX_MAIN_BIN%/bin}" run >"$T/make.out" 2>"$T/make.err" &
	mpid=$!
	set +m
	_pids+=($mpid)
	wait_for 120 grep -q -- '^--- live' "$T/make.out" || fail "make run: no live view: $(tail "$T/make.out" "$T/make.err")"
	sleep 1
	kill -INT -- -"$mpid"
	wait "$mpid"
	note "make exited $? (make itself takes the terminal's SIGINT and re-raises it)"
	grep -q 'make: \*\*\*' "$T/make.err" && fail "make complained: $(cat "$T/make.err")"
	grep -q '^ncxd stopped; the logs stay in ' "$T/make.out" || fail "make run: no clean stop: $(tail -5 "$T/make.out")"
	wait_for 10 bash -c "! ss -Hlun 'sport = :$mport' | grep -q ." || fail "ncxd still listening after Ctrl-C"
	wait_for 10 bash -c "! ss -Hlun 'sport = :6665' | grep -q ." || fail "the demo's replay still runs after Ctrl-C"
	[ ! -e "$T/mrun/ncxd.sock" ] || fail "ncxd left its socket after Ctrl-C"
fi
note "ok: make run's packages, $frames frames with the summary, Ctrl-C"
