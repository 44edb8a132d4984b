//! DistilBERT (Sanh et al. 2019) as Hugging Face stores it: tensor names of
//! `transformers/models/distilbert/modeling_distilbert.py` (Embeddings, TransformerBlock,
//! DistilBertForSequenceClassification, DistilBertForMaskedLM). Same computation as BERT
//! without token types or pooler; the classifier reads [CLS] through a ReLU layer.

use super::config::ModelConfig;
use super::encoder::{Embeddings, Encoder, TransformerLayer};
use super::heads::{ClassifierHead, Decoder, DecoderKind};
use super::ops::{LayerNorm, Linear};
use super::weights::{Scope, Weights};
use crate::error::Result;

fn encoder_scope<'a>(weights: &'a Weights) -> Scope<'a> {
    if weights.has_prefix("distilbert.") {
        weights.pp("distilbert")
    } else {
        weights.pp("")
    }
}

pub fn load_encoder(weights: &Weights, cfg: &ModelConfig) -> Result<Encoder> {
    let root = encoder_scope(weights);
    let (k, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
    let emb = root.pp("embeddings");
    let embeddings = Embeddings {
        word: emb.get_matrix("word_embeddings.weight", &[cfg.vocab_size, k])?,
        // Sinusoidal position tables are stored as ordinary weights too.
        position: emb.get("position_embeddings.weight", &[cfg.max_positions, k])?,
        token_type: None,
        norm: LayerNorm::load(emb.pp("LayerNorm"), k, eps)?,
    };
    let layers = (0..cfg.num_layers)
        .map(|i| {
            let layer = root.pp(format!("transformer.layer.{i}"));
            let attention = layer.pp("attention");
            Ok(TransformerLayer {
                query: Linear::load(attention.pp("q_lin"), k, k)?,
                key: Linear::load(attention.pp("k_lin"), k, k)?,
                value: Linear::load(attention.pp("v_lin"), k, k)?,
                attention_out: Linear::load(attention.pp("out_lin"), k, k)?,
                attention_norm: LayerNorm::load(layer.pp("sa_layer_norm"), k, eps)?,
                ffn_in: Linear::load(layer.pp("ffn.lin1"), k, cfg.intermediate_size)?,
                ffn_out: Linear::load(layer.pp("ffn.lin2"), cfg.intermediate_size, k)?,
                ffn_norm: LayerNorm::load(layer.pp("output_layer_norm"), k, eps)?,
                activation: cfg.activation,
                num_heads: cfg.num_heads,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Encoder { embeddings, layers })
}

/// DistilBertForSequenceClassification's pre_classifier + classifier, if present.
pub fn load_classifier(weights: &Weights, cfg: &ModelConfig) -> Result<Option<ClassifierHead>> {
    let Some(dims) = weights.dims("classifier.weight") else { return Ok(None) };
    let classes = dims[0];
    let k = cfg.hidden_size;
    Ok(Some(ClassifierHead::DistilBert {
        pre_classifier: Linear::load(weights.pp("pre_classifier"), k, k)?,
        classifier: Linear::load(weights.pp("classifier"), k, classes)?,
    }))
}

/// DistilBertForMaskedLM's vocab_transform / vocab_layer_norm / vocab_projector, if
/// present; the projector is tied to the word embeddings unless its weight is stored.
pub fn load_lm_head(weights: &Weights, cfg: &ModelConfig) -> Result<Option<Decoder>> {
    if !weights.contains("vocab_transform.weight") {
        return Ok(None);
    }
    let (k, v) = (cfg.hidden_size, cfg.vocab_size);
    let projector = weights.pp("vocab_projector");
    let (decoder_scope, decoder_name) = if projector.contains("weight") {
        (projector.clone(), "weight")
    } else {
        (encoder_scope(weights), "embeddings.word_embeddings.weight")
    };
    let decoder_weight = decoder_scope.get_matrix(decoder_name, &[v, k])?;
    Ok(Some(Decoder::MaskedLm {
        kind: DecoderKind::DistilbertMlm,
        transform: Linear::load(weights.pp("vocab_transform"), k, k)?,
        activation: cfg.activation,
        norm: LayerNorm::load(weights.pp("vocab_layer_norm"), k, cfg.layer_norm_eps)?,
        decoder: Linear::new(
            decoder_scope.tensor_name(decoder_name),
            decoder_weight,
            Some(projector.get("bias", &[v])?),
        ),
    }))
}
