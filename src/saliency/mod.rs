//! Step 3: from gradients to token and word saliency: decode each layer through the LM
//! head, score positions, project them onto the input tokens, and sum tokens into words.

pub mod baselines;
pub mod decode;
pub mod position;
pub mod project;
pub mod words;
