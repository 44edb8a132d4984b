//! BERT (Devlin et al. 2019) as Hugging Face stores it: tensor names of
//! `transformers/models/bert/modeling_bert.py` (BertEmbeddings, BertLayer, BertPooler,
//! BertForSequenceClassification, BertOnlyMLMHead). Checkpoints may or may not carry the
//! `bert.` prefix (sentence-transformers saves the bare BertModel), and may use the legacy
//! LayerNorm names gamma/beta (renamed on load by `weights.rs`).

use super::config::ModelConfig;
use super::encoder::{Embeddings, Encoder, TransformerLayer};
use super::heads::{ClassifierHead, Decoder, DecoderKind};
use super::ops::{LayerNorm, Linear};
use super::weights::{Scope, Weights};
use crate::error::Result;

/// `bert` when the checkpoint nests the encoder under `bert.`, else the empty prefix.
fn encoder_scope<'a>(weights: &'a Weights) -> Scope<'a> {
    if weights.has_prefix("bert.") {
        weights.pp("bert")
    } else {
        weights.pp("")
    }
}

pub fn load_encoder(weights: &Weights, cfg: &ModelConfig) -> Result<Encoder> {
    let root = encoder_scope(weights);
    let (k, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
    let emb = root.pp("embeddings");
    let token_types = emb.get("token_type_embeddings.weight", &[cfg.type_vocab_size, k])?;
    let embeddings = Embeddings {
        word: emb.get_matrix("word_embeddings.weight", &[cfg.vocab_size, k])?,
        position: emb.get("position_embeddings.weight", &[cfg.max_positions, k])?,
        // Single-segment input: every token has type 0.
        token_type: Some(token_types.narrow(0, 0, 1)?.squeeze(0)?),
        norm: LayerNorm::load(emb.pp("LayerNorm"), k, eps)?,
    };
    let layers = (0..cfg.num_layers)
        .map(|i| {
            let layer = root.pp(format!("encoder.layer.{i}"));
            let attention = layer.pp("attention");
            Ok(TransformerLayer {
                query: Linear::load(attention.pp("self.query"), k, k)?,
                key: Linear::load(attention.pp("self.key"), k, k)?,
                value: Linear::load(attention.pp("self.value"), k, k)?,
                attention_out: Linear::load(attention.pp("output.dense"), k, k)?,
                attention_norm: LayerNorm::load(attention.pp("output.LayerNorm"), k, eps)?,
                ffn_in: Linear::load(layer.pp("intermediate.dense"), k, cfg.intermediate_size)?,
                ffn_out: Linear::load(layer.pp("output.dense"), cfg.intermediate_size, k)?,
                ffn_norm: LayerNorm::load(layer.pp("output.LayerNorm"), k, eps)?,
                activation: cfg.activation,
                num_heads: cfg.num_heads,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Encoder { embeddings, layers })
}

/// BertForSequenceClassification's pooler + classifier, if the checkpoint has them.
pub fn load_classifier(weights: &Weights, cfg: &ModelConfig) -> Result<Option<ClassifierHead>> {
    let Some(dims) = weights.dims("classifier.weight") else { return Ok(None) };
    let classes = dims[0];
    let k = cfg.hidden_size;
    Ok(Some(ClassifierHead::BertPooler {
        pooler: Linear::load(encoder_scope(weights).pp("pooler.dense"), k, k)?,
        classifier: Linear::load(weights.pp("classifier"), k, classes)?,
    }))
}

/// BertOnlyMLMHead (`cls.predictions`), if present. The decoder matrix is tied to the word
/// embeddings unless `cls.predictions.decoder.weight` is stored.
pub fn load_lm_head(weights: &Weights, cfg: &ModelConfig) -> Result<Option<Decoder>> {
    let head = weights.pp("cls.predictions");
    if !head.contains("transform.dense.weight") {
        return Ok(None);
    }
    let (k, v) = (cfg.hidden_size, cfg.vocab_size);
    let (decoder_scope, decoder_name) = if head.contains("decoder.weight") {
        (head.clone(), "decoder.weight")
    } else {
        (encoder_scope(weights), "embeddings.word_embeddings.weight")
    };
    let decoder_weight = decoder_scope.get_matrix(decoder_name, &[v, k])?;
    // transformers ties `decoder.bias` to `cls.predictions.bias`, but an untied checkpoint
    // may store both with different values; the forward pass then uses `decoder.bias`.
    let decoder_bias =
        if head.contains("decoder.bias") { head.get("decoder.bias", &[v])? } else { head.get("bias", &[v])? };
    Ok(Some(Decoder::MaskedLm {
        kind: DecoderKind::BertMlm,
        transform: Linear::load(head.pp("transform.dense"), k, k)?,
        activation: cfg.activation,
        norm: LayerNorm::load(head.pp("transform.LayerNorm"), k, cfg.layer_norm_eps)?,
        decoder: Linear::new(decoder_scope.tensor_name(decoder_name), decoder_weight, Some(decoder_bias)),
    }))
}
