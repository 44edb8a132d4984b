//! The post-LayerNorm transformer encoder shared by BERT and DistilBERT.
//!
//! Both families compute the same function; only their tensor names differ, so
//! `bert.rs` and `distilbert.rs` load weights into these structs and this file holds the
//! one forward pass. It returns every hidden state H_0..H_L and every attention map, and
//! accepts "probes": zero tensors added to each H_l so a single backward pass can read
//! dy/dH_l for all layers (see `gradients.rs`).

use super::config::Activation;
use super::ops::{softmax_last, LayerNorm, Linear, LinearWeight};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};

/// Word, position and (BERT only) token-type embeddings, summed then normalised.
pub struct Embeddings {
    /// The word-embedding table (vocab, hidden); when quantized it is the same int8
    /// matrix the tied decoder uses, so a quantized model holds the table once.
    pub word: LinearWeight,
    pub position: Tensor,
    pub token_type: Option<Tensor>,
    pub norm: LayerNorm,
}

impl Embeddings {
    /// Word-embedding rows for `ids (batch, seq)` -> `(batch, seq, hidden)`.
    pub fn words(&self, ids: &Tensor) -> Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let flat = match &self.word {
            LinearWeight::F32(table) => table.index_select(&ids.flatten_all()?, 0)?,
            LinearWeight::Quantized(q) => {
                let ids = ids.flatten_all()?.to_vec1::<u32>()?;
                let (vocab, hidden) = (q.matrix().rows(), q.matrix().cols());
                let rows = q
                    .matrix()
                    .dequantize_rows(&ids)
                    .ok_or_else(|| Error::Input(format!("a token id is outside the {vocab}-word embedding table")))?;
                Tensor::from_vec(rows, (ids.len(), hidden), &Device::Cpu)?
            }
        };
        let hidden = flat.dim(1)?;
        Ok(flat.reshape((batch, seq, hidden))?)
    }

    /// The embedding row of one id, `(hidden,)`.
    pub fn word(&self, id: u32) -> Result<Tensor> {
        Ok(self.words(&Tensor::new(&[[id]], &Device::Cpu)?)?.flatten_all()?)
    }

    pub fn forward(&self, word_embeds: &Tensor) -> Result<Tensor> {
        let seq = word_embeds.dim(1)?;
        let mut x = word_embeds.broadcast_add(&self.position.narrow(0, 0, seq)?)?;
        if let Some(token_type) = &self.token_type {
            x = x.broadcast_add(token_type)?;
        }
        self.norm.forward(&x)
    }
}

/// One encoder block: self-attention, add & norm, feed-forward, add & norm.
pub struct TransformerLayer {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attention_out: Linear,
    pub attention_norm: LayerNorm,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
    pub ffn_norm: LayerNorm,
    pub activation: Activation,
    pub num_heads: usize,
}

impl TransformerLayer {
    /// See [`Linear::prepare_backward`].
    pub fn prepare_backward(&self) {
        for linear in [&self.query, &self.key, &self.value, &self.attention_out, &self.ffn_in, &self.ffn_out] {
            linear.prepare_backward();
        }
    }

    /// `h (batch, seq, hidden)`, `mask_bias (batch, 1, 1, seq)` (0 or a large negative)
    /// -> (output `(batch, seq, hidden)`, attention probabilities `(batch, heads, seq, seq)`).
    pub fn forward(&self, h: &Tensor, mask_bias: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let trace = self.trace(h, mask_bias)?;
        Ok((trace.out, trace.probs))
    }

    /// The forward pass, keeping the input of each of the block's linear layers (which
    /// calibrated quantization needs; the graph holds them anyway).
    pub fn trace(&self, h: &Tensor, mask_bias: Option<&Tensor>) -> Result<LayerTrace> {
        let (batch, seq, hidden) = h.dims3()?;
        let head_dim = hidden / self.num_heads;
        let split_heads = |x: Tensor| -> Result<Tensor> {
            Ok(x.reshape((batch, seq, self.num_heads, head_dim))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split_heads(self.query.forward(h)?)?;
        let k = split_heads(self.key.forward(h)?)?;
        let v = split_heads(self.value.forward(h)?)?;
        // Scale q rather than the (seq x seq) scores: the same product, one pass over a
        // matrix head_dim wide instead of seq wide.
        let scores = (q / (head_dim as f64).sqrt())?.matmul(&k.t()?)?;
        let scores = match mask_bias {
            Some(bias) => scores.broadcast_add(bias)?,
            None => scores,
        };
        let probs = softmax_last(&scores)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((batch, seq, hidden))?;
        let attended = self.attention_norm.forward(&(self.attention_out.forward(&context)? + h)?)?;
        let inner = self.activation.forward(&self.ffn_in.forward(&attended)?)?;
        let out = self.ffn_norm.forward(&(self.ffn_out.forward(&inner)? + &attended)?)?;
        Ok(LayerTrace { input: h.clone(), context, attended, inner, out, probs })
    }

    /// Each linear layer of the block with the trace value it reads.
    pub fn linear_inputs<'a>(&'a self, trace: &'a LayerTrace) -> [(&'a Linear, &'a Tensor); 6] {
        [
            (&self.query, &trace.input),
            (&self.key, &trace.input),
            (&self.value, &trace.input),
            (&self.attention_out, &trace.context),
            (&self.ffn_in, &trace.attended),
            (&self.ffn_out, &trace.inner),
        ]
    }
}

/// One block's forward pass with its intermediate values.
pub struct LayerTrace {
    /// The block's input (query, key and value read it).
    pub input: Tensor,
    /// The heads' attended values, `(batch, seq, hidden)` (the attention output reads it).
    pub context: Tensor,
    /// After the first add & norm (the feed-forward's first layer reads it).
    pub attended: Tensor,
    /// After the activation, `(batch, seq, intermediate)` (the second layer reads it).
    pub inner: Tensor,
    pub out: Tensor,
    pub probs: Tensor,
}

/// Embeddings plus the stack of blocks.
pub struct Encoder {
    pub embeddings: Embeddings,
    pub layers: Vec<TransformerLayer>,
}

/// What one forward pass of the encoder yields.
pub struct EncoderOutput {
    /// H_0 (after the embedding LayerNorm) .. H_L, each `(batch, seq, hidden)`, probes included.
    pub hidden: Vec<Tensor>,
    /// Attention probabilities of blocks 1..L, each `(batch, heads, seq, seq)`.
    pub attentions: Vec<Tensor>,
}

impl Encoder {
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Runs the encoder from word-embedding rows `(batch, seq, hidden)` and an attention
    /// mask `(batch, seq)` of 1 (real token) / 0 (padding), as f32.
    /// `probes`, when given, holds L+1 tensors of shape `(batch, seq, hidden)` added to
    /// H_0..H_L; being leaves of the graph, they receive dy/dH_l in the backward pass.
    /// Attention maps are not kept (`attentions` is empty): batched passes would hold
    /// every layer's maps to the end; see [`Encoder::forward_with_attentions`].
    pub fn forward(&self, word_embeds: &Tensor, mask: &Tensor, probes: Option<&[Tensor]>) -> Result<EncoderOutput> {
        self.run(word_embeds, mask, probes, false)
    }

    /// As [`Encoder::forward`], keeping each block's attention probabilities
    /// `(batch, heads, seq, seq)` for the attention baselines.
    pub fn forward_with_attentions(&self, word_embeds: &Tensor, mask: &Tensor) -> Result<EncoderOutput> {
        self.run(word_embeds, mask, None, true)
    }

    fn run(&self, word_embeds: &Tensor, mask: &Tensor, probes: Option<&[Tensor]>, keep: bool) -> Result<EncoderOutput> {
        let (batch, seq) = mask.dims2()?;
        // 0 where attended, -1e9 where padded: exp() of it underflows to exactly 0.
        // -1e9 on padding; no mask at all when nothing is padded (a single text), which
        // saves a pass over every attention map and its copy in the graph.
        let padded = mask.to_dtype(DType::F32)?.min_all()?.to_scalar::<f32>()? < 1.0;
        let mask_bias =
            if padded { Some(((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((batch, 1, 1, seq))?) } else { None };
        let with_probe = |h: Tensor, l: usize| -> Result<Tensor> {
            Ok(match probes {
                Some(p) => (h + &p[l])?,
                None => h,
            })
        };
        let mut h = with_probe(self.embeddings.forward(word_embeds)?, 0)?;
        let mut hidden = Vec::with_capacity(self.layers.len() + 1);
        let mut attentions = Vec::with_capacity(self.layers.len());
        hidden.push(h.clone());
        for (index, layer) in self.layers.iter().enumerate() {
            let (out, probs) = layer.forward(&h, mask_bias.as_ref())?;
            h = with_probe(out, index + 1)?;
            hidden.push(h.clone());
            if keep {
                attentions.push(probs);
            }
        }
        Ok(EncoderOutput { hidden, attentions })
    }
}
