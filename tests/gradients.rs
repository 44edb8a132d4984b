//! Gradients checked without PyTorch: against finite differences of our own forward pass,
//! for linearity of the contrast objective, and our forward pass against candle's own
//! BertModel on the real MiniLM weights.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor};
use common::*;
use layer_saliency::gradients::{argmax, layer_gradients, layer_gradients_with, Memory, Objective};
use layer_saliency::model::Model;

fn golden_model(case: &str) -> Model {
    Golden::load(case).files.load().unwrap()
}

/// y(e) for word-embedding rows e `(seq, hidden)`.
fn score(model: &Model, rows: &Tensor, objective: Objective) -> f64 {
    let mask = Tensor::ones((1, rows.dim(0).unwrap()), DType::F32, &Device::Cpu).unwrap();
    let logits = model.forward_embeds(&rows.unsqueeze(0).unwrap(), &mask, None).unwrap().logits.i(0).unwrap();
    let mut y = logits.i(objective.class).unwrap().to_scalar::<f32>().unwrap() as f64;
    if let Some(c) = objective.contrast {
        y -= logits.i(c).unwrap().to_scalar::<f32>().unwrap() as f64;
    }
    y
}

/// dy/de along a random direction d equals (y(e + h d) - y(e - h d)) / 2h, to the
/// precision f32 allows (h = 1e-2 over a unit direction: relative error well under 1e-2).
#[test]
fn word_embedding_gradient_matches_a_central_difference() {
    for case in ["bert_prefixed", "distilbert", "bert_legacy_untied"] {
        let model = golden_model(case);
        let ids: Vec<u32> = model.text.encode("the movie was not good").unwrap().iter().map(|t| t.id).collect();
        let objective = Objective { class: 1, contrast: None };
        let lg = layer_gradients(&model, &ids, |_| Ok(objective)).unwrap();
        // A fixed, dense direction (deterministic, unlike randn).
        let n = lg.word_embeds.elem_count();
        let dir = Tensor::arange(0f32, n as f32, &Device::Cpu).unwrap().affine(0.7, 0.3).unwrap().sin().unwrap();
        let dir = dir.reshape(lg.word_embeds.dims()).unwrap();
        let norm = dir.sqr().unwrap().sum_all().unwrap().sqrt().unwrap();
        let dir = dir.broadcast_div(&norm).unwrap();
        let analytic = (&lg.word_grads * &dir).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
        let h = 1e-2;
        let plus = score(&model, &(&lg.word_embeds + (&dir * h).unwrap()).unwrap(), objective);
        let minus = score(&model, &(&lg.word_embeds - (&dir * h).unwrap()).unwrap(), objective);
        let numeric = (plus - minus) / (2.0 * h);
        let err = (analytic - numeric).abs() / analytic.abs().max(1e-3);
        assert!(err < 1e-2, "{case}: autograd {analytic} vs finite difference {numeric} (rel err {err})");
    }
}

/// The contrast objective z_a - z_b is linear: its gradient is grad(z_a) - grad(z_b).
#[test]
fn contrast_gradient_is_the_difference_of_class_gradients() {
    let model = golden_model("bert_prefixed");
    let ids: Vec<u32> =
        model.text.encode("i love the plot but hate the acting").unwrap().iter().map(|t| t.id).collect();
    let run = |class, contrast| layer_gradients(&model, &ids, |_| Ok(Objective { class, contrast })).unwrap();
    let (a, b, ab) = (run(2, None), run(0, None), run(2, Some(0)));
    assert!((ab.score - (a.score - b.score)).abs() < 1e-5);
    for l in 0..=model.num_layers() {
        let expected = (&a.grads[l] - &b.grads[l]).unwrap();
        let err = rel_frobenius(&ab.grads[l], &expected);
        assert!(err < 1e-5, "layer {l}: {err}");
    }
}

/// The objective chooser sees the logits, so "the predicted class" is resolved after the
/// forward pass and equals the argmax.
#[test]
fn the_default_target_is_the_predicted_class() {
    let model = golden_model("distilbert");
    let ids: Vec<u32> = model.text.encode("great fun").unwrap().iter().map(|t| t.id).collect();
    let lg = layer_gradients(&model, &ids, |logits| Ok(Objective { class: argmax(logits), contrast: None })).unwrap();
    assert_eq!(lg.objective.class, argmax(&lg.logits));
    assert!((lg.score - lg.logits[lg.objective.class]).abs() < 1e-6);
}

/// Our encoder equals candle-transformers' BertModel (a second implementation nobody here
/// wrote) on the real all-MiniLM-L6-v2 weights.
#[test]
fn real_minilm_last_layer_matches_candle_transformers_bert() {
    use candle_transformers::models::bert::{BertModel, Config};
    let dir = minilm_dir();
    let files = Files::read(&dir, &[golden_dir("minilm").join("classifier.safetensors")], None);
    let model = files.load().unwrap();
    let ids: Vec<u32> = model
        .text
        .encode("Layer saliency decodes every layer back onto the input.")
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    let ours = model.forward_ids(&ids).unwrap().encoder.hidden.last().unwrap().i(0).unwrap();

    let config: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let vb = candle_nn::VarBuilder::from_buffered_safetensors(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let theirs = BertModel::load(vb, &config).unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let reference = theirs.forward(&input, &input.zeros_like().unwrap(), None).unwrap().i(0).unwrap();
    let err = rel_frobenius(&ours, &reference);
    assert!(err < 1e-5, "MiniLM last layer differs from candle-transformers by {err}");
}

/// Differentiating layer by layer (recomputing each block from its saved input, as long
/// inputs do to bound memory) gives the gradients of the whole graph, on every family,
/// with a contrast class too.
#[test]
fn layer_by_layer_backward_equals_the_whole_graph() {
    for case in ["bert_prefixed", "distilbert", "bert_legacy_untied", "bert_noprefix_tied"] {
        let model = golden_model(case);
        let ids: Vec<u32> =
            model.text.encode("the plot was thin, but the acting was superb !").unwrap().iter().map(|t| t.id).collect();
        let objective = Objective { class: 1, contrast: Some(0) };
        let whole = layer_gradients_with(&model, &ids, |_| Ok(objective), Memory::WholeGraph).unwrap();
        let by_layer = layer_gradients_with(&model, &ids, |_| Ok(objective), Memory::LayerByLayer).unwrap();
        assert_eq!(whole.logits, by_layer.logits, "{case}");
        assert_eq!(whole.score, by_layer.score, "{case}");
        for l in 0..whole.grads.len() {
            let err = rel_frobenius(&by_layer.grads[l], &whole.grads[l]);
            assert!(err < 1e-5, "{case} layer {l}: {err}");
            assert_eq!(rel_frobenius(&by_layer.hidden[l], &whole.hidden[l]), 0.0, "{case} hidden {l}");
        }
        let err = rel_frobenius(&by_layer.word_grads, &whole.word_grads);
        assert!(err < 1e-5, "{case} word gradients: {err}");
        assert!(by_layer.word_grads.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    }
}
