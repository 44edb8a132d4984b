//! config.json, read as Hugging Face writes it, then normalised into one
//! family-independent [`ModelConfig`]. BERT and DistilBERT spell the same sizes differently
//! (`hidden_size` / `dim`, `num_hidden_layers` / `n_layers`, ...).

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The keys of a BERT or DistilBERT config.json that we use, with HF names.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
struct HfConfig {
    model_type: Option<String>,
    architectures: Vec<String>,
    vocab_size: Option<usize>,
    // BERT spelling
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    hidden_act: Option<String>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    position_embedding_type: Option<String>,
    // DistilBERT spelling
    dim: Option<usize>,
    n_layers: Option<usize>,
    n_heads: Option<usize>,
    hidden_dim: Option<usize>,
    activation: Option<String>,
    // shared
    max_position_embeddings: Option<usize>,
    pad_token_id: Option<u32>,
    id2label: BTreeMap<String, String>,
}

/// The model families this engine implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Bert,
    DistilBert,
}

/// Feed-forward and LM-head non-linearities, by their HF names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact erf form.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    Relu,
}

impl Activation {
    fn parse(name: &str, file: &str) -> Result<Self> {
        match name {
            "gelu" | "gelu_python" => Ok(Self::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Self::GeluTanh),
            "relu" => Ok(Self::Relu),
            other => Err(Error::Config {
                file: file.to_string(),
                reason: format!("activation `{other}` is not supported (gelu, gelu_new, relu are)"),
            }),
        }
    }
}

/// Sizes and choices of one encoder, whatever its family.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub family: Family,
    pub architectures: Vec<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
    pub max_positions: usize,
    /// 0 for DistilBERT, which has no token-type embeddings.
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    /// Class names from `id2label`, in index order; empty when the config has none.
    pub labels: Vec<String>,
}

impl ModelConfig {
    /// Parses config.json bytes; `file` names the file in error messages.
    pub fn from_json(bytes: &[u8], file: &str) -> Result<Self> {
        let raw: HfConfig = serde_json::from_slice(bytes)
            .map_err(|e| Error::BadFile { file: file.to_string(), reason: format!("not a valid config.json: {e}") })?;
        let family = detect_family(&raw, file)?;
        let missing = |key: &str| Error::Config { file: file.to_string(), reason: format!("missing key `{key}`") };
        let cfg = match family {
            Family::Bert => {
                if let Some(kind) = raw.position_embedding_type.as_deref() {
                    if kind != "absolute" {
                        return Err(Error::Config {
                            file: file.to_string(),
                            reason: format!("position_embedding_type `{kind}` is not supported (only absolute)"),
                        });
                    }
                }
                ModelConfig {
                    family,
                    architectures: raw.architectures.clone(),
                    vocab_size: raw.vocab_size.ok_or_else(|| missing("vocab_size"))?,
                    hidden_size: raw.hidden_size.ok_or_else(|| missing("hidden_size"))?,
                    num_layers: raw.num_hidden_layers.ok_or_else(|| missing("num_hidden_layers"))?,
                    num_heads: raw.num_attention_heads.ok_or_else(|| missing("num_attention_heads"))?,
                    intermediate_size: raw.intermediate_size.ok_or_else(|| missing("intermediate_size"))?,
                    activation: Activation::parse(raw.hidden_act.as_deref().unwrap_or("gelu"), file)?,
                    max_positions: raw.max_position_embeddings.unwrap_or(512),
                    type_vocab_size: raw.type_vocab_size.unwrap_or(2),
                    layer_norm_eps: raw.layer_norm_eps.unwrap_or(1e-12),
                    pad_token_id: raw.pad_token_id.unwrap_or(0),
                    labels: labels_in_order(&raw.id2label, file)?,
                }
            }
            Family::DistilBert => ModelConfig {
                family,
                architectures: raw.architectures.clone(),
                vocab_size: raw.vocab_size.ok_or_else(|| missing("vocab_size"))?,
                hidden_size: raw.dim.ok_or_else(|| missing("dim"))?,
                num_layers: raw.n_layers.ok_or_else(|| missing("n_layers"))?,
                num_heads: raw.n_heads.ok_or_else(|| missing("n_heads"))?,
                intermediate_size: raw.hidden_dim.ok_or_else(|| missing("hidden_dim"))?,
                activation: Activation::parse(raw.activation.as_deref().unwrap_or("gelu"), file)?,
                max_positions: raw.max_position_embeddings.unwrap_or(512),
                type_vocab_size: 0,
                // DistilBERT hard-codes this epsilon in its modules.
                layer_norm_eps: 1e-12,
                pad_token_id: raw.pad_token_id.unwrap_or(0),
                labels: labels_in_order(&raw.id2label, file)?,
            },
        };
        cfg.validate(file)?;
        Ok(cfg)
    }

    fn validate(&self, file: &str) -> Result<()> {
        let bad = |reason: String| Error::Config { file: file.to_string(), reason };
        if self.num_heads == 0 || self.hidden_size % self.num_heads != 0 {
            return Err(bad(format!(
                "hidden size {} is not divisible by {} attention heads",
                self.hidden_size, self.num_heads
            )));
        }
        if self.num_layers == 0 || self.vocab_size == 0 || self.max_positions == 0 {
            return Err(bad("layers, vocab_size and max_position_embeddings must be positive".into()));
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }
}

fn detect_family(raw: &HfConfig, file: &str) -> Result<Family> {
    let from_type = match raw.model_type.as_deref() {
        Some("bert") => Some(Family::Bert),
        Some("distilbert") => Some(Family::DistilBert),
        Some(other) => return Err(Error::UnsupportedArchitecture { file: file.to_string(), name: other.to_string() }),
        None => None,
    };
    if let Some(family) = from_type {
        return Ok(family);
    }
    for arch in &raw.architectures {
        if arch.starts_with("DistilBert") {
            return Ok(Family::DistilBert);
        }
        if arch.starts_with("Bert") {
            return Ok(Family::Bert);
        }
    }
    match raw.architectures.first() {
        Some(arch) => Err(Error::UnsupportedArchitecture { file: file.to_string(), name: arch.clone() }),
        None => Err(Error::Config {
            file: file.to_string(),
            reason: "neither `model_type` nor `architectures` says which model this is".into(),
        }),
    }
}

/// `id2label` has string keys "0", "1", ...; they must be exactly 0..C-1.
fn labels_in_order(id2label: &BTreeMap<String, String>, file: &str) -> Result<Vec<String>> {
    let mut labels = vec![None; id2label.len()];
    for (key, label) in id2label {
        let index: usize = key.parse().ok().filter(|i| *i < labels.len()).ok_or_else(|| Error::Config {
            file: file.to_string(),
            reason: format!("id2label key `{key}` is not an index in 0..{}", labels.len()),
        })?;
        labels[index] = Some(label.clone());
    }
    Ok(labels.into_iter().map(|l| l.unwrap_or_default()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distilbert_keys_map_onto_the_common_config() {
        let json = br#"{"model_type":"distilbert","vocab_size":10,"dim":8,"n_layers":2,"n_heads":2,
            "hidden_dim":16,"activation":"gelu","id2label":{"1":"pos","0":"neg"}}"#;
        let cfg = ModelConfig::from_json(json, "config.json").unwrap();
        assert_eq!(cfg.family, Family::DistilBert);
        assert_eq!((cfg.hidden_size, cfg.num_layers, cfg.intermediate_size), (8, 2, 16));
        assert_eq!(cfg.labels, vec!["neg", "pos"]);
        assert_eq!(cfg.type_vocab_size, 0);
    }

    #[test]
    fn unknown_architecture_is_named_in_the_error() {
        let json = br#"{"model_type":"gpt2","vocab_size":10}"#;
        let err = ModelConfig::from_json(json, "x/config.json").unwrap_err().to_string();
        assert!(err.contains("gpt2") && err.contains("x/config.json"), "{err}");
    }

    #[test]
    fn heads_must_divide_hidden_size() {
        let json = br#"{"model_type":"bert","vocab_size":10,"hidden_size":10,"num_hidden_layers":1,
            "num_attention_heads":3,"intermediate_size":4}"#;
        assert!(ModelConfig::from_json(json, "c").is_err());
    }
}
