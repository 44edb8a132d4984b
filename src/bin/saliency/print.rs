//! Printers: every command's output is formed here, from the library's structs.

use layer_saliency::gradients::{softmax, LayerGradients};
use layer_saliency::model::input::Token;
use layer_saliency::model::Model;
use layer_saliency::saliency::decode::DecodedLayer;
use layer_saliency::Result;
use serde::Serialize;

#[derive(Serialize)]
struct TopToken {
    id: u32,
    token: String,
    logit: f32,
}

#[derive(Serialize)]
struct GradsOutput<'a> {
    labels: &'a [String],
    logits: &'a [f32],
    probs: Vec<f32>,
    target: usize,
    decoder: layer_saliency::model::heads::DecoderKind,
    tokens: &'a [Token],
    hidden: Vec<Vec<Vec<f32>>>,
    grads: Vec<Vec<Vec<f32>>>,
    lm_logits_top: Vec<Vec<Vec<TopToken>>>,
}

/// `saliency grads --json`: one JSON object on stdout.
pub fn grads_json(model: &Model, tokens: &[Token], lg: &LayerGradients, decoded: &[DecodedLayer]) -> Result<()> {
    let to_vec = |ts: &[candle_core::Tensor]| -> Result<Vec<Vec<Vec<f32>>>> {
        ts.iter().map(|t| Ok(t.to_vec2::<f32>()?)).collect()
    };
    let out = GradsOutput {
        labels: &model.labels,
        logits: &lg.logits,
        probs: softmax(&lg.logits),
        target: lg.objective.class,
        decoder: model.decoder.kind(),
        tokens,
        hidden: to_vec(&lg.hidden)?,
        grads: to_vec(&lg.grads)?,
        lm_logits_top: decoded
            .iter()
            .map(|layer| {
                layer
                    .positions
                    .iter()
                    .map(|top| {
                        top.iter()
                            .map(|d| TopToken { id: d.id, token: model.text.id_to_token(d.id), logit: d.logit })
                            .collect()
                    })
                    .collect()
            })
            .collect(),
    };
    let json = serde_json::to_string(&out).map_err(|e| layer_saliency::Error::Input(e.to_string()))?;
    println!("{json}");
    Ok(())
}
