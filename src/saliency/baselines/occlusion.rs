//! Occlusion (leave-one-out): score_n = y(x) - y(x with token n deleted). One batched
//! forward pass over all single-token deletions.

use crate::error::Result;
use crate::gradients::Objective;
use crate::model::input::without_positions;
use crate::model::SequenceClassifier;

pub fn occlusion(
    model: &impl SequenceClassifier,
    ids: &[u32],
    special: &[bool],
    objective: Objective,
    full_score: f32,
) -> Result<Vec<f32>> {
    let positions: Vec<usize> = (0..ids.len()).filter(|&i| !special[i]).collect();
    let variants: Vec<Vec<u32>> = positions.iter().map(|&p| without_positions(ids, |i| i == p)).collect();
    let logits = model.logits_batch(&variants)?;
    let mut scores = vec![0f32; ids.len()];
    for (&p, row) in positions.iter().zip(&logits) {
        scores[p] = full_score - objective.score(row);
    }
    Ok(scores)
}
