//! Step 2: one forward and one backward pass give the gradient of the explained score
//! with respect to every layer's hidden states (method.md section 1).
//!
//! candle's `backward()` keeps gradients only for leaves of the graph, so intermediate
//! hidden states would be dropped. We add a zero "probe" variable to each H_l (and to the
//! word-embedding rows); a probe is a leaf, so `grads.get(probe_l)` is exactly dy/dH_l.
//!
//! Layer 0 is the embedding output after the embedding LayerNorm, like Hugging Face's
//! `hidden_states[0]`. The word-embedding probe sits before that LayerNorm, on the rows
//! looked up from the table: the input of the embedding-layer baselines.

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::model::Model;
use candle_core::{DType, Device, IndexOp, Tensor, Var};

/// What the backward pass differentiates: a class logit, or the difference of two
/// (why this class rather than that one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    pub class: usize,
    pub contrast: Option<usize>,
}

impl Objective {
    /// y for one row of logits.
    pub fn score(&self, logits: &[f32]) -> f32 {
        logits[self.class] - self.contrast.map_or(0.0, |c| logits[c])
    }
}

/// Every layer's hidden states and gradients for one input (batch of one, squeezed).
pub struct LayerGradients {
    pub logits: Vec<f32>,
    pub objective: Objective,
    /// y: the explained score (z_class, or z_class - z_contrast).
    pub score: f32,
    /// H_0..H_L, each `(seq, hidden)`.
    pub hidden: Vec<Tensor>,
    /// dy/dH_0 .. dy/dH_L, each `(seq, hidden)`.
    pub grads: Vec<Tensor>,
    /// Word-embedding rows `(seq, hidden)` and dy/d(those rows).
    pub word_embeds: Tensor,
    pub word_grads: Tensor,
    /// Milliseconds of the forward pass (to the explained score) and of the backward pass.
    pub forward_ms: f64,
    pub backward_ms: f64,
}

impl LayerGradients {
    pub fn num_layers(&self) -> usize {
        self.hidden.len() - 1
    }
}

/// How the backward pass holds the forward pass's intermediate tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// One graph through the whole model, probed at every layer: fastest.
    WholeGraph,
    /// A forward pass without a graph, then each layer recomputed from its saved input
    /// and differentiated on its own, last layer first: one more forward pass of time, but
    /// only one layer's graph alive at once. At 512 tokens the whole graph holds hundreds
    /// of megabytes of attention maps, more than a phone's browser tab can spare.
    LayerByLayer,
}

/// Inputs longer than this many tokens are differentiated layer by layer.
pub const LAYER_BY_LAYER_ABOVE: usize = 128;

/// Runs the model on `ids` and differentiates the objective chosen by `choose` from the
/// logits (so "the predicted class" can be resolved after the forward pass).
pub fn layer_gradients(
    model: &Model,
    ids: &[u32],
    choose: impl FnOnce(&[f32]) -> Result<Objective>,
) -> Result<LayerGradients> {
    let memory = if ids.len() > LAYER_BY_LAYER_ABOVE { Memory::LayerByLayer } else { Memory::WholeGraph };
    layer_gradients_with(model, ids, choose, memory)
}

/// [`layer_gradients`] with the memory strategy chosen by the caller (both give the same
/// gradients; tests compare them).
pub fn layer_gradients_with(
    model: &Model,
    ids: &[u32],
    choose: impl FnOnce(&[f32]) -> Result<Objective>,
    memory: Memory,
) -> Result<LayerGradients> {
    match memory {
        Memory::WholeGraph => whole_graph(model, ids, choose),
        Memory::LayerByLayer => layer_by_layer(model, ids, choose),
    }
}

/// A batch-of-one tensor without its batch dimension, cut from the graph.
fn squeeze(t: &Tensor) -> Result<Tensor> {
    Ok(t.i(0)?.detach())
}

/// The explained score y from a row of logits `(classes,)`.
fn objective_score(logits: &Tensor, objective: Objective) -> Result<Tensor> {
    let mut y = logits.i(objective.class)?;
    if let Some(other) = objective.contrast {
        y = (y - logits.i(other)?)?;
    }
    Ok(y)
}

/// d(sum(out * upstream))/d(input) for a `compute` from `input` to `out`: one step of the
/// chain rule, dy/d(input) given dy/d(out) = upstream.
fn pull_back(input: &Tensor, upstream: &Tensor, compute: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let var = Var::from_tensor(input)?;
    let out = compute(var.as_tensor())?;
    let grads = (out * upstream)?.sum_all()?.backward()?;
    Ok(grads.get(var.as_tensor()).ok_or(Error::NoGradient { layer: 0 })?.clone())
}

fn layer_by_layer(
    model: &Model,
    ids: &[u32],
    choose: impl FnOnce(&[f32]) -> Result<Objective>,
) -> Result<LayerGradients> {
    let device = Device::Cpu;
    let seq = ids.len();
    let ids_t = Tensor::new(ids, &device)?.unsqueeze(0)?;
    let mask = Tensor::ones((1, seq), DType::F32, &device)?;
    let started = now_ms();
    let word_embeds = model.word_embeddings(&ids_t)?;
    let forward = model.forward_embeds(&word_embeds, &mask, None)?;
    let logits = forward.logits.i(0)?.to_vec1::<f32>()?;
    let objective = choose(&logits)?;
    let score = objective.score(&logits);
    let forward_done = now_ms();

    let hidden = &forward.encoder.hidden;
    let layers = model.num_layers();
    let mut grads = vec![None; layers + 1];
    // dy/dH_L through the head, then back one block at a time.
    let head = Var::from_tensor(&hidden[layers])?;
    let y = objective_score(&model.classifier.forward(head.as_tensor(), &mask)?.i(0)?, objective)?;
    let mut upstream = y.backward()?.get(head.as_tensor()).ok_or(Error::NoGradient { layer: layers })?.clone();
    for l in (1..=layers).rev() {
        let block = &model.encoder.layers[l - 1];
        let below = pull_back(&hidden[l - 1], &upstream, |x| Ok(block.forward(x, None)?.0))
            .map_err(|_| Error::NoGradient { layer: l - 1 })?;
        grads[l] = Some(std::mem::replace(&mut upstream, below));
    }
    let word_grads = pull_back(&word_embeds, &upstream, |w| model.encoder.embeddings.forward(w))?;
    grads[0] = Some(upstream);
    let backward_done = now_ms();

    Ok(LayerGradients {
        logits,
        objective,
        score,
        hidden: hidden.iter().map(squeeze).collect::<Result<_>>()?,
        grads: grads.into_iter().map(|g| squeeze(&g.expect("every layer was visited"))).collect::<Result<_>>()?,
        word_embeds: squeeze(&word_embeds)?,
        word_grads: squeeze(&word_grads)?,
        forward_ms: forward_done - started,
        backward_ms: backward_done - forward_done,
    })
}

fn whole_graph(model: &Model, ids: &[u32], choose: impl FnOnce(&[f32]) -> Result<Objective>) -> Result<LayerGradients> {
    let device = Device::Cpu;
    let (seq, hidden_size) = (ids.len(), model.config.hidden_size);
    let ids_t = Tensor::new(ids, &device)?.unsqueeze(0)?;
    let mask = Tensor::ones((1, seq), DType::F32, &device)?;
    let zeros = || Var::zeros((1, seq, hidden_size), DType::F32, &device);
    let word_probe = zeros()?;
    let probes = (0..=model.num_layers()).map(|_| zeros()).collect::<candle_core::Result<Vec<_>>>()?;
    let probe_tensors: Vec<Tensor> = probes.iter().map(|p| p.as_tensor().clone()).collect();

    let started = now_ms();
    let word_embeds = model.word_embeddings(&ids_t)?;
    let forward = model.forward_embeds(&(&word_embeds + word_probe.as_tensor())?, &mask, Some(&probe_tensors))?;
    let logits_t = forward.logits.i(0)?;
    let logits = logits_t.to_vec1::<f32>()?;
    let objective = choose(&logits)?;
    let y = objective_score(&logits_t, objective)?;
    let score = y.to_scalar::<f32>()?;
    let forward_done = now_ms();
    let grads = y.backward()?;
    let backward_done = now_ms();

    let grad_of = |probe: &Var, layer: usize| -> Result<Tensor> {
        Ok(grads.get(probe.as_tensor()).ok_or(Error::NoGradient { layer })?.i(0)?)
    };
    let layer_grads = probes.iter().enumerate().map(|(l, p)| grad_of(p, l)).collect::<Result<Vec<_>>>()?;
    Ok(LayerGradients {
        logits,
        objective,
        score,
        hidden: forward.encoder.hidden.iter().map(squeeze).collect::<Result<_>>()?,
        grads: layer_grads,
        word_embeds: squeeze(&word_embeds)?,
        word_grads: grad_of(&word_probe, 0)?,
        forward_ms: forward_done - started,
        backward_ms: backward_done - forward_done,
    })
}

/// dy/de for a batch of word-embedding inputs `(batch, seq, hidden)` (all positions real,
/// no padding), and y for each: the engine of integrated gradients. One backward pass of
/// sum_b y_b gives every row's gradient, since the rows do not interact.
pub fn input_gradients(model: &Model, word_embeds: &Tensor, objective: Objective) -> Result<(Tensor, Vec<f32>)> {
    let (batch, seq, _) = word_embeds.dims3()?;
    let probe = Var::zeros(word_embeds.dims(), DType::F32, &Device::Cpu)?;
    let mask = Tensor::ones((batch, seq), DType::F32, &Device::Cpu)?;
    let forward = model.forward_embeds(&(word_embeds.detach() + probe.as_tensor())?, &mask, None)?;
    let mut y = forward.logits.narrow(1, objective.class, 1)?.squeeze(1)?;
    if let Some(other) = objective.contrast {
        y = (y - forward.logits.narrow(1, other, 1)?.squeeze(1)?)?;
    }
    let scores = y.to_vec1::<f32>()?;
    let grads = y.sum_all()?.backward()?;
    let grad = grads.get(probe.as_tensor()).ok_or(Error::NoGradient { layer: 0 })?.clone();
    Ok((grad, scores))
}

/// The index of the largest logit.
pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}

/// Softmax of a logit vector, computed stably.
pub fn softmax(values: &[f32]) -> Vec<f32> {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = values.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}
