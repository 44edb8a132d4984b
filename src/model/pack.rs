//! One-file models: `saliency pack` writes a GGUF file holding config.json, tokenizer.json,
//! the classifier (and sentence head), the encoder and an optional separate LM head, with
//! the weight matrices block-quantized. `Model::load_packed` reads it back.
//!
//! What is quantized: 2-D weight matrices (linear layers and the word-embedding table).
//! Position and token-type tables, LayerNorms and biases stay f32: they are small and
//! quantizing them only adds error. A matrix whose rows do not divide into the format's
//! blocks falls back to the next format that fits (q4k -> q4_0 -> q8_0 -> f32), and the
//! report says what each tensor became.

use super::weights::Weights;
use super::ModelFiles;
use crate::error::{Error, Result};
use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use std::collections::BTreeMap;

pub const CONFIG_KEY: &str = "layer_saliency.config";
pub const TOKENIZER_KEY: &str = "layer_saliency.tokenizer";
pub const LM_CONFIG_KEY: &str = "layer_saliency.lm_config";
pub const QUANT_KEY: &str = "layer_saliency.quant";
/// Tensor-name prefix of a separate LM-head checkpoint inside a packed file.
pub const LM_PREFIX: &str = "lm_head";
/// Sentence-head metadata carried over unchanged (see `heads.rs`).
const SENTENCE_HEAD_KEYS: [&str; 3] = ["pooling", "normalize", "labels"];

/// The storage format asked of `pack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    F32,
    Q8_0,
    Q4_0,
    Q4K,
}

impl Quant {
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "f32" => Self::F32,
            "q8_0" => Self::Q8_0,
            "q4_0" => Self::Q4_0,
            "q4k" | "q4_k" => Self::Q4K,
            other => {
                return Err(Error::Option {
                    option: "quant".into(),
                    reason: format!("`{other}` is not one of f32, q8_0, q4_0, q4k"),
                })
            }
        })
    }

    /// The formats to try for a matrix, finest block first only when the coarser fails.
    fn chain(self) -> &'static [GgmlDType] {
        match self {
            Quant::F32 => &[GgmlDType::F32],
            Quant::Q8_0 => &[GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q4_0 => &[GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q4K => &[GgmlDType::Q4K, GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F32],
        }
    }
}

/// What `pack` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackReport {
    pub bytes: usize,
    pub tensors: usize,
    /// Format name -> number of tensors stored in it.
    pub formats: BTreeMap<String, usize>,
}

fn quantizable(name: &str, dims: &[usize]) -> bool {
    dims.len() == 2
        && name.ends_with(".weight")
        && !name.contains("LayerNorm")
        && !name.contains("layer_norm")
        && !name.contains("position_embeddings")
        && !name.contains("token_type_embeddings")
}

fn pack_weights(
    weights: &Weights,
    prefix: &str,
    quant: Quant,
    out: &mut Vec<(String, QTensor)>,
    report: &mut PackReport,
) -> Result<()> {
    for name in weights.names() {
        let dims = weights.dims(&name).expect("listed name");
        let tensor = weights.get(&name, &dims)?;
        let chain: &[GgmlDType] = if quantizable(&name, &dims) { quant.chain() } else { &[GgmlDType::F32] };
        let row = *dims.last().unwrap_or(&1);
        let dtype = chain.iter().copied().find(|d| row % d.block_size() == 0).unwrap_or(GgmlDType::F32);
        let q = QTensor::quantize(&tensor, dtype)?;
        *report.formats.entry(format!("{dtype:?}").to_lowercase()).or_default() += 1;
        let full = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        out.push((full, q));
    }
    Ok(())
}

/// Packs Hugging Face files into one GGUF file.
pub fn pack(files: &ModelFiles<'_>, quant: Quant, quant_name: &str) -> Result<(Vec<u8>, PackReport)> {
    let text = |bytes: &[u8], name: &str| -> Result<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::BadFile { file: name.into(), reason: "not UTF-8 text".into() })
    };
    // Parse everything first: packing a model that would not load is refused here.
    super::Model::load(files)?;
    let weights = Weights::from_safetensors(&files.weights, "packed model")?;
    let mut report = PackReport { bytes: 0, tensors: 0, formats: BTreeMap::new() };
    let mut tensors = Vec::new();
    pack_weights(&weights, "", quant, &mut tensors, &mut report)?;
    let mut metadata: Vec<(String, gguf_file::Value)> = vec![
        (CONFIG_KEY.into(), gguf_file::Value::String(text(files.config.bytes, files.config.name)?)),
        (TOKENIZER_KEY.into(), gguf_file::Value::String(text(files.tokenizer.bytes, files.tokenizer.name)?)),
        (QUANT_KEY.into(), gguf_file::Value::String(quant_name.into())),
    ];
    for key in SENTENCE_HEAD_KEYS {
        if let Some(value) = weights.metadata(key) {
            metadata.push((key.into(), gguf_file::Value::String(value.into())));
        }
    }
    if let Some(lm) = &files.lm_head {
        let lm_weights = Weights::from_safetensors(&lm.weights, "masked-LM head")?;
        pack_weights(&lm_weights, LM_PREFIX, quant, &mut tensors, &mut report)?;
        metadata.push((LM_CONFIG_KEY.into(), gguf_file::Value::String(text(lm.config.bytes, lm.config.name)?)));
    }
    report.tensors = tensors.len();
    let mut buffer = std::io::Cursor::new(Vec::new());
    let meta_refs: Vec<(&str, &gguf_file::Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut buffer, &meta_refs, &tensor_refs)?;
    let bytes = buffer.into_inner();
    report.bytes = bytes.len();
    Ok((bytes, report))
}
