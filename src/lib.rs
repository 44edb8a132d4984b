//! Decoded layer saliency for BERT-family text classifiers, after Hou & Castanon (2023),
//! computed with candle natively and in WebAssembly.
//!
//! The pipeline, one module per step:
//! 1. [`model`]: load a Hugging Face classifier, its tokenizer and an LM head; run it with
//!    differentiable ops only.
//! 2. [`gradients`]: one backward pass gives dy/dH_l for every layer l.
//! 3. [`saliency`]: decode each layer through the LM head and turn gradients into token and
//!    word saliency.
//! 4. [`metrics`]: how coherent each layer is, and how faithful an explanation is.
//! 5. [`explain`]: the whole pipeline behind one call, returning an `Explanation`.
//! 6. `wasm_api` (wasm32 only): the browser's shell over `Explainer`.

pub mod clock;
pub mod error;
pub mod explain;
pub mod gradients;
pub mod metrics;
pub mod model;
pub mod options;
pub mod saliency;
#[cfg(target_arch = "wasm32")]
pub mod wasm_api;

pub use error::{Error, Result};
pub use explain::{Explainer, Explanation};
pub use model::Model;
pub use options::Options;
