//! ERASER faithfulness (DeYoung et al., ACL 2020) of one saliency vector.
//!
//! r_k is the k% of non-special tokens (at least one) with the highest score towards the
//! target class. Comprehensiveness = p_c(x) - p_c(x without r_k) (higher is better);
//! sufficiency = p_c(x) - p_c(only r_k, specials kept) (lower is better). AOPC is the mean
//! over the bins. Removal deletes the token ids and re-packs the sequence (no [MASK]).
//! The deletion curve removes the most relevant tokens first in steps of 10%.

use crate::error::Result;
use crate::gradients::softmax;
use crate::model::input::without_positions;
use crate::model::SequenceClassifier;
use serde::Serialize;

/// Percentages of the ERASER bins.
pub const BINS: [f32; 5] = [1.0, 5.0, 10.0, 20.0, 50.0];

/// What every display of these numbers must say about the perturbation.
pub const PERTURBATION: &str = "token deletion: the selected tokens are removed and the sequence re-packed (no [MASK])";

#[derive(Debug, Clone, Serialize)]
pub struct Faithfulness {
    /// The k of each bin, in percent.
    pub bins: Vec<f32>,
    pub comprehensiveness: Vec<f32>,
    pub sufficiency: Vec<f32>,
    pub aopc_comprehensiveness: f32,
    pub aopc_sufficiency: f32,
    /// (fraction of tokens removed, p_c) from 0 to 1 in steps of 0.1, most relevant first.
    pub deletion_curve: Vec<(f32, f32)>,
    /// Area under the deletion curve (trapezoid; lower means the ranking found what mattered).
    pub deletion_auc: f32,
    pub perturbation: &'static str,
}

/// Number of tokens in a k% bin of `m` tokens: floor(k m / 100), at least one.
pub fn bin_size(k: f32, m: usize) -> usize {
    (((k / 100.0) * m as f32).floor() as usize).clamp(1, m.max(1))
}

/// Non-special positions ordered by descending score (ties: earlier position first).
pub fn ranking(scores: &[f32], special: &[bool]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !special[i]).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

pub fn faithfulness(
    model: &impl SequenceClassifier,
    ids: &[u32],
    special: &[bool],
    scores: &[f32],
    class: usize,
) -> Result<Faithfulness> {
    let order = ranking(scores, special);
    let m = order.len();
    let top = |count: usize| -> Vec<bool> {
        let mut chosen = vec![false; ids.len()];
        for &p in order.iter().take(count) {
            chosen[p] = true;
        }
        chosen
    };
    let mut variants = vec![ids.to_vec()];
    for k in BINS {
        let chosen = top(bin_size(k, m));
        variants.push(without_positions(ids, |i| chosen[i]));
        variants.push(without_positions(ids, |i| !special[i] && !chosen[i]));
    }
    let fractions: Vec<f32> = (0..=10).map(|i| i as f32 / 10.0).collect();
    for &f in &fractions {
        let chosen = top((f * m as f32).round() as usize);
        variants.push(without_positions(ids, |i| chosen[i]));
    }
    let probs: Vec<f32> = model.logits_batch(&variants)?.iter().map(|l| softmax(l)[class]).collect();
    let full = probs[0];
    let comprehensiveness: Vec<f32> = (0..BINS.len()).map(|b| full - probs[1 + 2 * b]).collect();
    let sufficiency: Vec<f32> = (0..BINS.len()).map(|b| full - probs[2 + 2 * b]).collect();
    let curve: Vec<(f32, f32)> = fractions.iter().copied().zip(probs[1 + 2 * BINS.len()..].iter().copied()).collect();
    let auc = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    Ok(Faithfulness {
        bins: BINS.to_vec(),
        aopc_comprehensiveness: mean(&comprehensiveness),
        aopc_sufficiency: mean(&sufficiency),
        comprehensiveness,
        sufficiency,
        deletion_curve: curve,
        deletion_auc: auc,
        perturbation: PERTURBATION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy classifier whose answer is known: p(class 0) = 0.9 when token 7 is present,
    /// else 0.1 (logits ln 9 and 0).
    struct NeedsSeven;
    impl SequenceClassifier for NeedsSeven {
        fn logits_batch(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
            Ok(seqs.iter().map(|s| if s.contains(&7) { vec![9f32.ln(), 0.0] } else { vec![0.0, 9f32.ln()] }).collect())
        }
    }

    /// Ten tokens between [CLS]=1 and [SEP]=2; token 7 at position 4.
    /// Ranking 7 first: removing any top bin removes it, so comprehensiveness is
    /// 0.9 - 0.1 = 0.8 in every bin and sufficiency 0.9 - 0.9 = 0. Ranking it last: the
    /// 50% bin (5 tokens) still keeps it, so comprehensiveness is 0 and sufficiency 0.8.
    #[test]
    fn aopc_on_a_toy_model_with_a_known_answer() {
        let ids = [1, 20, 21, 22, 7, 23, 24, 25, 26, 27, 28, 2];
        let special: Vec<bool> = ids.iter().map(|&i| i == 1 || i == 2).collect();
        let mut good = vec![0f32; ids.len()];
        good[4] = 1.0;
        let f = faithfulness(&NeedsSeven, &ids, &special, &good, 0).unwrap();
        assert!((f.aopc_comprehensiveness - 0.8).abs() < 1e-5, "{f:?}");
        assert!(f.aopc_sufficiency.abs() < 1e-5, "{f:?}");
        let bad: Vec<f32> = (0..ids.len()).map(|i| if i == 4 { -1.0 } else { i as f32 }).collect();
        let f = faithfulness(&NeedsSeven, &ids, &special, &bad, 0).unwrap();
        assert!(f.aopc_comprehensiveness.abs() < 1e-5, "{f:?}");
        assert!((f.aopc_sufficiency - 0.8).abs() < 1e-5, "{f:?}");
        // The deletion curve starts at p(x) = 0.9 and ends with everything removed (0.1).
        assert!((f.deletion_curve[0].1 - 0.9).abs() < 1e-5 && (f.deletion_curve[10].1 - 0.1).abs() < 1e-5);
    }

    #[test]
    fn bins_hold_at_least_one_token() {
        assert_eq!(bin_size(1.0, 10), 1);
        assert_eq!(bin_size(50.0, 10), 5);
        assert_eq!(bin_size(20.0, 12), 2);
        assert_eq!(bin_size(50.0, 1), 1);
    }

    #[test]
    fn ranking_skips_specials_and_breaks_ties_by_position() {
        let scores = [9.0, 0.5, 2.0, 0.5, -1.0, 9.0];
        let special = [true, false, false, false, false, true];
        assert_eq!(ranking(&scores, &special), vec![2, 1, 3, 4]);
    }
}
