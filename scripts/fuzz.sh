#!/usr/bin/env bash
# Fuzzes box-mcp's parsers of attacker- and operator-written input with afl.rs (AFL++
# in persistent mode, on stable Rust), each target until it has run --execs inputs or
# --minutes passed, --jobs at a time. Not part of CI: CI replays the corpus this keeps
# (tests/it/fuzz_corpus.rs).
#
#   scripts/fuzz.sh [--execs N] [--minutes M] [--jobs J] [TARGET ...]
#
# Targets (src/fuzz.rs): bearer_header, token_before_signature, claims_after_signature,
# tools_call_body, config_toml, policy_files, dpop_proof; all by default. Needs cargo, make and a C
# compiler; installs cargo-afl (crates.io) and builds its AFL++ on first use.
#
# Afterwards each target's queue is minimised (afl-cmin) into fuzz/corpus/TARGET/, a
# crash or hang input is copied there too (as crash-* / hang-*: fix it, keep it), and
# the figures go to target/fuzz/summary.md. Exit status 1 when anything crashed or hung.
set -euo pipefail
cd "$(dirname "$0")/.."

EXECS=10000000
MINUTES=30
JOBS=2
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --execs) EXECS="$2"; shift 2 ;;
        --minutes) MINUTES="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
ALL=(bearer_header token_before_signature claims_after_signature tools_call_body config_toml policy_files dpop_proof)
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
    [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: no target $t (fuzz/corpus/$t)" >&2; exit 2; }
done

CARGO_AFL_VERSION=0.18.2
if ! cargo afl --version 2>/dev/null | grep -q "$CARGO_AFL_VERSION"; then
    echo "fuzz.sh: installing cargo-afl $CARGO_AFL_VERSION" >&2
    cargo install cargo-afl --locked --version "$CARGO_AFL_VERSION"
fi
# Builds AFL++ for this rustc once; says so (and fails) when it already did.
cargo afl config --build >/dev/null 2>&1 || true
echo "fuzz.sh: building the fuzz target (cargo afl build --release)" >&2
(cd fuzz && cargo afl build --release)
BIN="$PWD/fuzz/target/release/fuzz-target"

OUT=target/fuzz
mkdir -p "$OUT"
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1

fuzz_one() {
    local t="$1"
    rm -rf "${OUT:?}/$t"
    BOX_MCP_FUZZ_TARGET="$t" cargo afl fuzz -i "fuzz/corpus/$t" -o "$OUT/$t" \
        -V $((MINUTES * 60)) -E "$EXECS" -t 5000 "$BIN" >"$OUT/$t.log" 2>&1 || true
}

running=0
for t in "${TARGETS[@]}"; do
    echo "fuzz.sh: fuzzing $t (up to $EXECS executions or $MINUTES min)" >&2
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

stat() { awk -v k="$2" -F' *: *' '$1 == k {print $2}' "$OUT/$1/default/fuzzer_stats" 2>/dev/null; }
failed=0
{
    echo "| target | executions | run time (s) | executions/s | crashes | hangs | queue | kept in corpus |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$OUT/summary.md"
for t in "${TARGETS[@]}"; do
    if [ ! -f "$OUT/$t/default/fuzzer_stats" ]; then
        echo "fuzz.sh: $t did not run (see $OUT/$t.log)" >&2
        failed=1
        continue
    fi
    crashes="$(stat "$t" saved_crashes)"
    hangs="$(stat "$t" saved_hangs)"
    for kind in crashes hangs; do
        for f in "$OUT/$t/default/$kind"/id:*; do
            [ -e "$f" ] || continue
            dest="fuzz/corpus/$t/${kind%es}-$(sha1sum "$f" | cut -c1-12)"
            [ -e "$dest" ] || cp "$f" "$dest"
            failed=1
        done
    done
    # The queue, minimised to the inputs that reach distinct paths, joins the corpus.
    rm -rf "$OUT/$t/cmin"
    if BOX_MCP_FUZZ_TARGET="$t" cargo afl cmin -i "$OUT/$t/default/queue" -o "$OUT/$t/cmin" \
        -t 5000 -- "$BIN" >"$OUT/$t.cmin.log" 2>&1; then
        for f in "$OUT/$t/cmin"/*; do
            # Named by content: an input already kept (afl-cmin may link to it) stays.
            dest="fuzz/corpus/$t/q-$(sha1sum "$f" | cut -c1-12)"
            if [ -f "$f" ] && [ ! -e "$dest" ]; then cp "$f" "$dest"; fi
        done
    else
        echo "fuzz.sh: afl-cmin failed for $t (see $OUT/$t.cmin.log); corpus not updated" >&2
    fi
    kept="$(find "fuzz/corpus/$t" -type f | wc -l)"
    execs="$(stat "$t" execs_done)"
    secs="$(stat "$t" run_time)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$execs" "$secs" \
        "$(stat "$t" execs_per_sec)" "$crashes" "$hangs" "$(stat "$t" corpus_count)" "$kept" >>"$OUT/summary.md"
done
cat "$OUT/summary.md"
exit "$failed"
