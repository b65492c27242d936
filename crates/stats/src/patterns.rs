//! Whole-sample patterns: their probabilities and entropy, and the distance from each sample to
//! its nearest neighbour in a reference set (Spike-GAN's copy check).

use std::collections::HashMap;

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Non-overlapping samples of `window` bins (neurons x window each), packed for hashing and
/// fast distances: 1 bit per entry when every count is 0 or 1, else 8 bits (counts saturated at
/// 255).
#[derive(Debug, Clone)]
pub struct PackedSamples {
    words: usize,
    data: Vec<u64>,
    bits_per_entry: usize,
}

impl PackedSamples {
    /// Pack `x` (neurons x bins) into `bins / window` samples, `bits_per_entry` 1 or 8.
    pub fn new(x: ArrayView2<'_, f64>, window: usize, bits_per_entry: usize) -> Self {
        let (neurons, bins) = x.dim();
        let window = window.max(1);
        let samples = bins / window;
        let entries = neurons * window;
        let words = (entries * bits_per_entry).div_ceil(64).max(1);
        let mut data = vec![0u64; samples * words];
        for s in 0..samples {
            let out = &mut data[s * words..(s + 1) * words];
            for n in 0..neurons {
                for t in 0..window {
                    let v = x[[n, s * window + t]].clamp(0.0, 255.0) as u64;
                    if v == 0 {
                        continue;
                    }
                    let bit = (n * window + t) * bits_per_entry;
                    let field = if bits_per_entry == 1 { 1 } else { v };
                    out[bit / 64] |= field << (bit % 64);
                }
            }
        }
        Self {
            words,
            data,
            bits_per_entry,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.data.len() / self.words
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn sample(&self, i: usize) -> &[u64] {
        &self.data[i * self.words..(i + 1) * self.words]
    }

    /// Hamming distance (binary) or L1 distance of counts (8-bit) between two samples.
    fn distance(&self, a: &[u64], b: &[u64]) -> u32 {
        if self.bits_per_entry == 1 {
            a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
        } else {
            a.iter()
                .zip(b)
                .map(|(x, y)| {
                    (0..8)
                        .map(|k| {
                            let u = (x >> (8 * k)) & 0xff;
                            let v = (y >> (8 * k)) & 0xff;
                            u.abs_diff(v) as u32
                        })
                        .sum::<u32>()
                })
                .sum()
        }
    }
}

/// Probabilities of the distinct patterns of a sample set.
pub fn pattern_counts(samples: &PackedSamples) -> HashMap<&[u64], f64> {
    let mut counts: HashMap<&[u64], f64> = HashMap::new();
    for i in 0..samples.len() {
        *counts.entry(samples.sample(i)).or_insert(0.0) += 1.0;
    }
    counts
}

/// Plug-in entropy in bits of a pattern count table.
pub fn entropy_bits(counts: &HashMap<&[u64], f64>) -> f64 {
    let total: f64 = counts.values().sum();
    if total <= 0.0 {
        return 0.0;
    }
    -counts
        .values()
        .map(|c| {
            let p = c / total;
            p * p.log2()
        })
        .sum::<f64>()
}

/// What two sample sets' pattern distributions say about each other.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternComparison {
    /// `sum |P_a(x) - P_b(x)|` over the union of patterns.
    pub l1: f64,
    /// Entropy of `a`'s patterns, bits.
    pub entropy_a: f64,
    /// Entropy of `b`'s patterns, bits.
    pub entropy_b: f64,
    /// Distinct patterns in `a` and in `b`.
    pub distinct: (usize, usize),
    /// Fraction of `b`'s samples whose pattern never occurs in `a`.
    pub b_unseen_in_a: f64,
}

/// Compare the pattern distributions of `a` (the reference) and `b`.
pub fn compare_patterns(a: &PackedSamples, b: &PackedSamples) -> PatternComparison {
    let pa = pattern_counts(a);
    let pb = pattern_counts(b);
    let (na, nb) = (a.len().max(1) as f64, b.len().max(1) as f64);
    let mut l1 = 0.0;
    for (key, ca) in &pa {
        l1 += (ca / na - pb.get(key).copied().unwrap_or(0.0) / nb).abs();
    }
    let mut unseen = 0.0;
    for (key, cb) in &pb {
        if !pa.contains_key(key) {
            l1 += cb / nb;
            unseen += cb;
        }
    }
    PatternComparison {
        l1,
        entropy_a: entropy_bits(&pa),
        entropy_b: entropy_bits(&pb),
        distinct: (pa.len(), pb.len()),
        b_unseen_in_a: unseen / nb,
    }
}

/// For each sample of `queries` listed in `which`, the distance to its nearest sample in
/// `reference`; with `exclude_same`, the sample with the same index in `reference` is skipped
/// (a set against itself).
pub fn nearest_distances(
    queries: &PackedSamples,
    which: &[usize],
    reference: &PackedSamples,
    exclude_same: bool,
) -> Vec<u32> {
    which
        .par_iter()
        .map(|&q| {
            let a = queries.sample(q);
            (0..reference.len())
                .filter(|&r| !(exclude_same && r == q))
                .map(|r| queries.distance(a, reference.sample(r)))
                .min()
                .unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn patterns_and_distances_on_a_small_set() {
        // Two neurons, windows of 2 bins: samples [1 0; 0 1], [1 0; 0 1], [0 0; 1 1].
        let x = array![
            [1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 1.0, 1.0, 1.0]
        ];
        let packed = PackedSamples::new(x.view(), 2, 1);
        assert_eq!(packed.len(), 3);
        let counts = pattern_counts(&packed);
        assert_eq!(counts.len(), 2);
        let h = entropy_bits(&counts);
        let want = -(2.0f64 / 3.0 * (2.0f64 / 3.0).log2() + 1.0 / 3.0 * (1.0f64 / 3.0).log2());
        assert!((h - want).abs() < 1e-12);
        // Nearest other sample: 0 for the two copies, 2 for the last (differs in 2 entries).
        assert_eq!(
            nearest_distances(&packed, &[0, 1, 2], &packed, true),
            vec![0, 0, 2]
        );
        let counts8 = PackedSamples::new((&x * 3.0).view(), 2, 8);
        assert_eq!(nearest_distances(&counts8, &[2], &counts8, true), vec![6]);
    }
}
