#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: the criterion micro-benchmarks, then the load
# benchmark (box-sandbox, a local OIDC issuer and box-mcp on 127.0.0.1, driven
# by wrk). Takes about 20 minutes on two cores. Arguments are passed to
# box-mcp-loadbench (e.g. `--only 1,2 --duration 3`; `--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

# wrk (a C HTTP load generator) comes from the distribution.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk (apt-get)" >&2
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    echo "bench: wrk is missing; install it (Debian/Ubuntu: apt-get install wrk, macOS: brew install wrk)" >&2
    exit 1
  fi
fi

echo "bench: micro-benchmarks (criterion)" >&2
cargo bench --locked --bench authz --bench auth_path

# The server under load is built with the benchmark-only feature that lets the
# baseline scenarios turn authentication off. It goes to its own target
# directory, so target/release/box-mcp is never such a build.
INSECURE_TARGET=target/insecure-no-auth
echo "bench: building box-mcp (insecure-no-auth) and the load benchmark" >&2
cargo build --locked --release --target-dir "$INSECURE_TARGET" \
  -p box-mcp -p box-mcp-loadbench --features box-mcp/insecure-no-auth

echo "bench: load scenarios" >&2
"$INSECURE_TARGET/release/box-mcp-loadbench" \
  --server "$INSECURE_TARGET/release/box-mcp" \
  --out BENCHMARKS.md \
  --command "scripts/bench.sh${*:+ $*}" \
  "$@"
