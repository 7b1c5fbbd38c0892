#!/usr/bin/env bash
# Counts the instructions box-mcp executes per request in load scenarios, under
# valgrind's callgrind: deterministic where wall-clock figures on two shared cores
# move by several percent between runs. Each scenario runs twice (SHORT and LONG
# seconds, 4 connections, no warm-up); the difference of the two totals over the
# difference of their request counts is the cost of one request, with start-up and
# shutdown cancelled out. Not part of CI; about a minute per scenario.
#
#   scripts/callgrind.sh [SCENARIO ...]     (default: 2 2e 3 3e; ids as in BENCHMARKS.md)
#
# The profiles stay in target/callgrind/ (callgrind_annotate reads them).
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=5
LONG=25
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(2 2e 3 3e)

for tool in valgrind wrk; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "callgrind: installing $tool (apt-get)" >&2
      apt-get install -y "$tool" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$tool" >/dev/null; }
    else
      echo "callgrind: $tool is missing; install it (Debian/Ubuntu: apt-get install $tool)" >&2
      exit 1
    fi
  fi
done

TARGET=target/insecure-no-auth
cargo build --locked --release --target-dir "$TARGET" \
  -p box-mcp -p box-mcp-loadbench --features box-mcp/insecure-no-auth >&2
OUT=target/callgrind
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SERVER=$(pwd)/$TARGET/release/box-mcp
# The load benchmark starts "the server" with a clean environment; this wrapper
# runs the real one under callgrind, its profile named by the run's tag.
cat > "$OUT/server.sh" <<WRAP
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$OUT/\$(cat "$OUT/tag").out" "$SERVER" "\$@"
WRAP
chmod +x "$OUT/server.sh"

total_ir() { sed -n 's/^summary: //p' "$1"; }
printf '| scenario | instructions per request |\n| --- | ---: |\n'
for scenario in "${SCENARIOS[@]}"; do
  declare -A requests=()
  for seconds in $SHORT $LONG; do
    tag="s${scenario}_${seconds}"
    echo "$tag" > "$OUT/tag"
    rm -f "$OUT/$tag.out"
    line=$("$TARGET/release/box-mcp-loadbench" --server "$OUT/server.sh" --only "$scenario" \
      --connections 4 --duration "$seconds" --warm-up 0 --paired-rounds 0 \
      --users 100 --cold-users 3000 --out "$OUT/report.md" 2>&1 | grep '^scenario' || true)
    requests[$seconds]=$(sed -n 's/.*requests \([0-9]*\).*/\1/p' <<<"$line")
    [ -n "${requests[$seconds]}" ] && [ -s "$OUT/$tag.out" ] || {
      echo "callgrind: scenario $scenario (${seconds} s) did not run: $line" >&2
      exit 1
    }
  done
  python3 - "$(total_ir "$OUT/s${scenario}_$SHORT.out")" "$(total_ir "$OUT/s${scenario}_$LONG.out")" \
    "${requests[$SHORT]}" "${requests[$LONG]}" "$scenario" <<'PY'
import sys
short_ir, long_ir, short_n, long_n = map(int, sys.argv[1:5])
if long_n <= short_n:
    sys.exit(f"callgrind: scenario {sys.argv[5]}: the long run served no more requests than the short one")
print(f"| {sys.argv[5]} | {(long_ir - short_ir) / (long_n - short_n):,.0f} |")
PY
  unset requests
done
