//! The cheap quality check logged while Spike-GAN trains: firing-rate and covariance errors of a
//! few hundred fresh binary samples against the training data, with the rate error's sampling
//! floor, so that a user sees the errors fall toward a baseline's and can decide when to stop.
//!
//! Conventions are those of `docs/STATISTICS.md` (and of `neuroforge stats`): the rate of a
//! neuron is its spike probability per bin; covariances are `np.cov` (ddof 1) over bins, pairs
//! `i < j`; each error is an L1 sum. The generated samples are laid end to end in time.

use serde::{Deserialize, Serialize};

use crate::data::SampleWindows;

/// Rates and pairwise covariances (`i < j`, row order) of binary activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Spike probability per bin of each neuron.
    pub rates: Vec<f64>,
    /// Covariance over bins of each pair `i < j`, ddof 1.
    pub covariances: Vec<f64>,
    /// Bins the moments were computed over.
    pub bins: usize,
}

impl Moments {
    /// The moments of `neurons` binary trains; `active(bin, out)` fills `out` with the neurons
    /// that fire in bin `bin` of `bins`.
    fn from_active(
        neurons: usize,
        bins: usize,
        mut active: impl FnMut(usize, &mut Vec<usize>),
    ) -> Self {
        let mut counts = vec![0.0f64; neurons];
        let mut pairs = vec![0.0f64; neurons * neurons];
        let mut firing = Vec::with_capacity(neurons);
        for bin in 0..bins {
            firing.clear();
            active(bin, &mut firing);
            for (k, &i) in firing.iter().enumerate() {
                counts[i] += 1.0;
                for &j in &firing[k + 1..] {
                    pairs[i * neurons + j] += 1.0;
                }
            }
        }
        let m = bins as f64;
        let rates: Vec<f64> = counts.iter().map(|c| c / m.max(1.0)).collect();
        let mut covariances = Vec::with_capacity(neurons * neurons.saturating_sub(1) / 2);
        for i in 0..neurons {
            for j in i + 1..neurons {
                let cov = if bins > 1 {
                    (pairs[i * neurons + j] - counts[i] * counts[j] / m) / (m - 1.0)
                } else {
                    0.0
                };
                covariances.push(cov);
            }
        }
        Self {
            rates,
            covariances,
            bins,
        }
    }

    /// The moments of the recording `samples` were cut from: every bin some sample covers,
    /// once (overlapping windows do not weigh a bin several times).
    pub fn of_windows(samples: &SampleWindows) -> Self {
        let bins = samples.covered_bins();
        let neurons = samples.neurons();
        Self::from_active(neurons, bins.len(), |k, out| {
            let bin = bins[k];
            out.extend((0..neurons).filter(|&n| samples.bin_value(n, bin) != 0));
        })
    }

    /// The moments of binary samples laid out `[count, neurons, window]` (sample-major, as the
    /// models produce them), laid end to end in time.
    pub fn of_samples(spikes: &[u8], neurons: usize, window: usize) -> Self {
        let count = spikes.len().checked_div(neurons * window).unwrap_or(0);
        Self::from_active(neurons, count * window, |bin, out| {
            let (sample, t) = (bin / window, bin % window);
            let base = sample * neurons * window + t;
            out.extend((0..neurons).filter(|&n| spikes[base + n * window] != 0));
        })
    }

    /// The expected firing-rate L1 error of `bins` bins of independent Bernoulli trains at
    /// these rates against the rates themselves, `sum_i sqrt(2 / pi) sqrt(r_i (1 - r_i) /
    /// bins)` (the mean absolute deviation of a binomial proportion, normal approximation):
    /// the smallest rate error a perfect model can show on a sample of that size.
    pub fn rate_error_floor(&self, bins: usize) -> f64 {
        let m = bins.max(1) as f64;
        self.rates
            .iter()
            .map(|r| (2.0 / std::f64::consts::PI).sqrt() * (r * (1.0 - r) / m).sqrt())
            .sum()
    }
}

/// L1 distance of two equally long vectors.
fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// The errors of generated samples against the training data, as logged in `metrics.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleErrors {
    /// Generated samples the errors were measured on.
    pub samples: usize,
    /// Sum over neurons of the absolute firing-rate error.
    pub firing_rate_l1: f64,
    /// Sum over pairs `i < j` of the absolute covariance error.
    pub covariance_l1: f64,
    /// The firing-rate error a perfect model shows on this many samples
    /// ([`Moments::rate_error_floor`]).
    pub firing_rate_floor: f64,
}

impl SampleErrors {
    /// The errors of `generated` against `reference`.
    pub fn between(reference: &Moments, generated: &Moments, samples: usize) -> Self {
        Self {
            samples,
            firing_rate_l1: l1(&reference.rates, &generated.rates),
            covariance_l1: l1(&reference.covariances, &generated.covariances),
            firing_rate_floor: reference.rate_error_floor(generated.bins),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use std::sync::Arc;

    /// `np.cov` of two rows, written out.
    fn numpy_cov(a: &[f64], b: &[f64]) -> f64 {
        let m = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / m, b.iter().sum::<f64>() / m);
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (m - 1.0)
    }

    #[test]
    fn moments_match_the_dense_definitions() -> Result<(), Box<dyn std::error::Error>> {
        // Three neurons, 7 bins, overlapping windows of 4 at stride 1 covering every bin.
        let rows = [
            [1u8, 0, 1, 1, 0, 0, 1],
            [0, 0, 1, 1, 0, 1, 1],
            [1, 1, 0, 0, 0, 1, 0],
        ];
        let data = Array2::from_shape_fn((3, 7), |(i, t)| rows[i][t]);
        let windows = SampleWindows::new(Arc::new(data), 4, vec![0, 1, 2, 3])?;
        let moments = Moments::of_windows(&windows);
        let as_f64 = |r: &[u8; 7]| r.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
        let dense: Vec<Vec<f64>> = rows.iter().map(as_f64).collect();
        for (i, row) in dense.iter().enumerate() {
            assert!((moments.rates[i] - row.iter().sum::<f64>() / 7.0).abs() < 1e-12);
        }
        let expected = [
            numpy_cov(&dense[0], &dense[1]),
            numpy_cov(&dense[0], &dense[2]),
            numpy_cov(&dense[1], &dense[2]),
        ];
        for (got, want) in moments.covariances.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // The first six bins as two generated samples of 3 bins, laid out sample-major: their
        // moments are those of the first six bins.
        let mut spikes = Vec::new();
        for (start, len) in [(0usize, 3usize), (3, 3)] {
            for row in &rows {
                spikes.extend_from_slice(&row[start..start + len]);
            }
        }
        let first_six = Moments::of_samples(&spikes, 3, 3);
        assert_eq!(first_six.bins, 6);
        for (i, row) in dense.iter().enumerate() {
            assert!((first_six.rates[i] - row[..6].iter().sum::<f64>() / 6.0).abs() < 1e-12);
        }
        let c01 = numpy_cov(&dense[0][..6], &dense[1][..6]);
        assert!((first_six.covariances[0] - c01).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn rate_floor_matches_independent_bernoulli_draws() {
        use rand::{RngExt, SeedableRng};
        // The expected L1 rate error of Bernoulli trains at known rates, measured over many
        // independent draws, against the closed form.
        let rates = vec![0.02, 0.05, 0.1, 0.3];
        let reference = Moments {
            rates: rates.clone(),
            covariances: Vec::new(),
            bins: 0,
        };
        let bins = 2000;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let draws = 400;
        let mut total = 0.0;
        for _ in 0..draws {
            total += rates
                .iter()
                .map(|&r| {
                    let k = (0..bins).filter(|_| rng.random::<f64>() < r).count();
                    (k as f64 / bins as f64 - r).abs()
                })
                .sum::<f64>();
        }
        let measured = total / draws as f64;
        let floor = reference.rate_error_floor(bins);
        assert!(
            (measured - floor).abs() < 0.05 * floor,
            "{measured} vs {floor}"
        );
    }
}
