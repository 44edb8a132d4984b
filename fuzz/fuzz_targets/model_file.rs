//! Arbitrary bytes as a model file, through both parsers a user's file can reach:
//!
//! 1. as a packed GGUF file (`Model::load_packed`, what the page and `--model x.gguf` read);
//! 2. as `model.safetensors` in a `FileSet` beside a fixed, valid config.json and
//!    tokenizer.json (the golden `bert_prefixed` classifier), the Hugging Face path.
//!
//! Every input goes through both, so a seed of either format is useful and no selector
//! byte is needed: a GGUF file fails the safetensors header check in a few bytes and vice
//! versa. Loading must return `Ok` or an `Err` with a message; a panic, an abort or an
//! allocation over libFuzzer's `-malloc_limit_mb` is a finding.
//!
//! A file that loads is then asked to explain one short text, because a model file that
//! parses can still carry sizes or values (a mutated config inside the GGUF metadata, NaN
//! weights) that only the forward pass meets. Its result may be `Err` or even NaN scores
//! (garbage weights give garbage numbers); it must not panic.
//!
//! Known bugs: with `FUZZ_SKIP_KNOWN=1` in the environment, inputs that hit a bug already
//! found and reported (see [`known_bug`]) are skipped, so a run can look for new ones.
//! Without it (the default) they crash like any other finding: a fixed bug must be taken
//! off the list, and an unfixed one keeps `scripts/fuzz.sh` failing.

#![no_main]

use layer_saliency::model::files::FileSet;
use layer_saliency::model::{Model, NamedBytes};
use layer_saliency::{Explainer, Options};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CONFIG: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/classifier/config.json");
const TOKENIZER: &[u8] = include_bytes!("../../tests/golden/bert_prefixed/classifier/tokenizer.json");

/// Short, so a loaded model costs one small forward and backward pass.
const TEXT: &str = "not bad at all";

fn check_error(what: &str, err: layer_saliency::Error) {
    // A failure must tell the user something; an empty message is a bug too.
    assert!(!err.to_string().trim().is_empty(), "{what}: empty error message ({err:?})");
}

fn try_explain(explainer: &Explainer) {
    // Faithfulness off: it costs a batch of forward passes and parses nothing new.
    // The layer view on: it decodes every layer, which reaches the decoder weights.
    let options = Options { faithfulness: false, ..Options::default() };
    if let Err(err) = explainer.explain(TEXT, &options, true) {
        check_error("explain", err);
    }
}

/// Which bug, already reported, `data` would hit if read as `format`; `None` for inputs
/// that reach no known bug. Each check parses only what the bug needs, with the same
/// readers the loader uses; a new bug inside those readers still crashes here, as it
/// would in the loader.
fn known_bug(data: &[u8], format: Format) -> Option<&'static str> {
    match format {
        Format::Gguf => {
            // Checked on the bytes, before Content::read, which is where this one panics.
            if zero_alignment(data) {
                return Some("gguf alignment 0");
            }
            let content = candle_core::quantized::gguf_file::Content::read(&mut std::io::Cursor::new(data)).ok()?;
            // candle's TensorInfo::read computes the element count (gguf_file.rs:94,
            // Shape::elem_count) and then the byte size (line 101) unchecked: overflow
            // panics where overflow checks are on, and wraps silently where they are off.
            // A tensor of zero elements reaches ggml_file.rs:128, which makes a slice of
            // T from the dangling pointer of an empty Vec<u8>: misaligned, undefined
            // behaviour that debug assertions stop with a panic.
            let mut bug = None;
            for t in content.tensor_infos.values() {
                let elems = t.shape.dims().iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                let block = t.ggml_dtype.block_size();
                match elems {
                    Some(0) => bug = bug.or(Some("gguf tensor of zero elements")),
                    Some(n) if (n / block).checked_mul(t.ggml_dtype.type_size()).is_some() => {}
                    _ => return Some("gguf size overflow"),
                }
            }
            // (A scalar sentence head, bug 3, cannot come from GGUF: candle refuses
            // 0-dimensional GGUF tensors with an error.)
            bug
        }
        Format::Safetensors => {
            // heads.rs:68 takes dims[0] of the sentence head without checking its rank.
            let (_, header) = safetensors::SafeTensors::read_metadata(data).ok()?;
            let scalar_head = header.tensors().get("sentence_classifier.weight").is_some_and(|t| t.shape.is_empty());
            scalar_head.then_some("scalar sentence head")
        }
    }
}

/// Whether a `general.alignment` key holds an integer 0: candle's Content::read divides
/// the tensor data offset by it (gguf_file.rs:560). A GGUF key is followed by its u32
/// value type and the value; types 0-5 are the integers candle reads the alignment from.
/// The key bytes anywhere else (inside a string) can only make this skip a little more.
fn zero_alignment(data: &[u8]) -> bool {
    const KEY: &[u8] = b"general.alignment";
    data.windows(KEY.len()).enumerate().filter(|(_, w)| *w == KEY).any(|(i, _)| {
        let rest = &data[i + KEY.len()..];
        let Some(&[a, b, c, d]) = rest.get(..4) else { return false };
        let width = match u32::from_le_bytes([a, b, c, d]) {
            0 | 1 => 1,
            2 | 3 => 2,
            4 | 5 => 4,
            _ => return false,
        };
        rest.get(4..4 + width).is_some_and(|v| v.iter().all(|&x| x == 0))
    })
}

#[derive(Clone, Copy)]
enum Format {
    Gguf,
    Safetensors,
}

fn skip_known(data: &[u8], format: Format) -> bool {
    static SKIP: OnceLock<bool> = OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("FUZZ_SKIP_KNOWN").is_some_and(|v| v == "1"))
        && known_bug(data, format).is_some()
}

fuzz_target!(|data: &[u8]| {
    if !skip_known(data, Format::Gguf) {
        match Model::load_packed(NamedBytes { name: "fuzz.gguf", bytes: data }) {
            Ok(model) => try_explain(&Explainer::new(model, "fuzz", "packed")),
            Err(err) => check_error("load_packed", err),
        }
    }
    if skip_known(data, Format::Safetensors) {
        return;
    }

    let mut set = FileSet::new();
    set.add("config.json", "config.json", CONFIG.to_vec()).expect("a known role");
    set.add("tokenizer.json", "tokenizer.json", TOKENIZER.to_vec()).expect("a known role");
    set.add("model.safetensors", "fuzz.safetensors", data.to_vec()).expect("a known role");
    match Explainer::from_file_set(&set, "fuzz") {
        Ok(explainer) => try_explain(&explainer),
        Err(err) => check_error("from_file_set", err),
    }
});
