//! Int8 matrix products: the kernel behind every quantized linear layer and the vocabulary
//! decode of a quantized model.
//!
//! Why our own kernel and not candle's `QMatMul`: in the browser the model runs on one
//! thread, and decoding every layer through a 30,522-word vocabulary is most of an
//! explanation. candle's quantized matmul walks the weight once per row tile and converts
//! per block through f16 scales; here weights keep f32 scales, activations are widened to
//! i16 once per row, and the weight is walked in cache-sized column chunks, so the inner
//! loop is nothing but `i32x4.dot_i16x8_s` (wasm simd128) or its portable equivalent.
//!
//! Numerics are those of GGML's q8_0 x q8_0 product: both operands are quantized in blocks
//! of 32 along the shared dimension with scale d = max|v| / 127 and values round(v / d);
//! each block's integer dot product (exact) is scaled by d_x * d_w. The float accumulation
//! order is fixed (four lanes, then (l0 + l2) + (l1 + l3)) and the portable code computes it
//! exactly as the simd128 code does, so native and browser results are bit-identical.

use candle_core::quantized::{GgmlDType, GgmlType, QTensor};

/// Values per quantization block along the shared dimension.
pub const BLOCK: usize = 32;

/// Output columns (weight rows) processed together, so that their int8 rows (a few
/// hundred KB for hidden sizes up to 1,536) stay in cache while every input row passes.
const COLUMN_CHUNK: usize = 128;

/// Input rows and weight rows per register tile.
const TILE_ROWS: usize = 4;
const TILE_COLS: usize = 2;

/// A `rows x cols` matrix in int8 blocks of 32 along each row (rows zero-padded to a whole
/// number of blocks), one f32 scale per block.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

/// Input rows quantized the same way, widened to i16 (the operand width of the dot
/// instruction) once instead of once per output column.
pub struct Int8Rows {
    rows: usize,
    blocks: usize,
    values: Vec<i16>,
    scales: Vec<f32>,
}

fn blocks_for(cols: usize) -> usize {
    cols.div_ceil(BLOCK)
}

/// Rounds half to even, for |v| < 2^22: adding and removing 1.5 x 2^23 leaves no fraction
/// bits. Equal to `f32::round_ties_even` there (but -0 comes out +0; infinities and NaN
/// pass through), which
/// is a libm call on the x86-64 baseline (no SSE4.1) and cost a fifth of a forward pass.
#[inline(always)]
pub(crate) fn round_small(v: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0;
    (v + SHIFT) - SHIFT
}

/// Quantizes one row into `values` (a whole number of blocks long) and `scales`.
fn quantize_row<T: From<i8>>(row: &[f32], values: &mut [T], scales: &mut [f32]) {
    for (b, scale) in scales.iter_mut().enumerate() {
        let start = b * BLOCK;
        let block = &row[start.min(row.len())..(start + BLOCK).min(row.len())];
        // Plain comparisons and round-to-even: f32::max and f32::round are libm calls in
        // wasm (their NaN and tie rules differ from the instructions), and this runs on
        // every input row of every product.
        let amax = block.iter().fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
        let d = amax / 127.0;
        let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
        *scale = d;
        for (i, out) in values[start..start + BLOCK].iter_mut().enumerate() {
            let v = block.get(i).copied().unwrap_or(0.0);
            let q = round_small(v * inv);
            *out = T::from(if q > 127.0 {
                127
            } else if q < -127.0 {
                -127
            } else {
                q as i8
            });
        }
    }
}

/// Quantized rows under construction: values (a whole number of blocks per row) and
/// one scale per block, filled a row at a time.
struct Blocks<T> {
    width: usize,
    values: Vec<T>,
    scales: Vec<f32>,
}

impl<T: From<i8> + Clone> Blocks<T> {
    fn new(rows: usize, cols: usize) -> Self {
        let width = blocks_for(cols);
        Self { width, values: vec![T::from(0); rows * width * BLOCK], scales: vec![0.0; rows * width] }
    }

    fn set_row(&mut self, r: usize, row: &[f32]) {
        let w = self.width;
        quantize_row(row, &mut self.values[r * w * BLOCK..(r + 1) * w * BLOCK], &mut self.scales[r * w..(r + 1) * w]);
    }

    /// Every row of a row-major `rows x cols` matrix.
    fn of_matrix(data: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "int8 quantize: {rows}x{cols} needs {} values", rows * cols);
        let mut blocks = Self::new(rows, cols);
        for (r, row) in data.chunks_exact(cols.max(1)).enumerate().take(rows) {
            blocks.set_row(r, row);
        }
        blocks
    }
}

/// Calls `each(r, row)` for every row of the row-major `rows x cols` matrix that `q`
/// holds, whatever shape its blocks are stored in (k-quant blocks of 256 may span rows, see
/// `pack::stored_dims`), decoding a few rows at a time: no f32 copy of the whole matrix is
/// made (47 MB for a 30k-word table, in a browser tab). Formats without a block decoder
/// here are dequantized whole.
pub fn for_each_row(
    q: &QTensor,
    rows: usize,
    cols: usize,
    mut each: impl FnMut(usize, &[f32]),
) -> candle_core::Result<()> {
    use candle_core::quantized::k_quants::{
        BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ5K, BlockQ5_0, BlockQ6K, BlockQ8_0,
    };
    let data = q.data()?;
    let decoded = match q.dtype() {
        GgmlDType::Q8_0 => rows_of_blocks::<BlockQ8_0>(&data, rows, cols, &mut each),
        GgmlDType::Q5_0 => rows_of_blocks::<BlockQ5_0>(&data, rows, cols, &mut each),
        GgmlDType::Q4_0 => rows_of_blocks::<BlockQ4_0>(&data, rows, cols, &mut each),
        GgmlDType::Q2K => rows_of_blocks::<BlockQ2K>(&data, rows, cols, &mut each),
        GgmlDType::Q3K => rows_of_blocks::<BlockQ3K>(&data, rows, cols, &mut each),
        GgmlDType::Q4K => rows_of_blocks::<BlockQ4K>(&data, rows, cols, &mut each),
        GgmlDType::Q5K => rows_of_blocks::<BlockQ5K>(&data, rows, cols, &mut each),
        GgmlDType::Q6K => rows_of_blocks::<BlockQ6K>(&data, rows, cols, &mut each),
        _ => false,
    };
    if !decoded {
        let dense = q.dequantize(&candle_core::Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?;
        if dense.len() != rows * cols {
            candle_core::bail!(
                "a {:?} tensor of {} values is not a {rows} x {cols} matrix",
                q.shape().dims(),
                dense.len()
            );
        }
        for (r, row) in dense.chunks_exact(cols.max(1)).enumerate() {
            each(r, row);
        }
    }
    Ok(())
}

/// [`for_each_row`] for blocks of type T, decoding lcm(cols, block) values (whole rows of
/// whole blocks) at a time; `false` if the bytes are not exactly the matrix's blocks,
/// suitably aligned.
fn rows_of_blocks<T: GgmlType>(bytes: &[u8], rows: usize, cols: usize, each: &mut dyn FnMut(usize, &[f32])) -> bool {
    let size = std::mem::size_of::<T>();
    let values = rows * cols;
    if cols == 0
        || values % T::BLCK_SIZE != 0
        || bytes.len() != values / T::BLCK_SIZE * size
        || bytes.as_ptr() as usize % std::mem::align_of::<T>() != 0
    {
        return false;
    }
    // SAFETY: the length and alignment were checked above; GGML block types are plain
    // `repr(C)` data for which every bit pattern is a value (candle reads them from
    // files the same way).
    let blocks: &[T] = unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, bytes.len() / size) };
    let chunk_rows = lcm(cols, T::BLCK_SIZE) / cols;
    let mut buffer = vec![0f32; chunk_rows * cols];
    for first in (0..rows).step_by(chunk_rows) {
        let count = chunk_rows.min(rows - first);
        let start = first * cols / T::BLCK_SIZE;
        let end = (first + count) * cols / T::BLCK_SIZE;
        let out = &mut buffer[..count * cols];
        T::to_float(&blocks[start..end], out);
        for (i, row) in out.chunks_exact(cols).enumerate() {
            each(first + i, row);
        }
    }
    true
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// Greatest common divisor (of block and row sizes).
pub(crate) fn gcd(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

impl Int8Matrix {
    /// Quantizes a row-major `rows x cols` f32 matrix.
    pub fn quantize(data: &[f32], rows: usize, cols: usize) -> Self {
        let Blocks { values, scales, .. } = Blocks::of_matrix(data, rows, cols);
        Self { rows, cols, values, scales }
    }

    /// Converts a GGUF block-quantized matrix a few rows at a time (see [`for_each_row`]).
    pub fn from_qtensor(q: &QTensor, rows: usize, cols: usize) -> candle_core::Result<Self> {
        Self::from_rows(rows, cols, |set| for_each_row(q, rows, cols, |r, row| set(r, row)))
    }

    /// A `rows x cols` matrix whose rows `fill` writes, each once, through the setter it
    /// is given (rows never set stay zero).
    pub fn from_rows<E>(
        rows: usize,
        cols: usize,
        fill: impl FnOnce(&mut dyn FnMut(usize, &[f32])) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut blocks = Blocks::<i8>::new(rows, cols);
        fill(&mut |r, row| blocks.set_row(r, row))?;
        let Blocks { values, scales, .. } = blocks;
        Ok(Self { rows, cols, values, scales })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The f32 matrix these blocks stand for.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.rows).flat_map(|r| self.row(r)).collect()
    }

    /// Rows `ids` as f32, one after another (an embedding lookup); `None` if an id is not
    /// a row.
    pub fn dequantize_rows(&self, ids: &[u32]) -> Option<Vec<f32>> {
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let r = id as usize;
            if r >= self.rows {
                return None;
            }
            out.extend(self.row(r));
        }
        Some(out)
    }

    /// Row `r` as f32 values, written to `out` (`cols` long).
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        for (o, v) in out.iter_mut().zip(self.row(r)) {
            *o = v;
        }
    }

    /// Row `r` as f32 values.
    fn row(&self, r: usize) -> impl Iterator<Item = f32> + '_ {
        let width = blocks_for(self.cols);
        let values = &self.values[r * width * BLOCK..];
        let scales = &self.scales[r * width..];
        (0..self.cols).map(move |c| values[c] as f32 * scales[c / BLOCK])
    }

    /// The transpose, re-quantized along its new rows (for the backward pass, g W).
    pub fn transposed(&self) -> Self {
        let dense = self.dequantize();
        let mut t = vec![0f32; dense.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                t[c * self.rows + r] = dense[r * self.cols + c];
            }
        }
        Self::quantize(&t, self.cols, self.rows)
    }

    /// `x (m x cols) -> x M^T (m x rows)`, row-major.
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        let x = Int8Rows::quantize(x, m, self.cols);
        let mut out = vec![0f32; m * self.rows];
        self.matmul_t_into(&x, &mut out);
        out
    }

    fn matmul_t_into(&self, x: &Int8Rows, out: &mut [f32]) {
        let blocks = blocks_for(self.cols);
        assert_eq!(x.blocks, blocks, "Int8Matrix::matmul_t: operands of different widths");
        assert!(out.len() >= x.rows * self.rows, "Int8Matrix::matmul_t: output too small");
        let n = self.rows;
        for c0 in (0..n).step_by(COLUMN_CHUNK) {
            let c1 = (c0 + COLUMN_CHUNK).min(n);
            let mut r = 0;
            while r + TILE_ROWS <= x.rows {
                columns::<TILE_ROWS>(x, r, self, c0, c1, blocks, out);
                r += TILE_ROWS;
            }
            while r < x.rows {
                columns::<1>(x, r, self, c0, c1, blocks, out);
                r += 1;
            }
        }
    }
}

/// Rows r..r+R against weight rows c0..c1, in tiles of TILE_COLS columns.
#[inline(always)]
fn columns<const R: usize>(
    x: &Int8Rows,
    r: usize,
    w: &Int8Matrix,
    c0: usize,
    c1: usize,
    blocks: usize,
    out: &mut [f32],
) {
    let mut c = c0;
    while c + TILE_COLS <= c1 {
        tile::<R, TILE_COLS>(x, r, w, c, blocks, out, w.rows);
        c += TILE_COLS;
    }
    while c < c1 {
        tile::<R, 1>(x, r, w, c, blocks, out, w.rows);
        c += 1;
    }
}

impl Int8Rows {
    pub fn quantize(x: &[f32], rows: usize, cols: usize) -> Self {
        let Blocks { width, values, scales } = Blocks::of_matrix(x, rows, cols);
        Self { rows, blocks: width, values, scales }
    }
}

/// Dot products of input rows r..r+R with weight rows c..c+C, written to
/// `out[(r + i) * n + c + j]`. R and C are constants so the loops unroll and the
/// accumulators stay in registers; each weight block is widened once for all R rows and
/// each input block loaded once for all C columns.
#[inline(always)]
fn tile<const R: usize, const C: usize>(
    x: &Int8Rows,
    r: usize,
    w: &Int8Matrix,
    c: usize,
    blocks: usize,
    out: &mut [f32],
    n: usize,
) {
    debug_assert!((r + R) * blocks * BLOCK <= x.values.len() && (c + C) * blocks * BLOCK <= w.values.len());
    let mut acc = [[lanes::zero(); C]; R];
    for b in 0..blocks {
        // SAFETY: (c + j) * blocks + b < w.rows * blocks and (r + i) * blocks + b <
        // x.rows * blocks (the callers' loops), and each value array holds BLOCK entries
        // per block.
        let wide: [lanes::Wide; C] = std::array::from_fn(|j| {
            let wi = (c + j) * blocks + b;
            lanes::widen(unsafe { &*(w.values.as_ptr().add(wi * BLOCK) as *const [i8; BLOCK]) })
        });
        let dw: [f32; C] = std::array::from_fn(|j| unsafe { *w.scales.get_unchecked((c + j) * blocks + b) });
        for (i, row_acc) in acc.iter_mut().enumerate() {
            let xi = (r + i) * blocks + b;
            let (x_block, dx) =
                unsafe { (&*(x.values.as_ptr().add(xi * BLOCK) as *const [i16; BLOCK]), *x.scales.get_unchecked(xi)) };
            for j in 0..C {
                row_acc[j] = lanes::add_block(row_acc[j], x_block, &wide[j], dx * dw[j]);
            }
        }
    }
    for (i, row_acc) in acc.into_iter().enumerate() {
        for (j, a) in row_acc.into_iter().enumerate() {
            out[(r + i) * n + c + j] = lanes::sum(a);
        }
    }
}

/// Four f32 partial sums of a dot product. A block's integer products are split into the
/// four lanes of a pairwise i16 dot instruction (lane k: positions 8g + 2k and 8g + 2k + 1
/// of each 8-value group g), exact in i32; each lane is then scaled and added in f32; the
/// lanes are summed as (l0 + l2) + (l1 + l3). Every version below computes exactly this,
/// so native and browser results are bit-identical.
#[allow(dead_code)] // the reference version; compiled everywhere so tests can compare
mod portable {
    use super::BLOCK;
    pub type Acc = [f32; 4];
    pub type Wide = [i8; BLOCK];

    #[inline(always)]
    pub fn zero() -> Acc {
        [0.0; 4]
    }

    #[inline(always)]
    pub fn widen(w: &[i8; BLOCK]) -> Wide {
        *w
    }

    #[inline(always)]
    pub fn add_block(mut acc: Acc, x: &[i16; BLOCK], w: &Wide, scale: f32) -> Acc {
        let mut lanes = [0i32; 4];
        for g in 0..4 {
            for (k, lane) in lanes.iter_mut().enumerate() {
                let i = 8 * g + 2 * k;
                *lane += x[i] as i32 * w[i] as i32 + x[i + 1] as i32 * w[i + 1] as i32;
            }
        }
        for (a, l) in acc.iter_mut().zip(lanes) {
            *a += l as f32 * scale;
        }
        acc
    }

    #[inline(always)]
    pub fn sum(a: Acc) -> f32 {
        (a[0] + a[2]) + (a[1] + a[3])
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
use portable as lanes;

/// wasm simd128: `i32x4.dot_i16x8_s` is the pairwise dot.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use super::BLOCK;
    use core::arch::wasm32::*;
    pub type Acc = v128;
    pub type Wide = [v128; 4];

    #[inline(always)]
    pub fn zero() -> Acc {
        f32x4_splat(0.0)
    }

    #[inline(always)]
    pub fn widen(w: &[i8; BLOCK]) -> Wide {
        // SAFETY: two 16-byte loads inside a 32-byte array; wasm loads need no alignment.
        let (w0, w1) = unsafe { (v128_load(w.as_ptr() as *const v128), v128_load(w.as_ptr().add(16) as *const v128)) };
        [
            i16x8_extend_low_i8x16(w0),
            i16x8_extend_high_i8x16(w0),
            i16x8_extend_low_i8x16(w1),
            i16x8_extend_high_i8x16(w1),
        ]
    }

    #[inline(always)]
    pub fn add_block(acc: Acc, x: &[i16; BLOCK], w: &Wide, scale: f32) -> Acc {
        // SAFETY: four 16-byte loads inside a 64-byte array.
        let ints = unsafe {
            let xp = x.as_ptr() as *const v128;
            i32x4_add(
                i32x4_add(i32x4_dot_i16x8(v128_load(xp), w[0]), i32x4_dot_i16x8(v128_load(xp.add(1)), w[1])),
                i32x4_add(i32x4_dot_i16x8(v128_load(xp.add(2)), w[2]), i32x4_dot_i16x8(v128_load(xp.add(3)), w[3])),
            )
        };
        f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(ints), f32x4_splat(scale)))
    }

    #[inline(always)]
    pub fn sum(a: Acc) -> f32 {
        let pairs = f32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
        f32x4_extract_lane::<0>(pairs) + f32x4_extract_lane::<1>(pairs)
    }
}

/// x86-64 (SSE2, always present): `pmaddwd` is the pairwise dot.
#[cfg(target_arch = "x86_64")]
mod lanes {
    use super::BLOCK;
    use core::arch::x86_64::*;
    pub type Acc = __m128;
    pub type Wide = [__m128i; 4];

    #[inline(always)]
    pub fn zero() -> Acc {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe { _mm_setzero_ps() }
    }

    #[inline(always)]
    pub fn widen(w: &[i8; BLOCK]) -> Wide {
        // SAFETY: SSE2 baseline; unaligned 16-byte loads inside a 32-byte array. Each byte
        // is paired with itself and shifted right arithmetically: sign extension to i16.
        unsafe {
            let w0 = _mm_loadu_si128(w.as_ptr() as *const __m128i);
            let w1 = _mm_loadu_si128(w.as_ptr().add(16) as *const __m128i);
            [
                _mm_srai_epi16::<8>(_mm_unpacklo_epi8(w0, w0)),
                _mm_srai_epi16::<8>(_mm_unpackhi_epi8(w0, w0)),
                _mm_srai_epi16::<8>(_mm_unpacklo_epi8(w1, w1)),
                _mm_srai_epi16::<8>(_mm_unpackhi_epi8(w1, w1)),
            ]
        }
    }

    #[inline(always)]
    pub fn add_block(acc: Acc, x: &[i16; BLOCK], w: &Wide, scale: f32) -> Acc {
        // SAFETY: SSE2 baseline; unaligned 16-byte loads inside a 64-byte array.
        unsafe {
            let xp = x.as_ptr() as *const __m128i;
            let ints = _mm_add_epi32(
                _mm_add_epi32(
                    _mm_madd_epi16(_mm_loadu_si128(xp), w[0]),
                    _mm_madd_epi16(_mm_loadu_si128(xp.add(1)), w[1]),
                ),
                _mm_add_epi32(
                    _mm_madd_epi16(_mm_loadu_si128(xp.add(2)), w[2]),
                    _mm_madd_epi16(_mm_loadu_si128(xp.add(3)), w[3]),
                ),
            );
            _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(ints), _mm_set1_ps(scale)))
        }
    }

    #[inline(always)]
    pub fn sum(a: Acc) -> f32 {
        // SAFETY: SSE2 baseline.
        unsafe {
            let pairs = _mm_add_ps(a, _mm_movehl_ps(a, a));
            _mm_cvtss_f32(pairs) + _mm_cvtss_f32(_mm_shuffle_ps::<1>(pairs, pairs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, a: f32, b: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * a + b).sin() * (1.0 + (i % 7) as f32 * 0.3)).collect()
    }

    fn dense_matmul_t(x: &[f32], m: usize, w: &[f32], n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|t| x[i * k + t] as f64 * w[j * k + t] as f64).sum::<f64>() as f32;
            }
        }
        out
    }

    /// The kernel computes exactly the product of the dequantized operands (up to f32
    /// rounding), on odd shapes that cover partial tiles and a dimension that is not a
    /// whole number of blocks; against the unquantized input the error is that of 8-bit
    /// rounding, about 1%.
    #[test]
    fn matmul_is_the_product_of_the_dequantized_operands() {
        for &(m, n, k) in &[(1, 1, 32), (5, 7, 40), (9, 300, 96), (4, 129, 384)] {
            let w = Int8Matrix::quantize(&wave(n * k, 0.37, 0.1), n, k);
            let x = wave(m * k, 0.11, 0.7);
            let x_deq = Int8Matrix::quantize(&x, m, k).dequantize();
            let got = w.matmul_t(&x, m);
            let w_deq = w.dequantize();
            let exact = dense_matmul_t(&x_deq, m, &w_deq, n, k);
            for i in 0..m {
                for j in 0..n {
                    let magnitude: f32 = (0..k).map(|t| (x[i * k + t] * w_deq[j * k + t]).abs()).sum();
                    let err = (got[i * n + j] - exact[i * n + j]).abs();
                    assert!(err <= 1e-5 * magnitude, "{m}x{n}x{k} ({i},{j}): {err} vs magnitude {magnitude}");
                }
            }
            // Relative to the products' magnitude |x| |W|^T: the outputs themselves can
            // cancel to near zero.
            let unquantized = dense_matmul_t(&x, m, &w_deq, n, k);
            let abs = |v: &[f32]| v.iter().map(|a| a.abs()).collect::<Vec<f32>>();
            let magnitude = dense_matmul_t(&abs(&x), m, &abs(&w_deq), n, k);
            let frobenius = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
            let diff: Vec<f32> = got.iter().zip(&unquantized).map(|(a, b)| a - b).collect();
            let relative = frobenius(&diff) / frobenius(&magnitude);
            assert!(relative < 5e-3, "{m}x{n}x{k}: relative error {relative} against the f32 input");
        }
    }

    /// The SIMD lanes compute bit for bit what the portable reference computes.
    #[test]
    fn simd_lanes_equal_the_portable_reference() {
        let x: [i16; BLOCK] = std::array::from_fn(|i| ((i as i32 * 37) % 255 - 127) as i16);
        let w: [i8; BLOCK] = std::array::from_fn(|i| ((i as i32 * 91) % 255 - 127) as i8);
        let (mut fast, mut reference) = (lanes::zero(), portable::zero());
        for scale in [0.013f32, 1.7e-3, 0.5] {
            fast = lanes::add_block(fast, &x, &lanes::widen(&w), scale);
            reference = portable::add_block(reference, &x, &portable::widen(&w), scale);
        }
        assert_eq!(lanes::sum(fast).to_bits(), portable::sum(reference).to_bits());
    }

    /// The whole product, through the register tiles, column chunks and their partial
    /// edges, gives the bits of the portable reference computed one dot product at a time.
    /// That reference is plain f32 multiplies and adds in a fixed order, the same on every
    /// machine, so this test passing natively (SSE2) and as wasm (simd128, `./build.sh
    /// test` runs the unit tests in WASI) means the two builds' products are identical.
    #[test]
    fn matmul_gives_the_portable_reference_bits() {
        for &(m, n, k) in &[(1, 1, 32), (5, 7, 40), (9, 300, 96), (7, 131, 384), (6, 3, 1536)] {
            let w = Int8Matrix::quantize(&wave(n * k, 0.37, 0.1), n, k);
            let x = wave(m * k, 0.11, 0.7);
            let got = w.matmul_t(&x, m);
            let xq = Int8Rows::quantize(&x, m, k);
            let blocks = blocks_for(k);
            for i in 0..m {
                for j in 0..n {
                    let mut acc = portable::zero();
                    for b in 0..blocks {
                        let x_block: &[i16; BLOCK] = xq.values[(i * blocks + b) * BLOCK..][..BLOCK].try_into().unwrap();
                        let w_block: &[i8; BLOCK] = w.values[(j * blocks + b) * BLOCK..][..BLOCK].try_into().unwrap();
                        let scale = xq.scales[i * blocks + b] * w.scales[j * blocks + b];
                        acc = portable::add_block(acc, x_block, &portable::widen(w_block), scale);
                    }
                    let want = portable::sum(acc);
                    assert_eq!(got[i * n + j].to_bits(), want.to_bits(), "{m}x{n}x{k} ({i},{j})");
                }
            }
        }
    }

    /// Row-by-row conversion from GGML blocks equals dequantizing the whole tensor first.
    #[test]
    fn gguf_blocks_convert_row_by_row() {
        let (rows, cols) = (9, 256);
        let data = wave(rows * cols, 0.13, 0.2);
        let tensor = candle_core::Tensor::from_vec(data, (rows, cols), &candle_core::Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q4_0, GgmlDType::Q4K, GgmlDType::Q6K] {
            let q = QTensor::quantize(&tensor, dtype).unwrap();
            let direct = Int8Matrix::from_qtensor(&q, rows, cols).unwrap();
            let dense =
                q.dequantize(&candle_core::Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let whole = Int8Matrix::quantize(&dense, rows, cols);
            assert_eq!(direct.values, whole.values, "{dtype:?}");
            assert_eq!(direct.scales, whole.scales, "{dtype:?}");
        }
    }

    /// The two-addition rounding equals round-half-to-even on the whole quantization range.
    #[test]
    fn round_small_is_round_half_to_even() {
        for i in -70_000..70_000 {
            for v in [i as f32 * 0.5, i as f32 * 0.37 + 0.001, i as f32 * 0.5 + 1e-3, i as f32 * 0.5 - 1e-3] {
                // == rather than bits: a negative value rounding to zero gives +0, not -0
                // (the same integer).
                assert_eq!(round_small(v), v.round_ties_even(), "{v}");
            }
        }
        assert!(round_small(f32::NAN).is_nan());
        assert_eq!(round_small(f32::INFINITY), f32::INFINITY);
    }

    /// Quantizing keeps every value within half a step of its block's scale.
    #[test]
    fn quantize_round_trip_is_within_half_a_step() {
        let data = wave(3 * 70, 0.9, 0.0);
        let q = Int8Matrix::quantize(&data, 3, 70);
        for (i, (a, b)) in data.iter().zip(q.dequantize()).enumerate() {
            let step = q.scales[(i / 70) * 3 + (i % 70) / BLOCK];
            assert!((a - b).abs() <= 0.5 * step + 1e-7, "value {i}: {a} vs {b}");
        }
    }

    #[test]
    fn transpose_is_the_transpose() {
        let (n, k) = (33, 64);
        let q = Int8Matrix::quantize(&wave(n * k, 0.21, 0.3), n, k);
        let t = q.transposed();
        let (d, dt) = (q.dequantize(), t.dequantize());
        assert_eq!((t.rows(), t.cols()), (k, n));
        for r in 0..n {
            for c in 0..k {
                assert!((d[r * k + c] - dt[c * n + r]).abs() < 0.02, "({r},{c})");
            }
        }
    }

    /// Zero rows and zero blocks give exact zeros, never NaN.
    #[test]
    fn zeros_stay_zero() {
        let w = Int8Matrix::quantize(&[0f32; 64], 2, 32);
        assert_eq!(w.matmul_t(&[1.0; 96], 3), vec![0.0; 6]);
        let w = Int8Matrix::quantize(&wave(64, 0.5, 0.0), 2, 32);
        assert_eq!(w.matmul_t(&[0.0; 32], 1), vec![0.0; 2]);
    }
}
