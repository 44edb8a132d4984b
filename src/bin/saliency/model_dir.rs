//! Reads model directories from disk into the library's `FileSet` (the library itself
//! never touches paths).

use layer_saliency::model::files::{self, FileSet};
use layer_saliency::{Error, Result};
use std::path::Path;

fn read(set: &mut FileSet, role: &str, path: &Path, required: bool) -> Result<()> {
    if !required && !path.exists() {
        return Ok(());
    }
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::BadFile { file: source.clone(), reason: e.to_string() })?;
    set.add(role, &source, bytes)
}

/// The files of a classifier directory and of an optional LM-head directory, or a single
/// packed file (`saliency pack`).
pub fn read_model_dirs(model: &Path, lm_head: Option<&Path>) -> Result<FileSet> {
    if model.is_file() {
        if lm_head.is_some() {
            return Err(Error::Option {
                option: "--lm-head".into(),
                reason: "a packed model file already holds its LM head".into(),
            });
        }
        let mut set = FileSet::new();
        read(&mut set, files::PACKED, model, true)?;
        return Ok(set);
    }
    for dir in std::iter::once(model).chain(lm_head) {
        if !dir.is_dir() {
            return Err(Error::BadFile {
                file: dir.display().to_string(),
                reason: "neither a packed model file nor a directory (expected config.json, tokenizer.json and model.safetensors in it)".into(),
            });
        }
    }
    let mut set = FileSet::new();
    read(&mut set, files::CONFIG, &model.join("config.json"), true)?;
    read(&mut set, files::TOKENIZER, &model.join("tokenizer.json"), true)?;
    read(&mut set, files::WEIGHTS, &model.join("model.safetensors"), true)?;
    read(&mut set, files::SENTENCE_HEAD, &model.join("classifier.safetensors"), false)?;
    if let Some(lm) = lm_head {
        read(&mut set, files::LM_CONFIG, &lm.join("config.json"), true)?;
        read(&mut set, files::LM_WEIGHTS, &lm.join("model.safetensors"), true)?;
    }
    Ok(set)
}
