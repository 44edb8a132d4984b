//! What sits on top of the encoder: the classification head that produces the logits we
//! explain, and the decoder that maps any hidden state back onto the vocabulary
//! (method.md section 3).

use super::config::Activation;
use super::ops::{LayerNorm, Linear};
use super::weights::Weights;
use crate::error::{Error, Result};
use candle_core::{Tensor, D};

/// The classification head, from the encoder's last hidden state to class logits.
pub enum ClassifierHead {
    /// BertForSequenceClassification: `classifier(tanh(pooler(h[CLS])))`.
    BertPooler { pooler: Linear, classifier: Linear },
    /// DistilBertForSequenceClassification: `classifier(relu(pre_classifier(h[CLS])))`.
    DistilBert { pre_classifier: Linear, classifier: Linear },
    /// A sentence-embedding classifier (sentence-transformers style): the attention-masked
    /// mean of the last layer, optionally L2-normalised, then one linear layer.
    SentenceEmbedding { classifier: Linear, normalize: bool },
}

/// Tensor-name prefix of a sentence head file (`classifier.safetensors`).
pub const SENTENCE_HEAD_PREFIX: &str = "sentence_classifier";

impl ClassifierHead {
    /// `last (batch, seq, hidden)`, `mask (batch, seq)` f32 -> logits `(batch, classes)`.
    pub fn forward(&self, last: &Tensor, mask: &Tensor) -> Result<Tensor> {
        match self {
            ClassifierHead::BertPooler { pooler, classifier } => {
                let cls = last.narrow(1, 0, 1)?.squeeze(1)?;
                classifier.forward(&pooler.forward(&cls)?.tanh()?)
            }
            ClassifierHead::DistilBert { pre_classifier, classifier } => {
                let cls = last.narrow(1, 0, 1)?.squeeze(1)?;
                classifier.forward(&pre_classifier.forward(&cls)?.relu()?)
            }
            ClassifierHead::SentenceEmbedding { classifier, normalize } => {
                let weights = mask.unsqueeze(2)?;
                let summed = last.broadcast_mul(&weights)?.sum(1)?;
                let count = weights.sum(1)?.clamp(1e-9, f64::MAX)?;
                let mut pooled = summed.broadcast_div(&count)?;
                if *normalize {
                    // As torch.nn.functional.normalize: x / max(||x||, 1e-12).
                    let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
                    pooled = pooled.broadcast_div(&norm)?;
                }
                classifier.forward(&pooled)
            }
        }
    }

    pub fn num_classes(&self) -> usize {
        self.linears().last().map_or(0, |classifier| classifier.out_dim())
    }

    /// Its linear layers, the classifier last.
    fn linears(&self) -> Vec<&Linear> {
        match self {
            ClassifierHead::BertPooler { pooler, classifier } => vec![pooler, classifier],
            ClassifierHead::DistilBert { pre_classifier, classifier } => vec![pre_classifier, classifier],
            ClassifierHead::SentenceEmbedding { classifier, .. } => vec![classifier],
        }
    }

    /// See [`Linear::prepare_backward`].
    pub fn prepare_backward(&self) {
        self.linears().into_iter().for_each(Linear::prepare_backward);
    }

    /// A sentence head stored beside the encoder (tensors `sentence_classifier.weight`
    /// `(classes, hidden)` and `.bias`; safetensors metadata `pooling` = "mean",
    /// `normalize` = "true"/"false", `labels` = a JSON list of class names).
    /// Returns the head and its labels, or `None` when the weights hold no sentence head.
    pub fn load_sentence_head(weights: &Weights, hidden: usize) -> Result<Option<(Self, Vec<String>)>> {
        let weight_name = format!("{SENTENCE_HEAD_PREFIX}.weight");
        let Some(dims) = weights.dims(&weight_name) else { return Ok(None) };
        let bad = |reason: String| Error::BadFile { file: weights.source(), reason };
        let &[classes, _] = dims.as_slice() else {
            return Err(bad(format!("`{weight_name}` must be a (classes, hidden) matrix, not of shape {dims:?}")));
        };
        if let Some(pooling) = weights.metadata("pooling") {
            if pooling != "mean" {
                return Err(bad(format!("sentence head pooling `{pooling}` is not supported (only mean)")));
            }
        }
        let normalize = weights.metadata("normalize").map_or(true, |v| v == "true");
        let labels: Vec<String> = match weights.metadata("labels") {
            Some(json) => serde_json::from_str(json).map_err(|e| bad(format!("sentence head labels: {e}")))?,
            None => Vec::new(),
        };
        if !labels.is_empty() && labels.len() != classes {
            return Err(bad(format!("sentence head has {classes} classes but {} labels", labels.len())));
        }
        let classifier = Linear::load(weights.pp(SENTENCE_HEAD_PREFIX), hidden, classes)?;
        Ok(Some((ClassifierHead::SentenceEmbedding { classifier, normalize }, labels)))
    }
}

/// How hidden states are decoded onto the vocabulary.
pub enum Decoder {
    /// A pretrained masked-LM head: `decoder(LN(act(transform(h)))) + bias`
    /// (BERT `cls.predictions`, DistilBERT `vocab_transform/vocab_layer_norm/vocab_projector`).
    MaskedLm { kind: DecoderKind, transform: Linear, activation: Activation, norm: LayerNorm, decoder: Linear },
    /// No LM head: the word-embedding matrix as decoder, `h E^T` (a "logit lens"),
    /// as a bias-free linear layer (quantized when the file stores E quantized).
    TiedEmbeddings { embeddings: Linear },
}

/// Which decoder was used, as reported in JSON and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderKind {
    BertMlm,
    DistilbertMlm,
    TiedEmbeddings,
}

impl Decoder {
    pub fn kind(&self) -> DecoderKind {
        match self {
            Decoder::MaskedLm { kind, .. } => *kind,
            Decoder::TiedEmbeddings { .. } => DecoderKind::TiedEmbeddings,
        }
    }

    /// `(rows, hidden)` -> vocabulary logits `(rows, vocab)`, row-major. A quantized
    /// decoder's product with the vocabulary runs in exact integers (see
    /// [`crate::model::vocabulary`]). Decoding is never differentiated: no gradient.
    pub fn logits(&self, h: &Tensor) -> Result<Vec<f32>> {
        self.projection().forward_logits(&self.transform(h)?)
    }

    /// What comes before the product with the vocabulary.
    pub fn transform(&self, h: &Tensor) -> Result<Tensor> {
        match self {
            Decoder::MaskedLm { transform, activation, norm, .. } => {
                norm.forward(&activation.forward(&transform.forward(h)?)?)
            }
            Decoder::TiedEmbeddings { .. } => Ok(h.clone()),
        }
    }

    /// The product with the vocabulary.
    pub fn projection(&self) -> &Linear {
        match self {
            Decoder::MaskedLm { decoder, .. } => decoder,
            Decoder::TiedEmbeddings { embeddings } => embeddings,
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.projection().out_dim()
    }

    /// Builds now what the first decoding would (the integer grid of a quantized decoder).
    pub fn prepare(&self) {
        self.projection().prepare_logits();
    }
}
