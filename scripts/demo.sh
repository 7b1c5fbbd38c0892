#!/usr/bin/env bash
# Runs the whole thing on local defaults: the bundled Keycloak realm and box-mcp
# configured for it. Ctrl-C stops everything.
#
#   scripts/demo.sh
#
# With a Docker engine (`docker info` succeeds) and the Compose plugin, this is
# `docker compose up --build` (compose.yaml: MCP URL http://localhost:8000/mcp, Keycloak
# on http://localhost:8080). Otherwise Keycloak comes from Maven Central
# (scripts/keycloak.sh) and box-mcp is built with cargo and run directly.
#
# Environment (optional): BOX_MCP_PORT (default 8000), KC_PORT (default: a free port);
# either one selects the Maven path, because compose.yaml's ports are fixed.
# BOX_MCP_DEMO_WITH=docker|maven chooses the path explicitly.
# BOX_MCP_DEMO_BOX=managed (default: each user is a managed user of the sandbox's
# enterprise) or linked (each user links their own Box account, a sandbox user
# outside the enterprise, at Keycloak; see docs/box.md, Linked accounts). Maven path.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

docker_usable() {
    command -v docker >/dev/null 2>&1 &&
        docker info >/dev/null 2>&1 &&
        docker compose version >/dev/null 2>&1
}

case "${BOX_MCP_DEMO_WITH:-auto}" in
    docker) WITH=docker ;;
    maven) WITH=maven ;;
    auto)
        if [ -z "${BOX_MCP_PORT:-}${KC_PORT:-}" ] && docker_usable; then WITH=docker; else WITH=maven; fi ;;
    *) echo "demo.sh: BOX_MCP_DEMO_WITH must be docker, maven or unset" >&2; exit 1 ;;
esac

if [ "$WITH" = docker ]; then
    docker_usable || { echo "demo.sh: docker compose needs a running Docker engine and the Compose plugin" >&2; exit 1; }
    for port in 8000 8080; do
        if (echo > "/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
            echo "demo.sh: port ${port} is in use (compose.yaml needs 8000 and 8080); set BOX_MCP_DEMO_WITH=maven to run without Docker" >&2
            exit 1
        fi
    done
    cat <<'TXT' >&2

  Starting Keycloak and box-mcp with docker compose (compose.yaml)…

  MCP URL      http://localhost:8000/mcp
  Issuer       http://localhost:8080/realms/box-mcp
  Admin        http://localhost:8080/admin  (admin / admin)

  Test users (password = <name>-password):
    alice  mcp-admin     bob  mcp-editor     carol  mcp-viewer     dave  no MCP role
  Corporate SSO users (realm acme-corp, brokered; "Acme Corp SSO" on the login page):
    erin   engineering → mcp-editor          sam    sales → mcp-viewer

  Connect a client once box-mcp logs that it loaded the issuer's keys:
    Claude Code     claude mcp add --transport http box-mcp http://localhost:8000/mcp
    MCP Inspector   npx @modelcontextprotocol/inspector  → Streamable HTTP → http://localhost:8000/mcp

  Ctrl-C stops both; `docker compose down` removes the containers.

TXT
    exec docker compose up --build
fi

PORT="${BOX_MCP_PORT:-8000}"
MCP_URL="http://127.0.0.1:${PORT}/mcp"
RUN_DIR="target/demo"
mkdir -p "$RUN_DIR"

if (echo > "/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
    echo "demo.sh: port ${PORT} is in use; set BOX_MCP_PORT to another port" >&2
    exit 1
fi

say "Building box-mcp and box-sandbox…"
cargo build --quiet -p box-mcp -p box-sandbox

cleanup() {
    trap - EXIT INT TERM
    say "Stopping…"
    # Each step may fail (the process is gone, or exits on the signal with a non-zero
    # status); none may stop the clean-up before Keycloak is stopped.
    if [ -n "${MCP_PID:-}" ]; then kill "$MCP_PID" 2>/dev/null || true; wait "$MCP_PID" 2>/dev/null || true; fi
    if [ -n "${SANDBOX_PID:-}" ]; then kill "$SANDBOX_PID" 2>/dev/null || true; wait "$SANDBOX_PID" 2>/dev/null || true; fi
    KC_RUN_DIR="$RUN_DIR/keycloak" scripts/keycloak.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

BOX_ACCESS="${BOX_MCP_DEMO_BOX:-managed}"
case "$BOX_ACCESS" in managed|linked) ;; *) echo "demo.sh: BOX_MCP_DEMO_BOX must be managed or linked" >&2; exit 1 ;; esac
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KC_PORT="${KC_PORT:-$(free_port)}"
SANDBOX_PORT="$(free_port)"
SANDBOX="http://127.0.0.1:${SANDBOX_PORT}"

# The sandbox starts first: Keycloak's `box` identity provider (linked accounts)
# points at it, and it accepts Keycloak's callback as a redirect URI.
say "Starting box-sandbox (a local, seeded Box API)…"
target/debug/box-sandbox --listen "127.0.0.1:${SANDBOX_PORT}" \
    --redirect-uri "sandbox-oauth-app=http://127.0.0.1:${KC_PORT}/realms/box-mcp/broker/box/endpoint" \
    > "$RUN_DIR/box-sandbox.log" 2>&1 &
SANDBOX_PID=$!
SANDBOX_ADDR=""
for _ in $(seq 1 100); do
    SANDBOX_ADDR="$( (grep '"listening"' "$RUN_DIR/box-sandbox.log" || true) | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' | head -n 1)"
    [ -n "$SANDBOX_ADDR" ] && break
    kill -0 "$SANDBOX_PID" 2>/dev/null || { cat "$RUN_DIR/box-sandbox.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$SANDBOX_ADDR" ] || { echo "box-sandbox did not start; see $RUN_DIR/box-sandbox.log" >&2; exit 1; }

say "Starting Keycloak (first run downloads it from Maven Central)…"
KC_URL="$(KC_PORT="$KC_PORT" BOX_MCP_RESOURCE_URL="$MCP_URL" KC_RUN_DIR="$RUN_DIR/keycloak" \
    BOX_MCP_BOX_AUTHORIZE_URL="${SANDBOX}/api/oauth2/authorize" \
    BOX_MCP_BOX_TOKEN_URL="${SANDBOX}/oauth2/token" \
    BOX_MCP_BOX_USERINFO_URL="${SANDBOX}/2.0/users/me" \
    scripts/keycloak.sh start)"
ISSUER="${KC_URL}/realms/box-mcp"

if [ "$BOX_ACCESS" = linked ]; then
    # Each caller's own Box account, linked at Keycloak (docs/box.md).
    export BOX_MCP_BOX__PER_USER_TOKEN=linked
    export BOX_MCP_BOX__LINKED__CLIENT_ID=box-mcp
    export BOX_MCP_BOX__LINKED__CLIENT_SECRET=box-mcp-dev-secret
fi

say "Starting box-mcp…"
# (BOX_MCP_PORT is this script's setting; box-mcp's configuration ignores it.)
BOX_MCP_LISTEN="127.0.0.1:${PORT}" \
BOX_MCP_PUBLIC_BASE_URL="http://127.0.0.1:${PORT}" \
BOX_MCP_AUTH__ISSUER="$ISSUER" \
BOX_MCP_AUTH__SCOPES_SUPPORTED='["mcp:tools","box:write"]' \
BOX_MCP_HTTP__ALLOWED_HOSTS='["127.0.0.1","localhost"]' \
BOX_MCP_HTTP__ALLOWED_ORIGINS='["http://localhost:6274","http://127.0.0.1:6274"]' \
BOX_MCP_LOG__FORMAT=pretty \
BOX_MCP_BOX__MODE=per_user \
BOX_MCP_BOX__AUTH=ccg \
BOX_MCP_BOX__CLIENT_ID=sandbox-ccg-app \
BOX_MCP_BOX__CLIENT_SECRET=sandbox-ccg-secret \
BOX_MCP_BOX__ENTERPRISE_ID=1100000 \
BOX_MCP_BOX__API_BASE_URL="${SANDBOX}/2.0" \
BOX_MCP_BOX__UPLOAD_BASE_URL="${SANDBOX}/api/2.0" \
BOX_MCP_BOX__TOKEN_URL="${SANDBOX}/oauth2/token" \
BOX_MCP_BOX__REVOKE_URL="${SANDBOX}/oauth2/revoke" \
    target/debug/box-mcp serve > "$RUN_DIR/box-mcp.log" 2>&1 &
MCP_PID=$!

for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:${PORT}/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$MCP_PID" 2>/dev/null; then cat "$RUN_DIR/box-mcp.log" >&2; exit 1; fi
    sleep 0.2
done
curl -fsS "http://127.0.0.1:${PORT}/readyz" >/dev/null || { echo "box-mcp did not become ready; see $RUN_DIR/box-mcp.log" >&2; exit 1; }

cat <<TXT

  box-mcp is running.

  MCP URL      ${MCP_URL}
  Issuer       ${ISSUER}
  Box          ${SANDBOX} (box-sandbox, seeded; each user sees their own Box content)
  Logs         $RUN_DIR/box-mcp.log, $RUN_DIR/box-sandbox.log, $RUN_DIR/keycloak/keycloak.log

  Test users (password = <name>-password):
    alice  mcp-admin     bob  mcp-editor     carol  mcp-viewer     dave  no MCP role
  Corporate SSO users (realm acme-corp, brokered; "Acme Corp SSO" on the login page):
    erin   engineering → mcp-editor          sam    sales → mcp-viewer

  Connect a client; it finds Keycloak through the server's metadata and registers itself:
    Claude Code     claude mcp add --transport http box-mcp ${MCP_URL}
    Claude Desktop  Settings → Connectors → Add custom connector → ${MCP_URL}
    VS Code         .vscode/mcp.json: {"servers": {"box-mcp": {"type": "http", "url": "${MCP_URL}"}}}
    MCP Inspector   npx @modelcontextprotocol/inspector  → Streamable HTTP → ${MCP_URL}

  A token by hand (test-only direct-grant client):
    curl -s -d grant_type=password -d client_id=box-mcp-test-direct-grant \\
         -d username=alice -d password=alice-password -d 'scope=openid mcp:tools' \\
         ${ISSUER}/protocol/openid-connect/token

  Ctrl-C stops box-mcp, box-sandbox and Keycloak.
TXT

if [ "$BOX_ACCESS" = linked ]; then
    cat <<TXT
  Linked Box accounts (BOX_MCP_DEMO_BOX=linked): each user links their own Box account.
    1. Connect a client and sign in (e.g. alice / alice-password), call a Box tool
       such as box_whoami: it answers "link your Box account" with a URL.
    2. Open the URL: Keycloak asks to link Box; continue to the sandbox's Box sign-in
       and sign in as a Box user outside the enterprise,
         nora@northwind.example / nora-box   or   pat@personal.example / pat-box,
       then Grant access. You land in Keycloak's account console (Linked accounts).
    3. Call the tool again: it now acts as that Box user (Nora sees "Nora Private").
    Unlink in the account console, and the tools ask to link again within a minute.

TXT
else
    cat <<TXT
  Box access: each user is a managed user of the sandbox's enterprise (box_user_id).
  For linked accounts (users' own Box accounts via Keycloak): BOX_MCP_DEMO_BOX=linked scripts/demo.sh

TXT
fi

wait "$MCP_PID"
