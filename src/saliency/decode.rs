//! Decoding every layer through the LM head (method.md section 3): for each layer l and
//! position n, the highest-ranked vocabulary ids of P_{l,n} = softmax(f_lm(H_{l,n})).
//!
//! Only the top k ids of each row are kept (k >= tau): the projection onto input tokens
//! and the coherence both only read probabilities of ids inside the top tau.

use crate::error::Result;
use crate::model::heads::Decoder;
use crate::model::ops::{exp_non_positive, exp_non_positive_x4};
use candle_core::Tensor;

/// One decoded id at one position.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DecodedToken {
    pub id: u32,
    pub logit: f32,
    /// Its probability under the softmax over the whole vocabulary.
    pub prob: f32,
}

/// The top-k decoded ids (best first) for every position of one layer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodedLayer {
    pub positions: Vec<Vec<DecodedToken>>,
}

/// Rows decoded at once: bounds the logits held in memory to this many rows of the
/// vocabulary (about 8 MB for 30,522 words) however long the text or deep the model.
const DECODE_ROWS: usize = 64;

/// Decodes H_0..H_L (each `(seq, hidden)`) and keeps the `k` best ids per position.
pub fn decode_layers(decoder: &Decoder, hidden: &[Tensor], k: usize) -> Result<Vec<DecodedLayer>> {
    let Some(first) = hidden.first() else { return Ok(Vec::new()) };
    let seq = first.dim(0)?;
    // Every layer's rows in one matrix, decoded in chunks: the decoder's weights are
    // streamed once per chunk instead of once per layer.
    let all = Tensor::cat(hidden, 0)?.detach();
    let rows = all.dim(0)?;
    let vocab = decoder.vocab_size();
    let mut decoded: Vec<Vec<DecodedToken>> = Vec::with_capacity(rows);
    for start in (0..rows).step_by(DECODE_ROWS) {
        let len = DECODE_ROWS.min(rows - start);
        let logits = decoder.logits(&all.narrow(0, start, len)?)?;
        for row in logits.chunks_exact(vocab) {
            let lz = log_sum_exp(row);
            decoded.push(
                top_k(row, k)
                    .into_iter()
                    .map(|(id, logit)| DecodedToken { id, logit, prob: (logit - lz).exp() })
                    .collect(),
            );
        }
    }
    let mut layers = Vec::with_capacity(hidden.len());
    let mut rest = decoded.into_iter();
    for _ in hidden {
        layers.push(DecodedLayer { positions: rest.by_ref().take(seq).collect() });
    }
    Ok(layers)
}

/// log(sum(exp(row))), computed stably (relative to the row's maximum) with a vectorisable
/// exp: this runs over every logit of every layer, where a libm call per value would cost
/// as much as the decoding matmul. Lanes are summed in a fixed order, so the result does
/// not depend on how the compiler vectorises it.
pub fn log_sum_exp(row: &[f32]) -> f32 {
    let max = max_of(row);
    if !max.is_finite() {
        return max;
    }
    // Two groups of four lanes (a 128-bit vector each), as arrays of known length so
    // that each group is one vector: group g holds lanes 4g..4g+4 of every 8 values.
    let mut sums = [[0f32; 4]; 2];
    let (chunks, tail) = row.as_chunks::<LANES>();
    for chunk in chunks {
        let [low, high]: &[[f32; 4]; 2] = chunk.as_chunks::<4>().0.try_into().expect("8 = 2 x 4");
        sums[0] = add_exps(sums[0], low, max);
        sums[1] = add_exps(sums[1], high, max);
    }
    for (i, &v) in tail.iter().enumerate() {
        sums[i / 4][i % 4] += exp_non_positive(v - max);
    }
    let [[s0, s1, s2, s3], [s4, s5, s6, s7]] = sums;
    let total = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7));
    max + total.ln()
}

/// `sums + e^(values - max)`, lane by lane.
#[inline(always)]
fn add_exps(sums: [f32; 4], values: &[f32; 4], max: f32) -> [f32; 4] {
    let e = exp_non_positive_x4(values.map(|v| v - max));
    std::array::from_fn(|l| sums[l] + e[l])
}

/// Independent lanes for the passes over a row of logits.
const LANES: usize = 8;

/// The largest value (NaN ignored; -inf for an empty row), with one running maximum per
/// lane so the compiler can keep them in a vector: a single running maximum is a chain of
/// dependent compare-and-selects, the slowest part of decoding after the product itself.
/// The maximum does not depend on the order it is taken in.
fn max_of(row: &[f32]) -> f32 {
    // Plain comparisons: f32::max is a libm call in wasm.
    let pick = |m: f32, v: f32| if v > m { v } else { m };
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let (chunks, tail) = row.as_chunks::<LANES>();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = pick(*m, v);
        }
    }
    tail.iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| pick(m, v))
}

/// The `k` largest entries of `row` as (index, value), largest first; ties keep the lower
/// index first, as torch.topk does on CPU for distinct values.
pub fn top_k(row: &[f32], k: usize) -> Vec<(u32, f32)> {
    let k = k.min(row.len());
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    let consider = |best: &mut Vec<(u32, f32)>, i: usize, v: f32| {
        if best.len() == k && best.last().map_or(true, |&(_, w)| v <= w) {
            return;
        }
        let at = best.partition_point(|&(_, w)| w >= v);
        best.insert(at, (i as u32, v));
        best.truncate(k);
    };
    // Once k values are held, almost no value of a 30,000-word row enters: a block whose
    // maximum does not beat the k-th best is skipped whole (every one of its values would
    // have been), which keeps the common path branch-free.
    let mut start = 0;
    for block in row.chunks(4 * LANES) {
        let skip = best.len() == k && best.last().map_or(true, |&(_, w)| !(max_of(block) > w));
        if !skip && k > 0 {
            for (offset, &v) in block.iter().enumerate() {
                consider(&mut best, start + offset, v);
            }
        }
        start += block.len();
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sum_exp_matches_the_definition() {
        let row: Vec<f32> = (0..30_001).map(|i| ((i as f32) * 0.37).sin() * 12.0 - (i % 13) as f32).collect();
        let exact = {
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, |m, v| m.max(v as f64));
            max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln()
        };
        assert!((log_sum_exp(&row) as f64 - exact).abs() < 1e-5, "{} vs {exact}", log_sum_exp(&row));
        assert_eq!(log_sum_exp(&[3.0]), 3.0);
        assert!((log_sum_exp(&[-200.0, 0.0]) - 0.0).abs() < 1e-7);
    }

    #[test]
    fn top_k_orders_largest_first() {
        assert_eq!(top_k(&[0.1, 3.0, -1.0, 2.0, 3.0], 3), vec![(1, 3.0), (4, 3.0), (3, 2.0)]);
        assert_eq!(top_k(&[1.0], 5), vec![(0, 1.0)]);
        assert_eq!(top_k(&[1.0, 2.0], 0), vec![]);
    }

    /// The block-skipping top-k equals a full sort (stable, so ties keep the lower index),
    /// with ties and values arriving late in long rows.
    #[test]
    fn top_k_equals_a_stable_sort() {
        for (len, k) in [(30_522, 10), (1000, 1), (77, 20), (33, 33)] {
            let row: Vec<f32> =
                (0..len).map(|i| (((i * 7919) % 1013) as f32 * 0.01).floor() + (i as f32 / len as f32)).collect();
            let row_with_ties: Vec<f32> = row.iter().map(|v| v.floor()).collect();
            for r in [&row, &row_with_ties] {
                let mut sorted: Vec<(u32, f32)> = r.iter().enumerate().map(|(i, &v)| (i as u32, v)).collect();
                sorted.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
                sorted.truncate(k);
                assert_eq!(top_k(r, k), sorted, "len {len}, k {k}");
            }
        }
    }

    #[test]
    fn max_ignores_nan_and_order() {
        let mut row: Vec<f32> = (0..100).map(|i| ((i * 37) % 101) as f32).collect();
        row[50] = f32::NAN;
        assert_eq!(max_of(&row), 100.0);
        assert_eq!(max_of(&[]), f32::NEG_INFINITY);
        assert_eq!(max_of(&[-3.0, f32::NAN]), -3.0);
    }
}
