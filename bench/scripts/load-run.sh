#!/usr/bin/env bash
# load-run.sh LOAD-ARGS...: one load measurement against the shared Asterisk 22, done right:
# waits until no test run has been seen for 20 s (when-quiet.sh, up to 30 min), makes sure
# Asterisk 22 is up (`xtask asterisk up` is a no-op when it already runs with the same
# configuration), runs `load` with the given arguments, and stops Asterisk again only if it was
# down before. Run from the workspace root after `cargo build --release -p ari-bench --bin load`;
# LOAD_BIN overrides the binary (e.g. one built from a patched SDK in another worktree); the
# `minimal`, `sdk_app` and `sdk_stream` binaries are taken from the same directory. QUIET_MAX bounds the wait
# for quiet (seconds, default 1800).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
xtask=(cargo xtask)
bench/scripts/when-quiet.sh "${QUIET_MAX:-1800}" true || echo "load-run: measuring although the machine is busy" >&2
was_up=1
curl -sf -o /dev/null -u asterisk:asterisk http://127.0.0.1:8088/ari/asterisk/ping || was_up=0
if [ "$was_up" = 0 ]; then
  "${xtask[@]}" asterisk up --release 22 >&2
fi
rc=0
RUST_BACKTRACE=0 "${LOAD_BIN:-target/release/load}" "$@" || rc=$?
if [ "$was_up" = 0 ]; then
  "${xtask[@]}" asterisk down --release 22 >&2 || true
fi
exit "$rc"
