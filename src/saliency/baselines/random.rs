//! The random control: uniform scores in [-1, 1) from a seeded generator, the floor that
//! every method must beat. SplitMix64, so the same seed gives the same scores everywhere
//! (natively and in wasm) without a dependency.

pub fn random_scores(len: usize, special: &[bool], seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|i| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            if special[i] {
                0.0
            } else {
                ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_scores_and_specials_are_zero() {
        let special = [true, false, false, false, true];
        let a = random_scores(5, &special, 7);
        assert_eq!(a, random_scores(5, &special, 7));
        assert_ne!(a, random_scores(5, &special, 8));
        assert_eq!((a[0], a[4]), (0.0, 0.0));
        assert!(a.iter().all(|s| (-1.0..1.0).contains(s)));
    }
}
