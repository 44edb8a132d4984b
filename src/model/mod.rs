//! Step 1 of the pipeline: a BERT-family classifier and a decoder onto the vocabulary,
//! loaded from Hugging Face files (config.json, *.safetensors, tokenizer.json) and run with
//! differentiable candle ops only.

pub mod bert;
pub mod calibration;
pub mod config;
pub mod distilbert;
pub mod encoder;
pub mod files;
mod gguf_guard;
pub mod gptq;
pub mod heads;
pub mod input;
pub mod int8;
pub mod ops;
pub mod pack;
pub mod packed_tokenizer;
pub mod row_tiers;
pub mod vocabulary;
pub mod weights;

use crate::error::{Error, Result};
use candle_core::{DType, Device, IndexOp, Tensor};
use config::{Family, ModelConfig};
use encoder::{Encoder, EncoderOutput};
use heads::{ClassifierHead, Decoder};
use input::TextEncoder;
pub use weights::NamedBytes;
use weights::Weights;

/// The files of a classifier (and optionally of a separate masked-LM of the same base),
/// as bytes: the library never reads paths or the network itself.
pub struct ModelFiles<'a> {
    pub config: NamedBytes<'a>,
    pub tokenizer: NamedBytes<'a>,
    /// model.safetensors, plus an optional sentence head file (classifier.safetensors).
    pub weights: Vec<NamedBytes<'a>>,
    pub lm_head: Option<LmHeadFiles<'a>>,
}

/// A second checkpoint whose masked-LM head decodes the classifier's hidden states.
pub struct LmHeadFiles<'a> {
    pub config: NamedBytes<'a>,
    pub weights: Vec<NamedBytes<'a>>,
}

/// A loaded classifier with its tokenizer and decoder.
pub struct Model {
    pub config: ModelConfig,
    pub encoder: Encoder,
    pub classifier: ClassifierHead,
    pub decoder: Decoder,
    /// The word-embedding matrix as decoder, for `--decoder tied` (a logit lens).
    pub tied_decoder: Decoder,
    pub text: TextEncoder,
    /// One name per class (from id2label or the sentence head; `LABEL_i` when absent).
    pub labels: Vec<String>,
    /// How the weights are stored: "f32", or the quantized formats present (e.g. "f32+q4_0").
    pub quant: String,
}

/// One forward pass over a batch.
pub struct Forward {
    /// `(batch, classes)`.
    pub logits: Tensor,
    /// The word-embedding rows the encoder started from, `(batch, seq, hidden)`.
    pub word_embeds: Tensor,
    pub encoder: EncoderOutput,
}

fn family_name(config: &ModelConfig) -> &'static str {
    match config.family {
        Family::Bert => "BERT",
        Family::DistilBert => "DistilBERT",
    }
}

/// A separate masked-LM checkpoint, parsed and checked against the classifier.
struct LmParts {
    config: ModelConfig,
    weights: Weights,
}

impl Model {
    /// Loads Hugging Face files (config.json, safetensors, tokenizer.json).
    pub fn load(files: &ModelFiles<'_>) -> Result<Self> {
        Self::load_quantized(files, None)
    }

    /// As [`Model::load`], quantizing the f32 weights on the way in as `plan` says (what
    /// `saliency pack` would store), e.g. a Hugging Face checkpoint in the browser.
    pub fn load_quantized(files: &ModelFiles<'_>, plan: Option<&pack::QuantPlan>) -> Result<Self> {
        let config = ModelConfig::from_json(files.config.bytes, files.config.name)?;
        let mut weights = Weights::from_safetensors(&files.weights, family_name(&config))?;
        let lm = match &files.lm_head {
            Some(lm) => Some(LmParts {
                config: ModelConfig::from_json(lm.config.bytes, lm.config.name)?,
                weights: Weights::from_safetensors(&lm.weights, "masked-LM head")?.in_namespace(pack::LM_PREFIX),
            }),
            None => None,
        };
        let mut lm = lm;
        if let Some(plan) = plan {
            weights.quantize(plan)?;
            if let Some(lm) = lm.as_mut() {
                lm.weights.quantize(plan)?;
            }
        }
        Self::assemble(config, weights, lm, files.tokenizer)
    }

    /// Loads a single packed file (GGUF, made by `saliency pack`): config, tokenizer,
    /// classifier, encoder and optional LM head, possibly quantized.
    pub fn load_packed(file: NamedBytes<'_>) -> Result<Self> {
        let weights = Weights::from_gguf(file, "", "packed model")?;
        let text_of = |key: &str| -> Result<String> {
            weights.metadata(key).map(str::to_string).ok_or_else(|| Error::BadFile {
                file: file.name.to_string(),
                reason: format!("not a packed model: its metadata has no `{key}` (make one with `saliency pack`)"),
            })
        };
        let config_json = text_of(pack::CONFIG_KEY)?;
        let mut tokenizer_json = text_of(pack::TOKENIZER_KEY)?;
        if let Some(vocab) = weights.metadata(pack::VOCAB_KEY) {
            tokenizer_json = packed_tokenizer::join(&tokenizer_json, vocab).map_err(|reason| Error::BadFile {
                file: file.name.to_string(),
                reason: format!("its tokenizer and vocabulary do not fit together: {reason}"),
            })?;
        }
        let config_name = format!("{} (config)", file.name);
        let config = ModelConfig::from_json(config_json.as_bytes(), &config_name)?;
        let lm = match weights.metadata(pack::LM_CONFIG_KEY) {
            Some(lm_json) => Some(LmParts {
                config: ModelConfig::from_json(lm_json.as_bytes(), &format!("{} (LM head config)", file.name))?,
                weights: Weights::from_gguf(file, pack::LM_PREFIX, "masked-LM head")?,
            }),
            None => None,
        };
        let tokenizer_name = format!("{} (tokenizer)", file.name);
        Self::assemble(config, weights, lm, NamedBytes { name: &tokenizer_name, bytes: tokenizer_json.as_bytes() })
    }

    /// Loads whatever a file set holds: a packed file, or Hugging Face files.
    pub fn from_file_set(set: &files::FileSet) -> Result<Self> {
        match set.packed() {
            Some(packed) => Self::load_packed(packed),
            None => Self::load_quantized(&set.model_files()?, set.quantize.as_ref()),
        }
    }

    fn assemble(config: ModelConfig, weights: Weights, lm: Option<LmParts>, tokenizer: NamedBytes<'_>) -> Result<Self> {
        let encoder = match config.family {
            Family::Bert => bert::load_encoder(&weights, &config)?,
            Family::DistilBert => distilbert::load_encoder(&weights, &config)?,
        };
        // A sentence head the user put beside the encoder wins over a built-in classifier.
        let (classifier, head_labels) = match ClassifierHead::load_sentence_head(&weights, config.hidden_size)? {
            Some((head, labels)) => (head, labels),
            None => {
                let head = match config.family {
                    Family::Bert => bert::load_classifier(&weights, &config)?,
                    Family::DistilBert => distilbert::load_classifier(&weights, &config)?,
                };
                (head.ok_or_else(|| Error::NoClassifier { file: weights.source() })?, Vec::new())
            }
        };
        let decoder = match &lm {
            Some(lm) => separate_lm_head(lm, &config)?,
            None => match own_lm_head(&weights, &config)? {
                Some(decoder) => decoder,
                None => tied_decoder(&weights, &config)?,
            },
        };
        let text = TextEncoder::from_json(tokenizer.bytes, tokenizer.name, config.max_positions)?;
        if text.vocab_size() > config.vocab_size {
            return Err(Error::Config {
                file: tokenizer.name.to_string(),
                reason: format!(
                    "the tokenizer knows {} tokens but the model's vocabulary has {}: they do not belong together",
                    text.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let classes = classifier.num_classes();
        let labels = [head_labels, config.labels.clone()]
            .into_iter()
            .find(|l| l.len() == classes)
            .unwrap_or_else(|| (0..classes).map(|i| format!("LABEL_{i}")).collect());
        let tied_decoder = tied_decoder(&weights, &config)?;
        let quant = weights.quant_summary();
        Ok(Self { config, encoder, classifier, decoder, tied_decoder, text, labels, quant })
    }

    /// Token ids `(batch, seq)` u32 -> word-embedding rows `(batch, seq, hidden)`.
    pub fn word_embeddings(&self, ids: &Tensor) -> Result<Tensor> {
        self.encoder.embeddings.words(ids)
    }

    /// Runs encoder and classifier from word-embedding rows. `mask (batch, seq)` is 1 for
    /// real tokens and 0 for padding; `probes` as in [`Encoder::forward`].
    pub fn forward_embeds(&self, word_embeds: &Tensor, mask: &Tensor, probes: Option<&[Tensor]>) -> Result<Forward> {
        let mask = mask.to_dtype(DType::F32)?;
        let encoder = self.encoder.forward(word_embeds, &mask, probes)?;
        let last = encoder.hidden.last().expect("an encoder has at least its embedding output");
        let logits = self.classifier.forward(last, &mask)?;
        Ok(Forward { logits, word_embeds: word_embeds.clone(), encoder })
    }

    /// Runs one unpadded sequence of ids.
    pub fn forward_ids(&self, ids: &[u32]) -> Result<Forward> {
        let ids_t = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        let mask = Tensor::ones((1, ids.len()), DType::F32, &Device::Cpu)?;
        self.forward_embeds(&self.word_embeddings(&ids_t)?, &mask, None)
    }

    /// Builds now what the first explanation would otherwise build on the way (the
    /// transposed weights of the backward pass, the default decoder's integer grid):
    /// the page calls it while loading, so its first explanation is not several times
    /// slower than the next (530 against 75 ms in Node for a short text, measured
    /// 2026-11-27). Costs nothing for f32 weights.
    pub fn prepare(&self) {
        for layer in &self.encoder.layers {
            layer.prepare_backward();
        }
        self.classifier.prepare_backward();
        self.decoder.prepare();
    }

    pub fn num_layers(&self) -> usize {
        self.encoder.num_layers()
    }

    /// Each block's attention probabilities for one unpadded sequence, `(heads, seq, seq)`
    /// (the attention baselines' input; a forward pass without a graph).
    pub fn attentions(&self, ids: &[u32]) -> Result<Vec<Tensor>> {
        let ids_t = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        let mask = Tensor::ones((1, ids.len()), DType::F32, &Device::Cpu)?;
        let out = self.encoder.forward_with_attentions(&self.word_embeddings(&ids_t)?, &mask)?;
        out.attentions.iter().map(|a| Ok(a.i(0)?)).collect()
    }
}

/// The word-embedding matrix as decoder, kept quantized when stored quantized.
pub fn tied_decoder(weights: &Weights, config: &ModelConfig) -> Result<Decoder> {
    let prefix = match config.family {
        Family::Bert if weights.has_prefix("bert.") => "bert.",
        Family::DistilBert if weights.has_prefix("distilbert.") => "distilbert.",
        _ => "",
    };
    let name = format!("{prefix}embeddings.word_embeddings.weight");
    let matrix = weights.get_matrix(&name, &[config.vocab_size, config.hidden_size])?;
    Ok(Decoder::TiedEmbeddings { embeddings: ops::Linear::new(weights.tensor_name(&name), matrix, None) })
}

fn own_lm_head(weights: &Weights, config: &ModelConfig) -> Result<Option<Decoder>> {
    match config.family {
        Family::Bert => bert::load_lm_head(weights, config),
        Family::DistilBert => distilbert::load_lm_head(weights, config),
    }
}

fn separate_lm_head(lm: &LmParts, classifier: &ModelConfig) -> Result<Decoder> {
    let lm_file = lm.weights.source();
    for (what, ours, theirs) in [
        ("the hidden size", lm.config.hidden_size, classifier.hidden_size),
        ("the vocabulary size", lm.config.vocab_size, classifier.vocab_size),
    ] {
        if ours != theirs {
            return Err(Error::LmHeadMismatch { lm_file, what: what.into(), lm: ours, classifier: theirs });
        }
    }
    own_lm_head(&lm.weights, &lm.config)?.ok_or_else(|| Error::BadFile {
        file: lm.weights.source(),
        reason: "no masked-LM head in it (expected cls.predictions.* or vocab_transform/vocab_projector)".into(),
    })
}

/// Attention memory per forward batch, in f32 elements of the (batch, heads, seq, seq)
/// maps: keeps perturbation batches of long texts from exhausting memory.
pub const BATCH_ATTENTION_BUDGET: usize = 4 << 20;

impl Model {
    /// How many sequences of `seq` tokens one forward batch may hold within
    /// [`BATCH_ATTENTION_BUDGET`] (at least one).
    pub fn batch_size_for(&self, seq: usize) -> usize {
        (BATCH_ATTENTION_BUDGET / (self.config.num_heads * seq * seq).max(1)).max(1)
    }
}

/// Anything that maps token-id sequences to class logits: the model, or a toy in tests.
/// Perturbation methods (occlusion, ERASER metrics) only need this.
pub trait SequenceClassifier {
    /// Logits `(classes)` for each of several unpadded id sequences.
    fn logits_batch(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>>;
}

impl SequenceClassifier for Model {
    /// Runs the sequences in padded batches sized to bound attention memory.
    fn logits_batch(&self, sequences: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(sequences.len());
        let longest = sequences.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let per_batch = self.batch_size_for(longest);
        for chunk in sequences.chunks(per_batch) {
            let seq = chunk.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let mut ids = Vec::with_capacity(chunk.len() * seq);
            let mut mask = Vec::with_capacity(chunk.len() * seq);
            for s in chunk {
                ids.extend(s.iter().copied().chain(std::iter::repeat(self.config.pad_token_id).take(seq - s.len())));
                mask.extend((0..seq).map(|i| if i < s.len() { 1f32 } else { 0f32 }));
            }
            let ids = Tensor::from_vec(ids, (chunk.len(), seq), &Device::Cpu)?;
            let mask = Tensor::from_vec(mask, (chunk.len(), seq), &Device::Cpu)?;
            let forward = self.forward_embeds(&self.word_embeddings(&ids)?, &mask, None)?;
            out.extend(forward.logits.to_vec2::<f32>()?);
        }
        Ok(out)
    }
}
