//! Wrong or mismatched files give a clear error naming the file and the tensor, never a
//! panic. Each test breaks one thing in an otherwise valid golden checkpoint.

mod common;

use candle_core::{Device, Tensor};
use common::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// A scratch copy of a golden classifier directory, for breaking.
fn scratch(case: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("layer-saliency-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(golden_dir(case).join("classifier")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn rewrite_weights(dir: &PathBuf, edit: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let path = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, &path).unwrap();
}

fn load_error(dir: &PathBuf, lm: Option<&std::path::Path>) -> String {
    match Files::read(dir, &[], lm).load() {
        Ok(_) => panic!("loading {} should have failed", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_tensor_is_named_with_its_file() {
    let dir = scratch("bert_prefixed", "missing");
    rewrite_weights(&dir, |t| {
        t.remove("bert.encoder.layer.1.attention.self.key.weight");
    });
    let err = load_error(&dir, None);
    assert!(err.contains("bert.encoder.layer.1.attention.self.key.weight"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named_with_both_shapes() {
    let dir = scratch("distilbert", "shape");
    rewrite_weights(&dir, |t| {
        t.insert(
            "pre_classifier.weight".into(),
            Tensor::zeros((32, 31), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let err = load_error(&dir, None);
    assert!(err.contains("pre_classifier.weight") && err.contains("[32, 31]") && err.contains("[32, 32]"), "{err}");
}

#[test]
fn a_truncated_weight_file_is_a_clear_error() {
    let dir = scratch("bert_prefixed", "truncated");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(&dir, None);
    assert!(err.contains("model.safetensors") && err.contains("cannot"), "{err}");
}

#[test]
fn an_unknown_architecture_is_named() {
    let dir = scratch("bert_prefixed", "arch");
    std::fs::write(dir.join("config.json"), br#"{"model_type": "gpt2", "vocab_size": 304}"#).unwrap();
    let err = load_error(&dir, None);
    assert!(err.contains("gpt2") && err.contains("config.json"), "{err}");
}

#[test]
fn a_checkpoint_without_any_classifier_says_what_it_expected() {
    // The distilbert LM-head checkpoint is a masked LM: no classification head.
    let dir = std::env::temp_dir().join(format!("layer-saliency-nohead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(golden_dir("distilbert").join("lm_head").join(f), dir.join(f)).unwrap();
    }
    let err = load_error(&dir, None);
    assert!(err.contains("no classification head"), "{err}");
}

#[test]
fn an_lm_head_of_another_base_is_refused() {
    // DistilBERT hidden 32 vs a BERT LM head with a different vocabulary size.
    let lm = std::env::temp_dir().join(format!("layer-saliency-otherlm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&lm);
    std::fs::create_dir_all(&lm).unwrap();
    let lm_src = golden_dir("bert_prefixed").join("lm_head");
    std::fs::copy(lm_src.join("model.safetensors"), lm.join("model.safetensors")).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lm_src.join("config.json")).unwrap()).unwrap();
    config["vocab_size"] = serde_json::json!(30522);
    std::fs::write(lm.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let dir = scratch("bert_prefixed", "otherlm-cls");
    let err = load_error(&dir, Some(&lm));
    assert!(err.contains("vocabulary size") && err.contains("30522"), "{err}");
}

#[test]
fn an_lm_head_checkpoint_without_a_head_is_refused() {
    // A classifier checkpoint given as --lm-head has no masked-LM head.
    let dir = scratch("bert_prefixed", "nolm");
    let err = load_error(&dir, Some(&golden_dir("bert_prefixed").join("classifier")));
    assert!(err.contains("no masked-LM head"), "{err}");
}

#[test]
fn a_tokenizer_from_a_bigger_vocabulary_is_refused() {
    let dir = scratch("bert_prefixed", "tok");
    std::fs::copy(minilm_dir().join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let err = load_error(&dir, None);
    assert!(err.contains("tokenizer") && err.contains("30522"), "{err}");
}

#[test]
fn a_text_longer_than_the_positions_is_refused_with_the_numbers() {
    let model = Files::read(&golden_dir("bert_prefixed").join("classifier"), &[], None).load().unwrap();
    let err = model.text.encode(&"good ".repeat(100)).unwrap_err().to_string();
    assert!(err.contains("102 tokens") && err.contains("64 positions"), "{err}");
}

/// Files the fuzzer found (fuzz/seeds/model_file/known-bug-*, TESTING.md) that used to
/// panic inside candle's GGUF reader or our sentence-head loader: each is now a clear error.
#[test]
fn fuzzer_findings_are_clear_errors() {
    use layer_saliency::model::files::FileSet;
    use layer_saliency::model::{Model, NamedBytes};
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/model_file");
    let cases = [
        ("known-bug-1-gguf-size-overflow.hand.gguf", "larger than the file"),
        ("known-bug-2-gguf-alignment-zero.hand.gguf", "alignment is 0"),
        ("known-bug-4-gguf-zero-elements.hand.gguf", "no elements"),
    ];
    for (file, expected) in cases {
        let bytes = std::fs::read(seeds.join(file)).unwrap();
        let err = Model::load_packed(NamedBytes { name: file, bytes: &bytes }).err().expect(file).to_string();
        assert!(err.contains(expected), "{file}: {err}");
    }
    let head = "known-bug-3-scalar-sentence-head.hand.safetensors";
    let classifier = golden_dir("bert_prefixed").join("classifier");
    let mut set = FileSet::new();
    for (role, name) in [
        ("config.json", "config.json"),
        ("tokenizer.json", "tokenizer.json"),
        ("model.safetensors", "model.safetensors"),
    ] {
        set.add(role, name, std::fs::read(classifier.join(name)).unwrap()).unwrap();
    }
    set.add("model.safetensors", head, std::fs::read(seeds.join(head)).unwrap()).unwrap();
    let err = Model::from_file_set(&set).err().expect(head).to_string();
    assert!(err.contains("(classes, hidden) matrix"), "{head}: {err}");
}

/// A tokenizer.json with a syntax error inside its decoder: tokenizers 0.22 panics on it
/// (found by fuzzing a packed file's tokenizer); we refuse it with a message first.
#[test]
fn a_malformed_tokenizer_is_a_clear_error() {
    use layer_saliency::model::input::TextEncoder;
    let good = std::fs::read_to_string(golden_dir("bert_prefixed").join("classifier/tokenizer.json")).unwrap();
    let at = good.find("\"decoder\"").expect("a decoder section");
    let broken = format!("{}\"decoder\": {{\"type\" \"WordPiece\"}}, \"model\": {{}}}}", &good[..at]);
    let err = TextEncoder::from_json(broken.as_bytes(), "tokenizer.json", 64).err().expect("an error").to_string();
    assert!(err.contains("not a tokenizer.json"), "{err}");
}
