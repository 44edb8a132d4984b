//! Position saliency at one layer (method.md section 2): the feature aggregation g turns
//! the gradient G_l and activation H_l, both `(seq, hidden)`, into one score per position.

use crate::error::Result;
use crate::options::Aggregation;
use candle_core::{Tensor, D};

/// s_{l,n} for every position n of one layer.
pub fn position_saliency(aggregation: Aggregation, hidden: &Tensor, grad: &Tensor) -> Result<Vec<f32>> {
    let scores = match aggregation {
        // sum_k G_{n,k} H_{n,k}
        Aggregation::Gxa => (grad * hidden)?.sum(D::Minus1)?,
        // ||G_n||_2
        Aggregation::GradNorm => grad.sqr()?.sum(D::Minus1)?.sqrt()?,
        // a_k = mean_n G_{n,k}; s_n = ReLU(sum_k a_k H_{n,k})
        Aggregation::GradCam => {
            let weights = grad.mean_keepdim(0)?;
            hidden.broadcast_mul(&weights)?.sum(D::Minus1)?.relu()?
        }
    };
    Ok(scores.to_vec1::<f32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn aggregations_on_a_hand_worked_case() -> Result<()> {
        let dev = Device::Cpu;
        // Two positions, two features.
        let h = Tensor::new(&[[1f32, 2.], [3., -1.]], &dev)?;
        let g = Tensor::new(&[[0.5f32, -1.], [2., 0.]], &dev)?;
        // gxa: [0.5 - 2, 6 + 0] = [-1.5, 6]
        assert_eq!(position_saliency(Aggregation::Gxa, &h, &g)?, vec![-1.5, 6.0]);
        // grad-norm: [sqrt(1.25), 2]
        let n = position_saliency(Aggregation::GradNorm, &h, &g)?;
        assert!((n[0] - 1.25f32.sqrt()).abs() < 1e-6 && (n[1] - 2.0).abs() < 1e-6);
        // gradcam: a = [1.25, -0.5]; [1.25 - 1, 3.75 + 0.5] = [0.25, 4.25]
        let c = position_saliency(Aggregation::GradCam, &h, &g)?;
        assert!((c[0] - 0.25).abs() < 1e-6 && (c[1] - 4.25).abs() < 1e-6, "{c:?}");
        Ok(())
    }
}
