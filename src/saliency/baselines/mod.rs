//! The comparison methods of method.md ("Baselines"), each returning one score per input
//! token (0 for special tokens), for the same objective y as decoded layer saliency.
//! The embedding-layer gradient baselines and layer-gxa reuse `position.rs` directly.

pub mod attention;
pub mod integrated;
pub mod occlusion;
pub mod random;

/// Sets special-token positions to 0: no method credits [CLS] or [SEP].
pub fn zero_specials(mut scores: Vec<f32>, special: &[bool]) -> Vec<f32> {
    for (s, &sp) in scores.iter_mut().zip(special) {
        if sp {
            *s = 0.0;
        }
    }
    scores
}
