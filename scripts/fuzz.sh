#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/, one after the other, each for a fixed time.
#
#   scripts/fuzz.sh                      both targets, FUZZ_SECONDS (default 600) each
#   FUZZ_SECONDS=60 scripts/fuzz.sh explain_text
#   FUZZ_SKIP_KNOWN=1 scripts/fuzz.sh    skip inputs that hit bugs already reported (the
#                                        list is `known_bug` in fuzz_targets/model_file.rs),
#                                        to look for new ones while those wait for a fix
#
# Idempotent: installs the nightly toolchain and cargo-fuzz only when missing, remakes the
# packed seed models only when missing, and keeps each target's corpus in fuzz/corpus/
# (git-ignored) so a re-run continues from what earlier runs found. Prints one summary
# line per target and exits non-zero when any target crashed; the crashing input is in
# fuzz/artifacts/<target>/ and the full libFuzzer output in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export LAYER_SALIENCY_CACHE="${LAYER_SALIENCY_CACHE:-$HOME/.cache/layer-saliency}"
TOOLS="$LAYER_SALIENCY_CACHE/tools"
export PATH="$TOOLS/bin:$PATH"
# The fuzz build is instrumented (coverage, AddressSanitizer, overflow checks): it gets a
# target directory of its own so it never invalidates the normal build's cache.
FUZZ_TARGET_DIR="$LAYER_SALIENCY_CACHE/fuzz-target"
MAIN_TARGET_DIR="${CARGO_TARGET_DIR:-$LAYER_SALIENCY_CACHE/target}"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
CARGO_FUZZ_VERSION=0.13.2
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(model_file explain_text)

step() { printf '\n== %s\n' "$*"; }

# cargo-fuzz needs nightly (-Z sanitizer flags); the project itself builds on stable.
if ! rustup toolchain list | grep -q '^nightly'; then
    step "Rust nightly toolchain (for cargo-fuzz)"
    rustup toolchain install nightly --profile minimal
fi
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
    step "cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi

# The packed seeds are committed; they are remade only if deleted. explain_text compiles
# the DistilBERT one into its binary, so it must exist before the build.
SEEDS=fuzz/seeds/model_file
pack() { # <out> <args...>
    local out="$1"
    shift
    [ -f "$out" ] && return
    if [ ! -x "$MAIN_TARGET_DIR/release/saliency" ]; then
        step "native CLI (to pack the seed models)"
        CARGO_TARGET_DIR="$MAIN_TARGET_DIR" nice -n 19 cargo build --release --bin saliency
    fi
    "$MAIN_TARGET_DIR/release/saliency" pack "$@" --out "$out"
}
mkdir -p "$SEEDS"
pack "$SEEDS/bert_prefixed_q8_0.gguf" --model tests/golden/bert_prefixed/classifier --quant q8_0
pack "$SEEDS/distilbert_lm_q4_0.gguf" --model tests/golden/distilbert/classifier \
    --lm-head tests/golden/distilbert/lm_head --quant q4_0
# A file cut off inside its tensor data: the header parses, the tensors do not.
[ -f "$SEEDS/bert_prefixed_q8_0.truncated.gguf" ] \
    || head -c 16384 "$SEEDS/bert_prefixed_q8_0.gguf" >"$SEEDS/bert_prefixed_q8_0.truncated.gguf"

step "build the fuzz targets (cargo +nightly fuzz build; about 10 minutes the first time)"
CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" nice -n 19 cargo +nightly fuzz build --fuzz-dir fuzz

# Per target: extra read-only corpus directories and libFuzzer flags.
#  - model_file also starts from the golden Hugging Face files (model.safetensors, and the
#    JSON files as odd inputs), read in place rather than copied into the repository twice.
#  - explain_text reads at most 9 option bytes + 2,000 text bytes; longer inputs are waste.
extra_corpus() {
    case "$1" in
        model_file) echo tests/golden/bert_prefixed/classifier ;;
        *) ;;
    esac
}
extra_flags() {
    case "$1" in
        model_file) echo "-dict=$ROOT/fuzz/dicts/model_file.dict" ;;
        explain_text) echo "-max_len=2009" ;;
    esac
}

mkdir -p fuzz/logs
failed=()
summaries=()
for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="fuzz/logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
    step "fuzz $target for $SECONDS_EACH s (log: $log)"
    # One process, no -jobs: libFuzzer's -jobs=N (even 1) moves the output into
    # fuzz-N.log files; a plain run is already one job on one worker.
    # RAYON_NUM_THREADS=1: candle's matrix products would otherwise take every core.
    # -timeout: one input that runs for a minute on these tiny models is a hang, a finding.
    # -rss_limit_mb / -malloc_limit_mb: a parser that believes a length field and asks for
    # gigabytes is reported as a crash rather than swapping the machine.
    start=$(date +%s)
    status=0
    # shellcheck disable=SC2046
    RAYON_NUM_THREADS=1 CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" nice -n 19 \
        cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
        $(extra_corpus "$target") -- \
        -max_total_time="$SECONDS_EACH" -timeout=60 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 $(extra_flags "$target") 2>&1 | tee "$log" || status=$?
    elapsed=$(($(date +%s) - start))
    # libFuzzer's own numbers: seconds fuzzed (the wall time also counts any rebuild and
    # loading the corpus), executions, and the corpus as "entries/size" on its last line.
    fuzzed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[A-Za-z]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$status" -eq 0 ]; then
        result="no crash"
    else
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="CRASH (exit $status${artifact:+, input: $artifact})"
        failed+=("$target")
    fi
    summaries+=("$(printf '%-13s fuzzed %5ss (wall %5ss)  runs %9s  corpus %-12s %s' \
        "$target" "${fuzzed:-?}" "$elapsed" "${runs:-?}" "${corp:-?}" "$result")")
done

step "summary ($(date -u +%Y-%m-%d), $SECONDS_EACH s each, FUZZ_SKIP_KNOWN=${FUZZ_SKIP_KNOWN:-0}, logs in $ROOT/fuzz/logs/)"
printf '%s\n' "${summaries[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (reproduce: cargo +nightly fuzz run --fuzz-dir fuzz <target> <input>)" >&2
    exit 1
fi
