#!/usr/bin/env bash
# box-mcp against real, independent MCP clients, the bundled Keycloak and the Box sandbox:
# the official TypeScript SDK v1 (2025-era protocol) and v2 (2026-07-28), the official Python
# SDK (pytest), the MCP Inspector CLI and mcp-remote (the stdio proxy users put in front of
# desktop apps), the official MCP conformance suite (scripts/conformance.sh), and the
# TypeScript SDK once more over box-mcp's own TLS listener.
# The SDK tests start from nothing but the server URL and must find Keycloak, register a
# client dynamically and log in with PKCE on their own (headless login and consent); the
# TypeScript SDK also steps up to box:write on a 403 insufficient_scope.
#
#   scripts/test-clients.sh
#
# Needs: cargo, Node.js >= 20 with npm, Python >= 3.10 with venv, curl, and Java for Keycloak
# (see scripts/keycloak.sh). Node packages come from the npm registry (`npm ci` with
# tests/clients/package-lock.json), Python packages from PyPI into target/clients-venv
# (tests/clients/requirements.txt); both are reinstalled only when their pins change.
#
# Environment contract (both or neither):
#   BOX_MCP_TEST_KEYCLOAK_URL  base URL of a running Keycloak with the box-mcp realm whose
#                              mcp:tools scope puts http://127.0.0.1:$BOX_MCP_TEST_MCP_PORT/mcp
#                              into `aud`; this script then neither starts nor stops Keycloak
#   BOX_MCP_TEST_MCP_PORT      free loopback port for box-mcp
# Without them, it picks a free port, starts its own Keycloak (run dir target/clients-keycloak)
# and stops it at the end.
#
# Logs: target/clients/box-mcp.log, target/clients-keycloak/keycloak.log.
set -euo pipefail
export CI=true
cd "$(dirname "$0")/.."

CLIENTS_DIR="tests/clients"
RUN_DIR="target/clients"
VENV="target/clients-venv"
KC_RUN="target/clients-keycloak"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'test-clients.sh: error: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$@" | awk '{print $1}' | sha256sum | awk '{print $1}'; }

T0=$(date +%s)
mkdir -p "$RUN_DIR"

# ---------------------------------------------------------------- requirements
for tool in cargo node npm npx python3 curl timeout sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not installed"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
    || die "Node.js >= 20 is required (found $(node --version))"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "Python >= 3.10 is required (found $(python3 --version 2>&1))"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- clean-up
MCP_PID=""
KC_START_PID=""
SANDBOX_PID=""
OWN_KEYCLOAK=0
stop_box_mcp() {
    if [ -n "$MCP_PID" ] && kill -0 "$MCP_PID" 2>/dev/null; then
        kill -TERM "$MCP_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$MCP_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$MCP_PID" 2>/dev/null || true
        wait "$MCP_PID" 2>/dev/null || true
    fi
    MCP_PID=""
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_box_mcp
    if [ -n "$SANDBOX_PID" ]; then kill "$SANDBOX_PID" 2>/dev/null || true; fi
    if [ "$OWN_KEYCLOAK" = 1 ]; then
        if [ -n "$KC_START_PID" ] && kill -0 "$KC_START_PID" 2>/dev/null; then
            kill -TERM "$KC_START_PID" 2>/dev/null || true # its EXIT trap kills the half-started Keycloak
            for _ in $(seq 1 50); do kill -0 "$KC_START_PID" 2>/dev/null || break; sleep 0.2; done
        fi
        KC_RUN_DIR="$KC_RUN" timeout 60 scripts/keycloak.sh stop </dev/null >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- Keycloak and port
check_realm() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${KC_URL}/realms/box-mcp/.well-known/openid-configuration" || true)"
    [ "$code" = 200 ] || die "Keycloak realm box-mcp does not answer at ${KC_URL}/realms/box-mcp (HTTP ${code:-none})"
}
if [ -n "${BOX_MCP_TEST_KEYCLOAK_URL:-}" ] && [ -n "${BOX_MCP_TEST_MCP_PORT:-}" ]; then
    KC_URL="${BOX_MCP_TEST_KEYCLOAK_URL%/}"
    PORT="$BOX_MCP_TEST_MCP_PORT"
    say "Keycloak: using ${KC_URL} (from BOX_MCP_TEST_KEYCLOAK_URL), box-mcp port ${PORT}"
    check_realm
elif [ -n "${BOX_MCP_TEST_KEYCLOAK_URL:-}" ] || [ -n "${BOX_MCP_TEST_MCP_PORT:-}" ]; then
    die "set both BOX_MCP_TEST_KEYCLOAK_URL and BOX_MCP_TEST_MCP_PORT, or neither"
else
    PORT="$(free_port)"
    OWN_KEYCLOAK=1
    KC_OWN_PORT="$(free_port)"
    # The Box that Keycloak's `box` identity provider links accounts at (the linked suite).
    say "box-sandbox (for Keycloak's box identity provider)"
    timeout 1800 cargo build --locked --quiet -p box-sandbox </dev/null || die "cargo build -p box-sandbox failed"
    SB_PORT="$(free_port)"
    BOX_MCP_TEST_SANDBOX_URL="http://127.0.0.1:${SB_PORT}"
    target/debug/box-sandbox --listen "127.0.0.1:${SB_PORT}" --token-ttl-secs 15 \
        --redirect-uri "sandbox-oauth-app=http://127.0.0.1:${KC_OWN_PORT}/realms/box-mcp/broker/box/endpoint" \
        </dev/null >"$RUN_DIR/box-sandbox.log" 2>&1 &
    SANDBOX_PID=$!
    say "Keycloak: starting our own (audience http://127.0.0.1:${PORT}/mcp, run dir ${KC_RUN})"
    # In the background while dependencies install and box-mcp builds.
    KC_RUN_DIR="$KC_RUN" KC_PORT="$KC_OWN_PORT" BOX_MCP_RESOURCE_URL="http://127.0.0.1:${PORT}/mcp" \
        BOX_MCP_BOX_AUTHORIZE_URL="${BOX_MCP_TEST_SANDBOX_URL}/api/oauth2/authorize" \
        BOX_MCP_BOX_TOKEN_URL="${BOX_MCP_TEST_SANDBOX_URL}/oauth2/token" \
        BOX_MCP_BOX_USERINFO_URL="${BOX_MCP_TEST_SANDBOX_URL}/2.0/users/me" \
        BOX_MCP_BOX_MIN_VALIDITY=5 \
        scripts/keycloak.sh start </dev/null >"$RUN_DIR/keycloak-url" 2>"$RUN_DIR/keycloak-start.log" &
    KC_START_PID=$!
fi
case "$PORT" in '' | *[!0-9]*) die "BOX_MCP_TEST_MCP_PORT must be a port number, got '${PORT}'" ;; esac
MCP_URL="http://127.0.0.1:${PORT}/mcp"
# The conformance suite's token proxy (scripts/conformance.sh): box-mcp accepts its origin.
CONFORMANCE_PROXY_PORT="$(free_port)"

# ---------------------------------------------------------------- dependencies
say "Node dependencies (npm ci in ${CLIENTS_DIR})"
NODE_STAMP="$CLIENTS_DIR/node_modules/.box-mcp-installed"
node_want="$(node --version) $(sha "$CLIENTS_DIR/package.json" "$CLIENTS_DIR/package-lock.json")"
if [ -f "$NODE_STAMP" ] && [ "$(cat "$NODE_STAMP")" = "$node_want" ]; then
    echo "up to date (package-lock.json unchanged)"
else
    if ! (cd "$CLIENTS_DIR" && timeout 600 npm ci --no-audit --no-fund --prefer-offline </dev/null); then
        die "could not install the Node dependencies (npm ci in ${CLIENTS_DIR}); it needs the npm registry or a warm npm cache"
    fi
    printf '%s\n' "$node_want" >"$NODE_STAMP"
fi
for pkg in @modelcontextprotocol/sdk @modelcontextprotocol/client @modelcontextprotocol/inspector-cli mcp-remote; do
    printf '%s %s\n' "$pkg" "$(node -p "require('./$CLIENTS_DIR/node_modules/$pkg/package.json').version")"
done

say "Python dependencies (${VENV} from ${CLIENTS_DIR}/requirements.txt)"
PY_STAMP="$VENV/.box-mcp-installed"
py_want="$(python3 --version 2>&1) $(sha "$CLIENTS_DIR/requirements.txt")"
if [ -f "$PY_STAMP" ] && [ "$(cat "$PY_STAMP")" = "$py_want" ] && [ -x "$VENV/bin/python" ]; then
    echo "up to date (requirements.txt unchanged)"
else
    rm -rf "$VENV"
    python3 -m venv "$VENV" </dev/null \
        || die "could not create a Python virtual environment in ${VENV} (on Debian/Ubuntu: apt-get install python3-venv)"
    if ! timeout 600 "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --timeout 60 -q \
        -r "$CLIENTS_DIR/requirements.txt" </dev/null; then
        rm -rf "$VENV"
        die "could not install the Python dependencies (pip install -r ${CLIENTS_DIR}/requirements.txt); it needs PyPI or a pip cache"
    fi
    printf '%s\n' "$py_want" >"$PY_STAMP"
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp")); print("pytest", m.version("pytest"))'

say "box-mcp (cargo build --bin box-mcp)"
timeout 1800 cargo build --locked --bin box-mcp </dev/null || die "cargo build failed"

# ---------------------------------------------------------------- start everything
if [ "$OWN_KEYCLOAK" = 1 ]; then
    say "waiting for Keycloak"
    if ! wait "$KC_START_PID"; then
        KC_START_PID=""
        cat "$RUN_DIR/keycloak-start.log" >&2 || true
        die "Keycloak did not start (see ${KC_RUN}/keycloak.log)"
    fi
    KC_START_PID=""
    KC_URL="$(tail -n 1 "$RUN_DIR/keycloak-url")"
    [ -n "$KC_URL" ] || die "scripts/keycloak.sh start printed no URL"
fi
ISSUER="${KC_URL}/realms/box-mcp"
check_realm
echo "Keycloak: ${KC_URL}"

# The server under test gets exactly the configuration given here: any BOX_MCP_* setting
# from the caller's environment is dropped so it cannot change what is tested.
unset_args=()
while IFS= read -r var; do
    case "$var" in BOX_MCP_*) unset_args+=(-u "$var") ;; esac
done < <(compgen -e)
# How start_box_mcp checks readiness: plain http, or (for the TLS stage) https trusting the test CA.
SCHEME=http
CURL_TLS=()
# start_box_mcp LOG [BOX_MCP_KEY=VALUE ...]
start_box_mcp() {
    local log="$1"
    shift
    port_in_use "$PORT" && die "port ${PORT} is already in use"
    env "${unset_args[@]}" \
        BOX_MCP_LISTEN="127.0.0.1:${PORT}" \
        BOX_MCP_PUBLIC_BASE_URL="http://127.0.0.1:${PORT}" \
        BOX_MCP_AUTH__ISSUER="$ISSUER" \
        BOX_MCP_AUTH__SCOPES_SUPPORTED='["mcp:tools","box:write"]' \
        BOX_MCP_LOG__LEVEL="box_mcp=debug,info" \
        "$@" \
        target/debug/box-mcp serve </dev/null >"$log" 2>&1 &
    MCP_PID=$!
    local ready=""
    for _ in $(seq 1 150); do # 30 s
        if ! kill -0 "$MCP_PID" 2>/dev/null; then
            tail -n 40 "$log" >&2 || true
            MCP_PID=""
            die "box-mcp exited during start-up (log above, ${log})"
        fi
        if [ "$(curl -s "${CURL_TLS[@]}" -o /dev/null -w '%{http_code}' --max-time 2 "${SCHEME}://127.0.0.1:${PORT}/readyz" || true)" = 200 ]; then
            ready=1
            break
        fi
        sleep 0.2
    done
    if [ -z "$ready" ]; then
        curl -s "${CURL_TLS[@]}" --max-time 2 "${SCHEME}://127.0.0.1:${PORT}/readyz" >&2 || true
        tail -n 40 "$log" >&2 || true
        die "box-mcp did not become ready within 30 s"
    fi
    echo "ready: $(curl -s "${CURL_TLS[@]}" --max-time 2 "${SCHEME}://127.0.0.1:${PORT}/readyz")"
}
# Box for every suite: the sandbox the Rust tests (or the set-up above) started. The
# first stage uses managed users (CCG user tokens, each caller's box_user_id); the last
# restarts box-mcp with linked accounts.
[ -n "${BOX_MCP_TEST_SANDBOX_URL:-}" ] || die "BOX_MCP_TEST_SANDBOX_URL is not set (scripts/test.sh sets it, or run this script on its own)"
SB="${BOX_MCP_TEST_SANDBOX_URL%/}"
export BOX_MCP_TEST_SANDBOX_URL="$SB"
box_urls=(
    BOX_MCP_BOX__API_BASE_URL="${SB}/2.0" BOX_MCP_BOX__UPLOAD_BASE_URL="${SB}/api/2.0"
    BOX_MCP_BOX__TOKEN_URL="${SB}/oauth2/token" BOX_MCP_BOX__REVOKE_URL="${SB}/oauth2/revoke"
)
say "starting box-mcp on ${MCP_URL} (Box: managed users at ${SB})"
start_box_mcp "$RUN_DIR/box-mcp.log" \
    BOX_MCP_BOX__MODE=per_user BOX_MCP_BOX__AUTH=ccg \
    BOX_MCP_BOX__CLIENT_ID=sandbox-ccg-app BOX_MCP_BOX__CLIENT_SECRET=sandbox-ccg-secret \
    BOX_MCP_BOX__ENTERPRISE_ID=1100000 "${box_urls[@]}" \
    BOX_MCP_HTTP__ALLOWED_ORIGINS="[\"http://127.0.0.1:${CONFORMANCE_PROXY_PORT}\"]"
echo "set-up took $(($(date +%s) - T0)) s"

# ---------------------------------------------------------------- the clients
export BOX_MCP_TEST_MCP_URL="$MCP_URL"
export BOX_MCP_TEST_KEYCLOAK_URL="$KC_URL"
export PYTHONDONTWRITEBYTECODE=1

failed=()
run_suite() {
    local name="$1"
    shift
    say "$name"
    local t=$SECONDS
    if "$@" </dev/null; then
        echo "-- ${name}: passed in $((SECONDS - t)) s"
    else
        echo "-- ${name}: FAILED (exit $?) after $((SECONDS - t)) s"
        failed+=("$name")
    fi
}

run_suite "TypeScript SDK (@modelcontextprotocol/sdk, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 ts-sdk.test.mjs"
run_suite "TypeScript SDK step-up to box:write (@modelcontextprotocol/sdk, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 ts-sdk-step-up.test.mjs"
run_suite "Python SDK (mcp, pytest)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 '$PWD/$VENV/bin/python' -m pytest -rA test_python_sdk.py"
run_suite "MCP Inspector CLI (@modelcontextprotocol/inspector-cli, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 400 node --test --test-reporter=spec --test-timeout=180000 inspector-cli.test.mjs"
run_suite "mcp-remote, its own OAuth flow (mcp-remote, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 mcp-remote.test.mjs"
run_suite "TypeScript SDK v2, protocol 2026-07-28 (@modelcontextprotocol/client, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 ts-sdk-v2.test.mjs"
run_suite "MCP conformance suite (@modelcontextprotocol/conformance, through a token proxy)" \
    env BOX_MCP_TEST_PROXY_PORT="$CONFORMANCE_PROXY_PORT" bash scripts/conformance.sh

# Every client above sent real Keycloak tokens; none of them may show up in the server's log.
no_jwt_in_log() {
    local n
    n="$(grep -c -E 'eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}' "$RUN_DIR/box-mcp.log" || true)"
    echo "box-mcp log: $(wc -l <"$RUN_DIR/box-mcp.log") lines, ${n} containing a JWT"
    [ "$n" = 0 ]
}
run_suite "no token in the box-mcp log" no_jwt_in_log

# Linked Box accounts: the same port, now with box.per_user_token = "linked" and Box at
# the sandbox that Keycloak's `box` identity provider points at.
say "restarting box-mcp on ${MCP_URL} with linked Box accounts (Box: ${SB})"
stop_box_mcp
start_box_mcp "$RUN_DIR/box-mcp-linked.log" \
    BOX_MCP_BOX__MODE=per_user BOX_MCP_BOX__PER_USER_TOKEN=linked \
    BOX_MCP_BOX__LINKED__CLIENT_ID=box-mcp BOX_MCP_BOX__LINKED__CLIENT_SECRET=box-mcp-dev-secret \
    BOX_MCP_BOX__LINKED__CACHE_TTL=2s "${box_urls[@]}"
run_suite "TypeScript SDK, linked Box account (@modelcontextprotocol/sdk, node --test)" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 ts-sdk-linked.test.mjs"
no_jwt_in_linked_log() {
    local n
    n="$(grep -c -E 'eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}' "$RUN_DIR/box-mcp-linked.log" || true)"
    echo "linked box-mcp log: $(wc -l <"$RUN_DIR/box-mcp-linked.log") lines, ${n} containing a JWT"
    [ "$n" = 0 ]
}
run_suite "no token in the linked box-mcp log" no_jwt_in_linked_log

# box-mcp's own TLS listener: a test CA and a certificate for 127.0.0.1 (openssl), the
# public URL https. Keycloak's audience mapper names the http URL of this port, so that one
# is accepted as an extra audience; the SDK itself sees and asks for the https resource.
TLS_DIR="$RUN_DIR/tls"
rm -rf "$TLS_DIR" && mkdir -p "$TLS_DIR"
make_test_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=box-mcp test CA" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$TLS_DIR/ext" &&
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 2 -extfile "$TLS_DIR/ext" -out "$TLS_DIR/server.pem"
} >/dev/null 2>&1
command -v openssl >/dev/null 2>&1 || die "'openssl' is required for the TLS stage"
make_test_ca || die "could not make the test CA with openssl"
say "restarting box-mcp on https://127.0.0.1:${PORT}/mcp (its own TLS listener, test CA)"
stop_box_mcp
SCHEME=https
CURL_TLS=(--cacert "$TLS_DIR/ca.pem")
start_box_mcp "$RUN_DIR/box-mcp-tls.log" \
    BOX_MCP_PUBLIC_BASE_URL="https://127.0.0.1:${PORT}" \
    BOX_MCP_AUTH__EXTRA_AUDIENCES="[\"http://127.0.0.1:${PORT}/mcp\"]" \
    BOX_MCP_TLS__CERT_FILE="$TLS_DIR/server.pem" BOX_MCP_TLS__KEY_FILE="$TLS_DIR/server.key"
run_suite "TypeScript SDK over box-mcp's TLS listener (@modelcontextprotocol/sdk, node --test)" \
    env BOX_MCP_TEST_MCP_URL="https://127.0.0.1:${PORT}/mcp" NODE_EXTRA_CA_CERTS="$PWD/$TLS_DIR/ca.pem" \
    bash -c "cd '$CLIENTS_DIR' && exec timeout -k 10 300 node --test --test-reporter=spec --test-timeout=180000 ts-sdk-tls.test.mjs"

say "done in $(($(date +%s) - T0)) s"
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    echo "box-mcp log: ${RUN_DIR}/box-mcp.log" >&2
    exit 1
fi
echo "all client suites passed"
