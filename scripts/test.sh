#!/usr/bin/env bash
# Runs every check and test of the project. This is the README's test command,
# and what CI runs (.ci/run). Needs a Rust toolchain, and for the Keycloak stage a
# Java 17+ runtime, Maven (Keycloak comes from Maven Central through
# scripts/keycloak.sh, cached in ~/.cache/box-mcp), curl and setsid. Later stages
# install and start what they need themselves. A missing prerequisite fails the run
# with a message: nothing is skipped.
#
# Stages: format, structure (import cycles), lint, Keycloak (fetched and started with the bundled realm, stopped
# on exit), Rust tests (unit, integration, and tests/it/keycloak.rs against that
# Keycloak), e2e clients.
#
# The Keycloak stage exports, for the stages after it:
#   BOX_MCP_TEST_SANDBOX_URL    the box-sandbox Keycloak's `box` identity provider uses
#   BOX_MCP_TEST_KEYCLOAK_URL   Keycloak's base URL, e.g. http://127.0.0.1:41234
#   BOX_MCP_TEST_MCP_PORT       a free loopback port P reserved for box-mcp
#   BOX_MCP_TEST_RESOURCE_URL   http://127.0.0.1:P/mcp, the MCP canonical URL that the
#                               realm's mcp:tools scope puts into `aud`
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT="$PWD"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }

echo "== format"
cargo fmt --all -- --check

echo "== structure"
# No import cycles between the modules of either crate (scripts/check-cycles.py).
python3 scripts/check-cycles.py --self-test
python3 scripts/check-cycles.py src sandbox/src

echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== compose"
# compose.yaml against the Compose Specification schema, plus what a schema cannot see.
bash scripts/check-compose.sh

echo "== keycloak"
mkdir -p "$REPO_ROOT/target"
export KC_RUN_DIR="$REPO_ROOT/target/test-keycloak"

# One run at a time per tree: the Keycloak run dir (and the cargo target dir) are
# shared. A second run waits for the first instead of stopping its Keycloak.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$REPO_ROOT/target/test-keycloak.lock"
    if ! flock -n 9; then
        log "another scripts/test.sh run holds ${REPO_ROOT}/target/test-keycloak.lock; waiting for it (at most 30 min) ..."
        flock -w 1800 9 || die "gave up waiting for the other scripts/test.sh run in this tree"
    fi
fi

# Two distinct free loopback ports: P for box-mcp (bound later by the e2e stage),
# and one for Keycloak, so that Keycloak can never take P.
free_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))
for x in s: x.close()'
        return
    fi
    local p q r i
    for i in $(seq 1 100); do
        p=$(( 20000 + (RANDOM % 40000) ))
        q=$(( 20000 + (RANDOM % 40000) ))
        r=$(( 20000 + (RANDOM % 40000) ))
        [ "$p" != "$q" ] && [ "$q" != "$r" ] && [ "$p" != "$r" ] || continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null \
            && ! (exec 3<>"/dev/tcp/127.0.0.1/$r") 2>/dev/null; then
            printf '%s %s %s\n' "$p" "$q" "$r"
            return
        fi
    done
    return 1
}
ports="$(free_ports)" || die "could not find free loopback ports"
read -r MCP_PORT KC_FREE_PORT SANDBOX_PORT <<<"$ports"
export BOX_MCP_TEST_MCP_PORT="$MCP_PORT"
export BOX_MCP_TEST_RESOURCE_URL="http://127.0.0.1:${MCP_PORT}/mcp"

keycloak() {
    # fd 9 (the lock) must not leak into Keycloak, which outlives this call.
    bash "$REPO_ROOT/scripts/keycloak.sh" "$@" 9>&- </dev/null
}
stop_keycloak() {
    local rc=$?
    trap - EXIT
    keycloak stop || log "warning: could not stop Keycloak (run dir ${KC_RUN_DIR})"
    if [ -n "${SANDBOX_PID:-}" ]; then kill "$SANDBOX_PID" 2>/dev/null || true; fi
    exit "$rc"
}
trap stop_keycloak EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A Keycloak left over from an interrupted run has another MCP audience: replace it.
if keycloak status >/dev/null 2>&1; then
    log "stopping a Keycloak left over from an earlier run in ${KC_RUN_DIR}"
    keycloak stop || die "could not stop the Keycloak left over in ${KC_RUN_DIR}"
fi

keycloak fetch || die "Keycloak could not be fetched (see the messages above); the Keycloak tests cannot run without it"
KC_PORT="${KC_PORT:-$KC_FREE_PORT}"

# The Box that Keycloak's `box` identity provider links accounts at: one
# box-sandbox for the linked-account tests (tests/it/linked_keycloak.rs). Its access
# tokens live 15 s and Keycloak renews them 5 s before, so the tests see renewals.
cargo build --quiet --locked -p box-sandbox
SANDBOX="http://127.0.0.1:${SANDBOX_PORT}"
target/debug/box-sandbox --listen "127.0.0.1:${SANDBOX_PORT}" --token-ttl-secs 15 \
    --redirect-uri "sandbox-oauth-app=http://127.0.0.1:${KC_PORT}/realms/box-mcp/broker/box/endpoint" \
    > "$REPO_ROOT/target/test-sandbox.log" 2>&1 </dev/null 9>&- &
SANDBOX_PID=$!
for _ in $(seq 1 100); do
    grep -q '"listening"' "$REPO_ROOT/target/test-sandbox.log" 2>/dev/null && break
    kill -0 "$SANDBOX_PID" 2>/dev/null || die "box-sandbox did not start: $(cat "$REPO_ROOT/target/test-sandbox.log")"
    sleep 0.1
done
grep -q '"listening"' "$REPO_ROOT/target/test-sandbox.log" || die "box-sandbox did not report listening"
export BOX_MCP_TEST_SANDBOX_URL="$SANDBOX"

KC_URL="$(KC_PORT="$KC_PORT" BOX_MCP_RESOURCE_URL="$BOX_MCP_TEST_RESOURCE_URL" \
    BOX_MCP_BOX_AUTHORIZE_URL="${SANDBOX}/api/oauth2/authorize" \
    BOX_MCP_BOX_TOKEN_URL="${SANDBOX}/oauth2/token" \
    BOX_MCP_BOX_USERINFO_URL="${SANDBOX}/2.0/users/me" \
    BOX_MCP_BOX_MIN_VALIDITY=5 \
    keycloak start)" \
    || die "Keycloak could not be started (see the messages above and ${KC_RUN_DIR}/keycloak.log); the Keycloak tests cannot run without it"
case "$KC_URL" in
    http://*) ;;
    *) die "Keycloak started but reported no base URL (got '${KC_URL}')" ;;
esac
export BOX_MCP_TEST_KEYCLOAK_URL="$KC_URL"
log "Keycloak at ${BOX_MCP_TEST_KEYCLOAK_URL}; MCP resource URL ${BOX_MCP_TEST_RESOURCE_URL}"

echo "== tests"
# Unit and integration tests, and tests/it/keycloak.rs against the Keycloak above.
# (box-mcp ignores BOX_MCP_TEST_*: they are not configuration keys.)
cargo test --workspace --all-targets --locked

echo "== policy table"
# The shipped policy against its table of expected decisions (benches run once,
# untimed, as part of the tests above).
cargo run --quiet --locked --bin box-mcp -- policy test policies/tests.csv

echo "== e2e clients"
# The official TypeScript and Python SDKs and the Inspector CLI against box-mcp on
# port $BOX_MCP_TEST_MCP_PORT, with the Keycloak above.
bash scripts/test-clients.sh </dev/null
