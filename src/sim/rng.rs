//! Seeded randomness: independent `ChaCha8Rng` streams derived from
//! (root seed, label).
//!
//! Each purpose — the network (one stream per directed link,
//! `net/m1->n2`), `faults`, `workload`, and one per process (`proc/m1`, …) —
//! owns its stream, so that using more or fewer draws in one
//! purpose never shifts the dice of another. That is what keeps a failure
//! stable while a shrinker removes faults from a scenario.

use rand::SeedableRng;
pub use rand::{Rng, RngExt};
pub use rand_chacha::ChaCha8Rng;

/// The stream for `label` under `root_seed`.
///
/// The 256-bit ChaCha key is four xxh3 hashes of (root seed, label, lane):
/// stable across platforms and releases of partsim, since traces and
/// snapshots depend on it.
pub fn stream(root_seed: u64, label: &str) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (lane, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut bytes = Vec::with_capacity(label.len() + 9);
        bytes.extend_from_slice(label.as_bytes());
        bytes.push(lane as u8);
        bytes.extend_from_slice(&root_seed.to_le_bytes());
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, 0x7061_7274_7369_6d00);
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// A uniform draw in `[lo, hi]` (inclusive); `lo` when the range is empty.
pub fn uniform_u64(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// True with probability `p` (0 never draws: a scenario without a fault does
/// not consume dice for it, so adding the fault later is the only change).
pub fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    if p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random::<f64>() < p
    }
}

/// A draw from the exponential distribution with the given mean (for the
/// `every` of `[random]` faults), in microseconds, at least 1.
pub fn exponential_us(rng: &mut ChaCha8Rng, mean_us: u64) -> u64 {
    let u: f64 = rng.random::<f64>();
    // 1 - u is in (0, 1]: ln never sees zero.
    let x = -(1.0 - u).ln() * mean_us as f64;
    (x.round() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: u64 = stream(7, "net").random();
        let a2: u64 = stream(7, "net").random();
        let b: u64 = stream(7, "faults").random();
        let c: u64 = stream(8, "net").random();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut r = stream(1, "t");
        for _ in 0..1000 {
            let x = uniform_u64(&mut r, 1000, 5000);
            assert!((1000..=5000).contains(&x));
        }
        assert_eq!(uniform_u64(&mut r, 9, 9), 9);
    }
}
