//! The one error type of the library. Every variant names what the user can act on:
//! the file, the tensor, the layer or the option that was wrong.

/// Everything that can go wrong between model bytes and an explanation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be parsed at all (truncated, corrupt, wrong format).
    #[error("cannot read {file}: {reason}")]
    BadFile { file: String, reason: String },

    /// A tensor the architecture needs is not in any of the weight files.
    #[error("{file} has no tensor `{name}` (needed by the {architecture} architecture)")]
    MissingTensor { file: String, name: String, architecture: String },

    /// A tensor exists but its shape disagrees with config.json.
    #[error("tensor `{name}` in {file} has shape {actual:?}, but the config implies {expected:?}")]
    TensorShape { file: String, name: String, expected: Vec<usize>, actual: Vec<usize> },

    /// config.json is missing a key, or has a value we cannot use.
    #[error("config {file}: {reason}")]
    Config { file: String, reason: String },

    /// The architecture named in config.json is not one this tool implements.
    #[error("unsupported architecture `{name}` in {file}: supported are BERT and DistilBERT (classifiers, masked-LM, plain encoders with a sentence head)")]
    UnsupportedArchitecture { file: String, name: String },

    /// The classifier and the LM head do not share a base (vocabulary or hidden size).
    #[error(
        "the LM head in {lm_file} does not fit the classifier: {what} is {lm} there but {classifier} in the classifier"
    )]
    LmHeadMismatch { lm_file: String, what: String, lm: usize, classifier: usize },

    /// The checkpoint has no classification head we recognise.
    #[error("no classification head found in {file}: expected BertForSequenceClassification, DistilBertForSequenceClassification, or a sentence head file (classifier.safetensors)")]
    NoClassifier { file: String },

    /// The tokenizer rejected the text or its file.
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// The text is unusable as given (empty, too long, ...).
    #[error("{0}")]
    Input(String),

    /// An option value is out of range or names a class that does not exist.
    #[error("option {option}: {reason}")]
    Option { option: String, reason: String },

    /// The backward pass produced no gradient at a layer: a non-differentiable op on the
    /// path. This is a bug in the engine, never silently replaced by zeros.
    #[error("no gradient reached layer {layer}: an op on the path records no gradient")]
    NoGradient { layer: usize },

    /// An error inside candle (shape mismatch in an op, allocation failure, ...).
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
