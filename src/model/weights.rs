//! Named tensors from one or more safetensors files, looked up by Hugging Face names.
//!
//! Names are normalised once on load so the model code can use today's spelling:
//! legacy LayerNorm `gamma`/`beta` become `weight`/`bias`. Every lookup checks the shape
//! against config.json and names the file and tensor when something is wrong.

use super::int8::Int8Matrix;
use super::ops::{Int8Weight, LinearWeight};
use super::row_tiers;
use crate::error::{Error, Result};
use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// A stored tensor: plain f32, or block-quantized as read from a GGUF file. A quantized
/// matrix is converted to the int8 kernel's layout once, on first use as a linear weight
/// (the word-embedding matrix serves both the model's and the tied decoder).
#[derive(Clone)]
enum Stored {
    F32(Tensor),
    Quantized(Arc<QTensor>, OnceLock<Arc<Int8Weight>>),
    /// A table stored in parts of different formats by row (`row_tiers.rs`), put back
    /// together in the int8 layout on load; the formats of its parts.
    Assembled(Arc<Int8Weight>, Vec<GgmlDType>),
}

impl Stored {
    fn dims(&self) -> Vec<usize> {
        match self {
            Stored::F32(t) => t.dims().to_vec(),
            Stored::Quantized(q, _) => q.shape().dims().to_vec(),
            Stored::Assembled(w, _) => vec![w.matrix().rows(), w.matrix().cols()],
        }
    }

    /// Whether this is a matrix of `shape` in the layout `pack` gives k-quants whose blocks
    /// do not divide its rows (see `pack::stored_dims`).
    fn holds(&self, shape: &[usize]) -> bool {
        match self {
            Stored::Quantized(q, _) => {
                shape.len() == 2 && q.shape().dims() == super::pack::stored_dims(q.dtype(), shape).as_slice()
            }
            Stored::F32(_) | Stored::Assembled(..) => false,
        }
    }
}

/// One weight file as bytes plus a name used in messages (usually its path).
#[derive(Debug, Clone, Copy)]
pub struct NamedBytes<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// All tensors of a checkpoint, by normalised name, with the file each came from.
pub struct Weights {
    tensors: HashMap<String, (Stored, usize)>,
    files: Vec<String>,
    metadata: HashMap<String, String>,
    architecture: String,
    /// `lm_head` for a separate masked-LM checkpoint, so that tensor names say which
    /// checkpoint they belong to as a packed file does (`lm_head/...`); empty otherwise.
    namespace: String,
}

impl Weights {
    /// Reads safetensors files (later files may add tensors; a name may not repeat).
    /// Every tensor is converted to f32 on the CPU.
    pub fn from_safetensors(files: &[NamedBytes<'_>], architecture: &str) -> Result<Self> {
        let mut tensors = HashMap::new();
        let mut metadata = HashMap::new();
        for (index, file) in files.iter().enumerate() {
            let bad = |reason: String| Error::BadFile { file: file.name.to_string(), reason };
            let (_, header) = safetensors::SafeTensors::read_metadata(file.bytes)
                .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
            if let Some(meta) = header.metadata() {
                metadata.extend(meta.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let loaded = candle_core::safetensors::load_buffer(file.bytes, &Device::Cpu)
                .map_err(|e| bad(format!("cannot load tensors ({e})")))?;
            for (name, tensor) in loaded {
                let tensor = tensor.to_dtype(DType::F32).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
                let name = normalise_name(&name);
                if tensors.insert(name.clone(), (Stored::F32(tensor), index)).is_some() {
                    return Err(bad(format!("tensor `{name}` appears twice")));
                }
            }
        }
        Ok(Self {
            tensors,
            files: files.iter().map(|f| f.name.to_string()).collect(),
            metadata,
            architecture: architecture.to_string(),
            namespace: String::new(),
        })
    }

    /// The same tensors, named as the checkpoint `namespace` of a packed file (see
    /// [`Weights::tensor_name`]).
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    /// A tensor's name as a packed file stores it: `namespace/name` for a separate
    /// masked-LM checkpoint, `name` otherwise. Calibration statistics are keyed by it.
    pub fn tensor_name(&self, name: &str) -> String {
        if self.namespace.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.namespace)
        }
    }

    /// The files these weights came from, joined for messages.
    pub fn source(&self) -> String {
        self.files.join(" + ")
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Whether any tensor name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.tensors.keys().any(|k| k.starts_with(prefix))
    }

    /// String metadata stored in a safetensors header (`__metadata__`).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    fn lookup(&self, name: &str, shape: &[usize]) -> Result<&Stored> {
        let (stored, file) = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            file: self.source(),
            name: name.to_string(),
            architecture: self.architecture.clone(),
        })?;
        if stored.dims() != shape && !stored.holds(shape) {
            return Err(Error::TensorShape {
                file: self.files[*file].clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: stored.dims(),
            });
        }
        Ok(stored)
    }

    /// The tensor `name` as f32 (dequantized if stored quantized); it must have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        Ok(match self.lookup(name, shape)? {
            Stored::F32(t) => t.clone(),
            Stored::Quantized(q, _) => q.dequantize(&Device::Cpu)?.reshape(shape)?,
            Stored::Assembled(w, _) => Tensor::from_vec(w.matrix().dequantize(), shape, &Device::Cpu)?,
        })
    }

    /// A weight matrix for a linear layer, kept quantized when stored quantized.
    pub fn get_matrix(&self, name: &str, shape: &[usize]) -> Result<LinearWeight> {
        Ok(match self.lookup(name, shape)? {
            Stored::F32(t) => LinearWeight::F32(t.clone()),
            Stored::Quantized(q, int8) => match int8.get() {
                Some(w) => LinearWeight::Quantized(w.clone()),
                None => {
                    let matrix = Int8Matrix::from_qtensor(q, shape[0], shape[1])?;
                    LinearWeight::Quantized(int8.get_or_init(|| Arc::new(Int8Weight::new(matrix))).clone())
                }
            },
            Stored::Assembled(w, _) => LinearWeight::Quantized(w.clone()),
        })
    }

    /// The dimensions of tensor `name`, if present (for checks made by the caller).
    pub fn dims(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.get(name).map(|(t, _)| t.dims())
    }

    /// Every tensor name with its f32 value or quantized storage, for packing.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether any tensor is stored quantized, and in which formats.
    pub fn quant_summary(&self) -> String {
        let mut kinds: Vec<String> = self
            .tensors
            .values()
            .flat_map(|(s, _)| match s {
                Stored::F32(_) => vec![GgmlDType::F32],
                Stored::Quantized(q, _) => vec![q.dtype()],
                Stored::Assembled(_, formats) => formats.clone(),
            })
            .map(|format| format!("{format:?}").to_lowercase())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds.join("+")
    }

    /// Reads a GGUF file made by `saliency pack`: its tensors (quantized ones stay
    /// quantized) and its string metadata. Tensor names may carry a `prefix/` that selects
    /// one of several checkpoints packed together (`lm_head/...`); only names under
    /// `prefix` are taken, with it stripped.
    pub fn from_gguf(file: NamedBytes<'_>, prefix: &str, architecture: &str) -> Result<Self> {
        let bad = |reason: String| Error::BadFile { file: file.name.to_string(), reason };
        if super::gguf_guard::alignment(file.bytes) == Some(0) {
            return Err(bad("its general.alignment is 0".into()));
        }
        let mut reader = std::io::Cursor::new(file.bytes);
        let content = gguf_file::Content::read(&mut reader).map_err(|e| bad(format!("not a valid GGUF file ({e})")))?;
        let mut metadata = HashMap::new();
        for (key, value) in &content.metadata {
            if let Ok(text) = value.to_string() {
                metadata.insert(key.clone(), text.clone());
            }
        }
        let mut tensors = HashMap::new();
        let mut parts: BTreeMap<String, BTreeMap<usize, QTensor>> = BTreeMap::new();
        // Sorted, so a file with several broken tensors gives the same message every time.
        let mut names: Vec<&String> = content.tensor_infos.keys().collect();
        names.sort();
        for name in names {
            let Some(local) = strip_prefix(name, prefix) else { continue };
            let info = &content.tensor_infos[name];
            super::gguf_guard::tensor_fits(
                info.shape.dims(),
                info.ggml_dtype.block_size(),
                info.ggml_dtype.type_size(),
                file.bytes.len(),
            )
            .map_err(|reason| bad(format!("tensor `{name}`: {reason}")))?;
            let q =
                content.tensor(&mut reader, name, &Device::Cpu).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
            if let Some((table, group)) = row_tiers::parse_part(name) {
                parts.entry(table.to_string()).or_default().insert(group, q);
                continue;
            }
            let stored = match q.dtype() {
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => Stored::F32(q.dequantize(&Device::Cpu)?),
                _ => Stored::Quantized(Arc::new(q), OnceLock::new()),
            };
            tensors.insert(normalise_name(local), (stored, 0));
        }
        for (table, parts) in parts {
            let stored =
                assemble_table(&content, &table, parts).map_err(|reason| bad(format!("`{table}`: {reason}")))?;
            let local = strip_prefix(&table, prefix).expect("parts were selected by prefix");
            tensors.insert(normalise_name(local), (stored, 0));
        }
        Ok(Self {
            tensors,
            files: vec![file.name.to_string()],
            metadata,
            architecture: architecture.to_string(),
            namespace: prefix.to_string(),
        })
    }

    /// Quantizes the f32 tensors `plan` puts in a block format, in place, one at a time
    /// (so loading a large checkpoint needs little more than its f32 size).
    pub fn quantize(&mut self, plan: &super::pack::QuantPlan) -> Result<()> {
        for (name, (stored, _)) in self.tensors.iter_mut() {
            let Stored::F32(tensor) = stored else { continue };
            let dtype = plan.format_of(name, tensor.dims());
            if matches!(dtype, GgmlDType::F32) {
                continue;
            }
            let q = QTensor::quantize(&tensor.reshape(super::pack::stored_dims(dtype, tensor.dims()))?, dtype)?;
            *stored = Stored::Quantized(Arc::new(q), OnceLock::new());
        }
        Ok(())
    }

    /// A view that prefixes every name with `prefix.` (like candle's `VarBuilder::pp`).
    pub fn pp(&self, prefix: impl Into<String>) -> Scope<'_> {
        Scope { weights: self, prefix: prefix.into() }
    }
}

/// A prefix into [`Weights`], so model code reads like the checkpoint's module tree.
#[derive(Clone)]
pub struct Scope<'a> {
    weights: &'a Weights,
    prefix: String,
}

impl<'a> Scope<'a> {
    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub fn pp(&self, name: impl AsRef<str>) -> Scope<'a> {
        Scope { weights: self.weights, prefix: self.full(name.as_ref()) }
    }

    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.weights.get(&self.full(name), shape)
    }

    pub fn get_matrix(&self, name: &str, shape: &[usize]) -> Result<LinearWeight> {
        self.weights.get_matrix(&self.full(name), shape)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.weights.contains(&self.full(name))
    }

    /// See [`Weights::tensor_name`].
    pub fn tensor_name(&self, name: &str) -> String {
        self.weights.tensor_name(&self.full(name))
    }
}

/// A table stored in row groups (`row_tiers.rs`): its parts, numbered 0.., and the
/// group of each row from the file's metadata.
fn assemble_table(
    content: &gguf_file::Content,
    table: &str,
    parts: BTreeMap<usize, QTensor>,
) -> std::result::Result<Stored, String> {
    if parts.keys().copied().ne(0..parts.len()) {
        return Err(format!(
            "its parts are numbered {:?}, not 0 to {}",
            parts.keys().collect::<Vec<_>>(),
            parts.len() - 1
        ));
    }
    let key = row_tiers::groups_key(table);
    let groups: Vec<u8> = match content.metadata.get(&key) {
        Some(gguf_file::Value::Array(values)) => values
            .iter()
            .map(|v| v.to_u8().map_err(|_| format!("{key} holds something other than bytes")))
            .collect::<std::result::Result<_, _>>()?,
        _ => return Err(format!("it is stored in parts but the file has no {key}")),
    };
    let parts: Vec<QTensor> = parts.into_values().collect();
    let formats = parts.iter().map(QTensor::dtype).collect();
    let values: usize = parts.iter().map(|p| p.shape().elem_count()).sum();
    if groups.is_empty() || values % groups.len() != 0 {
        return Err(format!("its parts hold {values} values, not whole rows of its {} rows", groups.len()));
    }
    let cols = values / groups.len();
    let matrix = row_tiers::assemble(&groups, &parts, groups.len(), cols)?;
    Ok(Stored::Assembled(Arc::new(Int8Weight::new(matrix)), formats))
}

fn strip_prefix<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        (!name.contains('/')).then_some(name)
    } else {
        name.strip_prefix(prefix)?.strip_prefix('/')
    }
}

/// Today's names for legacy spellings (TF-era BERT checkpoints store LayerNorm as gamma/beta).
fn normalise_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layer_norm_names_are_normalised() {
        assert_eq!(normalise_name("bert.embeddings.LayerNorm.gamma"), "bert.embeddings.LayerNorm.weight");
        assert_eq!(normalise_name("x.LayerNorm.beta"), "x.LayerNorm.bias");
        assert_eq!(normalise_name("classifier.weight"), "classifier.weight");
    }

    #[test]
    fn garbage_bytes_are_a_clear_error() {
        let file = NamedBytes { name: "broken.safetensors", bytes: b"definitely not safetensors" };
        let err = Weights::from_safetensors(&[file], "BERT").err().unwrap().to_string();
        assert!(err.contains("broken.safetensors"), "{err}");
    }
}
