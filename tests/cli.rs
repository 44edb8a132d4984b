//! The `saliency` binary as a user runs it: JSON shapes, exit codes, messages.

mod common;

use common::*;
use std::process::{Command, Output};

fn saliency(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saliency")).args(args).output().expect("run saliency")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "saliency failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn grads_prints_every_layer_for_every_token() {
    let case = golden_dir("bert_prefixed");
    let (cls, lm) = (case.join("classifier"), case.join("lm_head"));
    let text = "I love the plot; I hate the plot.";
    let out = saliency(&[
        "grads",
        "--model",
        cls.to_str().unwrap(),
        "--lm-head",
        lm.to_str().unwrap(),
        "--target",
        "2",
        "--json",
        text,
    ]);
    let json = stdout_json(&out);
    let n = json["tokens"].as_array().unwrap().len();
    assert_eq!(n, 12);
    assert_eq!(json["labels"], serde_json::json!(["negative", "neutral", "positive"]));
    assert_eq!(json["target"], 2);
    assert_eq!(json["decoder"], "bert_mlm");
    let probs: f64 = json["probs"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).sum();
    assert!((probs - 1.0).abs() < 1e-5);
    for key in ["hidden", "grads"] {
        let layers = json[key].as_array().unwrap();
        assert_eq!(layers.len(), 3, "{key}: L+1 layers");
        for layer in layers {
            let rows = layer.as_array().unwrap();
            assert_eq!(rows.len(), n);
            assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 32));
        }
    }
    let top = &json["lm_logits_top"];
    assert_eq!(top.as_array().unwrap().len(), 3);
    assert_eq!(top[0][1].as_array().unwrap().len(), 5);
    // Offsets index characters of the text: the second token is "I".
    let tok = &json["tokens"][1];
    let (start, end) = (tok["start"].as_u64().unwrap() as usize, tok["end"].as_u64().unwrap() as usize);
    assert_eq!(text.chars().skip(start).take(end - start).collect::<String>(), "I");
    assert_eq!(json["tokens"][0]["special"], true);
}

#[test]
fn grads_logits_equal_the_reference() {
    let golden = Golden::load("distilbert");
    let case = golden_dir("distilbert");
    let out = saliency(&[
        "grads",
        "--model",
        case.join("classifier").to_str().unwrap(),
        "--lm-head",
        case.join("lm_head").to_str().unwrap(),
        "--json",
        &golden.meta.texts[0],
    ]);
    let json = stdout_json(&out);
    let logits: Vec<f32> = json["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert!(max_rel_error(&logits, &to_vec_f32(&golden.tensor(0, "logits"))) < 1e-4);
}

#[test]
fn errors_exit_with_status_2_and_a_message() {
    let out = saliency(&["grads", "--model", "/nonexistent/model", "--json", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model") && err.contains("directory"), "{err}");

    let cls = golden_dir("bert_prefixed").join("classifier");
    let out = saliency(&["grads", "--model", cls.to_str().unwrap(), "--target", "7", "--json", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--target") && err.contains("class 7"), "{err}");
}

#[test]
fn explain_json_has_the_documented_schema() {
    let case = golden_dir("bert_prefixed");
    let out = saliency(&[
        "explain",
        "--model",
        case.join("classifier").to_str().unwrap(),
        "--lm-head",
        case.join("lm_head").to_str().unwrap(),
        "--target",
        "positive",
        "--json",
        "I love the plot; I hate the plot.",
    ]);
    let json = stdout_json(&out);
    for key in [
        "model",
        "labels",
        "probs",
        "predicted",
        "target",
        "tokens",
        "method",
        "layer",
        "saliency",
        "layers",
        "words",
        "faithfulness",
        "timing_ms",
    ] {
        assert!(json.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(json["model"]["decoder"], "bert_mlm");
    assert_eq!(json["method"], "dls");
    assert_eq!(json["target"], 2);
    let n = json["tokens"].as_array().unwrap().len();
    assert_eq!(json["saliency"].as_array().unwrap().len(), n);
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for l in layers {
        for key in ["layer", "coherence", "self_recovery", "saliency", "decoded"] {
            assert!(l.get(key).is_some(), "layer view missing `{key}`");
        }
        assert_eq!(l["decoded"].as_array().unwrap().len(), n);
        assert_eq!(l["decoded"][1].as_array().unwrap().len(), 5);
    }
    let f = &json["faithfulness"];
    assert_eq!(f["comprehensiveness"].as_array().unwrap().len(), 5);
    assert!(f["perturbation"].as_str().unwrap().contains("deletion"));
    assert!(json["timing_ms"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(json["words"][0]["text"], "I");
}

#[test]
fn explain_without_json_prints_a_readable_view() {
    let cls = golden_dir("distilbert").join("classifier");
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), "--method", "occlusion", "great fun , really"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("prediction") && text.contains("occlusion") && text.contains("AOPC"), "{text}");
    assert!(!text.contains("\x1b["), "no colour codes when stdout is not a terminal");
}

#[test]
fn a_text_longer_than_the_model_reads_is_explained_in_windows() {
    let cls = golden_dir("bert_prefixed").join("classifier");
    let long = "the plot was slow but the acting was great and i love the music . ".repeat(12);
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), &long]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("windows") && text.contains("overlapping windows"), "{text}");
    assert!(text.contains("Faithfulness was not measured"), "{text}");
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), "--json", "--no-faithfulness", &long]);
    let json = stdout_json(&out);
    let spans = json["windows"]["spans"].as_array().expect("windows in the JSON");
    assert!(spans.len() > 1 && json["windows"]["max_positions"] == 64, "{}", json["windows"]);
    assert_eq!(json["saliency"].as_array().unwrap().len(), json["tokens"].as_array().unwrap().len());
}

#[test]
fn eval_tabulates_every_method_and_every_dls_layer() {
    let cls = golden_dir("bert_prefixed").join("classifier");
    let texts = std::env::temp_dir().join(format!("layer-saliency-eval-{}.txt", std::process::id()));
    std::fs::write(&texts, "this movie was not good\ni love the plot\n\ngreat fun , really\n").unwrap();
    let out = saliency(&[
        "eval",
        "--model",
        cls.to_str().unwrap(),
        "--texts",
        texts.to_str().unwrap(),
        "--methods",
        "dls,gxa,random",
        "--json",
    ]);
    let json = stdout_json(&out);
    let rows = json["rows"].as_array().unwrap();
    // dls auto + dls at layers 0..=2, gxa, random
    assert_eq!(rows.len(), 6);
    assert_eq!((rows[0]["method"].as_str(), rows[0]["layer"].as_str()), (Some("dls"), Some("auto")));
    assert_eq!(rows[3]["layer"], 2);
    assert_eq!(rows[5]["method"], "random");
    for r in rows {
        for key in ["aopc_comprehensiveness", "aopc_sufficiency", "median_ms"] {
            assert!(r[key].as_f64().unwrap().is_finite(), "{r}");
        }
        assert_eq!(r["texts"], 3);
    }
}

#[test]
fn bad_options_are_refused_with_the_choices() {
    let cls = golden_dir("bert_prefixed").join("classifier");
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), "--method", "lime", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dls, grad-norm"));
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), "--layer", "9", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("layer 9 does not exist"));
    let out = saliency(&["explain", "--model", cls.to_str().unwrap(), ""]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}

/// `bench --vocabulary-kernel` runs the decoder on the named kernel (and says so in its
/// JSON); a kernel this machine lacks is refused with the ones it has.
#[test]
fn bench_runs_on_the_chosen_vocabulary_kernel() {
    let cls = golden_dir("bert_prefixed").join("classifier");
    let model = cls.to_str().unwrap();
    let out = saliency(&[
        "bench",
        "--model",
        model,
        "--lengths",
        "8",
        "--repeats",
        "1",
        "--no-ig",
        "--json",
        "--vocabulary-kernel",
        "portable",
    ]);
    let report = stdout_json(&out);
    assert_eq!(report["vocabulary_kernel"], "portable");
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(1), "{report}");
    let out = saliency(&["bench", "--model", model, "--lengths", "8", "--no-ig", "--vocabulary-kernel", "neon"]);
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("\"neon\"") && message.contains("portable"), "{message}");
}
