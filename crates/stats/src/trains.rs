//! Statistics of single spike trains: inter-spike intervals, the van Rossum distance, and
//! spike-count correlations at a coarser bin width.

use ndarray::{Array2, ArrayView2};

use crate::error::{Result, parameter};

/// Inter-spike intervals of one neuron's binned train, in bins: the gaps between successive
/// spikes (a bin with `c` spikes contributes `c - 1` intervals of 0).
pub fn inter_spike_intervals(counts: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (t, &c) in counts.iter().enumerate() {
        let c = c.max(0.0).round() as usize;
        if c == 0 {
            continue;
        }
        if let Some(prev) = last {
            out.push((t - prev) as f64);
        }
        out.extend(std::iter::repeat_n(0.0, c - 1));
        last = Some(t);
    }
    out
}

/// The distribution of inter-spike intervals pooled over neurons: entry `d` is the fraction of
/// intervals of `d` bins for `d < max_isi`, and the last entry the fraction of `max_isi` bins or
/// more.
pub fn isi_distribution(x: ArrayView2<'_, f64>, max_isi: usize) -> Vec<f64> {
    let mut hist = vec![0.0; max_isi + 1];
    let mut total = 0.0;
    for row in x.rows() {
        for isi in inter_spike_intervals(&row.to_vec()) {
            hist[(isi as usize).min(max_isi)] += 1.0;
            total += 1.0;
        }
    }
    if total > 0.0 {
        for h in &mut hist {
            *h /= total;
        }
    }
    hist
}

/// Spike times (in bins) of a binned train: the bin index, repeated for bins with several
/// spikes.
pub fn spike_times(counts: &[f64]) -> Vec<f64> {
    let mut times = Vec::new();
    for (t, &c) in counts.iter().enumerate() {
        let c = c.max(0.0).round() as usize;
        times.extend(std::iter::repeat_n(t as f64, c));
    }
    times
}

/// `sum_i sum_j exp(-|a_i - b_j| / tau)` for sorted `a` and `b`, in O(len a + len b): each side's
/// earlier spikes as an exponentially decaying running sum.
fn exp_kernel_sum(a: &[f64], b: &[f64], tau: f64) -> f64 {
    // Pairs with b_j <= a_i, then pairs with a_i < b_j.
    let one_side = |a: &[f64], b: &[f64], strict: bool| -> f64 {
        let mut total = 0.0;
        let mut running = 0.0;
        let mut last_time = f64::NEG_INFINITY;
        let mut j = 0;
        for &t in a {
            while j < b.len() && (b[j] < t || (!strict && b[j] == t)) {
                running = running * ((last_time - b[j]) / tau).exp() + 1.0;
                last_time = b[j];
                j += 1;
            }
            if j > 0 {
                total += running * ((last_time - t) / tau).exp();
            }
        }
        total
    };
    one_side(a, b, false) + one_side(b, a, true)
}

/// The van Rossum distance between two spike trains (sorted spike times, same unit as `tau`):
/// each train convolved with a causal exponential `exp(-t / tau)`, and
/// `D^2 = (2 / tau) int (f - g)^2 dt`, which is
/// `D^2 = sum_ij e^(-|a_i - a_j| / tau) + sum_ij e^(-|b_i - b_j| / tau) - 2 sum_ij e^(-|a_i - b_j| / tau)`
/// (the normalisation of elephant's `van_rossum_distance`, against which it is tested: one
/// spike against none is at distance 1).
pub fn van_rossum_distance(a: &[f64], b: &[f64], tau: f64) -> Result<f64> {
    if !(tau.is_finite() && tau > 0.0) {
        return Err(parameter(format!(
            "the van Rossum time constant must be positive, got {tau}"
        )));
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let d2 = exp_kernel_sum(&a, &a, tau) + exp_kernel_sum(&b, &b, tau)
        - 2.0 * exp_kernel_sum(&a, &b, tau);
    Ok(d2.max(0.0).sqrt())
}

/// Sum counts over consecutive groups of `factor` bins (a trailing partial group is dropped).
pub fn rebin(x: ArrayView2<'_, f64>, factor: usize) -> Result<Array2<f64>> {
    if factor == 0 {
        return Err(parameter("the re-binning factor must be at least 1"));
    }
    let (neurons, bins) = x.dim();
    let groups = bins / factor;
    let mut out = Array2::zeros((neurons, groups));
    for (i, row) in x.rows().into_iter().enumerate() {
        for g in 0..groups {
            out[[i, g]] = row.slice(ndarray::s![g * factor..(g + 1) * factor]).sum();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_sums_match_the_double_loop() {
        let a = [0.5, 1.0, 1.0, 4.0, 9.5];
        let b = [0.0, 1.0, 3.0, 12.0];
        let tau = 1.7;
        let direct = |a: &[f64], b: &[f64]| -> f64 {
            a.iter()
                .map(|x| b.iter().map(|y| (-(x - y).abs() / tau).exp()).sum::<f64>())
                .sum()
        };
        for (u, v) in [(&a[..], &b[..]), (&a[..], &a[..]), (&b[..], &a[..])] {
            assert!((exp_kernel_sum(u, v, tau) - direct(u, v)).abs() < 1e-12);
        }
    }

    #[test]
    fn intervals_count_repeated_spikes() {
        assert_eq!(
            inter_spike_intervals(&[0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 1.0]),
            vec![2.0, 0.0, 3.0]
        );
        // One spike against none: distance 1; two coincident trains: 0.
        assert!((van_rossum_distance(&[3.0], &[], 2.0).unwrap() - 1.0).abs() < 1e-15);
        assert!(van_rossum_distance(&[1.0, 4.0], &[4.0, 1.0], 2.0).unwrap() < 1e-7);
    }
}
