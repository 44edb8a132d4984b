//! The building blocks of the forward pass, restricted to operations that candle
//! differentiates. candle's fused `layer_norm`, `LayerNorm::forward` and `softmax_last_dim`
//! record no gradient and must never appear on the path from the input to the logits.

use super::config::Activation;
use super::int8::Int8Matrix;
use super::vocabulary::VocabularyMatrix;
use super::weights::Scope;
use crate::error::Result;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, D};
use std::sync::{Arc, OnceLock};

/// The weight matrix of a linear layer, (out, in) as HF stores it.
#[derive(Debug, Clone)]
pub enum LinearWeight {
    F32(Tensor),
    /// Block-quantized (GGUF): runs the int8 kernel of [`super::int8`].
    Quantized(Arc<Int8Weight>),
}

/// A quantized weight W (out, in) as the int8 kernel uses it, with W^T for the backward
/// pass built on first need (the decoder, which is never differentiated, never pays for it),
/// and W on the exact-integer vocabulary grid, built when it first decodes.
#[derive(Debug)]
pub struct Int8Weight {
    forward: Int8Matrix,
    backward: OnceLock<Int8Matrix>,
    vocabulary: OnceLock<VocabularyMatrix>,
}

impl Int8Weight {
    pub fn new(forward: Int8Matrix) -> Self {
        Self { forward, backward: OnceLock::new(), vocabulary: OnceLock::new() }
    }

    /// W^T for the backward pass (built on first need).
    fn backward(&self) -> &Int8Matrix {
        self.backward.get_or_init(|| self.forward.transposed())
    }

    fn vocabulary(&self) -> &VocabularyMatrix {
        let m = &self.forward;
        self.vocabulary.get_or_init(|| VocabularyMatrix::from_rows(m.rows(), m.cols(), |r, out| m.row_into(r, out)))
    }

    pub fn matrix(&self) -> &Int8Matrix {
        &self.forward
    }
}

/// `y = x W^T + b` over the last dimension, with W stored as HF does: (out, in).
#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
    /// The weight's tensor name as a packed file stores it (calibration is keyed by it).
    name: String,
}

impl Linear {
    /// Loads `{scope}.weight` (out, in) and `{scope}.bias` (out).
    pub fn load(scope: Scope<'_>, in_dim: usize, out_dim: usize) -> Result<Self> {
        let weight = scope.get_matrix("weight", &[out_dim, in_dim])?;
        let bias = Some(scope.get("bias", &[out_dim])?);
        Ok(Self { weight, bias, name: scope.tensor_name("weight") })
    }

    /// `name`: the weight's tensor name (see [`Weights::tensor_name`]).
    pub fn new(name: impl Into<String>, weight: LinearWeight, bias: Option<Tensor>) -> Self {
        Self { weight, bias, name: name.into() }
    }

    /// The weight's tensor name as a packed file stores it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `(..., in) -> (..., out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            LinearWeight::F32(w) => x.broadcast_matmul(&w.t()?)?,
            LinearWeight::Quantized(q) => x.contiguous()?.apply_op1(QuantizedLinear(q.clone()))?,
        };
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// `(rows, in) -> (rows, out)` as a row-major vector, for the decoder's product with
    /// the vocabulary, which is never differentiated: a quantized weight runs the
    /// exact-integer kernel of [`super::vocabulary`] (the bulk of an explanation's
    /// arithmetic), an f32 one the same product as [`Self::forward`].
    pub fn forward_logits(&self, x: &Tensor) -> Result<Vec<f32>> {
        let LinearWeight::Quantized(q) = &self.weight else {
            return Ok(self.forward(x)?.flatten_all()?.to_vec1::<f32>()?);
        };
        let matrix = q.vocabulary();
        let rows = x.elem_count() / matrix.cols().max(1);
        let mut out = matrix.matmul_t(&x.flatten_all()?.to_vec1::<f32>()?, rows);
        if let Some(bias) = &self.bias {
            let bias = bias.to_vec1::<f32>()?;
            for row in out.chunks_exact_mut(bias.len().max(1)) {
                for (o, b) in row.iter_mut().zip(&bias) {
                    *o += b;
                }
            }
        }
        Ok(out)
    }

    /// Builds now what the first backward pass through this layer would (W^T of a
    /// quantized weight), so that the first explanation is not the slow one.
    pub fn prepare_backward(&self) {
        if let LinearWeight::Quantized(q) = &self.weight {
            q.backward();
        }
    }

    /// Builds now what the first [`Self::forward_logits`] would (the integer grid).
    pub fn prepare_logits(&self) {
        if let LinearWeight::Quantized(q) = &self.weight {
            q.vocabulary();
        }
    }

    /// Rows of the weight matrix (the layer's output size).
    pub fn out_dim(&self) -> usize {
        match &self.weight {
            LinearWeight::F32(w) => w.dim(0).unwrap_or(0),
            LinearWeight::Quantized(q) => q.forward.rows(),
        }
    }
}

/// x W^T with a quantized W through the int8 kernel (an op candle records no gradient
/// for by itself), with a backward pass that multiplies the incoming gradient by W, in
/// int8 too (W^T re-quantized along the output dimension): dy/dx flows through quantized
/// layers as through f32 ones. No gradient is computed for W.
struct QuantizedLinear(Arc<Int8Weight>);

/// Applies `matrix` to the rows of a contiguous f32 tensor of shape (..., cols).
fn int8_rows(matrix: &Int8Matrix, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("quantized linear: expected an f32 input") };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("quantized linear: input must be contiguous")
    };
    let dims = layout.shape().dims();
    let cols = *dims.last().unwrap_or(&0);
    if cols != matrix.cols() {
        candle_core::bail!("quantized linear: input has {cols} features, the weight takes {}", matrix.cols())
    }
    let rows = if cols == 0 { 0 } else { (end - start) / cols };
    let out = matrix.matmul_t(&data[start..end], rows);
    let mut out_dims = dims.to_vec();
    *out_dims.last_mut().unwrap() = matrix.rows();
    Ok((CpuStorage::F32(out), Shape::from(out_dims)))
}

impl CustomOp1 for QuantizedLinear {
    fn name(&self) -> &'static str {
        "quantized-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        int8_rows(&self.0.forward, storage, layout)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let w_t = self.0.backward();
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&QuantizedLinearInput(w_t))?))
    }
}

/// g W for the backward pass: the rows of g times the stored W^T.
struct QuantizedLinearInput<'a>(&'a Int8Matrix);

impl CustomOp1 for QuantizedLinearInput<'_> {
    fn name(&self) -> &'static str {
        "quantized-linear-input-gradient"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        int8_rows(self.0, storage, layout)
    }
}

/// LayerNorm over the last dimension, composed from differentiable ops.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `{scope}.weight` and `{scope}.bias` (legacy gamma/beta are renamed on load).
    pub fn load(scope: Scope<'_>, dim: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: scope.get("weight", &[dim])?, bias: scope.get("bias", &[dim])?, eps })
    }

    /// `(..., dim) -> (..., dim)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dim = x.dim(D::Minus1)? as f64;
        let mean = (x.sum_keepdim(D::Minus1)? / dim)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = (centred.sqr()?.sum_keepdim(D::Minus1)? / dim)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}

impl Activation {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::GeluErf => x.gelu_erf()?,
            Activation::GeluTanh => x.gelu()?,
            Activation::Relu => x.relu()?,
        })
    }
}

/// Softmax over the last dimension, differentiable: a fused forward pass, and a backward
/// pass computed from the output alone, p * (g - sum(g * p)). The composed form
/// (max, sub, exp, sum, div) keeps four attention-sized intermediates per layer in the
/// graph: at 512 tokens that is most of the memory of an explanation.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op1(SoftmaxLast)?)
}

struct SoftmaxLast;

impl CustomOp1 for SoftmaxLast {
    fn name(&self) -> &'static str {
        "softmax-last"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle_core::bail!("softmax: expected a contiguous f32 input")
        };
        let n = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = data[start..end].to_vec();
        for row in out.chunks_exact_mut(n) {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
            let mut sum = 0f32;
            for v in row.iter_mut() {
                *v = exp_non_positive(*v - max);
                sum += *v;
            }
            let inv = 1.0 / sum;
            row.iter_mut().for_each(|v| *v *= inv);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dot = (grad * res)?.sum_keepdim(D::Minus1)?;
        Ok(Some((res * grad.broadcast_sub(&dot)?)?))
    }
}

/// e^x for x <= 0 to about 2 ulp, branch-free so loops over it vectorise (libm's expf is
/// a call per value in wasm): x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-6
/// polynomial, 2^n from the exponent bits. Below -87 (e^x < 2e-38) it returns 0, so a
/// masked attention score contributes exactly nothing.
#[inline(always)]
pub fn exp_non_positive(x: f32) -> f32 {
    use exp_constants::*;
    let underflow = x < FLOOR;
    let x = if underflow { FLOOR } else { x };
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 + r * POLY[1..].iter().fold(POLY[0], |p, &c| c + r * p);
    // 2^n from the exponent bits. n is a whole number in [-126, 0], so n + 127 + 2^23 is
    // exact and its low mantissa bits are n + 127: bit operations only, where an `as i32`
    // cast (saturating in Rust) kept every loop over this function scalar.
    let biased = (n + BIAS).to_bits() - TWO_23_BITS as u32;
    let e = p * f32::from_bits(biased << 23);
    if underflow {
        0.0
    } else {
        e
    }
}

/// [`exp_non_positive`] on four lanes at once, bit for bit the same, written with the
/// instruction set's vector operations: the compiler's own vectorisation of the scalar
/// version over a row shuffled lanes through memory and ran at a third of the speed, and
/// this runs on every logit of every decoded layer.
#[inline(always)]
pub fn exp_non_positive_x4(x: [f32; 4]) -> [f32; 4] {
    exp4::exp(x)
}

/// Constants of the exp, shared by the scalar and vector versions, in the order used.
mod exp_constants {
    pub const FLOOR: f32 = -87.0;
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    /// Adding and removing 1.5 * 2^23 rounds to the nearest integer in f32 arithmetic.
    pub const ROUND: f32 = 12_582_912.0;
    pub const LN2_HI: f32 = 0.693_145_75;
    pub const LN2_LO: f32 = 1.428_606_8e-6;
    /// Horner coefficients, innermost first.
    pub const POLY: [f32; 6] = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0];
    pub const BIAS: f32 = 127.0 + 8_388_608.0;
    pub const TWO_23_BITS: i32 = 0x4B00_0000;
}

#[cfg(target_arch = "x86_64")]
mod exp4 {
    use super::exp_constants::*;
    use core::arch::x86_64::*;

    #[inline(always)]
    pub fn exp(x: [f32; 4]) -> [f32; 4] {
        // SAFETY: SSE2 is part of the x86-64 baseline; loads and stores of 4 f32 arrays.
        unsafe {
            let set = _mm_set1_ps;
            let x = _mm_loadu_ps(x.as_ptr());
            let underflow = _mm_cmplt_ps(x, set(FLOOR));
            // (FLOOR > x) ? FLOOR : x, NaN passing through as in the scalar version.
            let x = _mm_max_ps(set(FLOOR), x);
            let n = _mm_sub_ps(_mm_add_ps(_mm_mul_ps(x, set(LOG2E)), set(ROUND)), set(ROUND));
            let r = _mm_sub_ps(_mm_sub_ps(x, _mm_mul_ps(n, set(LN2_HI))), _mm_mul_ps(n, set(LN2_LO)));
            let mut p = set(POLY[0]);
            for c in &POLY[1..] {
                p = _mm_add_ps(set(*c), _mm_mul_ps(r, p));
            }
            let p = _mm_add_ps(set(1.0), _mm_mul_ps(r, p));
            let biased = _mm_sub_epi32(_mm_castps_si128(_mm_add_ps(n, set(BIAS))), _mm_set1_epi32(TWO_23_BITS));
            let e = _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32::<23>(biased)));
            let mut out = [0f32; 4];
            _mm_storeu_ps(out.as_mut_ptr(), _mm_andnot_ps(underflow, e));
            out
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod exp4 {
    use super::exp_constants::*;
    use core::arch::wasm32::*;

    #[inline(always)]
    pub fn exp(x: [f32; 4]) -> [f32; 4] {
        let set = f32x4_splat;
        let x = f32x4(x[0], x[1], x[2], x[3]);
        let underflow = f32x4_lt(x, set(FLOOR));
        // (x < FLOOR) ? FLOOR : x, NaN passing through as in the scalar version.
        let x = f32x4_pmax(x, set(FLOOR));
        let n = f32x4_sub(f32x4_add(f32x4_mul(x, set(LOG2E)), set(ROUND)), set(ROUND));
        let r = f32x4_sub(f32x4_sub(x, f32x4_mul(n, set(LN2_HI))), f32x4_mul(n, set(LN2_LO)));
        let mut p = set(POLY[0]);
        for c in &POLY[1..] {
            p = f32x4_add(set(*c), f32x4_mul(r, p));
        }
        let p = f32x4_add(set(1.0), f32x4_mul(r, p));
        let biased = i32x4_sub(f32x4_add(n, set(BIAS)), i32x4_splat(TWO_23_BITS));
        let e = f32x4_mul(p, i32x4_shl(biased, 23));
        let e = v128_andnot(e, underflow);
        [f32x4_extract_lane::<0>(e), f32x4_extract_lane::<1>(e), f32x4_extract_lane::<2>(e), f32x4_extract_lane::<3>(e)]
    }
}

#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
mod exp4 {
    #[inline(always)]
    pub fn exp(x: [f32; 4]) -> [f32; 4] {
        x.map(super::exp_non_positive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// One quantized layer: forward x W^T and backward g W agree with the f32 products of
    /// the dequantized weight up to the 8-bit rounding of x and g (y = sum(c * (x W^T)),
    /// so g = c). The gradient must not vanish: candle records none for its own op.
    #[test]
    fn quantized_linear_is_differentiable_through_the_int8_kernel() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::arange(0f32, 64.0 * 32.0, &dev)?.affine(0.013, -0.4)?.sin()?.reshape((64, 32))?;
        let matrix = Int8Matrix::quantize(&w.flatten_all()?.to_vec1::<f32>()?, 64, 32);
        let w_deq = Tensor::from_vec(matrix.dequantize(), (64, 32), &dev)?;
        let layer = Linear::new("test.weight", LinearWeight::Quantized(Arc::new(Int8Weight::new(matrix))), None);
        let x =
            Var::from_tensor(&Tensor::arange(0f32, 3.0 * 32.0, &dev)?.affine(0.07, 0.1)?.cos()?.reshape((1, 3, 32))?)?;
        let c = Tensor::arange(0f32, 3.0 * 64.0, &dev)?.affine(0.05, 0.0)?.sin()?.reshape((1, 3, 64))?;
        let out = layer.forward(x.as_tensor())?;
        // Frobenius error relative to the magnitude of the products (|x| |W|^T), since the
        // outputs themselves can cancel: the 8-bit rounding of x and g is well under 1%.
        let norm = |t: &Tensor| -> Result<f32> { Ok(t.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?) };
        let relative = |got: &Tensor, a: &Tensor, b: &Tensor| -> Result<f32> {
            Ok(norm(&(got - a.broadcast_matmul(b)?)?)? / norm(&a.abs()?.broadcast_matmul(&b.abs()?)?)?)
        };
        let forward_err = relative(&out, x.as_tensor(), &w_deq.t()?)?;
        assert!(forward_err < 5e-3, "forward differs from x W_deq^T by {forward_err} (relative)");
        let y = (out * &c)?.sum_all()?;
        let g = y.backward()?.get(x.as_tensor()).expect("a gradient reaches the input").clone();
        let backward_err = relative(&g, &c, &w_deq)?;
        assert!(backward_err < 5e-3, "backward differs from g W_deq by {backward_err} (relative)");
        Ok(())
    }

    /// The fused softmax equals the composed one, forward and backward.
    #[test]
    fn fused_softmax_matches_the_composed_form() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(
            &Tensor::arange(0f32, 2.0 * 3.0 * 7.0, &dev)?
                .affine(0.9, -9.0)?
                .sin()?
                .affine(6.0, 0.0)?
                .reshape((2, 3, 7))?,
        )?;
        let c = Tensor::arange(0f32, 42.0, &dev)?.affine(0.31, 0.2)?.cos()?.reshape((2, 3, 7))?;
        let fused = softmax_last(x.as_tensor())?;
        let composed = candle_nn::ops::softmax(x.as_tensor(), D::Minus1)?;
        let max_diff = |a: &Tensor, b: &Tensor| -> Result<f32> { Ok((a - b)?.abs()?.max_all()?.to_scalar::<f32>()?) };
        assert!(max_diff(&fused, &composed)? < 1e-6);
        let g_fused = (fused * &c)?.sum_all()?.backward()?.get(x.as_tensor()).expect("gradient").clone();
        let g_composed = (composed * &c)?.sum_all()?.backward()?.get(x.as_tensor()).expect("gradient").clone();
        assert!(max_diff(&g_fused, &g_composed)? < 1e-6);
        // A masked score (-1e9) gets exactly zero weight.
        let masked = softmax_last(&Tensor::new(&[[0.5f32, -1e9, 1.0]], &dev)?)?.to_vec2::<f32>()?;
        assert_eq!(masked[0][1], 0.0);
        Ok(())
    }

    /// The four-lane exp is the scalar one, bit for bit, over its whole range and beyond.
    #[test]
    fn four_lane_exp_equals_the_scalar_one() {
        let mut x = -100.0f32;
        while x <= 0.5 {
            let lanes = [x, x * 0.999_9, x - 1e-3, -x * 1e-3];
            let got = exp_non_positive_x4(lanes);
            for (g, v) in got.iter().zip(lanes) {
                assert_eq!(g.to_bits(), exp_non_positive(v).to_bits(), "exp({v})");
            }
            x += 0.003_7;
        }
        let special = exp_non_positive_x4([f32::NAN, f32::NEG_INFINITY, -87.0, 0.0]);
        assert!(special[0].is_nan());
        assert_eq!(&special[1..], &[0.0, exp_non_positive(-87.0), 1.0]);
    }

    #[test]
    fn fast_exp_is_accurate() {
        for x in [-87.0f32, -30.0, -5.5, -1.0, -0.3466, -1e-3, 0.0] {
            let rel = (exp_non_positive(x) as f64 / (x as f64).exp() - 1.0).abs();
            assert!(rel < 5e-7, "exp({x}) off by {rel}");
        }
        assert_eq!(exp_non_positive(-100.0), 0.0);
    }

    /// LayerNorm's gradient must reach the input (the fused candle op records none).
    /// For y = sum(w * LN(x)) with w = [1, 0, 0], dy/dx is non-zero and sums to zero
    /// (LayerNorm ignores shifts), which a finite difference confirms.
    #[test]
    fn layer_norm_is_differentiable_and_matches_finite_differences() -> Result<()> {
        let dev = Device::Cpu;
        let ln = LayerNorm {
            weight: Tensor::new(&[1.5f32, 0.5, 2.0], &dev)?,
            bias: Tensor::new(&[0.1f32, -0.2, 0.3], &dev)?,
            eps: 1e-12,
        };
        let pick = Tensor::new(&[1f32, 0., 0.], &dev)?;
        let x = Var::new(&[0.3f32, -1.2, 2.0], &dev)?;
        let y = ln.forward(x.as_tensor())?.mul(&pick)?.sum_all()?;
        let g = y.backward()?.get(x.as_tensor()).expect("gradient").to_vec1::<f32>()?;
        assert!(g.iter().map(|v| v.abs()).sum::<f32>() > 1e-3);
        assert!(g.iter().sum::<f32>().abs() < 1e-5);
        let f = |v: [f32; 3]| -> f32 {
            let t = Tensor::new(&v, &dev).unwrap();
            ln.forward(&t).unwrap().mul(&pick).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()
        };
        let h = 1e-2f32;
        for i in 0..3 {
            let mut plus = [0.3f32, -1.2, 2.0];
            let mut minus = plus;
            plus[i] += h;
            minus[i] -= h;
            let fd = (f(plus) - f(minus)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 2e-3, "component {i}: fd {fd} vs autograd {}", g[i]);
        }
        Ok(())
    }
}
