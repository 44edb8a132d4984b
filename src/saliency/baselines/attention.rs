//! Attention baselines: last-layer attention from [CLS] averaged over heads, and attention
//! rollout (Abnar & Zuidema, ACL 2020), which multiplies the per-layer attention maps with
//! the residual connection folded in as 0.5 A + 0.5 I.

use crate::error::Result;
use candle_core::{Device, Tensor};

/// Row [CLS] of the last layer's head-averaged attention. `attentions`: per block
/// `(heads, seq, seq)`.
pub fn cls_attention(attentions: &[Tensor]) -> Result<Vec<f32>> {
    let last = attentions.last().expect("an encoder has at least one block");
    Ok(last.mean(0)?.get(0)?.to_vec1::<f32>()?)
}

/// Row [CLS] of the rollout R = Â_L ... Â_1, Â_l = rownorm(0.5 mean_heads(A_l) + 0.5 I).
pub fn rollout(attentions: &[Tensor]) -> Result<Vec<f32>> {
    let seq = attentions[0].dim(1)?;
    let eye = Tensor::eye(seq, candle_core::DType::F32, &Device::Cpu)?;
    let mut rolled = eye.clone();
    for a in attentions {
        let mixed = ((a.mean(0)? * 0.5)? + (&eye * 0.5)?)?;
        let mixed = mixed.broadcast_div(&mixed.sum_keepdim(1)?)?;
        rolled = mixed.matmul(&rolled)?;
    }
    Ok(rolled.get(0)?.to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One head, two layers, two tokens. A1 = [[1,0],[0,1]] (identity) leaves Â1 = I;
    /// A2 = [[0,1],[1,0]] gives Â2 = [[.5,.5],[.5,.5]]. Rollout row 0 = [.5, .5];
    /// last-layer attention row 0 = [0, 1].
    #[test]
    fn rollout_on_a_hand_worked_case() -> Result<()> {
        let dev = Device::Cpu;
        let a1 = Tensor::new(&[[[1f32, 0.], [0., 1.]]], &dev)?;
        let a2 = Tensor::new(&[[[0f32, 1.], [1., 0.]]], &dev)?;
        assert_eq!(rollout(&[a1.clone(), a2.clone()])?, vec![0.5, 0.5]);
        assert_eq!(cls_attention(&[a1, a2])?, vec![0.0, 1.0]);
        Ok(())
    }
}
