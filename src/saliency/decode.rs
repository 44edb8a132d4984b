//! Decoding every layer through the LM head (method.md section 3): for each layer l and
//! position n, the highest-ranked vocabulary ids of P_{l,n} = softmax(f_lm(H_{l,n})).
//!
//! Only the top k ids of each row are kept (k >= tau): the projection onto input tokens
//! and the coherence both only read probabilities of ids inside the top tau.

use crate::error::Result;
use crate::model::heads::Decoder;
use candle_core::{Tensor, D};

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

/// Decodes H_0..H_L (each `(seq, hidden)`) and keeps the `k` best ids per position.
pub fn decode_layers(decoder: &Decoder, hidden: &[Tensor], k: usize) -> Result<Vec<DecodedLayer>> {
    hidden
        .iter()
        .map(|h| {
            let logits = decoder.forward(&h.detach())?; // (seq, vocab)
            let max = logits.max_keepdim(D::Minus1)?;
            let log_norm = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(D::Minus1)?.log()? + &max)?;
            let rows = logits.to_vec2::<f32>()?;
            let log_norm = log_norm.squeeze(1)?.to_vec1::<f32>()?;
            let positions = rows
                .iter()
                .zip(log_norm)
                .map(|(row, lz)| {
                    top_k(row, k)
                        .into_iter()
                        .map(|(id, logit)| DecodedToken { id, logit, prob: (logit - lz).exp() })
                        .collect()
                })
                .collect();
            Ok(DecodedLayer { positions })
        })
        .collect()
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
    fn top_k_orders_largest_first() {
        assert_eq!(top_k(&[0.1, 3.0, -1.0, 2.0, 3.0], 3), vec![(1, 3.0), (4, 3.0), (3, 2.0)]);
        assert_eq!(top_k(&[1.0], 5), vec![(0, 1.0)]);
    }
}
