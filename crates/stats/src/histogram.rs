//! Histograms on shared bins and the KL divergence between them, as CalciumGAN compares the
//! distributions of per-neuron statistics of real and generated data.

/// Number of shared bins CalciumGAN used.
pub const KL_BINS: usize = 30;

/// Probability the divergence gives to an empty bin (CalciumGAN's floor).
pub const EMPTY_BIN_FLOOR: f64 = 1e-10;

/// Counts of `values` in `bins` equal-width bins over `[lo, hi]` (NumPy's `histogram`: the last
/// bin includes `hi`; values outside are ignored). Non-finite values are skipped.
pub fn histogram(values: &[f64], bins: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut counts = vec![0.0; bins];
    if bins == 0 {
        return counts;
    }
    let width = (hi - lo) / bins as f64;
    for &v in values {
        if !v.is_finite() || v < lo || v > hi {
            continue;
        }
        let k = if width > 0.0 {
            (((v - lo) / width) as usize).min(bins - 1)
        } else {
            0
        };
        counts[k] += 1.0;
    }
    counts
}

/// `KL(P || Q)` in nats between the distributions of the values in `p_values` and `q_values`:
/// both binned into [`KL_BINS`] shared bins spanning the smallest to the largest value of
/// either, normalised, empty bins set to [`EMPTY_BIN_FLOOR`], renormalised, then
/// `sum p log(p / q)` (SciPy's `entropy(p, q)`). `None` when either side has no finite value.
pub fn kl_divergence(p_values: &[f64], q_values: &[f64]) -> Option<f64> {
    let finite = p_values
        .iter()
        .chain(q_values)
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return None;
    }
    let prepare = |values: &[f64]| -> Option<Vec<f64>> {
        let counts = histogram(values, KL_BINS, lo, hi);
        let total: f64 = counts.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let floored: Vec<f64> = counts
            .iter()
            .map(|c| (c / total).max(EMPTY_BIN_FLOOR))
            .collect();
        let norm: f64 = floored.iter().sum();
        Some(floored.iter().map(|p| p / norm).collect())
    };
    let p = prepare(p_values)?;
    let q = prepare(q_values)?;
    Some(p.iter().zip(&q).map(|(a, b)| a * (a / b).ln()).sum())
}

/// `sum |a_i - b_i|` over the longer of the two, the shorter padded with zeros.
pub fn l1_distance(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| (a.get(i).copied().unwrap_or(0.0) - b.get(i).copied().unwrap_or(0.0)).abs())
        .sum()
}
