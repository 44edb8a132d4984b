//! Projection of decoded positions onto the input tokens (method.md section 4).
//!
//! Position n at layer l decodes to a distribution P_{l,n}; of its tau best ids, those that
//! are input tokens receive the position's saliency in proportion to their probability.
//! A token id occurring c times in the input splits its share c ways, so repeated words
//! share rather than multiply credit. Positions decoding to no input token leave their
//! saliency unassigned, and the amount is reported rather than hidden.

use super::decode::DecodedLayer;
use std::collections::HashMap;

/// The input as the projection needs it: ids and which positions are special tokens.
pub struct InputIds<'a> {
    pub ids: &'a [u32],
    pub special: &'a [bool],
}

impl InputIds<'_> {
    /// How often each non-special id occurs.
    pub fn counts(&self) -> HashMap<u32, usize> {
        let mut counts = HashMap::new();
        for (&id, &special) in self.ids.iter().zip(self.special) {
            if !special {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// Token saliency S_{l,m} of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Projected {
    /// One score per input position; 0 for special tokens.
    pub token_saliency: Vec<f32>,
    /// Share of the layer's total |saliency| that decoded to no input token, in [0, 1].
    pub unassigned: f32,
}

/// S_{l,m} = sum_n W_{l,n,m} s_{l,n}, with W from the top-`tau` decoded ids of each position.
pub fn project(decoded: &DecodedLayer, input: &InputIds<'_>, position_saliency: &[f32], tau: usize) -> Projected {
    let counts = input.counts();
    let mut token_saliency = vec![0f32; input.ids.len()];
    let (mut total, mut unassigned) = (0f32, 0f32);
    for (top, &s) in decoded.positions.iter().zip(position_saliency) {
        total += s.abs();
        // Row n of W before normalisation: P[t_m] / count(t_m) for input tokens in the top tau.
        let row: Vec<(usize, f32)> = input
            .ids
            .iter()
            .zip(input.special)
            .enumerate()
            .filter(|(_, (_, &special))| !special)
            .filter_map(|(m, (id, _))| {
                top.iter().take(tau).find(|d| d.id == *id).map(|d| (m, d.prob / counts[id] as f32))
            })
            .collect();
        let mass: f32 = row.iter().map(|(_, w)| w).sum();
        if mass <= 0.0 {
            unassigned += s.abs();
            continue;
        }
        for (m, w) in row {
            token_saliency[m] += w / mass * s;
        }
    }
    Projected { token_saliency, unassigned: if total > 0.0 { unassigned / total } else { 0.0 } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saliency::decode::DecodedToken;

    fn dt(id: u32, prob: f32) -> DecodedToken {
        DecodedToken { id, logit: prob.ln(), prob }
    }

    /// Input: [CLS]=1, "good"=10, "movie"=11, "good"=10, [SEP]=2.
    /// Position 1 decodes to good 0.6, movie 0.2, other 0.1: W = 0.6 / count 2 = 0.3 at each
    /// "good" (m=1 and m=3), 0.2 at "movie" (m=2); mass 0.8, so 0.375, 0.25, 0.375.
    /// Position 2 decodes to nothing in the input: its saliency is unassigned.
    /// Position 3 decodes to movie only: all of its -1 goes to m=2.
    #[test]
    fn projection_splits_credit_among_repeats_and_reports_unassigned() {
        let ids = [1, 10, 11, 10, 2];
        let special = [true, false, false, false, true];
        let input = InputIds { ids: &ids, special: &special };
        let decoded = DecodedLayer {
            positions: vec![
                vec![dt(5, 0.9)],
                vec![dt(10, 0.6), dt(11, 0.2), dt(7, 0.1)],
                vec![dt(99, 0.5)],
                vec![dt(11, 0.4)],
                vec![dt(7, 0.9)],
            ],
        };
        let s = [0.0, 2.0, 1.0, -1.0, 0.0];
        let p = project(&decoded, &input, &s, 10);
        // position 1 (s=2): good 0.75 each, movie 0.5; position 3 (s=-1): movie -1.
        let expected = [0.0, 0.75, 0.5 - 1.0, 0.75, 0.0];
        for (a, b) in p.token_saliency.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{:?} vs {expected:?}", p.token_saliency);
        }
        assert!((p.unassigned - 1.0 / 4.0).abs() < 1e-6, "{}", p.unassigned);
    }

    #[test]
    fn ids_outside_the_top_tau_get_nothing() {
        let ids = [1, 10, 2];
        let special = [true, false, true];
        let input = InputIds { ids: &ids, special: &special };
        let decoded = DecodedLayer { positions: vec![vec![], vec![dt(3, 0.5), dt(10, 0.3)], vec![]] };
        let p = project(&decoded, &input, &[0.0, 1.0, 0.0], 1);
        assert_eq!(p.token_saliency, vec![0.0, 0.0, 0.0]);
        assert_eq!(p.unassigned, 1.0);
        let p = project(&decoded, &input, &[0.0, 1.0, 0.0], 2);
        assert_eq!(p.token_saliency, vec![0.0, 1.0, 0.0]);
    }
}
