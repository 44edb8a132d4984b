//! Semantic coherence of a layer and the automatic layer choice (method.md sections 5-6).
//!
//! C_l is the average probability mass that a position's top-tau decoded ids put on the
//! input's own (non-special) tokens: how much of what the layer "says" is still about the
//! text. It needs no labels.

use crate::saliency::decode::DecodedLayer;
use crate::saliency::project::InputIds;
use serde::Serialize;
use std::collections::HashSet;

/// Coherence and self-recovery of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coherence {
    /// C_l in [0, 1].
    pub coherence: f32,
    /// Share of non-special positions whose own token is among their top-tau decoded ids.
    pub self_recovery: f32,
}

pub fn coherence(decoded: &DecodedLayer, input: &InputIds<'_>, tau: usize) -> Coherence {
    let own: HashSet<u32> = input.ids.iter().zip(input.special).filter(|(_, &s)| !s).map(|(&id, _)| id).collect();
    let (mut mass, mut recovered, mut count) = (0f32, 0usize, 0usize);
    for ((top, &id), &special) in decoded.positions.iter().zip(input.ids).zip(input.special) {
        if special {
            continue;
        }
        count += 1;
        let top = &top[..tau.min(top.len())];
        mass += top.iter().filter(|d| own.contains(&d.id)).map(|d| d.prob).sum::<f32>();
        recovered += top.iter().any(|d| d.id == id) as usize;
    }
    if count == 0 {
        return Coherence { coherence: 0.0, self_recovery: 0.0 };
    }
    Coherence { coherence: mass / count as f32, self_recovery: recovered as f32 / count as f32 }
}

/// l* = the deepest layer with C_l >= theta; if none reaches it, the most coherent layer
/// (the shallowest among equals).
pub fn choose_layer(coherences: &[f32], theta: f32) -> usize {
    if let Some(l) = coherences.iter().rposition(|&c| c >= theta) {
        return l;
    }
    coherences.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (l, &c)| if c > best.1 { (l, c) } else { best }).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saliency::decode::DecodedToken;

    fn dt(id: u32, prob: f32) -> DecodedToken {
        DecodedToken { id, logit: prob.ln(), prob }
    }

    /// Input [CLS] 10 11 [SEP]. Position 1 decodes 10 (0.5), 11 (0.25), 3 (0.1):
    /// mass 0.75, recovers itself. Position 2 decodes 10 (0.4), 4 (0.3): mass 0.4, does not
    /// recover 11. C = (0.75 + 0.4) / 2 = 0.575; self-recovery 1/2.
    #[test]
    fn coherence_on_a_toy_distribution() {
        let ids = [1, 10, 11, 2];
        let special = [true, false, false, true];
        let input = InputIds { ids: &ids, special: &special };
        let decoded = DecodedLayer {
            positions: vec![
                vec![dt(10, 0.9)],
                vec![dt(10, 0.5), dt(11, 0.25), dt(3, 0.1)],
                vec![dt(10, 0.4), dt(4, 0.3)],
                vec![],
            ],
        };
        let c = coherence(&decoded, &input, 10);
        assert!((c.coherence - 0.575).abs() < 1e-6, "{c:?}");
        assert_eq!(c.self_recovery, 0.5);
        // With tau = 1 only the best id counts: (0.5 + 0.4) / 2, and position 1 still recovers.
        let c1 = coherence(&decoded, &input, 1);
        assert!((c1.coherence - 0.45).abs() < 1e-6);
        assert_eq!(c1.self_recovery, 0.5);
    }

    #[test]
    fn layer_choice_prefers_the_deepest_coherent_layer() {
        assert_eq!(choose_layer(&[0.9, 0.7, 0.6, 0.2], 0.5), 2);
        assert_eq!(choose_layer(&[0.3, 0.45, 0.1], 0.5), 1);
        assert_eq!(choose_layer(&[0.9, 0.2, 0.8], 0.5), 2);
    }
}
