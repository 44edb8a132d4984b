//! Step 4: measures of a layer (coherence) and of an explanation (faithfulness).

pub mod agreement;
pub mod bench;
pub mod coherence;
pub mod evaluation;
pub mod faithfulness;
pub mod peak;
