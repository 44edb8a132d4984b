//! One-file models: `saliency pack` writes a GGUF file holding config.json, tokenizer.json,
//! the classifier (and sentence head), the encoder and an optional separate LM head, with
//! the weight matrices block-quantized. `Model::load_packed` reads it back.
//!
//! What is quantized (see [`QuantPlan`]): the linear layers' matrices and the word-embedding
//! table, each in its own format, and the position and token-type tables at q8_0 when the
//! table goes below 8 bits.
//! LayerNorms and biases stay f32: they are tiny and quantizing them only adds error. A
//! matrix whose rows do not divide into the format's blocks falls back to the next format
//! that fits (q4k -> q4_0 -> q8_0 -> f32), and the report says what each tensor became;
//! the k-quants fit any matrix of whole 256-value blocks (see [`stored_dims`]).
//!
//! With a [`CalibrationPlan`], the q8_0/q5_0/q4_0 matrices whose inputs the calibration
//! texts measure are rounded by `gptq.rs` instead of to nearest, and a plan's
//! `frequent-rows` splits the word table by how often the texts use each row
//! (`row_tiers.rs`). tokenizer.json is stored with its vocabulary as lines
//! (`packed_tokenizer.rs`).

use super::calibration::Calibration;
use super::gptq::{self, Rounding};
use super::weights::Weights;
use super::ModelFiles;
use super::{packed_tokenizer, row_tiers};
use crate::error::{Error, Result};
use candle_core::quantized::{ggml_file::qtensor_from_ggml, gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::collections::BTreeMap;

pub const CONFIG_KEY: &str = "layer_saliency.config";
pub const TOKENIZER_KEY: &str = "layer_saliency.tokenizer";
/// The tokenizer's vocabulary, one token per line in id order, when `TOKENIZER_KEY` holds
/// tokenizer.json without it (see `packed_tokenizer.rs`).
pub const VOCAB_KEY: &str = "layer_saliency.vocab";
pub const LM_CONFIG_KEY: &str = "layer_saliency.lm_config";
pub const QUANT_KEY: &str = "layer_saliency.quant";
/// Tensor-name prefix of a separate LM-head checkpoint inside a packed file.
pub const LM_PREFIX: &str = "lm_head";
/// Sentence-head metadata carried over unchanged (see `heads.rs`).
const SENTENCE_HEAD_KEYS: [&str; 3] = ["pooling", "normalize", "labels"];

/// One storage format of weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    F32,
    Q8_0,
    Q5_0,
    Q4_0,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
}

impl Quant {
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "f32" => Self::F32,
            "q8_0" => Self::Q8_0,
            "q5_0" => Self::Q5_0,
            "q4_0" => Self::Q4_0,
            "q3k" | "q3_k" => Self::Q3K,
            "q4k" | "q4_k" => Self::Q4K,
            "q5k" | "q5_k" => Self::Q5K,
            "q6k" | "q6_k" => Self::Q6K,
            other => {
                return Err(Error::Option {
                    option: "quant".into(),
                    reason: format!("`{other}` is not one of f32, q8_0, q5_0, q4_0, q3k, q4k, q5k, q6k"),
                })
            }
        })
    }

    /// The formats to try for a matrix, finest block first only when the coarser fails.
    fn chain(self) -> &'static [GgmlDType] {
        match self {
            Quant::F32 => &[GgmlDType::F32],
            Quant::Q8_0 => &[GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q5_0 => &[GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q4_0 => &[GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q3K => &[GgmlDType::Q3K, GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q4K => &[GgmlDType::Q4K, GgmlDType::Q4_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q5K => &[GgmlDType::Q5K, GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::F32],
            Quant::Q6K => &[GgmlDType::Q6K, GgmlDType::Q8_0, GgmlDType::F32],
        }
    }
}

/// What `pack` stores in which format: the linear layers' matrices, the word-embedding
/// table (which is also the tied decoder, so the explanations are most sensitive to it),
/// and the position and token-type tables. Those are small (0.2 M values for MiniLM) and
/// every input passes through them: rounding them to 8 bits cost 0.3 points of test
/// accuracy (MODELS.md), so they stay f32 unless the plan stores the word embeddings
/// below 8 bits, where their 0.6 MB counts towards a size target and they take q8_0.
///
/// Written as `MATRICES` or `MATRICES,embeddings=FORMAT`, e.g. `q4_0,embeddings=q5_0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantPlan {
    pub matrices: Quant,
    pub embeddings: Quant,
    /// `(part, format)`: weight matrices whose name contains `part` take `format` (the
    /// last matching entry wins), e.g. `layer.0.` for the first block's matrices.
    pub overrides: Vec<(String, Quant)>,
    /// `(count, format)`: the `count` rows of the word-embedding table that calibration
    /// texts use most take `format`, the others the embeddings' (see `row_tiers.rs`).
    pub frequent_rows: Option<(usize, Quant)>,
}

impl QuantPlan {
    pub fn uniform(quant: Quant) -> Self {
        Self { matrices: quant, embeddings: quant, overrides: Vec::new(), frequent_rows: None }
    }

    /// `MATRICES[,embeddings=FORMAT][,frequent-rows=N:FORMAT][,NAME.PART=FORMAT...]`, e.g.
    /// `q5_0,embeddings=q3k,frequent-rows=8000:q8_0,layer.5.=q8_0`. A name part must
    /// contain a dot, so that a misspelt `embedding=` is an error rather than a pattern
    /// matching every embedding.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut parts = spec.split(',');
        let matrices = Quant::parse(parts.next().unwrap_or("").trim())?;
        let mut plan = Self::uniform(matrices);
        for part in parts {
            match part.trim().split_once('=') {
                Some(("embeddings", format)) => plan.embeddings = Quant::parse(format.trim())?,
                Some(("frequent-rows", value)) => plan.frequent_rows = Some(parse_frequent_rows(value.trim())?),
                Some((name, format)) if name.contains('.') && !name.trim().is_empty() => {
                    plan.overrides.push((name.trim().to_string(), Quant::parse(format.trim())?))
                }
                _ => {
                    return Err(Error::Option {
                        option: "quant".into(),
                        reason: format!(
                            "`{part}`: expected `embeddings=FORMAT`, `frequent-rows=N:FORMAT` or `NAME.PART=FORMAT` \
                             (a part of tensor names, with a dot, e.g. `layer.0.=q8_0`) after the matrices' format"
                        ),
                    })
                }
            }
        }
        Ok(plan)
    }

    /// Name parts of the overrides that match none of `names` (a typo the caller reports).
    pub fn unmatched_overrides<'a>(&'a self, names: &[String]) -> Vec<&'a str> {
        self.overrides
            .iter()
            .map(|(part, _)| part.as_str())
            .filter(|part| !names.iter().any(|n| n.contains(part)))
            .collect()
    }

    /// The format tensor `name` of shape `dims` is stored in: the first of its chain
    /// whose blocks divide its rows, or, for the k-quants, its values (see [`stored_dims`]).
    pub fn format_of(&self, name: &str, dims: &[usize]) -> GgmlDType {
        first_fit(self.chain(name, dims), dims)
    }

    /// The formats to try for tensor `name` of shape `dims`.
    pub(crate) fn chain(&self, name: &str, dims: &[usize]) -> &'static [GgmlDType] {
        let matrix = dims.len() == 2 && name.ends_with(".weight");
        let norm = name.contains("LayerNorm") || name.contains("layer_norm");
        if !matrix || norm {
            &[GgmlDType::F32]
        } else if let Some((_, quant)) = self.overrides.iter().rev().find(|(part, _)| name.contains(part.as_str())) {
            quant.chain()
        } else if self.matrices == Quant::F32 && self.embeddings == Quant::F32 {
            &[GgmlDType::F32]
        } else if name.contains("position_embeddings") || name.contains("token_type_embeddings") {
            match self.embeddings {
                Quant::F32 | Quant::Q8_0 => Quant::F32.chain(),
                _ => Quant::Q8_0.chain(),
            }
        } else if is_word_table(name) {
            self.embeddings.chain()
        } else {
            self.matrices.chain()
        }
    }
}

/// The first format of `chain` whose blocks divide the rows of a tensor of shape `dims`,
/// or, for the k-quants, its values (see [`stored_dims`]).
fn first_fit(chain: &[GgmlDType], dims: &[usize]) -> GgmlDType {
    let row = *dims.last().unwrap_or(&1);
    let values: usize = dims.iter().product();
    let fits = |d: &GgmlDType| row % d.block_size() == 0 || (is_k_quant(*d) && values % d.block_size() == 0);
    chain.iter().copied().find(fits).unwrap_or(GgmlDType::F32)
}

/// `N:FORMAT` of `frequent-rows=N:FORMAT`.
fn parse_frequent_rows(value: &str) -> Result<(usize, Quant)> {
    let bad = || Error::Option {
        option: "quant".into(),
        reason: format!("`frequent-rows={value}`: expected a row count and a format, e.g. `frequent-rows=8000:q8_0`"),
    };
    let (count, format) = value.split_once(':').ok_or_else(bad)?;
    let count: usize = count.trim().parse().map_err(|_| bad())?;
    if count == 0 {
        return Err(bad());
    }
    Ok((count, Quant::parse(format.trim())?))
}

/// Whether tensor `name` is a word-embedding table (its own format, frequent rows).
fn is_word_table(name: &str) -> bool {
    name.ends_with("word_embeddings.weight")
}

fn is_k_quant(format: GgmlDType) -> bool {
    format.block_size() == 256
}

/// The shape a tensor of shape `dims` is stored with in `format`. The k-quants' blocks
/// span 256 values, wider than the rows of small encoders (MiniLM's are 384), so such a
/// matrix is stored as rows of 256 holding the same values in the same (row-major) order,
/// `[values / 256, 256]`, and read back into its own shape (`Weights::from_gguf`).
pub fn stored_dims(format: GgmlDType, dims: &[usize]) -> Vec<usize> {
    let row = *dims.last().unwrap_or(&1);
    if is_k_quant(format) && row % format.block_size() != 0 {
        vec![dims.iter().product::<usize>() / format.block_size(), format.block_size()]
    } else {
        dims.to_vec()
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

/// Calibrated rounding for `pack` (see `gptq.rs`): texts, how many of them (the first)
/// to run through the f32 model, and how to round the matrices whose inputs they measure.
/// Every text counts towards the word table's row usage (`frequent-rows`).
pub struct CalibrationPlan<'a> {
    pub texts: &'a [String],
    pub model_texts: usize,
    pub rounding: Rounding,
}

/// What `pack_weights` appends to.
struct Packed {
    tensors: Vec<(String, QTensor)>,
    metadata: Vec<(String, gguf_file::Value)>,
    report: PackReport,
}

impl Packed {
    fn push(&mut self, name: String, tensor: QTensor, how: &str) {
        *self.report.formats.entry(format!("{:?}{how}", tensor.dtype()).to_lowercase()).or_default() += 1;
        self.tensors.push((name, tensor));
    }
}

fn pack_weights(
    weights: &Weights,
    plan: &QuantPlan,
    calibration: Option<(&Calibration, Rounding)>,
    out: &mut Packed,
) -> Result<()> {
    for name in weights.names() {
        let dims = weights.dims(&name).expect("listed name");
        let tensor = weights.get(&name, &dims)?;
        let full = weights.tensor_name(&name);
        if let (Some(frequent), &[rows, cols]) = (plan.frequent_rows, dims.as_slice()) {
            if is_word_table(&name) {
                let usage = calibration.map(|(c, _)| c.usage()).ok_or_else(|| Error::Option {
                    option: "quant".into(),
                    reason: "`frequent-rows` ranks the table's rows by how the calibration texts use them: \
                             it needs --calibrate"
                        .into(),
                })?;
                split_table(&full, &tensor.flatten_all()?.to_vec1::<f32>()?, rows, cols, plan, frequent, usage, out)?;
                continue;
            }
        }
        let dtype = plan.format_of(&name, &dims);
        let gram = calibration.and_then(|(c, rounding)| Some((c.gram(&full)?, rounding)));
        let (q, how) = match (gram, dims.as_slice()) {
            (Some((gram, rounding)), &[rows, cols]) if gptq::supports(dtype) && gram.dim == cols => {
                let w = tensor.flatten_all()?.to_vec1::<f32>()?;
                let bytes = gptq::quantize(&w, rows, cols, &gram.sum, dtype, rounding).expect("a supported format");
                (qtensor_from_ggml(dtype, &bytes, dims.clone(), &Device::Cpu)?, format!(" ({})", rounding.name()))
            }
            _ => (QTensor::quantize(&tensor.reshape(stored_dims(dtype, &dims))?, dtype)?, String::new()),
        };
        out.push(full, q, &how);
    }
    Ok(())
}

/// Stores the word-embedding table `name` (`rows x cols`, row-major `data`) as two parts:
/// its `count` most used rows in `format`, the rest in the plan's embeddings format,
/// rounded to nearest (see `row_tiers.rs`; calibrated rounding, which weighs the decoder's
/// role alone, did worse on the table than nearest: MODELS.md).
#[allow(clippy::too_many_arguments)]
fn split_table(
    name: &str,
    data: &[f32],
    rows: usize,
    cols: usize,
    plan: &QuantPlan,
    (count, format): (usize, Quant),
    usage: &[u64],
    out: &mut Packed,
) -> Result<()> {
    if usage.len() != rows {
        return Err(Error::Option {
            option: "quant".into(),
            reason: format!("`frequent-rows`: {name} has {rows} rows but the vocabulary {}", usage.len()),
        });
    }
    if count >= rows {
        return Err(Error::Option {
            option: "quant".into(),
            reason: format!("`frequent-rows={count}` is every row of {name} ({rows}): use `embeddings=FORMAT`"),
        });
    }
    // Whole k-quant blocks in each part where the table has them: 256 / gcd(cols, 256) rows.
    let multiple = 256 / super::int8::gcd(cols, 256);
    let groups = row_tiers::by_usage(usage, count, multiple);
    for (group, members) in row_tiers::members(&groups, 2).iter().enumerate() {
        let dims = [members.len(), cols];
        let chain = if group == 1 { format.chain() } else { plan.chain(name, &[rows, cols]) };
        let dtype = first_fit(chain, &dims);
        let part = Tensor::from_vec(row_tiers::gather(data, cols, members), stored_dims(dtype, &dims), &Device::Cpu)?;
        out.push(row_tiers::part_name(name, group), QTensor::quantize(&part, dtype)?, &format!(" (rows {group})"));
    }
    let groups = groups.into_iter().map(gguf_file::Value::U8).collect();
    out.metadata.push((row_tiers::groups_key(name), gguf_file::Value::Array(groups)));
    Ok(())
}

/// Packs Hugging Face files into one GGUF file.
pub fn pack(
    files: &ModelFiles<'_>,
    plan: &QuantPlan,
    quant_name: &str,
    calibration: Option<&CalibrationPlan<'_>>,
) -> Result<(Vec<u8>, PackReport)> {
    let text = |bytes: &[u8], name: &str| -> Result<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::BadFile { file: name.into(), reason: "not UTF-8 text".into() })
    };
    // Parse everything first: packing a model that would not load is refused here.
    let model = super::Model::load(files)?;
    let statistics = match calibration {
        Some(c) => Some((Calibration::collect(&model, c.texts, c.model_texts)?, c.rounding)),
        None => None,
    };
    drop(model);
    let calibrated = statistics.as_ref().map(|(c, rounding)| (c, *rounding));
    let weights = Weights::from_safetensors(&files.weights, "packed model")?;
    let lm_weights = match &files.lm_head {
        Some(lm) => Some(Weights::from_safetensors(&lm.weights, "masked-LM head")?.in_namespace(LM_PREFIX)),
        None => None,
    };
    let mut names = weights.names();
    names.extend(lm_weights.iter().flat_map(Weights::names));
    if let Some(part) = plan.unmatched_overrides(&names).first() {
        return Err(Error::Option { option: "quant".into(), reason: format!("`{part}` matches no tensor name") });
    }
    let mut packed = Packed {
        tensors: Vec::new(),
        metadata: Vec::new(),
        report: PackReport { bytes: 0, tensors: 0, formats: BTreeMap::new() },
    };
    pack_weights(&weights, plan, calibrated, &mut packed)?;
    let mut metadata: Vec<(String, gguf_file::Value)> = vec![
        (CONFIG_KEY.into(), gguf_file::Value::String(text(files.config.bytes, files.config.name)?)),
        (QUANT_KEY.into(), gguf_file::Value::String(quant_name.into())),
    ];
    let tokenizer = text(files.tokenizer.bytes, files.tokenizer.name)?;
    match packed_tokenizer::split(&tokenizer) {
        Some((rest, vocab)) => {
            metadata.push((TOKENIZER_KEY.into(), gguf_file::Value::String(rest)));
            metadata.push((VOCAB_KEY.into(), gguf_file::Value::String(vocab)));
        }
        None => metadata.push((TOKENIZER_KEY.into(), gguf_file::Value::String(tokenizer))),
    }
    for key in SENTENCE_HEAD_KEYS {
        if let Some(value) = weights.metadata(key) {
            metadata.push((key.into(), gguf_file::Value::String(value.into())));
        }
    }
    if let (Some(lm), Some(lm_weights)) = (&files.lm_head, &lm_weights) {
        pack_weights(lm_weights, plan, calibrated, &mut packed)?;
        metadata.push((LM_CONFIG_KEY.into(), gguf_file::Value::String(text(lm.config.bytes, lm.config.name)?)));
    }
    let Packed { tensors, metadata: row_groups, mut report } = packed;
    metadata.extend(row_groups);
    report.tensors = tensors.len();
    let mut buffer = std::io::Cursor::new(Vec::new());
    let meta_refs: Vec<(&str, &gguf_file::Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut buffer, &meta_refs, &tensor_refs)?;
    let bytes = buffer.into_inner();
    report.bytes = bytes.len();
    Ok((bytes, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_quants_store_rows_narrower_than_their_blocks_as_rows_of_256() {
        let plan = QuantPlan::parse("q5_0,embeddings=q4k").unwrap();
        let table = "embeddings.word_embeddings.weight";
        assert_eq!(plan.format_of(table, &[30522, 384]), GgmlDType::Q4K);
        assert_eq!(stored_dims(GgmlDType::Q4K, &[30522, 384]), vec![45783, 256]);
        assert_eq!(stored_dims(GgmlDType::Q4K, &[30522, 512]), vec![30522, 512]);
        assert_eq!(stored_dims(GgmlDType::Q5_0, &[3, 384]), vec![3, 384]);
        // 3 x 384 values are not whole blocks of 256: the next format of the chain.
        assert_eq!(plan.format_of(table, &[3, 384]), GgmlDType::Q4_0);
        assert_eq!(QuantPlan::parse("q5k").unwrap().format_of("a.dense.weight", &[384, 1536]), GgmlDType::Q5K);
    }

    #[test]
    fn a_plan_names_the_format_of_each_kind_of_tensor() {
        let plan = QuantPlan::parse("q4_0,embeddings=q5_0").unwrap();
        assert_eq!(
            plan,
            QuantPlan { matrices: Quant::Q4_0, embeddings: Quant::Q5_0, overrides: vec![], frequent_rows: None }
        );
        let tiered = QuantPlan::parse("q5_0,embeddings=q3k,frequent-rows=8000:q8_0").unwrap();
        assert_eq!(tiered.frequent_rows, Some((8000, Quant::Q8_0)));
        assert_eq!(tiered.embeddings, Quant::Q3K);
        let first = |name: &str, dims: &[usize]| plan.chain(name, dims)[0];
        assert_eq!(first("bert.encoder.layer.0.attention.self.query.weight", &[384, 384]), GgmlDType::Q4_0);
        assert_eq!(first("bert.embeddings.word_embeddings.weight", &[30522, 384]), GgmlDType::Q5_0);
        assert_eq!(first("bert.embeddings.position_embeddings.weight", &[512, 384]), GgmlDType::Q8_0);
        assert_eq!(first("bert.embeddings.LayerNorm.weight", &[384]), GgmlDType::F32);
        assert_eq!(first("bert.encoder.layer.0.attention.self.query.bias", &[384]), GgmlDType::F32);
        let served = QuantPlan::parse("q8_0").unwrap();
        assert_eq!(served.chain("bert.embeddings.position_embeddings.weight", &[512, 384]), &[GgmlDType::F32]);
        assert_eq!(served.chain("bert.embeddings.word_embeddings.weight", &[30522, 384])[0], GgmlDType::Q8_0);
        let f32_plan = QuantPlan::parse("f32").unwrap();
        assert_eq!(f32_plan.chain("bert.embeddings.position_embeddings.weight", &[512, 384]), &[GgmlDType::F32]);
        for bad in [
            "q3",
            "q8_0,embedding=q4_0",
            "q8_0,embeddings=x",
            "",
            "q8_0,layer.0.=q9",
            "q8_0,.=q5_0x",
            "q8_0,frequent-rows=8000",
            "q8_0,frequent-rows=0:q8_0",
            "q8_0,frequent-rows=x:q8_0",
            "q8_0,frequent-rows=10:q7",
        ] {
            assert!(QuantPlan::parse(bad).is_err(), "{bad}");
        }
        // Name parts: the last match wins; norms and biases stay f32 whatever matches.
        let mixed = QuantPlan::parse("q5_0,embeddings=q4_0,layer.0.=q8_0,layer.0.attention.=f32").unwrap();
        let first = |name: &str, dims: &[usize]| mixed.chain(name, dims)[0];
        assert_eq!(first("bert.encoder.layer.0.intermediate.dense.weight", &[1536, 384]), GgmlDType::Q8_0);
        assert_eq!(first("bert.encoder.layer.0.attention.self.query.weight", &[384, 384]), GgmlDType::F32);
        assert_eq!(first("bert.encoder.layer.1.intermediate.dense.weight", &[1536, 384]), GgmlDType::Q5_0);
        assert_eq!(first("bert.encoder.layer.0.output.LayerNorm.weight", &[384]), GgmlDType::F32);
        assert_eq!(first("bert.embeddings.word_embeddings.weight", &[30522, 384]), GgmlDType::Q4_0);
        let names = vec!["bert.encoder.layer.0.output.dense.weight".to_string()];
        assert_eq!(mixed.unmatched_overrides(&names), vec!["layer.0.attention."]);
    }
}
