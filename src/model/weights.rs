//! Named tensors from one or more safetensors files, looked up by Hugging Face names.
//!
//! Names are normalised once on load so the model code can use today's spelling:
//! legacy LayerNorm `gamma`/`beta` become `weight`/`bias`. Every lookup checks the shape
//! against config.json and names the file and tensor when something is wrong.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

/// One weight file as bytes plus a name used in messages (usually its path).
#[derive(Debug, Clone, Copy)]
pub struct NamedBytes<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// All tensors of a checkpoint, by normalised name, with the file each came from.
pub struct Weights {
    tensors: HashMap<String, (Tensor, usize)>,
    files: Vec<String>,
    metadata: HashMap<String, String>,
    architecture: String,
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
                if tensors.insert(name.clone(), (tensor, index)).is_some() {
                    return Err(bad(format!("tensor `{name}` appears twice")));
                }
            }
        }
        Ok(Self {
            tensors,
            files: files.iter().map(|f| f.name.to_string()).collect(),
            metadata,
            architecture: architecture.to_string(),
        })
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

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let (tensor, file) = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            file: self.source(),
            name: name.to_string(),
            architecture: self.architecture.clone(),
        })?;
        if tensor.dims() != shape {
            return Err(Error::TensorShape {
                file: self.files[*file].clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: tensor.dims().to_vec(),
            });
        }
        Ok(tensor.clone())
    }

    /// The tensor `name` with any shape (for checks made by the caller).
    pub fn get_any(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name).map(|(t, _)| t)
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

    pub fn contains(&self, name: &str) -> bool {
        self.weights.contains(&self.full(name))
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
