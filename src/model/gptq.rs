//! Calibrated rounding of a weight matrix into ggml blocks (q8_0, q5_0, q4_0), for
//! `saliency pack --calibrate`.
//!
//! Round-to-nearest (candle's quantizer) rounds every weight on its own and takes each
//! block's scale from its largest value. Here both choices look at what the matrix is
//! multiplied by, summarised by the Gram matrix H = X^T X of its inputs on calibration
//! texts (see `calibration.rs`):
//! - the scale of each block of 32 is the one that minimises the rounding error weighted by
//!   the inputs' energy diag(H), searched over candidates (as llama.cpp's importance
//!   matrix does), so that the columns that carry large activations are rounded finely;
//! - with [`Rounding::Gptq`], the columns are rounded one at a time and each rounding error
//!   is moved onto the columns not yet rounded, in the proportions that cancel it on the
//!   calibration inputs (GPTQ: Frantar et al., 2023): it minimises ||X W^T - X Q^T|| rather
//!   than ||W - Q||. Rows are independent, so the matrix is processed row by row.
//!
//! The output is the block bytes GGUF stores, so the files load like any other.

use candle_core::quantized::GgmlDType;

/// How weights are rounded, given the Gram matrix of their inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Nearest value on each block's grid; the scale chosen with the inputs' energy.
    Nearest,
    /// GPTQ's error feedback on top of the same scales, columns in their stored order.
    Gptq,
    /// GPTQ rounding the columns with the most input energy first ("act-order").
    GptqActOrder,
}

impl Rounding {
    pub const ALL: [Rounding; 3] = [Rounding::Nearest, Rounding::Gptq, Rounding::GptqActOrder];

    pub fn name(self) -> &'static str {
        match self {
            Rounding::Nearest => "nearest",
            Rounding::Gptq => "gptq",
            Rounding::GptqActOrder => "gptq-act-order",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

const BLOCK: usize = 32;

/// A block format's integer range and byte size.
#[derive(Debug, Clone, Copy)]
struct Grid {
    lo: i32,
    hi: i32,
    bytes: usize,
    format: GgmlDType,
}

impl Grid {
    fn of(format: GgmlDType) -> Option<Self> {
        match format {
            GgmlDType::Q8_0 => Some(Self { lo: -127, hi: 127, bytes: 34, format }),
            GgmlDType::Q5_0 => Some(Self { lo: -16, hi: 15, bytes: 22, format }),
            GgmlDType::Q4_0 => Some(Self { lo: -8, hi: 7, bytes: 18, format }),
            _ => None,
        }
    }

    fn round(&self, x: f32, inverse_scale: f32) -> i32 {
        ((x * inverse_scale).round() as i32).clamp(self.lo, self.hi)
    }

    /// The f16-representable scale that, with nearest rounding, minimises
    /// sum_j importance_j (w_j - d q_j)^2 over a set of candidates: the two ends of the grid
    /// on the largest weight, stretched and shrunk by tenths of a level, each refitted by
    /// weighted least squares given its rounded integers.
    fn scale(&self, w: &[f32], importance: &[f32]) -> f32 {
        let (mut max, mut amax) = (0f32, 0f32);
        for &x in w {
            if x.abs() > amax {
                (amax, max) = (x.abs(), x);
            }
        }
        if amax == 0.0 {
            return 0.0;
        }
        let error = |d: f32| -> f32 {
            let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
            w.iter().zip(importance).map(|(&x, &h)| h * (x - d * self.round(x, inv) as f32).powi(2)).sum()
        };
        let mut best = (f32::INFINITY, 0f32);
        for end in [self.lo as f32, self.hi as f32] {
            for step in -10..=10 {
                let level = end + end.signum() * 0.1 * step as f32;
                let inv = level / max;
                let (mut num, mut den) = (0f32, 0f32);
                for (&x, &h) in w.iter().zip(importance) {
                    let q = self.round(x, inv) as f32;
                    num += h * x * q;
                    den += h * q * q;
                }
                if den <= 0.0 {
                    continue;
                }
                let d = f16_value(f16_bits(num / den));
                let e = error(d);
                if e < best.0 {
                    best = (e, d);
                }
            }
        }
        best.1
    }

    /// Writes one block's bytes: scale `d` and integers `q` (in `lo..=hi`).
    fn write(&self, d: f32, q: &[i32; BLOCK], out: &mut Vec<u8>) {
        out.extend_from_slice(&f16_bits(d).to_le_bytes());
        match self.format {
            GgmlDType::Q8_0 => out.extend(q.iter().map(|&v| v as i8 as u8)),
            GgmlDType::Q5_0 => {
                let mut high = 0u32;
                let biased: Vec<u32> = q.iter().map(|&v| (v + 16) as u32).collect();
                for (j, &b) in biased.iter().enumerate() {
                    high |= (b >> 4) << j;
                }
                out.extend_from_slice(&high.to_le_bytes());
                out.extend((0..BLOCK / 2).map(|j| ((biased[j] & 15) | ((biased[j + BLOCK / 2] & 15) << 4)) as u8));
            }
            GgmlDType::Q4_0 => {
                let biased: Vec<u32> = q.iter().map(|&v| (v + 8) as u32).collect();
                out.extend((0..BLOCK / 2).map(|j| (biased[j] | (biased[j + BLOCK / 2] << 4)) as u8));
            }
            _ => unreachable!("Grid::of admits only q8_0, q5_0 and q4_0"),
        }
    }
}

/// Whether [`quantize`] can write `format`.
pub fn supports(format: GgmlDType) -> bool {
    Grid::of(format).is_some()
}

/// Rounds `w` (rows x cols, row-major; cols a multiple of 32) into `format`'s GGUF block
/// bytes, given `gram` (cols x cols, row-major), the inputs' X^T X (any positive scale).
/// `None` when the format is not one of q8_0, q5_0, q4_0.
pub fn quantize(
    w: &[f32],
    rows: usize,
    cols: usize,
    gram: &[f64],
    format: GgmlDType,
    rounding: Rounding,
) -> Option<Vec<u8>> {
    let grid = Grid::of(format)?;
    assert!(
        cols % BLOCK == 0 && w.len() == rows * cols && gram.len() == cols * cols,
        "shapes of w and its Gram matrix"
    );
    let importance: Vec<f32> = (0..cols).map(|j| gram[j * cols + j].max(0.0) as f32).collect();
    // The order columns are rounded in: the loudest inputs first with act-order, so that
    // their errors can still be compensated by the many columns after them.
    let mut order: Vec<usize> = (0..cols).collect();
    if rounding == Rounding::GptqActOrder {
        order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]));
    }
    let feedback = match rounding {
        Rounding::Nearest => None,
        Rounding::Gptq | Rounding::GptqActOrder => {
            let permuted: Vec<f64> = (0..cols * cols).map(|k| gram[order[k / cols] * cols + order[k % cols]]).collect();
            Some(error_feedback(&permuted, cols))
        }
    };
    let blocks_per_row = cols / BLOCK;
    let mut out = Vec::with_capacity(rows * blocks_per_row * grid.bytes);
    let mut row = vec![0f32; cols];
    let mut q = vec![0i32; cols];
    let mut scales: Vec<Option<f32>> = vec![None; blocks_per_row];
    for r in 0..rows {
        row.copy_from_slice(&w[r * cols..(r + 1) * cols]);
        scales.fill(None);
        for (i, &j) in order.iter().enumerate() {
            let block = j / BLOCK * BLOCK..(j / BLOCK + 1) * BLOCK;
            // A block's scale is chosen when its first column comes up, from the block's
            // weights as the errors moved onto them so far have left them.
            let d = *scales[j / BLOCK].get_or_insert_with(|| grid.scale(&row[block.clone()], &importance[block]));
            q[j] = grid.round(row[j], if d == 0.0 { 0.0 } else { 1.0 / d });
            if let Some(u) = &feedback {
                // Spread this weight's rounding error over the columns after it.
                let error = (row[j] - d * q[j] as f32) / u[i * cols + i];
                for (&later, &coefficient) in order[i + 1..].iter().zip(&u[i * cols + i + 1..(i + 1) * cols]) {
                    row[later] -= error * coefficient;
                }
            }
        }
        for b in 0..blocks_per_row {
            let block: &[i32; BLOCK] = q[b * BLOCK..(b + 1) * BLOCK].try_into().expect("a block");
            grid.write(scales[b].unwrap_or(0.0), block, &mut out);
        }
    }
    Some(out)
}

/// GPTQ's update coefficients: the upper Cholesky factor U of (H + damping)^-1, with
/// H^-1 = U^T U. Row j of U says how the error of column j moves onto the later columns.
/// The damping (1% of the mean diagonal) keeps H invertible when some inputs are
/// (nearly) collinear or never active; a dead column gets unit energy.
fn error_feedback(gram: &[f64], n: usize) -> Vec<f32> {
    let mut h = gram.to_vec();
    let mean = (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
    let damping = 0.01 * if mean > 0.0 { mean } else { 1.0 };
    for j in 0..n {
        if h[j * n + j] <= 0.0 {
            h[j * n + j] = 1.0;
        }
        h[j * n + j] += damping;
    }
    // H^-1 from H's Cholesky factor, then U = L'^T for H^-1's own lower factor L'.
    let inverse = inverse_from_cholesky(&cholesky(&h, n), n);
    let lower = cholesky(&inverse, n);
    let mut u = vec![0f32; n * n];
    for i in 0..n {
        for j in i..n {
            u[i * n + j] = lower[j * n + i] as f32;
        }
    }
    u
}

/// Lower Cholesky factor of a symmetric positive-definite matrix (row-major).
fn cholesky(a: &[f64], n: usize) -> Vec<f64> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                l[i * n + i] = (a[i * n + i] - dot).max(1e-12).sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    l
}

/// A^-1 from A's lower Cholesky factor L: (L L^T)^-1 = L^-T L^-1.
fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    // L^-1 by forward substitution, column by column.
    let mut inv_l = vec![0f64; n * n];
    for c in 0..n {
        for i in c..n {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let dot: f64 = (c..i).map(|k| l[i * n + k] * inv_l[k * n + c]).sum();
            inv_l[i * n + c] = (rhs - dot) / l[i * n + i];
        }
    }
    let mut out = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            // (L^-T L^-1)[i][j] = sum_k L^-1[k][i] L^-1[k][j], k >= max(i, j) = i
            let s: f64 = (i..n).map(|k| inv_l[k * n + i] * inv_l[k * n + j]).sum();
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    out
}

/// IEEE half-precision bits of `x`, rounded to nearest even (GGUF stores block scales so).
pub fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let magnitude = bits & 0x7fff_ffff;
    if magnitude >= 0x7f80_0000 {
        return sign | 0x7c00 | if magnitude > 0x7f80_0000 { 0x200 } else { 0 };
    }
    if magnitude >= 0x477f_f000 {
        return sign | 0x7c00; // 65520 and above round to infinity
    }
    if magnitude < 0x3880_0000 {
        // Below 2^-14: a subnormal half, in units of 2^-24 (the product is exact).
        return sign | super::int8::round_small(f32::from_bits(magnitude) * 16_777_216.0) as u16;
    }
    let rebased = magnitude - (112 << 23);
    sign | ((rebased + 0x0fff + ((rebased >> 13) & 1)) >> 13) as u16
}

/// The value of half-precision bits.
pub fn f16_value(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((bits >> 10) & 0x1f) as i32;
    let mantissa = (bits & 0x3ff) as f32;
    sign * match exponent {
        0 => mantissa * (2f32).powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + mantissa / 1024.0) * (2f32).powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{ggml_file::qtensor_from_ggml, QTensor};
    use candle_core::{Device, Tensor};

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn half_precision_bits_match_candles_conversion() {
        let mut seed = 7;
        let mut values: Vec<f32> = (0..4096).map(|i| lcg(&mut seed) * 10f32.powi(i % 12 - 8)).collect();
        values.extend([0.0, -0.0, 65504.0, 65519.0, 65520.0, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9, 1.0, -2.5]);
        let n = values.len();
        let tensor = Tensor::from_vec(values.clone(), n, &Device::Cpu).unwrap();
        let ours: Vec<u16> = values.iter().map(|&v| f16_bits(v)).collect();
        let half = QTensor::quantize(&tensor, GgmlDType::F16).unwrap();
        let theirs: Vec<u16> = half.data().unwrap().chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        assert_eq!(ours, theirs);
        let back = half.dequantize(&Device::Cpu).unwrap().to_vec1::<f32>().unwrap();
        for (bits, expected) in ours.iter().zip(back) {
            assert_eq!(f16_value(*bits), expected);
        }
    }

    /// A random matrix and the Gram matrix of correlated inputs with a few loud columns
    /// (as transformer activations have).
    fn problem(rows: usize, cols: usize, samples: usize) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
        let mut seed = 11;
        let w: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed) * 0.05).collect();
        let mut x = vec![0f32; samples * cols];
        for s in 0..samples {
            let common = lcg(&mut seed);
            for j in 0..cols {
                let loud = if j % 37 == 3 { 8.0 } else { 1.0 };
                x[s * cols + j] = loud * (lcg(&mut seed) + 0.7 * common);
            }
        }
        let mut gram = vec![0f64; cols * cols];
        for s in 0..samples {
            let xs = &x[s * cols..(s + 1) * cols];
            for i in 0..cols {
                for j in 0..cols {
                    gram[i * cols + j] += xs[i] as f64 * xs[j] as f64;
                }
            }
        }
        (w, x, gram)
    }

    fn output_error(w: &[f32], q: &[f32], x: &[f32], rows: usize, cols: usize) -> f64 {
        let samples = x.len() / cols;
        let mut total = 0f64;
        for s in 0..samples {
            for r in 0..rows {
                let dot: f64 =
                    (0..cols).map(|j| (w[r * cols + j] - q[r * cols + j]) as f64 * x[s * cols + j] as f64).sum();
                total += dot * dot;
            }
        }
        total
    }

    #[test]
    fn blocks_load_in_candle_and_calibration_lowers_the_output_error() {
        let (rows, cols, samples) = (24, 128, 400);
        let (w, x, gram) = problem(rows, cols, samples);
        let tensor = Tensor::from_vec(w.clone(), (rows, cols), &Device::Cpu).unwrap();
        for format in [GgmlDType::Q4_0, GgmlDType::Q5_0, GgmlDType::Q8_0] {
            let nearest = QTensor::quantize(&tensor, format).unwrap().dequantize(&Device::Cpu).unwrap();
            let nearest: Vec<f32> = nearest.flatten_all().unwrap().to_vec1().unwrap();
            let mut errors = vec![output_error(&w, &nearest, &x, rows, cols)];
            for rounding in [Rounding::Nearest, Rounding::Gptq, Rounding::GptqActOrder] {
                let bytes = quantize(&w, rows, cols, &gram, format, rounding).unwrap();
                assert_eq!(bytes.len(), rows * cols / BLOCK * Grid::of(format).unwrap().bytes);
                let loaded = qtensor_from_ggml(format, &bytes, vec![rows, cols], &Device::Cpu).unwrap();
                let values: Vec<f32> =
                    loaded.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                // Every weight stays within a few grid steps of the original.
                let worst = w.iter().zip(&values).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(worst < 0.05, "{format:?} {rounding:?}: a weight moved by {worst}");
                errors.push(output_error(&w, &values, &x, rows, cols));
            }
            // candle's nearest rounding > weighted scales > GPTQ, on the inputs' outputs.
            assert!(errors[1] < errors[0], "{format:?}: {errors:?}");
            assert!(errors[2] < 0.8 * errors[1], "{format:?}: {errors:?}");
            assert!(errors[3] < errors[1], "{format:?}: {errors:?}");
        }
    }

    #[test]
    fn the_feedback_factor_inverts_the_damped_gram_matrix() {
        let n = 40;
        let (_, _, gram) = problem(1, n, 100);
        let u = error_feedback(&gram, n);
        // U^T U (H + damping) = I.
        let mut h = gram.clone();
        let damping = 0.01 * (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
        (0..n).for_each(|j| h[j * n + j] += damping);
        let product: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                (0..n)
                    .map(|m| {
                        let inv_im: f64 = (0..n).map(|t| u[t * n + i] as f64 * u[t * n + m] as f64).sum();
                        inv_im * h[m * n + j]
                    })
                    .sum()
            })
            .collect();
        for i in 0..n {
            for j in 0..n {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((product[i * n + j] - expected).abs() < 1e-3, "({i},{j}) = {}", product[i * n + j]);
            }
        }
    }
}
