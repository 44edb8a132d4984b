//! Command-line arguments. Each flag's doc comment is its help text; `to_options` turns
//! the raw values into the library's validated `Options` once.

use clap::{Args, Parser, Subcommand};
use layer_saliency::options::{Options, OptionsRequest};
use layer_saliency::Result;
use std::path::PathBuf;

/// Explain a BERT-family text classifier with decoded layer saliency.
#[derive(Parser, Debug)]
#[command(name = "saliency", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Explain one text: which words drove the prediction, at every layer.
    Explain(ExplainArgs),
    /// Run methods over a file of texts and tabulate faithfulness (AOPC) and speed.
    Eval(EvalArgs),
    /// Print logits, hidden states, per-layer gradients and decoded tokens for one text.
    Grads(GradsArgs),
    /// Pack a model directory (and LM head) into one GGUF file, optionally quantized.
    Pack(PackArgs),
    /// Test accuracy on labelled texts; with --other, also how far a second model (say a
    /// quantized pack) agrees with this one.
    Accuracy(AccuracyArgs),
    /// Time each stage of an explanation at several input lengths (medians), with
    /// integrated gradients at 32 steps on the same engine for comparison.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input lengths in tokens, special tokens included.
    #[arg(long, default_value = "16,64,256,512", value_delimiter = ',')]
    pub lengths: Vec<usize>,
    /// Timed runs per length (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Skip integrated gradients (the slowest part of a run).
    #[arg(long)]
    pub no_ig: bool,
    /// Run the vocabulary product on this kernel instead of the fastest one (portable,
    /// sse2, avx2, avx512-vnni): `sse2` times the decoder on the 128-bit width wasm has.
    #[arg(long, value_name = "KERNEL")]
    pub vocabulary_kernel: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AccuracyArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A second model (directory or packed file) to compare with.
    #[arg(long, value_name = "PATH")]
    pub other: Option<PathBuf>,
    /// Labelled texts: a .tsv file of `label<TAB>text` lines.
    #[arg(long, value_name = "FILE")]
    pub texts: PathBuf,
    /// How many texts the saliency agreement uses, spread evenly over the file (which may
    /// be sorted by label); accuracy uses all.
    #[arg(long, default_value_t = 100)]
    pub agreement_texts: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PackArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Storage of the weight matrices: f32, q8_0, q5_0, q4_0, q3k, q4k, q5k or q6k, optionally
    /// followed by `,embeddings=FORMAT` for the word-embedding table (also the tied decoder),
    /// `,frequent-rows=N:FORMAT` for the N rows of that table the --calibrate texts use
    /// most, and `,NAME.PART=FORMAT` for the matrices whose tensor names contain NAME.PART
    /// (the last match wins), e.g. `q5_0,embeddings=q3k,frequent-rows=8000:q8_0`. Rows that do not fit a
    /// format's blocks fall back to the next one that does; position tables stay f32 unless
    /// the embeddings go below 8 bits (then q8_0).
    #[arg(long, default_value = "q8_0")]
    pub quant: String,
    /// Calibrate the rounding on these texts (one per line; `label<TAB>text` in a .tsv):
    /// each matrix is rounded to minimise its error on the inputs they produce in the f32
    /// model, instead of to nearest (see --rounding).
    #[arg(long, value_name = "FILE")]
    pub calibrate: Option<PathBuf>,
    /// How many of the calibration texts (the first ones) run through the f32 model; the
    /// word table's `frequent-rows` are counted over all of them (tokenizing only).
    #[arg(long, default_value_t = 512)]
    pub calibration_texts: usize,
    /// With --calibrate: `gptq-act-order` (each rounding error moved onto the columns not
    /// yet rounded, the most active inputs first), `gptq` (columns in stored order) or
    /// `nearest` (nearest rounding, block scales chosen for the inputs). Only the q8_0,
    /// q5_0 and q4_0 formats are calibrated; the k-quants are rounded to nearest.
    #[arg(long, default_value = "gptq-act-order")]
    pub rounding: String,
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Where the model comes from.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Classifier directory (config.json, tokenizer.json, model.safetensors, and optionally
    /// classifier.safetensors, a sentence head for a plain encoder), or a packed .gguf file.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Directory of a masked-LM checkpoint of the same base whose LM head decodes the
    /// layers (default: the classifier's own LM head, else its tied word embeddings).
    #[arg(long, value_name = "PATH")]
    pub lm_head: Option<PathBuf>,
}

/// The method's parameters (method.md), shared by `explain` and `eval`.
#[derive(Args, Debug)]
pub struct MethodArgs {
    /// Feature aggregation g: gxa (signed), grad-norm (unsigned) or gradcam.
    #[arg(long, default_value = "gxa", value_name = "NAME")]
    pub agg: String,
    /// How many top decoded ids per position can be credited.
    #[arg(long, default_value_t = 10)]
    pub tau: usize,
    /// Coherence a layer must reach to be chosen automatically.
    #[arg(long, default_value_t = 0.5)]
    pub theta: f32,
    /// The class to explain, by index or label (default: the predicted class).
    #[arg(long, value_name = "N|LABEL")]
    pub target: Option<String>,
    /// Explain target versus this class (z_target - z_contrast), by index or label.
    #[arg(long, value_name = "N|LABEL")]
    pub contrast: Option<String>,
    /// Decoder for the layers: `model` (its LM head, else tied embeddings) or `tied`.
    #[arg(long, default_value = "model", value_name = "model|tied")]
    pub decoder: String,
    /// Integrated-gradients steps.
    #[arg(long, default_value_t = 32)]
    pub ig_steps: usize,
    /// Seed of the random control.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl MethodArgs {
    /// The flags as the library's loosely typed request (parsed in one place).
    pub fn request(&self) -> OptionsRequest {
        OptionsRequest {
            agg: Some(self.agg.clone()),
            tau: Some(self.tau),
            theta: Some(self.theta),
            target: self.target.clone().map(serde_json::Value::String),
            contrast: self.contrast.clone().map(serde_json::Value::String),
            decoder: Some(self.decoder.clone()),
            ig_steps: Some(self.ig_steps),
            seed: Some(self.seed),
            ..OptionsRequest::default()
        }
    }

    pub fn to_options(&self) -> Result<Options> {
        self.request().to_options()
    }
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// dls, grad-norm, gxa, ig, layer-gxa, attention, rollout, occlusion or random.
    #[arg(long, default_value = "dls")]
    pub method: String,
    /// The layer to show: `auto` (chosen by coherence) or a number (0 = embeddings).
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub layer: String,
    #[command(flatten)]
    pub params: MethodArgs,
    /// Skip the faithfulness metrics (saves a batch of forward passes).
    #[arg(long)]
    pub no_faithfulness: bool,
    /// Print one JSON object instead of the coloured view.
    #[arg(long)]
    pub json: bool,
    /// The text to explain.
    pub text: String,
}

impl ExplainArgs {
    pub fn to_options(&self) -> Result<Options> {
        OptionsRequest {
            method: Some(self.method.clone()),
            layer: Some(serde_json::Value::String(self.layer.clone())),
            faithfulness: Some(!self.no_faithfulness),
            ..self.params.request()
        }
        .to_options()
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A file of texts, one per line; in a .tsv file each line is `label<TAB>text`.
    #[arg(long, value_name = "FILE")]
    pub texts: PathBuf,
    /// Comma-separated methods (default: all).
    #[arg(long, value_name = "a,b,...")]
    pub methods: Option<String>,
    /// Use at most this many texts (the first ones).
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub params: MethodArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GradsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Class whose logit is differentiated (index); default: the predicted class.
    #[arg(long)]
    pub target: Option<usize>,
    /// Print one JSON object (the only output format of this command).
    #[arg(long, required = true)]
    pub json: bool,
    /// The text to run.
    pub text: String,
}
