//! Command-line arguments. Each flag's doc comment is its help text.

use clap::{Args, Parser, Subcommand};
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
    /// Print logits, hidden states, per-layer gradients and decoded tokens for one text.
    Grads(GradsArgs),
}

/// Where the model comes from.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Classifier directory: config.json, tokenizer.json, model.safetensors, and optionally
    /// classifier.safetensors (a sentence head for a plain encoder).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Directory of a masked-LM checkpoint of the same base whose LM head decodes the
    /// layers (default: the classifier's own LM head, else its tied word embeddings).
    #[arg(long, value_name = "PATH")]
    pub lm_head: Option<PathBuf>,
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
