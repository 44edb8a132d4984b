//! Integrated gradients (Sundararajan et al. 2017) on the word-embedding rows, from a
//! baseline where every non-special row is the [PAD] embedding ([CLS]/[SEP] are kept).
//! The path integral uses the midpoint rule over `steps` points, batched.
//! Completeness: sum_n IG_n should equal y(x) - y(baseline); the error is reported.

use crate::error::Result;
use crate::gradients::{input_gradients, Objective};
use crate::model::Model;
use candle_core::{Device, Tensor, D};

/// Per-token attributions and the completeness check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IntegratedGradients {
    #[serde(skip)]
    pub scores: Vec<f32>,
    pub steps: usize,
    /// y(x) - y(baseline).
    pub delta: f32,
    /// |sum_n IG_n - delta| / max(|delta|, 1e-6).
    pub completeness_error: f32,
}

/// Interpolated inputs per forward batch at most; long texts get fewer (the model's
/// attention-memory budget), since the backward pass keeps every activation of the batch.
const STEPS_PER_BATCH: usize = 16;

pub fn integrated_gradients(
    model: &Model,
    word_embeds: &Tensor,
    special: &[bool],
    objective: Objective,
    steps: usize,
) -> Result<IntegratedGradients> {
    let (seq, hidden) = word_embeds.dims2()?;
    let pad = model.encoder.embeddings.word(model.config.pad_token_id)?;
    let keep: Vec<f32> = special.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect();
    let keep = Tensor::from_vec(keep, (seq, 1), &Device::Cpu)?;
    // baseline = x at special positions, PAD elsewhere
    let baseline = (word_embeds.broadcast_mul(&keep)? + pad.unsqueeze(0)?.broadcast_mul(&(1.0 - &keep)?)?)?;
    let diff = (word_embeds - &baseline)?;

    let mut grad_sum = Tensor::zeros((seq, hidden), candle_core::DType::F32, &Device::Cpu)?;
    let alphas: Vec<f32> = (0..steps).map(|i| (i as f32 + 0.5) / steps as f32).collect();
    // The backward pass keeps several attention-sized tensors per layer: stay well inside
    // the forward-only budget.
    let per_batch = (model.batch_size_for(seq) / 4).clamp(1, STEPS_PER_BATCH);
    for chunk in alphas.chunks(per_batch) {
        let a = Tensor::from_slice(chunk, (chunk.len(), 1, 1), &Device::Cpu)?;
        let inputs = baseline.unsqueeze(0)?.broadcast_add(&a.broadcast_mul(&diff.unsqueeze(0)?)?)?;
        let (grads, _) = input_gradients(model, &inputs, objective)?;
        grad_sum = (grad_sum + grads.sum(0)?)?;
    }
    let attributions = (diff * (grad_sum / steps as f64)?)?.sum(D::Minus1)?.to_vec1::<f32>()?;

    let ends = Tensor::stack(&[word_embeds, &baseline], 0)?;
    let (_, ys) = input_gradients(model, &ends, objective)?;
    let delta = ys[0] - ys[1];
    let total: f32 = attributions.iter().sum();
    Ok(IntegratedGradients {
        scores: attributions,
        steps,
        delta,
        completeness_error: (total - delta).abs() / delta.abs().max(1e-6),
    })
}
