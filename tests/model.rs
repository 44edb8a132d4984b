//! The engine against the reference: every golden case written by
//! tests/reference/make_golden.py from Hugging Face transformers (PyTorch, float64),
//! and the real all-MiniLM-L6-v2 weights against the same reference run.
//!
//! Tolerances (issue 2): logits within 1e-4 relative to max(1,|x|); each layer's gradient
//! within 1e-3 relative Frobenius error; top decoded ids identical. Hidden states and
//! attention maps are checked at 1e-4 relative Frobenius error.

mod common;

use candle_core::{Device, Tensor};
use common::*;
use layer_saliency::gradients::{layer_gradients, Objective};
use layer_saliency::saliency::decode::decode_layers;

const CASES: [&str; 4] = ["bert_prefixed", "bert_legacy_untied", "distilbert", "bert_noprefix_tied"];

fn check_case(case: &str, check_attention: bool) {
    let golden = Golden::load(case);
    let model = golden.files.load().unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(model.num_layers(), golden.meta.num_layers, "{case}: layer count");
    assert_eq!(
        serde_json::to_value(model.decoder.kind()).unwrap().as_str().unwrap(),
        golden.meta.decoder,
        "{case}: decoder kind"
    );
    for (i, text) in golden.meta.texts.iter().enumerate() {
        let what = format!("{case} text {i} {text:?}");
        let tokens = model.text.encode(text).unwrap();
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        let expected_ids = to_vec_i64(&golden.tensor(i, "input_ids"));
        assert_eq!(ids.iter().map(|&x| x as i64).collect::<Vec<_>>(), expected_ids, "{what}: token ids");
        let offsets: Vec<i64> = tokens.iter().flat_map(|t| [t.start as i64, t.end as i64]).collect();
        assert_eq!(offsets, to_vec_i64(&golden.tensor(i, "offsets")), "{what}: char offsets");

        let target = golden.meta.targets[i];
        let lg = layer_gradients(&model, &ids, |_| Ok(Objective { class: target, contrast: None })).unwrap();

        let logit_err = max_rel_error(&lg.logits, &to_vec_f32(&golden.tensor(i, "logits")));
        assert!(logit_err < 1e-4, "{what}: logits off by {logit_err}");

        let hidden = golden.tensor(i, "hidden");
        let grads = golden.tensor(i, "grads");
        for l in 0..=model.num_layers() {
            let h_err = rel_frobenius(&lg.hidden[l], &hidden.get(l).unwrap());
            assert!(h_err < 1e-4, "{what}: hidden state {l} off by {h_err}");
            let g_abs: f32 = to_vec_f32(&lg.grads[l]).iter().map(|v| v.abs()).sum();
            assert!(g_abs > 0.0, "{what}: the gradient at layer {l} is all zero");
            let g_err = rel_frobenius(&lg.grads[l], &grads.get(l).unwrap());
            assert!(g_err < 1e-3, "{what}: gradient at layer {l} off by {g_err}");
        }
        let wg_err = rel_frobenius(&lg.word_grads, &golden.tensor(i, "word_embed_grads"));
        assert!(wg_err < 1e-3, "{what}: word-embedding gradient off by {wg_err}");

        if check_attention && golden.has(i, "attentions") {
            let att = golden.tensor(i, "attentions");
            let attentions = model.attentions(&ids).unwrap();
            for l in 0..model.num_layers() {
                let a_err = rel_frobenius(&attentions[l], &att.get(l).unwrap());
                assert!(a_err < 1e-4, "{what}: attention of block {} off by {a_err}", l + 1);
            }
        }

        if golden.has(i, "lm_logits") {
            let full = golden.tensor(i, "lm_logits");
            for (l, h) in lg.hidden.iter().enumerate() {
                let vocab = model.decoder.vocab_size();
                let ours = Tensor::from_vec(model.decoder.logits(h).unwrap(), (h.dim(0).unwrap(), vocab), &Device::Cpu)
                    .unwrap();
                let err = rel_frobenius(&ours, &full.get(l).unwrap());
                assert!(err < 1e-4, "{what}: decoded logits of layer {l} off by {err}");
            }
        }

        let decoded = decode_layers(&model.decoder, &lg.hidden, 5).unwrap();
        let top_ids = to_vec_i64(&golden.tensor(i, "lm_top5_ids"));
        let top_logits = to_vec_f32(&golden.tensor(i, "lm_top5_logits"));
        let ours_ids: Vec<i64> =
            decoded.iter().flat_map(|d| d.positions.iter().flatten().map(|t| t.id as i64)).collect();
        let ours_logits: Vec<f32> =
            decoded.iter().flat_map(|d| d.positions.iter().flatten().map(|t| t.logit)).collect();
        assert_eq!(ours_ids, top_ids, "{what}: top-5 decoded ids");
        let lm_err = max_rel_error(&ours_logits, &top_logits);
        assert!(lm_err < 1e-3, "{what}: top-5 decoded logits off by {lm_err}");
    }
}

#[test]
fn bert_with_prefix_and_separate_tied_mlm_head_matches_transformers() {
    check_case(CASES[0], true);
}

#[test]
fn bert_with_legacy_names_untied_decoder_and_sentence_head_matches_transformers() {
    check_case(CASES[1], true);
}

#[test]
fn distilbert_classifier_with_separate_mlm_head_matches_transformers() {
    check_case(CASES[2], true);
}

#[test]
fn bert_without_prefix_decoded_by_tied_embeddings_matches_transformers() {
    check_case(CASES[3], true);
}

#[test]
fn real_minilm_weights_match_transformers() {
    check_case("minilm", false);
}
