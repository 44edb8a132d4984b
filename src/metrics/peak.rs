//! How close the matrix products come to what one core can do (issue 6).
//!
//! The ceiling is measured, not taken from a datasheet: a tight kernel runs the very
//! instruction the int8 kernel is built on (the pairwise i16 dot: `pmaddwd` natively,
//! `i32x4.dot_i16x8_s` in wasm) on registers only, in twelve independent chains so
//! neither latency nor memory limits it. A second tight kernel does the same for f32
//! multiply-add pairs (no FMA: neither SSE2 nor wasm simd128 has one), the ceiling of the
//! f32 parts. Then the int8 kernel itself is timed on the shapes of the model's largest
//! products, with their real memory traffic, and reported against the ceiling.

use crate::clock::now_ms;
use crate::metrics::evaluation::median;
use crate::model::int8::Int8Matrix;
use crate::model::vocabulary::{Kernel, VocabularyMatrix};
use serde::Serialize;

/// Independent accumulator chains: more than latency x throughput of the instructions.
const CHAINS: usize = 12;

/// One product shape and how fast the int8 kernel computes it.
#[derive(Debug, Clone, Serialize)]
pub struct MatmulRate {
    /// What the shape is in the model.
    pub name: String,
    /// `(m x k) x (k x n)`.
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub median_ms: f64,
    /// Multiply-accumulates per second, in billions.
    pub gmacs: f64,
    /// gmacs / the int8 dot ceiling.
    pub of_peak: f64,
}

/// The ceilings and the achieved rates, on this machine, one thread.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Tight-kernel ceiling of int8 multiply-accumulates (billions per second).
    pub int8_dot_peak_gmacs: f64,
    /// Tight-kernel ceiling of f32 operations (a multiply and an add count two).
    pub f32_peak_gflops: f64,
    pub matmuls: Vec<MatmulRate>,
    /// The decoder's exact-integer product (model/vocabulary.rs) on the decoder shape,
    /// with each instruction set this machine has, against that instruction's own
    /// ceiling; the fastest is the one explanations use.
    pub vocabulary: Vec<KernelRate>,
}

/// The vocabulary product with one instruction set.
#[derive(Debug, Clone, Serialize)]
pub struct KernelRate {
    pub kernel: &'static str,
    /// Tight-kernel ceiling of this instruction set's dot instruction.
    pub dot_peak_gmacs: f64,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub median_ms: f64,
    pub gmacs: f64,
    pub of_peak: f64,
}

/// Measures the ceilings and times the int8 kernel on `(name, m, k, n)` shapes; each
/// figure is the median of `repeats` runs.
pub fn throughput(shapes: &[(&str, usize, usize, usize)], repeats: usize) -> Throughput {
    let repeats = repeats.max(3);
    let rounds = 2_000_000;
    // Warm-up calls: a wasm engine runs a function's first calls in its baseline compiler
    // (V8's Liftoff keeps SIMD values on the stack) and the optimised code only from a
    // later call on, so each kernel is a function of its own, called before it is timed.
    for _ in 0..3 {
        std::hint::black_box(kernels::dot_chains(rounds / 10));
        std::hint::black_box(kernels::mul_add_chains(rounds / 10));
    }
    let ops = (rounds * CHAINS * 8) as f64;
    let int8_dot_peak_gmacs = ops / (median_ms(repeats, || kernels::dot_chains(rounds)) * 1e6);
    let f32_peak_gflops = ops / (median_ms(repeats, || kernels::mul_add_chains(rounds)) * 1e6);
    let matmuls = shapes
        .iter()
        .map(|&(name, m, k, n)| {
            let weights = Int8Matrix::quantize(&wave(n * k, 0.37), n, k);
            let x = wave(m * k, 0.11);
            for _ in 0..2 {
                std::hint::black_box(weights.matmul_t(&x, m)); // caches, allocator, optimised code
            }
            let median_ms = median_ms(repeats, || weights.matmul_t(std::hint::black_box(&x), m));
            let gmacs = (m * k * n) as f64 / (median_ms * 1e6);
            MatmulRate { name: name.to_string(), m, k, n, median_ms, gmacs, of_peak: gmacs / int8_dot_peak_gmacs }
        })
        .collect();
    let vocabulary = shapes.first().map_or_else(Vec::new, |&(_, m, k, n)| vocabulary_rates(m, k, n, repeats));
    Throughput { int8_dot_peak_gmacs, f32_peak_gflops, matmuls, vocabulary }
}

/// Times the vocabulary product on `m x k x n` with every vector kernel available.
fn vocabulary_rates(m: usize, k: usize, n: usize, repeats: usize) -> Vec<KernelRate> {
    let rounds = 2_000_000;
    let weights = VocabularyMatrix::quantize(&wave(n * k, 0.37), n, k);
    let x = wave(m * k, 0.11);
    Kernel::available()
        .into_iter()
        .filter(|&kernel| kernel != Kernel::Portable)
        .filter_map(|kernel| {
            let chains = move |rounds| kernels::wide_dot_chains(kernel, rounds);
            for _ in 0..3 {
                std::hint::black_box(chains(rounds / 10)?);
                std::hint::black_box(weights.matmul_t_with(kernel, &x, m));
            }
            let ops = (rounds * CHAINS * kernel.macs_per_instruction()) as f64;
            let dot_peak_gmacs = ops / (median_ms(repeats, || chains(rounds)) * 1e6);
            let median_ms = median_ms(repeats, || weights.matmul_t_with(kernel, std::hint::black_box(&x), m));
            let gmacs = (m * k * n) as f64 / (median_ms * 1e6);
            let of_peak = gmacs / dot_peak_gmacs;
            Some(KernelRate { kernel: kernel.name(), dot_peak_gmacs, m, k, n, median_ms, gmacs, of_peak })
        })
        .collect()
}

/// The median milliseconds of `repeats` calls of `f` (its result kept from the optimiser).
fn median_ms<T>(repeats: usize, mut f: impl FnMut() -> T) -> f64 {
    let times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = now_ms();
            std::hint::black_box(f());
            now_ms() - start
        })
        .collect();
    median(&times)
}

/// The model's largest products for an input of `tokens` tokens: the decoder (every
/// layer, through the vocabulary), the feed-forward pair and one attention projection.
pub fn model_shapes(
    config: &crate::model::config::ModelConfig,
    tokens: usize,
) -> Vec<(&'static str, usize, usize, usize)> {
    let (k, f, v) = (config.hidden_size, config.intermediate_size, config.vocab_size);
    vec![
        ("decoder (hidden x vocabulary)", tokens, k, v),
        ("feed-forward in", tokens, k, f),
        ("feed-forward out", tokens, f, k),
        ("attention projection", tokens, k, k),
    ]
}

/// Deterministic values in [-1, 1] without a random-number dependency.
fn wave(len: usize, step: f32) -> Vec<f32> {
    (0..len).map(|i| (i as f32 * step).sin()).collect()
}

/// Each kernel returns something derived from every chain so none is optimised away;
/// one round is one instruction per chain, 8 multiply-accumulates (or 4 multiplies and
/// 4 adds) each.
#[cfg(target_arch = "x86_64")]
mod kernels {
    use super::CHAINS;
    use core::arch::x86_64::*;

    #[inline(never)]
    pub fn dot_chains(rounds: usize) -> i32 {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let b = _mm_set1_epi16(std::hint::black_box(3));
            let mut acc = [_mm_set1_epi16(std::hint::black_box(1)); CHAINS];
            for _ in 0..rounds {
                for a in acc.iter_mut() {
                    *a = _mm_madd_epi16(*a, b);
                }
            }
            acc.iter().fold(0, |s, a| s ^ _mm_cvtsi128_si32(*a))
        }
    }

    #[inline(never)]
    pub fn mul_add_chains(rounds: usize) -> f32 {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let (m, c) = (_mm_set1_ps(std::hint::black_box(0.999)), _mm_set1_ps(std::hint::black_box(0.001)));
            let mut acc = [_mm_set1_ps(std::hint::black_box(1.0)); CHAINS];
            for _ in 0..rounds {
                for a in acc.iter_mut() {
                    *a = _mm_add_ps(_mm_mul_ps(*a, m), c);
                }
            }
            acc.iter().fold(0.0, |s, a| s + _mm_cvtss_f32(*a))
        }
    }

    /// Chains of the dot instruction of a vocabulary kernel; `None` if it has none here.
    pub fn wide_dot_chains(kernel: super::Kernel, rounds: usize) -> Option<i32> {
        use super::Kernel;
        match kernel {
            Kernel::Simd128 => Some(dot_chains(rounds)),
            // SAFETY: a kernel is only offered when its instruction set is present.
            Kernel::Avx2 => Some(unsafe { avx2_chains(rounds) }),
            Kernel::Avx512Vnni => Some(unsafe { vnni_chains(rounds) }),
            Kernel::Portable => None,
        }
    }

    #[inline(never)]
    #[target_feature(enable = "avx2")]
    unsafe fn avx2_chains(rounds: usize) -> i32 {
        let b = _mm256_set1_epi16(std::hint::black_box(3));
        let mut acc = [_mm256_set1_epi16(std::hint::black_box(1)); CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = _mm256_madd_epi16(*a, b);
            }
        }
        acc.iter().fold(0, |s, a| s ^ _mm256_extract_epi32::<0>(*a))
    }

    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn vnni_chains(rounds: usize) -> i32 {
        let (a, b) = (_mm512_set1_epi16(std::hint::black_box(3)), _mm512_set1_epi16(std::hint::black_box(-1)));
        let mut acc = [_mm512_set1_epi32(std::hint::black_box(1)); CHAINS];
        for _ in 0..rounds {
            for c in acc.iter_mut() {
                *c = _mm512_dpwssd_epi32(*c, a, b);
            }
        }
        acc.iter().fold(0, |s, c| s ^ _mm512_reduce_add_epi32(*c))
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod kernels {
    use super::CHAINS;
    use core::arch::wasm32::*;

    #[inline(never)]
    pub fn dot_chains(rounds: usize) -> i32 {
        let b = i16x8_splat(std::hint::black_box(3));
        let mut acc = [i16x8_splat(std::hint::black_box(1)); CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = i32x4_dot_i16x8(*a, b);
            }
        }
        acc.iter().fold(0, |s, a| s ^ i32x4_extract_lane::<0>(*a))
    }

    #[inline(never)]
    pub fn mul_add_chains(rounds: usize) -> f32 {
        let (m, c) = (f32x4_splat(std::hint::black_box(0.999)), f32x4_splat(std::hint::black_box(0.001)));
        let mut acc = [f32x4_splat(std::hint::black_box(1.0)); CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                *a = f32x4_add(f32x4_mul(*a, m), c);
            }
        }
        acc.iter().fold(0.0, |s, a| s + f32x4_extract_lane::<0>(*a))
    }

    /// Chains of the dot instruction of a vocabulary kernel; `None` if it has none here.
    pub fn wide_dot_chains(kernel: super::Kernel, rounds: usize) -> Option<i32> {
        (kernel == super::Kernel::Simd128).then(|| dot_chains(rounds))
    }
}

/// Elsewhere: plain arrays of four lanes, which the compiler vectorises as it can.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
mod kernels {
    use super::CHAINS;

    #[inline(never)]
    pub fn dot_chains(rounds: usize) -> i32 {
        let b = std::hint::black_box(3i32);
        let mut acc = [[std::hint::black_box(1i32); 4]; CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                for lane in a.iter_mut() {
                    *lane = (*lane as i16 as i32 * b).wrapping_add((*lane >> 16) * b);
                }
            }
        }
        acc.iter().fold(0, |s, a| s ^ a[0])
    }

    #[inline(never)]
    pub fn mul_add_chains(rounds: usize) -> f32 {
        let (m, c) = (std::hint::black_box(0.999f32), std::hint::black_box(0.001f32));
        let mut acc = [[std::hint::black_box(1.0f32); 4]; CHAINS];
        for _ in 0..rounds {
            for a in acc.iter_mut() {
                for lane in a.iter_mut() {
                    *lane = *lane * m + c;
                }
            }
        }
        acc.iter().fold(0.0, |s, a| s + a[0])
    }

    pub fn wide_dot_chains(_kernel: super::Kernel, _rounds: usize) -> Option<i32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_positive_and_the_kernel_stays_under_them() {
        let t = throughput(&[("test", 8, 64, 256)], 3);
        assert!(t.int8_dot_peak_gmacs > 0.0 && t.f32_peak_gflops > 0.0, "{t:?}");
        // A matmul with memory traffic cannot beat registers-only; 1.2 leaves room for
        // timer noise on a busy machine.
        assert!(t.matmuls[0].of_peak > 0.0 && t.matmuls[0].of_peak < 1.2, "{t:?}");
        for v in &t.vocabulary {
            assert!(v.of_peak > 0.0 && v.of_peak < 1.2, "{v:?}");
        }
    }
}
