//! Tokenize + explain on tiny models: the first bytes choose the options, the rest is the
//! text. Every input must give `Ok` or an `Err` with a message, and every `Ok` must keep
//! the promises the CLI, the JSON and the page rely on:
//!
//! - each word is the exact characters of the text at its char range, words are in order
//!   and do not overlap, and their scores are the sums of their tokens' scores;
//! - one finite saliency score per token, exactly 0 for special tokens;
//! - probabilities finite, in [0, 1], summing to 1; logits and the score finite;
//! - the same input explained twice gives the same JSON (timings aside).
//!
//! Two models are loaded once per process from bytes compiled into the binary:
//! - the golden `bert_prefixed` classifier with its separate masked-LM head, as Hugging
//!   Face files (f32, the `FileSet` path);
//! - the golden DistilBERT classifier with its LM head, packed as q4_0 by `saliency pack`
//!   (the committed seed fuzz/seeds/model_file/distilbert_lm_q4_0.gguf), so the
//!   quantized int8 kernels and the DistilBERT code see fuzzed sequence lengths too.
//!
//! Input layout (missing bytes read as 0, which gives the default options):
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | bit 0 model (0 BERT f32, 1 DistilBERT q4_0); bit 1 decoder `tied`; bit 2 faithfulness; bit 3 layer view; bits 4-6 ig steps |
//! | 1 | method (all nine, incl. the baselines) |
//! | 2 | layer: none, `auto`, or 0..=3 (3 does not exist: an `Err`); bit 7 sends it as a string |
//! | 3 | target class: none, an index (3 is out of range), or a label (exact, other case, unknown) |
//! | 4 | contrast class, the same table |
//! | 5 | aggregation, including one unknown name |
//! | 6 | tau, including 0, the vocabulary size (304) around it, and past the maximum |
//! | 7 | theta in [0, 1], or NaN, infinities and out-of-range values |
//! | 8 | random seed |
//! | 9.. | the text, cut to `MAX_TEXT_BYTES`, then `String::from_utf8_lossy` |

#![no_main]

use layer_saliency::model::files::FileSet;
use layer_saliency::model::{Model, NamedBytes};
use layer_saliency::options::{Method, OptionsRequest};
use layer_saliency::{Explainer, Explanation};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The models read 64 positions at most, so longer texts already end in a clear error;
/// 2,000 bytes still lets the tokenizer see long inputs while keeping each run fast.
const MAX_TEXT_BYTES: usize = 2000;
const OPTION_BYTES: usize = 9;

const BERT_CONFIG: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/classifier/config.json");
const BERT_TOKENIZER: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/classifier/tokenizer.json");
const BERT_WEIGHTS: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/classifier/model.safetensors");
const BERT_LM_CONFIG: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/lm_head/config.json");
const BERT_LM_WEIGHTS: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/lm_head/model.safetensors");
const DISTILBERT_PACKED: &[u8] = include_bytes!("../seeds/model_file/distilbert_lm_q4_0.gguf");

fn models() -> &'static [Explainer; 2] {
    static MODELS: OnceLock<[Explainer; 2]> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut set = FileSet::new();
        for (role, bytes) in [
            ("config.json", BERT_CONFIG),
            ("tokenizer.json", BERT_TOKENIZER),
            ("model.safetensors", BERT_WEIGHTS),
            ("lm_head/config.json", BERT_LM_CONFIG),
            ("lm_head/model.safetensors", BERT_LM_WEIGHTS),
        ] {
            set.add(role, role, bytes.to_vec()).expect("a known role");
        }
        let bert = Explainer::from_file_set(&set, "bert_prefixed").expect("the golden BERT loads");
        let packed = NamedBytes { name: "distilbert_lm_q4_0.gguf", bytes: DISTILBERT_PACKED };
        let distilbert = Model::load_packed(packed).expect("the packed golden DistilBERT loads");
        let quant = distilbert.quant.clone();
        [bert, Explainer::new(distilbert, "distilbert_q4_0", &quant)]
    })
}

/// Picks `table[byte % len]`, so every byte value means something.
fn pick<T: Clone>(table: &[T], byte: u8) -> T {
    table[byte as usize % table.len()].clone()
}

fn class_choice(byte: u8) -> Option<Value> {
    pick(
        &[
            None,
            Some(json!(0)),
            Some(json!(1)),
            Some(json!(2)),
            Some(json!(3)),
            Some(json!("negative")),
            Some(json!("POSITIVE")),
            Some(json!("joy")),
            Some(json!("")),
        ],
        byte,
    )
}

fn request(b: &[u8; OPTION_BYTES]) -> OptionsRequest {
    let layer = match b[2] & 0x7f {
        n if n % 6 == 0 => None,
        n if n % 6 == 1 => Some(json!("auto")),
        n => {
            let l = (n % 6 - 2) as u64;
            Some(if b[2] & 0x80 != 0 { json!(l.to_string()) } else { json!(l) })
        }
    };
    let theta = match b[7] {
        0 => None,
        n @ 1..=200 => Some(n as f32 / 200.0),
        n => Some(pick(&[f32::NAN, -0.0, -0.5, 1.5, f32::INFINITY, f32::NEG_INFINITY, f32::EPSILON], n)),
    };
    OptionsRequest {
        method: Some(pick(&Method::ALL, b[1]).name().to_string()),
        layer,
        target: class_choice(b[3]),
        contrast: class_choice(b[4]),
        agg: pick(&[None, Some("gxa"), Some("grad-norm"), Some("gradcam"), Some("sum")], b[5]).map(str::to_string),
        tau: pick(&[None, Some(0), Some(1), Some(2), Some(3), Some(10), Some(50), Some(303), Some(304), Some(305), Some(1000), Some(1001)], b[6]),
        theta,
        decoder: Some(if b[0] & 2 != 0 { "tied" } else { "model" }.to_string()),
        ig_steps: pick(&[None, Some(1), Some(2), Some(3), Some(8), Some(0), Some(513), Some(16)], b[0] >> 4),
        seed: Some(b[8] as u64),
        faithfulness: Some(b[0] & 4 != 0),
        ..OptionsRequest::default()
    }
}

/// The explanation as JSON without its timings, which differ from run to run by design.
fn stable_json(e: &Explanation) -> Value {
    let mut v = serde_json::to_value(e).expect("an explanation serialises");
    v.as_object_mut().expect("an object").remove("timing_ms");
    v
}

fn check(e: &Explanation, text: &str, layers_view: bool, num_layers: usize, is_ig: bool, faith: bool) {
    let chars: Vec<char> = text.chars().collect();
    let n = e.tokens.len();
    assert_eq!(e.text, text, "the explanation must carry the text it explained");

    // Tokens: inside the text; specials at 0..0 as documented on `Token`.
    for t in &e.tokens {
        if t.special {
            assert!(t.word.is_none(), "special token with a word: {t:?}");
        } else {
            assert!(t.start <= t.end && t.end <= chars.len(), "token outside the text: {t:?}");
        }
    }

    // One finite score per token, 0 for specials.
    assert_eq!(e.saliency.len(), n, "one saliency score per token");
    for (t, s) in e.tokens.iter().zip(&e.saliency) {
        assert!(s.is_finite(), "non-finite saliency {s} for {t:?}");
        if t.special {
            assert_eq!(*s, 0.0, "special token {t:?} scored {s}");
        }
    }

    // Words: exact substrings, in order, disjoint, made of non-special tokens.
    let mut previous_end = 0;
    for w in &e.words {
        assert!(w.start < w.end && w.end <= chars.len(), "word outside the text: {w:?}");
        assert!(w.start >= previous_end, "words overlap or go backwards at {w:?}");
        previous_end = w.end;
        let exact: String = chars[w.start..w.end].iter().collect();
        assert_eq!(w.text, exact, "word text is not the original characters");
        assert!(!w.tokens.is_empty(), "a word without tokens: {w:?}");
        let mut sum = 0.0f32;
        for &i in &w.tokens {
            assert!(i < n && !e.tokens[i].special, "word {w:?} names token {i}");
            sum += e.saliency[i];
        }
        assert!(w.saliency.is_finite(), "non-finite word saliency: {w:?}");
        assert!((w.saliency - sum).abs() <= 1e-4 * sum.abs().max(1.0), "word {w:?} is not the sum {sum}");
    }

    // Prediction.
    let classes = e.labels.len();
    assert!(classes > 0 && e.logits.len() == classes && e.probs.len() == classes, "one logit and prob per class");
    assert!(e.logits.iter().all(|z| z.is_finite()), "non-finite logits {:?}", e.logits);
    assert!(e.probs.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)), "bad probs {:?}", e.probs);
    let total: f32 = e.probs.iter().sum();
    assert!((total - 1.0).abs() < 1e-4, "probabilities sum to {total}");
    assert!(e.predicted < classes && e.target < classes, "class out of range");
    assert!(e.contrast.map_or(true, |c| c < classes && c != e.target), "bad contrast {:?}", e.contrast);
    assert!(e.score.is_finite(), "non-finite score {}", e.score);

    // Layers.
    assert!(e.layer <= num_layers, "layer {} of {num_layers}", e.layer);
    if layers_view {
        assert_eq!(e.layers.len(), num_layers + 1, "the layer view has every layer");
    }
    for l in &e.layers {
        assert_eq!(l.saliency.len(), n, "layer {} has one score per token", l.layer);
        assert!(l.saliency.iter().all(|s| s.is_finite()), "layer {} has non-finite scores", l.layer);
        assert!(l.coherence.is_finite() && l.unassigned.is_finite(), "layer {} metrics not finite", l.layer);
        assert_eq!(l.decoded.len(), n, "layer {} decodes every position", l.layer);
    }

    assert_eq!(e.integrated_gradients.is_some(), is_ig, "IG details exactly when the method is ig");
    if let Some(ig) = &e.integrated_gradients {
        assert!(ig.delta.is_finite(), "IG delta {}", ig.delta);
    }
    assert_eq!(e.faithfulness.is_some(), faith, "faithfulness exactly when asked for");
    if let Some(f) = &e.faithfulness {
        assert!(f.aopc_comprehensiveness.is_finite() && f.aopc_sufficiency.is_finite() && f.deletion_auc.is_finite());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut head = [0u8; OPTION_BYTES];
    let split = data.len().min(OPTION_BYTES);
    head[..split].copy_from_slice(&data[..split]);
    let rest = &data[split..];
    let text = String::from_utf8_lossy(&rest[..rest.len().min(MAX_TEXT_BYTES)]);

    let explainer = &models()[(head[0] & 1) as usize];
    let layers_view = head[0] & 8 != 0;
    let options = match request(&head).to_options() {
        Ok(options) => options,
        Err(err) => {
            assert!(!err.to_string().trim().is_empty(), "empty options error");
            return;
        }
    };

    let first = explainer.explain(&text, &options, layers_view);
    let second = explainer.explain(&text, &options, layers_view);
    match (first, second) {
        (Ok(a), Ok(b)) => {
            let num_layers = explainer.model().num_layers();
            check(&a, &text, layers_view, num_layers, options.method == Method::IntegratedGradients, options.faithfulness);
            assert_eq!(stable_json(&a), stable_json(&b), "the same input explained twice differs");
        }
        (Err(a), Err(b)) => {
            assert!(!a.to_string().trim().is_empty(), "empty error message ({a:?})");
            assert_eq!(a.to_string(), b.to_string(), "the same input failed twice differently");
        }
        (a, b) => panic!("the same input once succeeded and once failed: {:?} / {:?}", a.err(), b.err()),
    }
});
