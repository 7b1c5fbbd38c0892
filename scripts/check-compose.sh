#!/usr/bin/env bash
# Validates compose.yaml (or the file given) with real parsers, and checks what a
# schema cannot. Exits non-zero, naming the problem, on any failure.
#
#   scripts/check-compose.sh [FILE]
#
# 1. `docker compose config -q`, when the Compose plugin works here. It parses and
#    validates without a Docker engine; without the plugin this step is skipped.
# 2. Always: the Compose Specification JSON schema, with check-jsonschema
#    (PyPI, pinned below; it ships the schema as `vendor.compose-spec` and
#    validates with the `jsonschema` library). It is installed on first use into a
#    virtualenv under target/, so a fresh machine needs only python3 (3.11+) with
#    venv and access to PyPI.
# 3. Always: project rules the schema cannot express: the Keycloak image tag (or the
#    image its Dockerfile starts from) equals KC_VERSION in scripts/keycloak.sh; the
#    features it starts with equal KC_FEATURES there; the issuer and audience of box-mcp match
#    Keycloak's; no ports on a service that shares another's network namespace;
#    depends_on names existing services; no `$` interpolation (write `$$`).
#
# Environment (optional): CHECK_COMPOSE_VENV (default target/check-compose/venv).
set -euo pipefail
# A FILE argument is relative to the caller's directory; everything else to the repository.
if [ $# -gt 0 ]; then
    case "$1" in /*) FILE="$1" ;; *) FILE="$PWD/$1" ;; esac
fi
cd "$(dirname "$0")/.."

CHECK_JSONSCHEMA_VERSION="0.39.0"
FILE="${FILE:-compose.yaml}"
VENV="${CHECK_COMPOSE_VENV:-target/check-compose/venv}"

say() { printf 'check-compose: %s\n' "$*" >&2; }
die() { printf 'check-compose: error: %s\n' "$*" >&2; exit 1; }

[ -f "$FILE" ] || die "$FILE does not exist"

KC_VERSION="$(sed -n 's/^KC_VERSION="\([^"]*\)"$/\1/p' scripts/keycloak.sh)"
[ -n "$KC_VERSION" ] || die "cannot read KC_VERSION from scripts/keycloak.sh"
KC_FEATURES="$(sed -n 's/^KC_FEATURES="\([^"]*\)"$/\1/p' scripts/keycloak.sh)"
[ -n "$KC_FEATURES" ] || die "cannot read KC_FEATURES from scripts/keycloak.sh"

# --- 1. docker compose, if it is there ------------------------------------------
if docker compose version >/dev/null 2>&1; then
    err="$(mktemp)"
    trap 'rm -f "$err"' EXIT
    if ! docker compose -f "$FILE" config -q 2>"$err"; then
        cat "$err" >&2
        die "docker compose config rejects $FILE"
    fi
    # An unset variable is only a warning for compose; here it is a mistake.
    if grep -qi 'variable is not set' "$err"; then
        cat "$err" >&2
        die "$FILE interpolates variables that are not set (write \$\$ for a literal \$)"
    fi
    say "docker compose config: ok"
else
    say "docker compose is not available here; validating with the schema only"
fi

# --- 2. the Compose Specification schema -------------------------------------------
venv_ok() {
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("check-jsonschema"))' 2>/dev/null)" \
        = "$CHECK_JSONSCHEMA_VERSION" ]
}

if ! venv_ok; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (Debian: apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "python3 3.11 or later is needed for check-jsonschema $CHECK_JSONSCHEMA_VERSION (found $(python3 -V 2>&1))"
    say "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION from PyPI into $VENV …"
    mkdir -p "$(dirname "$VENV")"
    # Built aside and moved into place, so that concurrent runs never see half a venv.
    # Everything runs as `python -m …`, which does not mind the move.
    tmp="$(mktemp -d "$(dirname "$VENV")/.venv.XXXXXX")"
    python3 -m venv "$tmp" >/dev/null 2>&1 ||
        { rm -rf "$tmp"; die "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
    if ! "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check \
        "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" >&2; then
        rm -rf "$tmp"
        die "could not install check-jsonschema $CHECK_JSONSCHEMA_VERSION from PyPI"
    fi
    rm -rf "$VENV"
    mv "$tmp" "$VENV" 2>/dev/null || rm -rf "$tmp" # another run may have won the race
    venv_ok || die "check-jsonschema $CHECK_JSONSCHEMA_VERSION is not usable in $VENV"
fi

if ! "$VENV/bin/python" -m check_jsonschema --builtin-schema vendor.compose-spec "$FILE" >&2; then
    die "$FILE is not valid YAML or does not conform to the Compose Specification schema"
fi

# --- 3. project rules ------------------------------------------------------------------
if ! "$VENV/bin/python" - "$FILE" "$KC_VERSION" "$KC_FEATURES" <<'PY'
import os
import re
import sys

from ruamel.yaml import YAML

path, kc_version, kc_features = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path, encoding="utf-8") as f:
    doc = YAML(typ="safe", pure=True).load(f)

problems = []
services = doc.get("services") or {}


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(str(item).partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def strings(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k, where)
            yield from strings(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


# Interpolation: compose replaces $VAR / ${VAR} with the caller's environment
# (an empty string when unset). This file must not depend on it.
for where, text in strings(doc, "compose"):
    rest = text.replace("$$", "")
    if "$" in rest:
        m = re.search(r"\$\{?[A-Za-z_][A-Za-z0-9_]*", rest)
        shown = m.group(0) if m else "$"
        problems.append(f"{where}: {shown!r} would be interpolated by compose; write $$ for a literal $")

# The Keycloak image is the version scripts/keycloak.sh runs.
keycloak = services.get("keycloak")
want_image = f"quay.io/keycloak/keycloak:{kc_version}"
if not isinstance(keycloak, dict):
    problems.append("no service named 'keycloak'")
    keycloak = {}
elif "build" in keycloak:
    # Built from a Dockerfile (the image plus keycloak/extension): every Keycloak image
    # it starts from is the pinned one.
    build = keycloak["build"]
    build = build if isinstance(build, dict) else {"context": build}
    dockerfile = os.path.join(
        os.path.dirname(os.path.abspath(path)),
        build.get("context", "."),
        build.get("dockerfile", "Dockerfile"),
    )
    try:
        with open(dockerfile) as f:
            froms = [l.split()[1] for l in f if l.strip().upper().startswith("FROM ")]
    except OSError as e:
        froms = []
        problems.append(f"services.keycloak.build: cannot read {dockerfile}: {e}")
    kc_froms = [i for i in froms if i.startswith("quay.io/keycloak/keycloak")]
    if not kc_froms or any(i != want_image for i in kc_froms):
        problems.append(
            f"{dockerfile} starts from {kc_froms or froms}; scripts/keycloak.sh runs "
            f"KC_VERSION={kc_version}, so it must start from {want_image!r}"
        )
elif keycloak.get("image") != want_image:
    problems.append(
        f"services.keycloak.image is {keycloak.get('image')!r}; scripts/keycloak.sh runs "
        f"KC_VERSION={kc_version}, so it must be {want_image!r}"
    )
for name, svc in services.items():
    image = str((svc or {}).get("image") or "")
    if name != "keycloak" and image.startswith("quay.io/keycloak/keycloak") and image != want_image:
        problems.append(f"services.{name}.image is {image!r}, not {want_image!r}")

# The realm is imported from ./keycloak.
command = keycloak.get("command") or []
command = command.split() if isinstance(command, str) else [str(c) for c in command]
if keycloak and not {"start-dev", "--import-realm"} <= set(command):
    problems.append("services.keycloak.command must run 'start-dev --import-realm'")
if keycloak and f"--features={kc_features}" not in command:
    problems.append(
        f"services.keycloak.command must enable the features scripts/keycloak.sh does: "
        f"--features={kc_features}"
    )


def mount_target(v):
    if isinstance(v, dict):
        return str(v.get("source", "")), str(v.get("target", ""))
    parts = str(v).split(":")
    return parts[0], parts[1] if len(parts) > 1 else ""


if keycloak and not any(
    mount_target(v)[1] == "/opt/keycloak/data/import"
    and mount_target(v)[0].rstrip("/") in ("./keycloak", "keycloak")
    for v in keycloak.get("volumes") or []
):
    problems.append("services.keycloak must mount ./keycloak at /opt/keycloak/data/import")

# References between services.
for name, svc in services.items():
    svc = svc or {}
    deps = svc.get("depends_on") or []
    for dep in deps if isinstance(deps, list) else list(deps):
        if dep not in services:
            problems.append(f"services.{name}.depends_on names unknown service {dep!r}")
    mode = str(svc.get("network_mode") or "")
    if mode.startswith("service:"):
        other = mode.split(":", 1)[1]
        if other not in services:
            problems.append(f"services.{name}.network_mode names unknown service {other!r}")
        if svc.get("ports"):
            problems.append(
                f"services.{name} shares the network namespace of {other!r} and cannot publish "
                f"ports (the engine refuses it); publish them on {other!r}"
            )

# box-mcp trusts the issuer Keycloak puts into tokens, and Keycloak puts box-mcp's
# canonical URL into `aud`.
box = services.get("box-mcp")
if not isinstance(box, dict):
    problems.append("no service named 'box-mcp'")
elif keycloak:
    kc_env, box_env = env_of(keycloak), env_of(box)
    hostname = kc_env.get("KC_HOSTNAME", "").rstrip("/")
    issuer = box_env.get("BOX_MCP_AUTH__ISSUER", "")
    if not hostname:
        problems.append("services.keycloak sets no KC_HOSTNAME, so the issuer depends on how Keycloak is reached")
    elif issuer != f"{hostname}/realms/box-mcp":
        problems.append(
            f"box-mcp's BOX_MCP_AUTH__ISSUER {issuer!r} is not the issuer Keycloak puts into "
            f"tokens ({hostname}/realms/box-mcp)"
        )
    base = box_env.get("BOX_MCP_PUBLIC_BASE_URL", "").rstrip("/")
    audience = kc_env.get("BOX_MCP_RESOURCE_URL", "")
    if f"{base}/mcp" != audience:
        problems.append(
            f"Keycloak's BOX_MCP_RESOURCE_URL {audience!r} is not box-mcp's canonical URL "
            f"BOX_MCP_PUBLIC_BASE_URL + /mcp ({base}/mcp)"
        )

for p in problems:
    print(f"check-compose: error: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
    die "$FILE breaks the project's compose rules (above)"
fi
say "$FILE is valid (Compose schema, Keycloak $KC_VERSION, issuer and audience consistent)"
