//! Step 1 of the pipeline: a BERT-family classifier and a decoder onto the vocabulary,
//! loaded from Hugging Face files (config.json, *.safetensors, tokenizer.json) and run with
//! differentiable candle ops only.

pub mod bert;
pub mod config;
pub mod distilbert;
pub mod encoder;
pub mod files;
pub mod heads;
pub mod input;
pub mod ops;
pub mod weights;

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
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
    pub text: TextEncoder,
    /// One name per class (from id2label or the sentence head; `LABEL_i` when absent).
    pub labels: Vec<String>,
}

/// One forward pass over a batch.
pub struct Forward {
    /// `(batch, classes)`.
    pub logits: Tensor,
    /// The word-embedding rows the encoder started from, `(batch, seq, hidden)`.
    pub word_embeds: Tensor,
    pub encoder: EncoderOutput,
}

impl Model {
    pub fn load(files: &ModelFiles<'_>) -> Result<Self> {
        let config = ModelConfig::from_json(files.config.bytes, files.config.name)?;
        let family_name = match config.family {
            Family::Bert => "BERT",
            Family::DistilBert => "DistilBERT",
        };
        let weights = Weights::from_safetensors(&files.weights, family_name)?;
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
        let decoder = match &files.lm_head {
            Some(lm) => load_separate_lm_head(lm, &config)?,
            None => own_lm_head(&weights, &config)?
                .unwrap_or_else(|| Decoder::TiedEmbeddings { embeddings: encoder.embeddings.word.clone() }),
        };
        let text = TextEncoder::from_json(files.tokenizer.bytes, files.tokenizer.name, config.max_positions)?;
        if text.vocab_size() > config.vocab_size {
            return Err(Error::Config {
                file: files.tokenizer.name.to_string(),
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
        Ok(Self { config, encoder, classifier, decoder, text, labels })
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

    pub fn num_layers(&self) -> usize {
        self.encoder.num_layers()
    }
}

fn own_lm_head(weights: &Weights, config: &ModelConfig) -> Result<Option<Decoder>> {
    match config.family {
        Family::Bert => bert::load_lm_head(weights, config),
        Family::DistilBert => distilbert::load_lm_head(weights, config),
    }
}

fn load_separate_lm_head(files: &LmHeadFiles<'_>, classifier: &ModelConfig) -> Result<Decoder> {
    let config = ModelConfig::from_json(files.config.bytes, files.config.name)?;
    let lm_file = files.config.name.to_string();
    for (what, lm, cls) in [
        ("the hidden size", config.hidden_size, classifier.hidden_size),
        ("the vocabulary size", config.vocab_size, classifier.vocab_size),
    ] {
        if lm != cls {
            return Err(Error::LmHeadMismatch { lm_file, what: what.into(), lm, classifier: cls });
        }
    }
    let weights = Weights::from_safetensors(&files.weights, "masked-LM head")?;
    own_lm_head(&weights, &config)?.ok_or_else(|| Error::BadFile {
        file: weights.source(),
        reason: "no masked-LM head in it (expected cls.predictions.* or vocab_transform/vocab_projector)".into(),
    })
}

/// Attention memory per forward batch, in f32 elements of the (batch, heads, seq, seq)
/// maps: keeps perturbation batches of long texts from exhausting memory.
const BATCH_ATTENTION_BUDGET: usize = 8 << 20;

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
        let per_batch = (BATCH_ATTENTION_BUDGET / (self.config.num_heads * longest * longest)).max(1);
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
