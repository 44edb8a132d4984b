//! A model's files by role, whatever they came from: a directory (CLI), a download or a
//! drag-and-drop (browser). Roles are file names inside a model directory, with the files
//! of a separate LM-head checkpoint under `lm_head/`.

use super::weights::NamedBytes;
use super::{LmHeadFiles, ModelFiles};
use crate::error::{Error, Result};

/// Every role a file can play.
pub const CONFIG: &str = "config.json";
pub const TOKENIZER: &str = "tokenizer.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const SENTENCE_HEAD: &str = "classifier.safetensors";
pub const LM_CONFIG: &str = "lm_head/config.json";
pub const LM_WEIGHTS: &str = "lm_head/model.safetensors";
/// A single packed file (`saliency pack`): everything in one GGUF.
pub const PACKED: &str = "model.gguf";
pub const ROLES: [&str; 7] = [CONFIG, TOKENIZER, WEIGHTS, SENTENCE_HEAD, LM_CONFIG, LM_WEIGHTS, PACKED];

struct Entry {
    role: String,
    /// Where the file came from (a path or URL), for messages.
    source: String,
    bytes: Vec<u8>,
}

/// A set of model files by role.
#[derive(Default)]
pub struct FileSet {
    entries: Vec<Entry>,
    /// Quantize Hugging Face weights on load (packed files carry their own formats).
    pub quantize: Option<super::pack::QuantPlan>,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file playing `role`; `source` names it in messages.
    pub fn add(&mut self, role: &str, source: &str, bytes: Vec<u8>) -> Result<()> {
        if !ROLES.contains(&role) {
            return Err(Error::Input(format!(
                "unknown model file role `{role}`; expected one of {}",
                ROLES.join(", ")
            )));
        }
        self.entries.retain(|e| e.role != role);
        self.entries.push(Entry { role: role.to_string(), source: source.to_string(), bytes });
        Ok(())
    }

    pub fn has(&self, role: &str) -> bool {
        self.entries.iter().any(|e| e.role == role)
    }

    fn get(&self, role: &str) -> Option<NamedBytes<'_>> {
        self.entries.iter().find(|e| e.role == role).map(|e| NamedBytes { name: &e.source, bytes: &e.bytes })
    }

    fn require(&self, role: &str) -> Result<NamedBytes<'_>> {
        self.get(role).ok_or_else(|| Error::Input(format!("the model is missing its {role}")))
    }

    /// The packed file, when the set holds one.
    pub fn packed(&self) -> Option<NamedBytes<'_>> {
        self.get(PACKED)
    }

    /// The files as the loader takes them.
    pub fn model_files(&self) -> Result<ModelFiles<'_>> {
        let mut weights = vec![self.require(WEIGHTS)?];
        weights.extend(self.get(SENTENCE_HEAD));
        let lm_head = match (self.get(LM_CONFIG), self.get(LM_WEIGHTS)) {
            (Some(config), Some(w)) => Some(LmHeadFiles { config, weights: vec![w] }),
            (None, None) => None,
            _ => {
                return Err(Error::Input(
                    "an LM head needs both lm_head/config.json and lm_head/model.safetensors".into(),
                ))
            }
        };
        Ok(ModelFiles { config: self.require(CONFIG)?, tokenizer: self.require(TOKENIZER)?, weights, lm_head })
    }
}
