#!/usr/bin/env bash
# cold-build.sh: the compile-time and size figures of docs/BENCHMARKS.md, section 3.
#
# 1. A cold release build of `ari-sdk` with default features, in a fresh target directory.
# 2. A cold release build of a hello-world application using it, as a user would have it: a
#    crate of its own outside this workspace (default release profile), whose main.rs is
#    bench/src/bin/hello.rs, depending on ari-sdk by path plus tokio, futures and anyhow, with this
#    workspace's Cargo.lock so that the versions are the same. Reports its binary size as built
#    and stripped.
#
# Sources must be downloaded already (`cargo fetch`); nothing else may be built meanwhile if the
# wall times are to mean anything. Run from anywhere; takes 3-5 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d /tmp/ari-cold-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT

timed() { # label, command...
  local label="$1"; shift
  local TIMEFORMAT='%R %U %S' wall user sys
  { time "$@" >"$work/$label.log" 2>&1; } 2>"$work/time"
  read -r wall user sys <"$work/time"
  printf '%-28s wall %6.1f s   user %6.1f s   sys %5.1f s\n' "$label" "$wall" "$user" "$sys"
}

cd "$root"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "ari-rs at $rev, $(rustc --version), $(nproc) cores"

timed "ari-sdk (default features)" \
  env CARGO_TARGET_DIR="$work/target-sdk" cargo build --release -p ari-sdk
units=$(grep -c '^ *Compiling' "$work/ari-sdk (default features).log" || true)
echo "  $units crates compiled"

app="$work/hello-app"
mkdir -p "$app/src"
cp "$root/bench/src/bin/hello.rs" "$app/src/main.rs"
cp "$root/Cargo.lock" "$app/Cargo.lock"
cat >"$app/Cargo.toml" <<EOF
[package]
name = "hello-app"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
ari-sdk = { path = "$root/ari-sdk" }
tokio = { version = "1", features = ["macros", "rt"] }
futures = "0.3"
anyhow = "1"

[workspace]
EOF
timed "hello-world app" \
  env CARGO_TARGET_DIR="$work/target-app" cargo build --release --manifest-path "$app/Cargo.toml"
bin="$work/target-app/release/hello-app"
cp "$bin" "$work/stripped" && strip "$work/stripped"
awk -v a="$(stat -c %s "$bin")" -v b="$(stat -c %s "$work/stripped")" \
  'BEGIN { printf "hello-world binary: %.1f MB as built, %.1f MB stripped\n", a / 1e6, b / 1e6 }'

shopt -s globstar
echo "generated code: $(cat "$root"/ari-sdk/src/generated/**/*.rs | wc -l) lines in" \
  "$(ls "$root"/ari-sdk/src/generated/**/*.rs | wc -l) files"
