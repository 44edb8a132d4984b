//! Decoding every layer through the LM head (method.md section 3): for each layer l and
//! position n, the highest-ranked vocabulary ids of P_{l,n} = softmax(f_lm(H_{l,n})).
//!
//! Only the top k ids of each row are kept (k >= tau): the projection onto input tokens
//! and the coherence both only read probabilities of ids inside the top tau.

use crate::error::Result;
use crate::model::heads::Decoder;
use crate::model::ops::exp_non_positive;
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
        let logits = decoder.forward(&all.narrow(0, start, len)?)?.flatten_all()?.to_vec1::<f32>()?;
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
    const LANES: usize = 8;
    // A plain comparison: f32::max is a libm call in wasm.
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if !max.is_finite() {
        return max;
    }
    let mut sums = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (s, &v) in sums.iter_mut().zip(chunk) {
            *s += exp_non_positive(v - max);
        }
    }
    for (s, &v) in sums.iter_mut().zip(tail) {
        *s += exp_non_positive(v - max);
    }
    let total = ((sums[0] + sums[4]) + (sums[2] + sums[6])) + ((sums[1] + sums[5]) + (sums[3] + sums[7]));
    max + total.ln()
}

/// The `k` largest entries of `row` as (index, value), largest first; ties keep the lower
/// index first, as torch.topk does on CPU for distinct values.
pub fn top_k(row: &[f32], k: usize) -> Vec<(u32, f32)> {
    let k = k.min(row.len());
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, &v) in row.iter().enumerate() {
        if best.len() == k && best.last().map_or(false, |&(_, w)| v <= w) {
            continue;
        }
        let at = best.partition_point(|&(_, w)| w >= v);
        best.insert(at, (i as u32, v));
        best.truncate(k);
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
    }
}
