#!/usr/bin/env bash
# when-quiet.sh SECONDS_MAX COMMAND...: waits until no test run (cargo test, conformance or
# ari_tests binaries) has been seen for 20 s in a row, at most SECONDS_MAX seconds, then runs
# COMMAND. Load measurements against the shared Asterisk go through it so that they neither
# disturb another engineer's test run nor get disturbed by it. Exits 3 if it never got quiet.
set -euo pipefail
max=$1
shift
start=$(date +%s)
quiet_since=$(date +%s)
while true; do
  now=$(date +%s)
  if pgrep -f 'ari_tests|conformance|cargo test|xtask asterisk|xtask test' >/dev/null; then
    quiet_since=$now
  elif [ $((now - quiet_since)) -ge 20 ]; then
    break
  fi
  if [ $((now - start)) -ge "$max" ]; then
    echo "when-quiet: still busy after ${max} s" >&2
    exit 3
  fi
  sleep 2
done
echo "when-quiet: quiet for 20 s, running: $*" >&2
exec "$@"
