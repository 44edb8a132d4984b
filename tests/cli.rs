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
    assert!(err.contains("/nonexistent/model") && err.contains("not a directory"), "{err}");

    let cls = golden_dir("bert_prefixed").join("classifier");
    let out = saliency(&["grads", "--model", cls.to_str().unwrap(), "--target", "7", "--json", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--target") && err.contains("class 7"), "{err}");
}
