//! What each weight matrix is multiplied by, summarised for calibrated quantization
//! (`gptq.rs`): the Gram matrix X^T X of its inputs over the tokens of calibration texts,
//! run through the f32 model.
//!
//! Every linear layer of the encoder is covered, and the decoder's product with the
//! vocabulary, whose inputs are every layer's hidden states (each is decoded), passed
//! through the decoder's transform. For MiniLM that product is the word-embedding table
//! itself, the largest matrix of the model. The classifier head is not: its few values
//! are rounded to nearest.
//!
//! It also counts how often each row of the vocabulary is used (see `row_tiers.rs`): as
//! an input token, and among the top-ranked words decoded at some position and layer.

use super::ops::Linear;
use super::Model;
use crate::error::{Error, Result};
use crate::saliency::decode::decode_layers;
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

/// Gram matrices of the inputs of a model's weight matrices, by tensor name.
pub struct Calibration {
    grams: BTreeMap<String, Gram>,
    /// Input rows not yet added to their Gram matrix: one product per few thousand rows
    /// rather than per text (a text's product allocates as much as a thousand rows').
    pending: BTreeMap<String, Vec<f32>>,
    /// Uses of each vocabulary id: lookups plus appearances in decoded top-tau lists.
    usage: Vec<u64>,
}

/// X^T X of one matrix's inputs, summed in f64 over every token seen.
pub struct Gram {
    pub dim: usize,
    pub sum: Vec<f64>,
}

impl Calibration {
    /// Runs the first `model_texts` of `texts` (one at a time, unpadded) through `model`,
    /// which should hold the unquantized weights: the statistics are of the inputs the
    /// exact model sees. Texts longer than the model's positions are skipped. Lookups
    /// are counted over every text (tokenizing is cheap), the decoder's top-ranked words
    /// over the texts the model runs.
    pub fn collect(model: &Model, texts: &[String], model_texts: usize) -> Result<Self> {
        let mut calibration =
            Self { grams: BTreeMap::new(), pending: BTreeMap::new(), usage: vec![0; model.decoder.vocab_size()] };
        let tau = crate::options::Options::default().tau;
        let mut used = 0;
        for (index, text) in texts.iter().enumerate() {
            let Ok(tokens) = model.text.encode(text) else { continue };
            let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
            calibration.count(ids.iter().copied());
            if index >= model_texts {
                continue;
            }
            let ids = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let mut h = model.encoder.embeddings.forward(&model.word_embeddings(&ids)?)?;
            let mut hidden = vec![h.clone()];
            for layer in &model.encoder.layers {
                let trace = layer.trace(&h, None)?;
                for (linear, input) in layer.linear_inputs(&trace) {
                    calibration.add(linear, input)?;
                }
                h = trace.out;
                hidden.push(h.clone());
            }
            for h in &hidden {
                calibration.add(model.decoder.projection(), &model.decoder.transform(h)?)?;
            }
            let unbatched: Vec<Tensor> = hidden.iter().map(|h| h.squeeze(0)).collect::<candle_core::Result<_>>()?;
            // The explanation's own decoding, so that the counted words are the ones it ranks.
            for layer in decode_layers(&model.decoder, &unbatched, tau)? {
                calibration.count(layer.positions.iter().flatten().map(|t| t.id));
            }
            used += 1;
        }
        let names: Vec<String> = calibration.pending.keys().cloned().collect();
        for name in names {
            calibration.flush(&name)?;
        }
        if used == 0 {
            return Err(Error::Input("no calibration text fits the model (all empty or too long)".into()));
        }
        Ok(calibration)
    }

    fn count(&mut self, ids: impl Iterator<Item = u32>) {
        for id in ids {
            if let Some(n) = self.usage.get_mut(id as usize) {
                *n += 1;
            }
        }
    }

    /// How often each vocabulary id was used (looked up or decoded among the top tau).
    pub fn usage(&self) -> &[u64] {
        &self.usage
    }

    /// Adds `x (..., in)`, the input of `linear`, to its Gram matrix.
    fn add(&mut self, linear: &Linear, x: &Tensor) -> Result<()> {
        const ROWS_PER_PRODUCT: usize = 4096;
        let dim = *x.dims().last().unwrap_or(&0);
        self.grams.entry(linear.name().to_string()).or_insert_with(|| Gram { dim, sum: vec![0.0; dim * dim] });
        let pending = self.pending.entry(linear.name().to_string()).or_default();
        pending.extend(x.flatten_all()?.to_vec1::<f32>()?);
        if pending.len() >= ROWS_PER_PRODUCT * dim {
            self.flush(linear.name())?;
        }
        Ok(())
    }

    /// Adds the pending rows of `name` to its Gram matrix.
    fn flush(&mut self, name: &str) -> Result<()> {
        let (Some(gram), Some(pending)) = (self.grams.get_mut(name), self.pending.get_mut(name)) else { return Ok(()) };
        if pending.is_empty() {
            return Ok(());
        }
        let values = std::mem::take(pending);
        let count = values.len() / gram.dim;
        let rows = Tensor::from_vec(values, (count, gram.dim), &Device::Cpu)?;
        let product = rows.t()?.matmul(&rows)?.flatten_all()?.to_vec1::<f32>()?;
        for (total, value) in gram.sum.iter_mut().zip(product) {
            *total += value as f64;
        }
        Ok(())
    }

    /// The Gram matrix of the inputs of the tensor stored as `name`, if calibrated.
    pub fn gram(&self, name: &str) -> Option<&Gram> {
        self.grams.get(name)
    }
}
