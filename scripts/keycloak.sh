#!/usr/bin/env bash
# Fetch, start and stop the development Keycloak that backs box-mcp's tests and demo.
#
#   scripts/keycloak.sh fetch    download (via Maven), verify and unpack the pinned Keycloak
#   scripts/keycloak.sh extension  compile keycloak/extension against the distribution's jars
#                                (cached by a hash of its sources; needs a JDK: javac, jar)
#   scripts/keycloak.sh prepare  one-off (cached): dev-mode build with the extension and
#                                --features=cimd + database template with the master realm,
#                                so that each start only imports the realms
#   scripts/keycloak.sh start    fetch + prepare if needed, then start it in the background
#                                with a fresh database and keycloak/*.json imported; prints
#                                the base URL (e.g. http://127.0.0.1:41234) on stdout
#   scripts/keycloak.sh stop     stop the instance started by `start`
#   scripts/keycloak.sh status   print the base URL if running, exit 1 otherwise
#   scripts/keycloak.sh url      same as status
#
# Environment (all optional):
#   BOX_MCP_CACHE                cache root (default ~/.cache/box-mcp); the distribution is
#                                unpacked into $BOX_MCP_CACHE/keycloak-<version>
#   KC_MAVEN_REPO_LOCAL          Maven local repository (default: Maven's own default, ~/.m2/repository)
#   KC_RUN_DIR                   per-run state: pid, url, port, keycloak.log, home/
#                                (default <repo>/target/keycloak-run)
#   KC_REALM_DIR                 directory whose *.json are imported (default <repo>/keycloak)
#   KC_PORT                      HTTP port (default: a free loopback port)
#   KC_HTTP_HOST                 bind address (default 127.0.0.1)
#   KC_START_TIMEOUT             seconds to wait for the realm to answer (default 180)
#   KC_BOOTSTRAP_ADMIN_USERNAME  master-realm admin (default admin)
#   KC_BOOTSTRAP_ADMIN_PASSWORD  master-realm admin password (default admin)
#   JAVA_OPTS_KC_HEAP            JVM heap flags (default "-Xms128m -Xmx768m")
#   BOX_MCP_RESOURCE_URL         MCP canonical URL put into `aud` by the mcp:tools scope
#                                (realm default http://127.0.0.1:8000/mcp)
#   BOX_MCP_KEYCLOAK_CLIENT_SECRET  secret of the confidential `box-mcp` client
#                                (realm default box-mcp-dev-secret)
#   Any other KC_* variable is passed through to Keycloak unchanged.
set -euo pipefail

KC_VERSION="26.7.3"
# SHA-256 of org.keycloak:keycloak-quarkus-dist:26.7.3:zip as published on Maven Central
# (its .sha1 on Central is 1e21a7f572581692aacb379dbba8413f99b67208).
KC_SHA256="27a6535553c3cdcd083872ba40629efafb3475e3b758e0c6f691395561dd0f1f"
KC_ARTIFACT="org.keycloak:keycloak-quarkus-dist:${KC_VERSION}:zip"
REALM_NAME="box-mcp"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${BOX_MCP_CACHE:-$HOME/.cache/box-mcp}"
KC_DIST="${CACHE_ROOT}/keycloak-${KC_VERSION}"
FETCH_MARKER="${KC_DIST}/.box-mcp-fetched"
# Build-time options of every start: start-dev re-augments itself (~20 s) when they differ
# from the cached dev build, so the cache is keyed by them (see build_key).
KC_FEATURES="cimd"
EXT_DIR="${REPO_ROOT}/keycloak/extension"

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
RUN_DIR="$(abspath "${KC_RUN_DIR:-$REPO_ROOT/target/keycloak-run}")"
REALM_DIR="$(abspath "${KC_REALM_DIR:-$REPO_ROOT/keycloak}")"

log() { printf 'keycloak.sh: %s\n' "$*" >&2; }

# The extension's sources and the features, hashed: names the cached extension jar and
# dev build, so that editing either never starts a stale Keycloak.
build_key() {
    (
        cd "$EXT_DIR"
        printf 'features=%s\n' "$KC_FEATURES"
        # What goes into the jar; the README does not.
        find src META-INF -type f | LC_ALL=C sort | while read -r f; do
            printf '%s\n' "$f"
            cat "$f"
        done
    ) | sha256_stdin | cut -c1-16
}
die() { printf 'keycloak.sh: error: %s\n' "$*" >&2; exit 1; }

sha256_stdin() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum | awk '{print $1}'
    else
        shasum -a 256 | awk '{print $1}'
    fi
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | awk '{print $1}'
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | awk '{print $1}'
    else
        die "neither sha256sum nor shasum is available to verify the Keycloak download"
    fi
}

m2_repo() {
    if [ -n "${KC_MAVEN_REPO_LOCAL:-}" ]; then
        printf '%s\n' "$KC_MAVEN_REPO_LOCAL"
    else
        printf '%s\n' "$HOME/.m2/repository"
    fi
}

BUILD_KEY="$(build_key)"
DEV_AUGMENTED="${KC_DIST}/.box-mcp-dev-quarkus-${BUILD_KEY}"
EXT_JAR="${CACHE_ROOT}/box-mcp-keycloak-extension-${KC_VERSION}-${BUILD_KEY}.jar"

# keycloak/extension (a client-policy executor, see its README) compiled against the
# Keycloak jars of the pinned distribution; cached by build_key.
cmd_extension() {
    cmd_fetch
    [ -f "$EXT_JAR" ] && return 0
    command -v javac >/dev/null 2>&1 || die "javac (a JDK 17+) is required to build keycloak/extension"
    command -v jar >/dev/null 2>&1 || die "jar (a JDK 17+) is required to build keycloak/extension"
    local out
    out="$(mktemp -d "${CACHE_ROOT}/extension-build.XXXXXX")"
    # shellcheck disable=SC2046 # one argument per source file
    if ! javac --release 17 -nowarn -cp "${KC_DIST}/lib/lib/main/*:${KC_DIST}/lib/lib/boot/*" \
        -d "$out/classes" $(find "$EXT_DIR/src" -name '*.java' | LC_ALL=C sort) >&2; then
        rm -rf "$out"
        die "keycloak/extension does not compile against Keycloak ${KC_VERSION}"
    fi
    cp -R "$EXT_DIR/META-INF" "$out/classes/"
    jar --create --file "$out/extension.jar" -C "$out/classes" . || { rm -rf "$out"; die "could not package keycloak/extension"; }
    mv "$out/extension.jar" "$EXT_JAR"
    rm -rf "$out"
    log "built keycloak/extension into ${EXT_JAR}"
}

fetch_failed() {
    log "Keycloak ${KC_VERSION} could not be fetched: $*"
    log "It comes from Maven Central as ${KC_ARTIFACT}; check that 'mvn' works and can reach Maven Central."
    exit 1
}

cmd_fetch() {
    if [ -f "$FETCH_MARKER" ] && [ "$(cat "$FETCH_MARKER")" = "$KC_SHA256" ] && [ -x "$KC_DIST/bin/kc.sh" ]; then
        log "Keycloak ${KC_VERSION} already in ${KC_DIST}"
        return 0
    fi

    local repo zip
    repo="$(m2_repo)"
    zip="${repo}/org/keycloak/keycloak-quarkus-dist/${KC_VERSION}/keycloak-quarkus-dist-${KC_VERSION}.zip"
    if [ ! -f "$zip" ]; then
        command -v mvn >/dev/null 2>&1 || fetch_failed "'mvn' is not installed"
        log "downloading ${KC_ARTIFACT} with Maven (about 180 MB) ..."
        local mvn_args=(-B -q -Dstyle.color=never dependency:get -Dtransitive=false "-Dartifact=${KC_ARTIFACT}")
        if [ -n "${KC_MAVEN_REPO_LOCAL:-}" ]; then
            mvn_args+=("-Dmaven.repo.local=${KC_MAVEN_REPO_LOCAL}")
        fi
        local mvn_log
        mvn_log="$(mktemp)"
        if ! mvn "${mvn_args[@]}" >"$mvn_log" 2>&1; then
            sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | tail -n 30 >&2
            rm -f "$mvn_log"
            fetch_failed "'mvn dependency:get' failed (output above)"
        fi
        rm -f "$mvn_log"
        [ -f "$zip" ] || fetch_failed "Maven reported success but ${zip} does not exist (is your local repository elsewhere? set KC_MAVEN_REPO_LOCAL)"
    fi

    local actual
    actual="$(sha256_of "$zip")"
    if [ "$actual" != "$KC_SHA256" ]; then
        log "checksum mismatch for ${zip}"
        log "  expected SHA-256 ${KC_SHA256}"
        log "  actual   SHA-256 ${actual}"
        fetch_failed "the downloaded archive does not match the pinned checksum; delete it and retry"
    fi

    mkdir -p "$CACHE_ROOT"
    local tmp
    tmp="$(mktemp -d "${CACHE_ROOT}/.keycloak-${KC_VERSION}.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    log "unpacking into ${KC_DIST} ..."
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "$zip" -d "$tmp" || fetch_failed "unzip failed"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -m zipfile -e "$zip" "$tmp" || fetch_failed "unpacking with python3 failed"
        chmod +x "$tmp/keycloak-${KC_VERSION}/bin/"*.sh
    else
        fetch_failed "neither unzip nor python3 is available to unpack the archive"
    fi
    [ -x "$tmp/keycloak-${KC_VERSION}/bin/kc.sh" ] || fetch_failed "archive does not contain keycloak-${KC_VERSION}/bin/kc.sh"
    printf '%s\n' "$KC_SHA256" > "$tmp/keycloak-${KC_VERSION}/.box-mcp-fetched"
    if [ -f "$FETCH_MARKER" ] && [ "$(cat "$FETCH_MARKER")" = "$KC_SHA256" ]; then
        : # a concurrent fetch finished first
    else
        rm -rf "$KC_DIST" # stale or partial unpack
        mv "$tmp/keycloak-${KC_VERSION}" "$KC_DIST" || fetch_failed "could not move the unpacked distribution into ${KC_DIST}"
    fi
    rm -rf "$tmp"
    trap - EXIT
    log "Keycloak ${KC_VERSION} ready in ${KC_DIST}"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
group_alive() { [ -n "${1:-}" ] && kill -0 -- "-$1" 2>/dev/null; }

running_pid() {
    local pid
    [ -f "$RUN_DIR/pid" ] || return 1
    pid="$(cat "$RUN_DIR/pid")"
    pid_alive "$pid" || return 1
    printf '%s\n' "$pid"
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM % 40000) ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s\n' "$p"
            return
        fi
    done
    die "could not find a free port; set KC_PORT"
}

http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true
}

admin_user() { printf '%s\n' "${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}"; }
admin_password() { printf '%s\n' "${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}"; }

# The bootstrap admin only gets created together with the master realm, so the database
# template is specific to the admin credentials.
db_template_dir() {
    local h
    h="$(printf '%s\n%s\n' "$(admin_user)" "$(admin_password)" | sha256_of -)"
    printf '%s/.box-mcp-db-template-%s\n' "$KC_DIST" "${h:0:16}"
}

# A throw-away Keycloak home for one run. The big, read-only jar tree is shared with the
# cache through a symlink; everything Keycloak writes (lib/quarkus when it re-augments,
# data/: the H2 database, transaction logs) is private to the run, so runs never pollute
# the cached distribution and every start imports a clean realm.
#   $1 home dir, $2 "import" to copy the realm JSON(s), $3 database template dir or ""
make_run_home() {
    local home="$1" import="$2" template="$3"
    rm -rf "$home"
    mkdir -p "$home/bin" "$home/lib" "$home/data"
    cp "$KC_DIST/bin/kc.sh" "$home/bin/kc.sh"
    cp -R "$KC_DIST/conf" "$KC_DIST/themes" "$KC_DIST/providers" "$home/"
    # -p: Keycloak re-augments when a provider jar looks newer than its build.
    cp -p "$EXT_JAR" "$home/providers/"
    ln -s "$KC_DIST/lib/lib" "$home/lib/lib"
    cp -R "$KC_DIST/lib/app" "$home/lib/app"
    cp "$KC_DIST/lib/quarkus-run.jar" "$home/lib/quarkus-run.jar"
    if [ -d "$DEV_AUGMENTED" ]; then
        # start-dev re-augments the shipped (production) build (~20 s); reuse an earlier
        # result. Keycloak still re-augments by itself if the build options differ.
        cp -R "$DEV_AUGMENTED" "$home/lib/quarkus"
    else
        cp -R "$KC_DIST/lib/quarkus" "$home/lib/quarkus"
    fi
    cp "$KC_DIST/version.txt" "$home/" 2>/dev/null || true
    if [ -n "$template" ]; then
        cp -R "$template" "$home/data/h2"
    fi
    if [ "$import" = "import" ]; then
        mkdir -p "$home/data/import"
        local n=0 f
        for f in "$REALM_DIR"/*.json; do
            [ -f "$f" ] || continue
            cp "$f" "$home/data/import/"
            n=$((n + 1))
        done
        [ "$n" -gt 0 ] || die "no realm *.json found in ${REALM_DIR}"
    fi
}

# Start kc.sh in its own session/process group; prints the pid (= process-group id).
#   $1 home, $2 host, $3 port, $4 log file, $5.. extra kc.sh arguments
launch() {
    local home="$1" host="$2" port="$3" logf="$4"
    shift 4
    (
        export KC_BOOTSTRAP_ADMIN_USERNAME
        KC_BOOTSTRAP_ADMIN_USERNAME="$(admin_user)"
        export KC_BOOTSTRAP_ADMIN_PASSWORD
        KC_BOOTSTRAP_ADMIN_PASSWORD="$(admin_password)"
        export JAVA_OPTS_KC_HEAP="${JAVA_OPTS_KC_HEAP:--Xms128m -Xmx768m}"
        cd "$home"
        exec setsid "$home/bin/kc.sh" start-dev \
            --db=dev-file \
            --features="$KC_FEATURES" \
            --http-host="$host" \
            --http-port="$port" \
            "$@" \
            </dev/null >"$logf" 2>&1
    ) &
    printf '%s\n' "$!"
}

kill_tree() {
    # $1 = pid (also the process-group id: started with setsid), $2 = signal
    kill "-$2" -- "-$1" 2>/dev/null || kill "-$2" "$1" 2>/dev/null || true
}

stop_tree() {
    local pid="$1" i
    kill_tree "$pid" TERM
    for i in $(seq 1 60); do
        group_alive "$pid" || return 0
        sleep 0.5
    done
    log "pid ${pid} still running after 30s; sending SIGKILL"
    kill_tree "$pid" KILL
    for i in $(seq 1 20); do
        group_alive "$pid" || return 0
        sleep 0.5
    done
}

# Wait until $2 answers 200. $1 pid, $3 timeout (s), $4 log file. Returns 1 on failure
# (after printing the end of the log).
wait_ready() {
    local pid="$1" probe="$2" timeout="$3" logf="$4" t0 code=""
    t0=$(date +%s)
    while :; do
        if ! pid_alive "$pid"; then
            log "Keycloak exited during start-up; last lines of ${logf}:"
            tail -n 40 "$logf" >&2 || true
            return 1
        fi
        code="$(http_status "$probe")"
        [ "$code" = "200" ] && return 0
        if [ $(( $(date +%s) - t0 )) -ge "$timeout" ]; then
            log "Keycloak did not answer ${probe} with 200 within ${timeout}s (last status: ${code:-none}); last lines of ${logf}:"
            tail -n 40 "$logf" >&2 || true
            return 1
        fi
        sleep 0.5
    done
}

save_dir_atomically() {
    # $1 source dir, $2 destination (created only if it does not exist yet)
    local src="$1" dst="$2" tmp
    [ -d "$dst" ] && return 0
    tmp="$(mktemp -d "${dst}.tmp.XXXXXX")" || return 1
    if cp -R "$src/." "$tmp/" && mv "$tmp" "$dst" 2>/dev/null; then
        return 0
    fi
    rm -rf "$tmp"
    [ -d "$dst" ]
}

replace_dir() {
    # $1 source dir, $2 destination (replaced if it exists)
    local src="$1" dst="$2" tmp old
    tmp="$(mktemp -d "${dst}.tmp.XXXXXX")" || return 1
    cp -R "$src/." "$tmp/" || { rm -rf "$tmp"; return 1; }
    if [ -d "$dst" ]; then
        old="$(mktemp -d "${dst}.old.XXXXXX")" || return 1
        mv "$dst" "$old/" 2>/dev/null || true
        rm -rf "$old"
    fi
    mv "$tmp" "$dst" 2>/dev/null || { rm -rf "$tmp"; [ -d "$dst" ]; }
}

PREPARE_PID=""
cmd_prepare() {
    cmd_extension
    local template
    mkdir -p "$RUN_DIR"
    template="$(db_template_dir)"
    if [ -f "$template/keycloakdb.mv.db" ] && [ -d "$DEV_AUGMENTED" ]; then
        return 0
    fi
    command -v curl >/dev/null 2>&1 || die "curl is required"
    command -v setsid >/dev/null 2>&1 || die "setsid (util-linux) is required"
    # One-off run without the realm: lets start-dev re-augment the distribution and create
    # the database schema and the master realm (with the bootstrap admin), then keeps both
    # in the cache. Later starts copy them and only import the realm: ~10 s instead of ~30 s.
    local home="$RUN_DIR/prepare-home" logf="$RUN_DIR/prepare.log" port t0
    port="$(free_port)"
    make_run_home "$home" no-import ""
    log "preparing Keycloak ${KC_VERSION} (one-off: dev build + database template, ~30 s) ..."
    t0=$(date +%s)
    PREPARE_PID="$(launch "$home" 127.0.0.1 "$port" "$logf")"
    trap 'if [ -n "$PREPARE_PID" ]; then kill_tree "$PREPARE_PID" KILL; fi' EXIT
    if ! wait_ready "$PREPARE_PID" "http://127.0.0.1:${port}/realms/master/.well-known/openid-configuration" \
        "${KC_START_TIMEOUT:-180}" "$logf"; then
        stop_tree "$PREPARE_PID"
        PREPARE_PID=""
        die "Keycloak could not be prepared (see ${logf})"
    fi
    stop_tree "$PREPARE_PID"
    PREPARE_PID=""
    trap - EXIT
    [ -f "$home/data/h2/keycloakdb.mv.db" ] || die "preparation did not leave a database in ${home}/data/h2 (see ${logf})"
    rm -f "$home/data/h2/"*.trace.db "$home/data/h2/"*.lock.db
    replace_dir "$home/lib/quarkus" "$DEV_AUGMENTED" || die "could not save the dev build into ${DEV_AUGMENTED}"
    save_dir_atomically "$home/data/h2" "$template" || die "could not save the database template into ${template}"
    rm -rf "$home"
    log "prepared in $(( $(date +%s) - t0 ))s"
}

START_PID=""
cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        log "already running (pid ${pid}); use '$0 stop' first to restart"
        cat "$RUN_DIR/url"
        return 0
    fi
    cmd_prepare

    local port host url home logf t0 template
    port="${KC_PORT:-$(free_port)}"
    host="${KC_HTTP_HOST:-127.0.0.1}"
    url="http://127.0.0.1:${port}"
    [ "$host" = "127.0.0.1" ] || [ "$host" = "0.0.0.0" ] || url="http://${host}:${port}"
    home="$RUN_DIR/home"
    logf="$RUN_DIR/keycloak.log"
    template="$(db_template_dir)"

    rm -f "$RUN_DIR/pid" "$RUN_DIR/url" "$RUN_DIR/port"
    make_run_home "$home" import "$template"

    log "starting Keycloak ${KC_VERSION} on ${url} (log: ${logf}) ..."
    t0=$(date +%s)
    # The corporate realm (acme-corp) and the box-mcp realm's identity provider for it
    # name Keycloak's own URL: the broker endpoint and the IdP's endpoints.
    export BOX_MCP_KEYCLOAK_URL="${BOX_MCP_KEYCLOAK_URL:-$url}"
    START_PID="$(launch "$home" "$host" "$port" "$logf" --import-realm)"
    trap 'if [ -n "$START_PID" ]; then kill_tree "$START_PID" KILL; rm -f "$RUN_DIR/pid" "$RUN_DIR/url" "$RUN_DIR/port"; fi' EXIT
    printf '%s\n' "$START_PID" > "$RUN_DIR/pid"
    printf '%s\n' "$url" > "$RUN_DIR/url"
    printf '%s\n' "$port" > "$RUN_DIR/port"

    if ! wait_ready "$START_PID" "${url}/realms/${REALM_NAME}/.well-known/openid-configuration" \
        "${KC_START_TIMEOUT:-180}" "$logf"; then
        stop_tree "$START_PID"
        exit 1 # the EXIT trap removes the pid/url files
    fi
    START_PID=""
    trap - EXIT
    log "ready after $(( $(date +%s) - t0 ))s: realm ${REALM_NAME} at ${url}/realms/${REALM_NAME}"
    if grep -q 'Updating the configuration' "$logf" 2>/dev/null; then
        log "note: Keycloak re-built itself for this start (build options differ from the cached dev build); run '$0 prepare' after removing ${DEV_AUGMENTED} to cache the new build"
    fi
    printf '%s\n' "$url"
}

cmd_stop() {
    local pid
    if ! [ -f "$RUN_DIR/pid" ]; then
        log "not running (no ${RUN_DIR}/pid)"
        return 0
    fi
    pid="$(cat "$RUN_DIR/pid")"
    if ! group_alive "$pid"; then
        log "not running (stale pid ${pid})"
        rm -f "$RUN_DIR/pid" "$RUN_DIR/url" "$RUN_DIR/port"
        return 0
    fi
    stop_tree "$pid"
    rm -f "$RUN_DIR/pid" "$RUN_DIR/url" "$RUN_DIR/port"
    log "stopped (pid ${pid})"
}

cmd_status() {
    if running_pid >/dev/null; then
        cat "$RUN_DIR/url"
    else
        log "not running"
        return 1
    fi
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    extension) cmd_extension ;;
    prepare) cmd_prepare ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status|url) cmd_status ;;
    *)
        printf 'usage: %s {fetch|extension|prepare|start|stop|status}\n' "$0" >&2
        exit 2
        ;;
esac
