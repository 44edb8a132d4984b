//! Reads model directories from disk into the byte buffers the library takes
//! (the library itself never touches paths).

use layer_saliency::model::{LmHeadFiles, ModelFiles, NamedBytes};
use layer_saliency::{Error, Result};
use std::path::Path;

/// One file's path (for messages) and contents.
pub struct OwnedFile {
    name: String,
    bytes: Vec<u8>,
}

impl OwnedFile {
    fn read(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::BadFile { file: name.clone(), reason: e.to_string() })?;
        Ok(Self { name, bytes })
    }

    fn named(&self) -> NamedBytes<'_> {
        NamedBytes { name: &self.name, bytes: &self.bytes }
    }
}

/// The files of a classifier directory and of an optional LM-head directory.
pub struct ModelDir {
    config: OwnedFile,
    tokenizer: OwnedFile,
    weights: Vec<OwnedFile>,
    lm_head: Option<(OwnedFile, Vec<OwnedFile>)>,
}

/// Weight files read from a directory: the checkpoint, then an optional sentence head.
const WEIGHT_FILES: [(&str, bool); 2] = [("model.safetensors", true), ("classifier.safetensors", false)];

fn read_weights(dir: &Path) -> Result<Vec<OwnedFile>> {
    let mut files = Vec::new();
    for (name, required) in WEIGHT_FILES {
        let path = dir.join(name);
        if path.exists() || required {
            files.push(OwnedFile::read(&path)?);
        }
    }
    Ok(files)
}

impl ModelDir {
    pub fn read(model: &Path, lm_head: Option<&Path>) -> Result<Self> {
        if !model.is_dir() {
            return Err(Error::BadFile {
                file: model.display().to_string(),
                reason: "not a directory (expected config.json, tokenizer.json and model.safetensors in it)".into(),
            });
        }
        let lm_head = match lm_head {
            Some(dir) => Some((OwnedFile::read(&dir.join("config.json"))?, read_weights(dir)?)),
            None => None,
        };
        Ok(Self {
            config: OwnedFile::read(&model.join("config.json"))?,
            tokenizer: OwnedFile::read(&model.join("tokenizer.json"))?,
            weights: read_weights(model)?,
            lm_head,
        })
    }

    pub fn files(&self) -> ModelFiles<'_> {
        ModelFiles {
            config: self.config.named(),
            tokenizer: self.tokenizer.named(),
            weights: self.weights.iter().map(OwnedFile::named).collect(),
            lm_head: self.lm_head.as_ref().map(|(config, weights)| LmHeadFiles {
                config: config.named(),
                weights: weights.iter().map(OwnedFile::named).collect(),
            }),
        }
    }
}
