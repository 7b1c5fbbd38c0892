#!/usr/bin/env bash
# Runs every check and test of the project. This is the README's test command,
# and what CI runs (.ci/run). Needs only a Rust toolchain; later stages install
# and start what they need themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format"
cargo fmt --all -- --check

echo "== lint"
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
cargo test --all-targets --locked
