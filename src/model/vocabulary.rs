//! The vocabulary product of a quantized decoder: every layer's hidden states times the
//! 30,522-word output matrix. It is most of an explanation's arithmetic (issue 6).
//!
//! Why not the int8 kernel of [`super::int8`]: q8_0 numerics scale every block of 32
//! products in f32, in a fixed order so that native and browser agree bit for bit, and that
//! float work costs as much as the integer dot products themselves. Here both operands are
//! quantized per row, on the finest integer grid whose products still sum exactly in i32
//! (±2,364 for a hidden size of 384: about 12 bits, against 8 bits per block of 32 in
//! q8_0), so a dot product is one integer sum, scaled once. Integer sums are exact in any
//! order, so every instruction set (wasm simd128; SSE2, AVX2 or AVX-512 VNNI chosen at run
//! time natively) gives the same bits, and the wider ones change nothing but the speed.
//!
//! Only the decoder uses it: its logits are ranked and soft-maxed, never differentiated.
//! The weight is the stored (e.g. q8_0) matrix re-expressed on the finer grid, so its error
//! stays that of the stored format (the grid adds at most 1/18 of a q8_0 step).

use super::int8::round_small;

/// Row lengths are padded with zeros to a multiple of this: the widest vector (32 i16).
const PAD: usize = 32;

/// Weight rows processed together so that they stay in cache (128 rows of 384 i16 are
/// 96 KB) while every input row passes.
const COLUMN_CHUNK: usize = 128;

/// A `rows x cols` matrix quantized per row to integers in `[-level, level]` (i16), rows
/// zero-padded to `width`, one f32 scale per row.
#[derive(Debug, Clone)]
pub struct VocabularyMatrix {
    rows: usize,
    cols: usize,
    width: usize,
    level: i16,
    values: Vec<i16>,
    scales: Vec<f32>,
    /// The AVX2 and AVX-512 kernels' layout of `values`, made on first use (see `panels`).
    #[cfg(target_arch = "x86_64")]
    panels: std::sync::OnceLock<Vec<i16>>,
}

/// Input rows on the same grid.
struct QuantizedRows {
    rows: usize,
    values: Vec<i16>,
    scales: Vec<f32>,
}

/// The largest level L with `width * L^2 <= i32::MAX`: a dot product of two rows of
/// integers in [-L, L] cannot overflow an i32 accumulator, in any summation order.
fn level_for(width: usize) -> i16 {
    let level = ((i32::MAX as f64) / width.max(1) as f64).sqrt().floor();
    level.min(i16::MAX as f64) as i16
}

/// Quantizes `row` into `out` (zero beyond the row) and returns its scale.
fn quantize_row(row: &[f32], level: i16, out: &mut [i16]) -> f32 {
    // Plain comparisons, not f32::max (a libm call in wasm): NaN is ignored here and
    // becomes 0 below (the saturating cast), never undefined behaviour.
    let amax = row.iter().fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    let scale = if amax.is_finite() { amax / level as f32 } else { 0.0 };
    let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
    let limit = level as f32;
    for (i, q) in out.iter_mut().enumerate() {
        let v = row.get(i).map_or(0.0, |v| round_small(v * inv));
        *q = (if v > limit {
            limit
        } else if v < -limit {
            -limit
        } else {
            v
        }) as i16;
    }
    scale
}

impl VocabularyMatrix {
    /// Builds the matrix from its rows, produced one at a time by `row(r, buffer)` (so a
    /// quantized table is never held in f32 whole).
    pub fn from_rows(rows: usize, cols: usize, mut row: impl FnMut(usize, &mut [f32])) -> Self {
        let width = cols.div_ceil(PAD).max(1) * PAD;
        let level = level_for(width);
        let mut values = vec![0i16; rows * width];
        let mut scales = vec![0f32; rows];
        let mut buffer = vec![0f32; cols];
        for r in 0..rows {
            row(r, &mut buffer);
            scales[r] = quantize_row(&buffer, level, &mut values[r * width..(r + 1) * width]);
        }
        Self {
            rows,
            cols,
            width,
            level,
            values,
            scales,
            #[cfg(target_arch = "x86_64")]
            panels: std::sync::OnceLock::new(),
        }
    }

    /// A row-major `rows x cols` f32 matrix.
    pub fn quantize(data: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "vocabulary matrix: {rows}x{cols} needs {} values", rows * cols);
        Self::from_rows(rows, cols, |r, out| out.copy_from_slice(&data[r * cols..(r + 1) * cols]))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `x (m x cols) -> x M^T (m x rows)`, row-major, with the fastest kernel this
    /// machine has (all give identical results).
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        self.matmul_t_with(Kernel::best(), x, m)
    }

    /// As [`Self::matmul_t`] with a chosen kernel (tests and benchmarks compare them).
    pub fn matmul_t_with(&self, kernel: Kernel, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.cols, "vocabulary matrix: input is not {m} rows of {}", self.cols);
        let mut quantized = QuantizedRows { rows: m, values: vec![0; m * self.width], scales: vec![0.0; m] };
        for (i, row) in x.chunks_exact(self.cols.max(1)).enumerate().take(m) {
            quantized.scales[i] = quantize_row(row, self.level, &mut quantized.values[i * self.width..][..self.width]);
        }
        let mut out = vec![0f32; m * self.rows];
        kernel.run(&quantized, self, &mut out);
        out
    }
}

/// One output: the exact integer dot product, scaled once. Shared by every kernel.
#[inline(always)]
fn finish(dot: i32, x_scale: f32, w_scale: f32) -> f32 {
    dot as f32 * (x_scale * w_scale)
}

/// The kernel of this process (see [`Kernel::best`]).
static CHOSEN: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();

/// The instruction sets the product can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust: the reference.
    Portable,
    /// `i32x4.dot_i16x8_s` (wasm simd128) or `pmaddwd` (SSE2, the x86-64 baseline).
    Simd128,
    /// `vpmaddwd` on 256-bit registers.
    Avx2,
    /// `vpdpwssd` (multiply, pairwise add and accumulate in one) on 512-bit registers.
    Avx512Vnni,
}

impl Kernel {
    /// Every kernel this machine can run, the portable reference first.
    pub fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Portable];
        if cfg!(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))) {
            kernels.push(Kernel::Simd128);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vnni") {
                kernels.push(Kernel::Avx512Vnni);
            }
        }
        kernels
    }

    /// The kernel every product of this process uses: the fastest available one, unless
    /// [`Kernel::prefer`] chose another first (decided once).
    pub fn best() -> Kernel {
        *CHOSEN.get_or_init(|| *Kernel::available().last().unwrap_or(&Kernel::Portable))
    }

    /// Makes `name` (a [`Kernel::name`]) the kernel of every product in this process, e.g.
    /// to time the native engine on the 128-bit instructions wasm has (`saliency bench
    /// --vocabulary-kernel sse2`). Call it before the first product: the choice is made
    /// once, so the kernel a run reports is the one all of its products used (the
    /// results are the same bits on every kernel; only the time differs).
    pub fn prefer(name: &str) -> Result<Kernel, String> {
        let available = Kernel::available();
        let Some(&kernel) = available.iter().find(|k| k.name() == name) else {
            let names: Vec<&str> = available.iter().map(|k| k.name()).collect();
            return Err(format!("no vocabulary kernel {name:?} on this machine (it has: {})", names.join(", ")));
        };
        let chosen = *CHOSEN.get_or_init(|| kernel);
        if chosen != kernel {
            return Err(format!("the vocabulary kernel is already {} in this process", chosen.name()));
        }
        Ok(kernel)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Simd128 if cfg!(target_arch = "wasm32") => "simd128",
            Kernel::Simd128 => "sse2",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Multiply-accumulates per instruction of this kernel's dot (for the ceilings).
    pub fn macs_per_instruction(self) -> usize {
        match self {
            Kernel::Portable | Kernel::Simd128 => 8,
            Kernel::Avx2 => 16,
            Kernel::Avx512Vnni => 32,
        }
    }

    fn run(self, x: &QuantizedRows, w: &VocabularyMatrix, out: &mut [f32]) {
        assert!(Kernel::available().contains(&self), "the {} kernel does not run on this machine", self.name());
        // SAFETY (every arm): the instruction set was checked just above; the drivers only
        // read whole vectors inside rows of `width` values (a multiple of every vector's
        // length) and write inside `out` (m x rows).
        match self {
            Kernel::Portable => unsafe { drive::<portable::Lanes, 4, 2>(x, w, out) },
            #[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
            Kernel::Simd128 => unsafe { drive::<simd128::Lanes, 4, 2>(x, w, out) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { panels::avx2(x, w, out) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe { panels::avx512(x, w, out) },
            #[allow(unreachable_patterns)]
            _ => unreachable!("checked by Kernel::available"),
        }
    }
}

/// One instruction set's vector operations on i16 operands with i32 accumulators.
trait Lanes {
    type Vector: Copy;
    type Acc: Copy;
    /// i16 values per vector.
    const WIDTH: usize;
    unsafe fn zero() -> Self::Acc;
    unsafe fn load(p: *const i16) -> Self::Vector;
    /// acc + the pairwise products of x and w, summed in pairs into i32 lanes.
    unsafe fn dot_add(acc: Self::Acc, x: Self::Vector, w: Self::Vector) -> Self::Acc;
    /// The sum of the lanes (wrapping adds: exact, as the total fits by construction).
    unsafe fn sum(acc: Self::Acc) -> i32;
}

/// Every input row against every weight row, in R x C register tiles, weight rows in
/// cache-sized chunks.
#[inline(always)]
unsafe fn drive<L: Lanes, const R: usize, const C: usize>(x: &QuantizedRows, w: &VocabularyMatrix, out: &mut [f32]) {
    debug_assert!(w.width % L::WIDTH == 0 && out.len() == x.rows * w.rows);
    for c0 in (0..w.rows).step_by(COLUMN_CHUNK) {
        let c1 = (c0 + COLUMN_CHUNK).min(w.rows);
        let mut r = 0;
        while r + R <= x.rows {
            columns::<L, R, C>(x, r, w, c0, c1, out);
            r += R;
        }
        while r < x.rows {
            columns::<L, 1, C>(x, r, w, c0, c1, out);
            r += 1;
        }
    }
}

#[inline(always)]
unsafe fn columns<L: Lanes, const R: usize, const C: usize>(
    x: &QuantizedRows,
    r: usize,
    w: &VocabularyMatrix,
    c0: usize,
    c1: usize,
    out: &mut [f32],
) {
    let mut c = c0;
    while c + C <= c1 {
        tile::<L, R, C>(x, r, w, c, out);
        c += C;
    }
    while c < c1 {
        tile::<L, R, 1>(x, r, w, c, out);
        c += 1;
    }
}

/// Input rows r..r+R against weight rows c..c+C: R x C accumulators in registers, each
/// weight vector loaded once for all R rows and each input vector once for all C columns.
#[inline(always)]
unsafe fn tile<L: Lanes, const R: usize, const C: usize>(
    x: &QuantizedRows,
    r: usize,
    w: &VocabularyMatrix,
    c: usize,
    out: &mut [f32],
) {
    let width = w.width;
    let xp = x.values.as_ptr().add(r * width);
    let wp = w.values.as_ptr().add(c * width);
    let mut acc = [[L::zero(); C]; R];
    let mut k = 0;
    while k < width {
        let wv: [L::Vector; C] = std::array::from_fn(|j| L::load(wp.add(j * width + k)));
        for (i, row_acc) in acc.iter_mut().enumerate() {
            let xv = L::load(xp.add(i * width + k));
            for j in 0..C {
                row_acc[j] = L::dot_add(row_acc[j], xv, wv[j]);
            }
        }
        k += L::WIDTH;
    }
    for (i, row_acc) in acc.into_iter().enumerate() {
        for (j, a) in row_acc.into_iter().enumerate() {
            *out.get_unchecked_mut((r + i) * w.rows + c + j) =
                finish(L::sum(a), *x.scales.get_unchecked(r + i), *w.scales.get_unchecked(c + j));
        }
    }
}

mod portable {
    pub struct Lanes;

    impl super::Lanes for Lanes {
        type Vector = [i16; 8];
        type Acc = [i32; 4];
        const WIDTH: usize = 8;

        #[inline(always)]
        unsafe fn zero() -> [i32; 4] {
            [0; 4]
        }

        #[inline(always)]
        unsafe fn load(p: *const i16) -> [i16; 8] {
            (p as *const [i16; 8]).read_unaligned()
        }

        #[inline(always)]
        unsafe fn dot_add(mut acc: [i32; 4], x: [i16; 8], w: [i16; 8]) -> [i32; 4] {
            for (k, a) in acc.iter_mut().enumerate() {
                let pair = x[2 * k] as i32 * w[2 * k] as i32 + x[2 * k + 1] as i32 * w[2 * k + 1] as i32;
                *a = a.wrapping_add(pair);
            }
            acc
        }

        #[inline(always)]
        unsafe fn sum(acc: [i32; 4]) -> i32 {
            acc.iter().fold(0i32, |s, &a| s.wrapping_add(a))
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;
    pub struct Lanes;

    impl super::Lanes for Lanes {
        type Vector = v128;
        type Acc = v128;
        const WIDTH: usize = 8;

        #[inline(always)]
        unsafe fn zero() -> v128 {
            i32x4_splat(0)
        }

        #[inline(always)]
        unsafe fn load(p: *const i16) -> v128 {
            v128_load(p as *const v128)
        }

        #[inline(always)]
        unsafe fn dot_add(acc: v128, x: v128, w: v128) -> v128 {
            i32x4_add(acc, i32x4_dot_i16x8(x, w))
        }

        #[inline(always)]
        unsafe fn sum(acc: v128) -> i32 {
            let pairs = i32x4_add(acc, i32x4_shuffle::<2, 3, 0, 1>(acc, acc));
            i32x4_extract_lane::<0>(pairs).wrapping_add(i32x4_extract_lane::<1>(pairs))
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd128 {
    use core::arch::x86_64::*;
    pub struct Lanes;

    impl super::Lanes for Lanes {
        type Vector = __m128i;
        type Acc = __m128i;
        const WIDTH: usize = 8;

        #[inline(always)]
        unsafe fn zero() -> __m128i {
            _mm_setzero_si128()
        }

        #[inline(always)]
        unsafe fn load(p: *const i16) -> __m128i {
            _mm_loadu_si128(p as *const __m128i)
        }

        #[inline(always)]
        unsafe fn dot_add(acc: __m128i, x: __m128i, w: __m128i) -> __m128i {
            _mm_add_epi32(acc, _mm_madd_epi16(x, w))
        }

        #[inline(always)]
        unsafe fn sum(acc: __m128i) -> i32 {
            let pairs = _mm_add_epi32(acc, _mm_shuffle_epi32::<0b01_00_11_10>(acc));
            _mm_cvtsi128_si32(pairs).wrapping_add(_mm_cvtsi128_si32(_mm_shuffle_epi32::<0b01>(pairs)))
        }
    }
}

/// The panel kernels (AVX-512 VNNI, AVX2): the lanes of a register are *output columns*,
/// not parts of one dot product. An input pair (x_k, x_k+1) is broadcast to every lane and
/// the weight is stored as panels of 16 rows interleaved by pairs, so a dot product needs
/// no horizontal sum at the end (which, with only 12 steps of 32 values in a 384-long row,
/// cost as much as the products). The integers are the same, so the result is too.
#[cfg(target_arch = "x86_64")]
mod panels {
    use super::{finish, QuantizedRows, VocabularyMatrix};
    use core::arch::x86_64::*;

    /// Output columns per panel.
    pub const PANEL: usize = 16;

    /// `values` re-laid as panels: for each group of 16 weight rows, for each pair p of
    /// positions, the 16 rows' (w[2p], w[2p + 1]); missing rows of the last panel are 0.
    pub fn layout(w: &VocabularyMatrix) -> Vec<i16> {
        let count = w.rows.div_ceil(PANEL);
        let mut out = vec![0i16; count * PANEL * w.width];
        for (r, row) in w.values.chunks_exact(w.width).enumerate() {
            let panel = &mut out[(r / PANEL) * PANEL * w.width..][..PANEL * w.width];
            for (p, pair) in row.chunks_exact(2).enumerate() {
                let at = p * 2 * PANEL + 2 * (r % PANEL);
                panel[at..at + 2].copy_from_slice(pair);
            }
        }
        out
    }

    /// One instruction set's registers of i32 lanes, `LANES` output columns each.
    pub trait Lanes {
        type V: Copy;
        const LANES: usize;
        unsafe fn zero() -> Self::V;
        unsafe fn load(p: *const i16) -> Self::V;
        /// The pair of i16 at `p` in every lane.
        unsafe fn splat_pair(p: *const i32) -> Self::V;
        /// acc + per lane x_pair . w_pair.
        unsafe fn dot_add(acc: Self::V, x: Self::V, w: Self::V) -> Self::V;
        unsafe fn store(acc: Self::V, out: *mut i32);
    }

    /// Every input row against every panel, in tiles of R rows x P panels.
    #[inline(always)]
    pub unsafe fn drive<L: Lanes, const R: usize, const P: usize>(
        x: &QuantizedRows,
        w: &VocabularyMatrix,
        out: &mut [f32],
    ) {
        let panels = w.panels.get_or_init(|| layout(w));
        let count = w.rows.div_ceil(PANEL);
        let mut p0 = 0;
        while p0 < count {
            let full_panels = count - p0 >= P;
            let mut r = 0;
            while r < x.rows {
                let full_rows = x.rows - r >= R;
                match (full_rows, full_panels) {
                    (true, true) => tile::<L, R, P>(x, r, w, panels, p0, out),
                    (false, true) => tile::<L, 1, P>(x, r, w, panels, p0, out),
                    (true, false) => tile::<L, R, 1>(x, r, w, panels, p0, out),
                    (false, false) => tile::<L, 1, 1>(x, r, w, panels, p0, out),
                }
                r += if full_rows { R } else { 1 };
            }
            p0 += if full_panels { P } else { 1 };
        }
    }

    /// Input rows r..r+R against panels p0..p0+P, each panel in 16 / LANES registers.
    #[inline(always)]
    unsafe fn tile<L: Lanes, const R: usize, const P: usize>(
        x: &QuantizedRows,
        r: usize,
        w: &VocabularyMatrix,
        panels: &[i16],
        p0: usize,
        out: &mut [f32],
    ) {
        let width = w.width;
        let parts = PANEL / L::LANES;
        // At most 16 accumulators (4 x 4 registers of 16 lanes, or 2 x 2 x 2 of 8).
        let mut acc = [[L::zero(); 4]; R];
        let xp = x.values.as_ptr().add(r * width) as *const i32;
        let wp = panels.as_ptr().add(p0 * PANEL * width);
        for pair in 0..width / 2 {
            let wv: [L::V; 4] = std::array::from_fn(|v| {
                let (j, part) = (v / parts, v % parts);
                if j < P {
                    L::load(wp.add(j * PANEL * width + pair * 2 * PANEL + part * 2 * L::LANES))
                } else {
                    L::zero()
                }
            });
            for (i, row_acc) in acc.iter_mut().enumerate() {
                let xv = L::splat_pair(xp.add(i * width / 2 + pair));
                for v in 0..(P * parts).min(4) {
                    row_acc[v] = L::dot_add(row_acc[v], xv, wv[v]);
                }
            }
        }
        for (i, row_acc) in acc.iter().enumerate() {
            let mut dots = [0i32; 4 * 16];
            for (v, a) in row_acc.iter().enumerate() {
                L::store(*a, dots.as_mut_ptr().add(v * L::LANES));
            }
            let c0 = p0 * PANEL;
            let valid = (P * PANEL).min(w.rows - c0);
            for (c, &dot) in dots[..valid].iter().enumerate() {
                out[(r + i) * w.rows + c0 + c] = finish(dot, x.scales[r + i], w.scales[c0 + c]);
            }
        }
    }

    /// AVX-512 VNNI: `vpdpwssd` multiplies 32 pairs of i16, adds each pair and
    /// accumulates into 16 lanes in one instruction; tiles of 4 rows x 4 panels.
    pub struct Avx512;

    impl Lanes for Avx512 {
        type V = __m512i;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512i {
            _mm512_setzero_si512()
        }
        #[inline(always)]
        unsafe fn load(p: *const i16) -> __m512i {
            _mm512_loadu_si512(p as *const __m512i)
        }
        #[inline(always)]
        unsafe fn splat_pair(p: *const i32) -> __m512i {
            _mm512_set1_epi32(p.read_unaligned())
        }
        #[inline(always)]
        unsafe fn dot_add(acc: __m512i, x: __m512i, w: __m512i) -> __m512i {
            _mm512_dpwssd_epi32(acc, x, w)
        }
        #[inline(always)]
        unsafe fn store(acc: __m512i, out: *mut i32) {
            _mm512_storeu_si512(out as *mut __m512i, acc)
        }
    }

    /// Caller: AVX-512 F and VNNI must be present.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn avx512(x: &QuantizedRows, w: &VocabularyMatrix, out: &mut [f32]) {
        drive::<Avx512, 4, 4>(x, w, out)
    }

    /// AVX2: `vpmaddwd` then `vpaddd` on 8 lanes; a panel is two registers, tiles of
    /// 2 rows x 2 panels (8 accumulators, 4 weight registers and the input of 16).
    pub struct Avx2;

    impl Lanes for Avx2 {
        type V = __m256i;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256i {
            _mm256_setzero_si256()
        }
        #[inline(always)]
        unsafe fn load(p: *const i16) -> __m256i {
            _mm256_loadu_si256(p as *const __m256i)
        }
        #[inline(always)]
        unsafe fn splat_pair(p: *const i32) -> __m256i {
            _mm256_set1_epi32(p.read_unaligned())
        }
        #[inline(always)]
        unsafe fn dot_add(acc: __m256i, x: __m256i, w: __m256i) -> __m256i {
            _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
        }
        #[inline(always)]
        unsafe fn store(acc: __m256i, out: *mut i32) {
            _mm256_storeu_si256(out as *mut __m256i, acc)
        }
    }

    /// Caller: AVX2 must be present.
    #[target_feature(enable = "avx2")]
    pub unsafe fn avx2(x: &QuantizedRows, w: &VocabularyMatrix, out: &mut [f32]) {
        drive::<Avx2, 2, 2>(x, w, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, a: f32, b: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * a + b).sin() * (1.0 + (i % 7) as f32 * 0.3)).collect()
    }

    /// Every kernel on this machine gives the portable reference's bits, on shapes with
    /// partial tiles, a row length that is not a whole number of vectors and more weight
    /// rows than one cache chunk.
    #[test]
    fn every_kernel_gives_identical_bits() {
        let kernels = Kernel::available();
        for &(m, n, k) in &[(1, 1, 1), (5, 7, 40), (9, 300, 96), (4, 129, 384), (7, 33, 1536)] {
            let w = VocabularyMatrix::quantize(&wave(n * k, 0.37, 0.1), n, k);
            let x = wave(m * k, 0.11, 0.7);
            let reference = w.matmul_t_with(Kernel::Portable, &x, m);
            for &kernel in &kernels {
                let got = w.matmul_t_with(kernel, &x, m);
                let same = got.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{} differs from portable at {m}x{n}x{k}", kernel.name());
            }
        }
    }

    /// The vector kernel the browser runs (simd128) and its x86 counterpart are among the
    /// kernels the test above compares: a wasm build without simd128 would test only the
    /// portable one, and run several times slower.
    #[test]
    fn the_128_bit_kernel_is_built_where_the_engine_runs() {
        if cfg!(any(target_arch = "x86_64", target_arch = "wasm32")) {
            assert!(Kernel::available().contains(&Kernel::Simd128), "built without simd128?");
        }
    }

    /// The product is that of the f32 operands up to the ~12-bit rounding of each row.
    #[test]
    fn product_is_close_to_f32() {
        let (m, n, k) = (6, 50, 384);
        let (wf, x) = (wave(n * k, 0.37, 0.1), wave(m * k, 0.11, 0.7));
        let got = VocabularyMatrix::quantize(&wf, n, k).matmul_t(&x, m);
        for i in 0..m {
            for j in 0..n {
                let exact: f64 = (0..k).map(|t| x[i * k + t] as f64 * wf[j * k + t] as f64).sum();
                let magnitude: f64 = (0..k).map(|t| (x[i * k + t] as f64 * wf[j * k + t] as f64).abs()).sum();
                let err = (got[i * n + j] as f64 - exact).abs();
                assert!(err < 1e-3 * magnitude, "({i},{j}): {} vs {exact}", got[i * n + j]);
            }
        }
    }

    /// Rows at the extremes of the grid do not overflow: all +level against all -level
    /// sums to exactly -width * level^2, in every kernel.
    #[test]
    fn extreme_rows_do_not_overflow() {
        let k = 384;
        let w = VocabularyMatrix::quantize(&vec![1.0; 3 * k], 3, k);
        let level = w.level as i64;
        let expected = -(k as i64) * level * level;
        assert!(expected.abs() <= i32::MAX as i64);
        for kernel in Kernel::available() {
            let got = w.matmul_t_with(kernel, &vec![-2.0; 2 * k], 2);
            for v in got {
                let want = expected as f32 * (w.scales[0] * (2.0 / level as f32));
                assert_eq!(v, want, "{}", kernel.name());
            }
        }
    }

    /// Zero rows and non-finite inputs give zeros or finite values, never a panic.
    #[test]
    fn zero_and_non_finite_rows_are_harmless() {
        let w = VocabularyMatrix::quantize(&wave(64, 0.5, 0.0), 2, 32);
        assert_eq!(w.matmul_t(&[0.0; 32], 1), vec![0.0; 2]);
        let mut x = vec![1.0f32; 32];
        x[3] = f32::NAN;
        x[5] = f32::INFINITY;
        assert!(w.matmul_t(&x, 1).iter().all(|v| v.is_finite()));
    }
}
