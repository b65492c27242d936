//! A pre -> post learning simulator with a known transformation, to validate methods that learn
//! the mapping between activity before and after learning (CycleGAN, METHODS.md section 2).
//!
//! Pre activity comes from the `uniform` population. Post activity is the same samples (paired)
//! after a known change of chosen, disjoint subsets of neurons:
//! - **rate gain**: spikes are added in empty bins with probability `(gain - 1) p / (1 - p)`,
//!   `p` the neuron's drawn rate (or kept with probability `gain` when it is below 1), which
//!   multiplies a Bernoulli neuron's rate by `gain` exactly (approximately under the refractory
//!   rule, which lowers the pre rate);
//! - **new assembly**: the members additionally fire with a shared Bernoulli train of
//!   probability `assembly_rate` (post = pre OR shared), which correlates them;
//! - **timing shift**: the neuron's activity is delayed by `timing_shift` bins (circularly
//!   within the sample).
//!
//! Neurons outside these subsets are identical in pre and post.

use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::spikegan::{UniformConfig, UniformTruth, uniform};

/// Settings of the pre -> post simulator. Defaults: 32 neurons x 64 bins of the uniform model,
/// 4 neurons with doubled rates, a 4-neuron assembly at 0.05, 4 neurons delayed by 3 bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrePostConfig {
    /// The pre population.
    pub population: UniformConfig,
    /// Neurons whose rate changes.
    pub gain_neurons: usize,
    /// Factor on their spike probability.
    pub rate_gain: f64,
    /// Neurons of the new assembly.
    pub assembly_neurons: usize,
    /// Spike probability per bin of the assembly's shared train.
    pub assembly_rate: f64,
    /// Neurons whose responses are delayed.
    pub shift_neurons: usize,
    /// Delay in bins.
    pub timing_shift: usize,
}

impl Default for PrePostConfig {
    fn default() -> Self {
        Self {
            population: UniformConfig {
                neurons: 32,
                bins: 64,
                rate: 0.1,
                ..UniformConfig::default()
            },
            gain_neurons: 4,
            rate_gain: 2.0,
            assembly_neurons: 4,
            assembly_rate: 0.05,
            shift_neurons: 4,
            timing_shift: 3,
        }
    }
}

/// What changed between pre and post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrePostTruth {
    /// The settings.
    pub config: PrePostConfig,
    /// The pre population's ground truth.
    pub pre: UniformTruth,
    /// Rows whose rate changed.
    pub gain_neurons: Vec<usize>,
    /// Rows of the new assembly.
    pub assembly_neurons: Vec<usize>,
    /// Rows whose timing shifted.
    pub shift_neurons: Vec<usize>,
    /// Every changed row, sorted.
    pub changed_neurons: Vec<usize>,
    /// The seed.
    pub seed: u64,
}

/// `samples` paired (pre, post) samples (samples x neurons x bins each) and what changed.
pub fn prepost(
    config: &PrePostConfig,
    samples: usize,
    seed: u64,
) -> Result<(Array3<u8>, Array3<u8>, PrePostTruth)> {
    let n = config.population.neurons;
    let changed = config.gain_neurons + config.assembly_neurons + config.shift_neurons;
    if changed > n {
        return Err(invalid(format!(
            "{changed} changed neurons do not fit in {n}"
        )));
    }
    let valid = config.rate_gain.is_finite() && config.rate_gain >= 0.0;
    if !(valid && (0.0..=1.0).contains(&config.assembly_rate)) {
        return Err(invalid(
            "rate gain must be >= 0 and the assembly rate a probability",
        ));
    }
    let (pre, pre_truth) = uniform(&config.population, samples, seed)?;
    if let Some(p) = pre_truth
        .rates
        .iter()
        .find(|&&p| p * config.rate_gain > 1.0)
    {
        return Err(invalid(format!(
            "rate gain {} makes the rate {p} exceed 1",
            config.rate_gain
        )));
    }
    // A separate stream for the transformation, so that pre is the same as `uniform(seed)`.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0f09_5057);
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(&mut rng);
    let take = |from: usize, count: usize| -> Vec<usize> {
        let mut v = rows[from..from + count].to_vec();
        v.sort_unstable();
        v
    };
    let gain_neurons = take(0, config.gain_neurons);
    let assembly_neurons = take(config.gain_neurons, config.assembly_neurons);
    let shift_neurons = take(
        config.gain_neurons + config.assembly_neurons,
        config.shift_neurons,
    );
    let mut post = pre.clone();
    let bins = config.population.bins;
    for mut sample in post.outer_iter_mut() {
        for &r in &gain_neurons {
            let p = pre_truth.rates[r];
            let g = config.rate_gain;
            for v in sample.row_mut(r).iter_mut() {
                if g >= 1.0 {
                    if *v == 0 && rng.random::<f64>() < (g - 1.0) * p / (1.0 - p) {
                        *v = 1;
                    }
                } else if *v == 1 && rng.random::<f64>() >= g {
                    *v = 0;
                }
            }
        }
        if !assembly_neurons.is_empty() {
            let shared: Vec<u8> = (0..bins)
                .map(|_| u8::from(rng.random::<f64>() < config.assembly_rate))
                .collect();
            for &r in &assembly_neurons {
                for (v, &z) in sample.row_mut(r).iter_mut().zip(&shared) {
                    *v = (*v).max(z);
                }
            }
        }
        for &r in &shift_neurons {
            let original = sample.row(r).to_vec();
            for (t, v) in sample.row_mut(r).iter_mut().enumerate() {
                *v = original[(t + bins - config.timing_shift % bins) % bins];
            }
        }
    }
    let mut changed_neurons: Vec<usize> = gain_neurons
        .iter()
        .chain(&assembly_neurons)
        .chain(&shift_neurons)
        .copied()
        .collect();
    changed_neurons.sort_unstable();
    let truth = PrePostTruth {
        config: config.clone(),
        pre: pre_truth,
        gain_neurons,
        assembly_neurons,
        shift_neurons,
        changed_neurons,
        seed,
    };
    Ok((pre, post, truth))
}

/// Settings of the calcium-imaging version of the pre -> post simulation: the binary samples of
/// [`prepost`] (one frame per bin) are laid end to end into continuous recordings and imaged
/// through the calcium forward model. Defaults: the [`PrePostConfig`] defaults but a mean spike
/// probability of 0.05 per frame (1.2 Hz at 24 Hz: sparse enough that the calcium returns to
/// baseline between events, so that a running-percentile dF/F keeps rate changes instead of
/// absorbing them into the baseline), 24 Hz AR(1) calcium with a 0.5 s decay on a baseline of
/// 1 (so dF/F is about the calcium), noise 0.1, 600 training samples per condition and 200
/// held-out samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrePostCalciumConfig {
    /// The spikes and their transformation.
    pub prepost: PrePostConfig,
    /// The imaging.
    pub calcium: crate::calcium::CalciumConfig,
    /// Samples in each of the two (unpaired) training recordings.
    pub train_samples: usize,
    /// Samples in the paired held-out recordings.
    pub heldout_samples: usize,
}

impl Default for PrePostCalciumConfig {
    fn default() -> Self {
        let mut prepost = PrePostConfig::default();
        prepost.population.rate = 0.05;
        Self {
            prepost,
            calcium: crate::calcium::CalciumConfig {
                baseline: 1.0,
                noise_sd: 0.1,
                ..crate::calcium::CalciumConfig::default()
            },
            train_samples: 600,
            heldout_samples: 200,
        }
    }
}

/// One simulated recording: fluorescence and the spikes behind it, neurons x frames.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedImaging {
    /// Raw fluorescence `b + a c + noise`.
    pub fluorescence: Array2<f64>,
    /// The true spikes (0/1).
    pub spikes: Array2<u8>,
}

/// The recordings of the calcium pre -> post simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct PrePostImaging {
    /// Pre-learning training recording.
    pub pre_train: SimulatedImaging,
    /// Post-learning training recording, made from different pre samples than `pre_train`
    /// (the two training sets are unpaired, as in a real experiment).
    pub post_train: SimulatedImaging,
    /// Held-out pre-learning recording.
    pub heldout_pre: SimulatedImaging,
    /// The true post-learning version of `heldout_pre`, frame by frame (paired ground truth).
    pub heldout_post: SimulatedImaging,
    /// What changed.
    pub truth: PrePostTruth,
}

/// Samples `[s, n, t]` of `samples` from `from`, laid end to end: neurons x (count * bins).
fn end_to_end(samples: &Array3<u8>, from: usize, count: usize) -> Array2<u8> {
    let (_, n, bins) = samples.dim();
    let mut out = Array2::<u8>::zeros((n, count * bins));
    for k in 0..count {
        let sample = samples.index_axis(ndarray::Axis(0), from + k);
        out.slice_mut(ndarray::s![.., k * bins..(k + 1) * bins])
            .assign(&sample);
    }
    out
}

/// Simulate the four recordings of `config` from `seed` (the spikes as [`prepost`] with the
/// same seed; the imaging noise of each recording from its own stream).
pub fn prepost_imaging(config: &PrePostCalciumConfig, seed: u64) -> Result<PrePostImaging> {
    let (train, heldout) = (config.train_samples, config.heldout_samples);
    if train == 0 || heldout == 0 {
        return Err(invalid(
            "training and held-out sample counts must be at least 1",
        ));
    }
    let (pre, post, truth) = prepost(&config.prepost, 2 * train + heldout, seed)?;
    let image = |spikes: Array2<u8>, stream: u64| -> Result<SimulatedImaging> {
        let (f, _) = crate::calcium::fluorescence(
            &spikes.mapv(f64::from),
            &config.calcium,
            seed.wrapping_mul(4).wrapping_add(stream),
        )?;
        Ok(SimulatedImaging {
            fluorescence: f,
            spikes,
        })
    };
    Ok(PrePostImaging {
        pre_train: image(end_to_end(&pre, 0, train), 1)?,
        post_train: image(end_to_end(&post, train, train), 2)?,
        heldout_pre: image(end_to_end(&pre, 2 * train, heldout), 3)?,
        heldout_post: image(end_to_end(&post, 2 * train, heldout), 4)?,
        truth,
    })
}

/// Settings of the binned-counts version of the pre -> post simulation (electrophysiology's
/// form): the binary samples of [`prepost`] laid end to end, every `frames_per_bin`
/// consecutive frames summed into one count. Defaults: the [`PrePostConfig`] defaults with
/// samples of 256 frames and a mean spike probability of 0.1 per frame, 4 frames per bin (so
/// 64 bins per sample and about 0.4 spikes per bin), 100 training samples per condition (6,400
/// bins) and 100 held-out samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrePostCountsConfig {
    /// The spikes and their transformation (frames, not bins).
    pub prepost: PrePostConfig,
    /// Frames summed into one bin.
    pub frames_per_bin: usize,
    /// Samples in each of the two (unpaired) training recordings.
    pub train_samples: usize,
    /// Samples in the paired held-out recordings.
    pub heldout_samples: usize,
}

impl Default for PrePostCountsConfig {
    fn default() -> Self {
        let mut prepost = PrePostConfig::default();
        prepost.population.bins = 256;
        prepost.population.rate = 0.1;
        Self {
            prepost,
            frames_per_bin: 4,
            train_samples: 100,
            heldout_samples: 100,
        }
    }
}

/// The recordings of the counts pre -> post simulation, neurons x bins each.
#[derive(Debug, Clone, PartialEq)]
pub struct PrePostCounts {
    /// Pre-learning training recording.
    pub pre_train: Array2<u32>,
    /// Post-learning training recording, from different pre samples than `pre_train`.
    pub post_train: Array2<u32>,
    /// Held-out pre-learning recording.
    pub heldout_pre: Array2<u32>,
    /// The true post-learning version of `heldout_pre`, bin by bin.
    pub heldout_post: Array2<u32>,
    /// What changed.
    pub truth: PrePostTruth,
}

/// Sums every `k` consecutive frames of `spikes` (neurons x frames, frames a multiple of `k`).
fn bin_counts(spikes: &Array2<u8>, k: usize) -> Array2<u32> {
    let (n, frames) = spikes.dim();
    Array2::from_shape_fn((n, frames / k), |(i, b)| {
        (b * k..(b + 1) * k)
            .map(|t| u32::from(spikes[[i, t]]))
            .sum()
    })
}

/// Simulate the four count recordings of `config` from `seed` (the spikes as [`prepost`] with
/// the same seed).
pub fn prepost_counts(config: &PrePostCountsConfig, seed: u64) -> Result<PrePostCounts> {
    let (train, heldout, k) = (
        config.train_samples,
        config.heldout_samples,
        config.frames_per_bin,
    );
    if train == 0 || heldout == 0 {
        return Err(invalid(
            "training and held-out sample counts must be at least 1",
        ));
    }
    if k == 0 || !config.prepost.population.bins.is_multiple_of(k) {
        return Err(invalid(format!(
            "frames per bin ({k}) must be at least 1 and divide the frames per sample ({})",
            config.prepost.population.bins
        )));
    }
    let (pre, post, truth) = prepost(&config.prepost, 2 * train + heldout, seed)?;
    Ok(PrePostCounts {
        pre_train: bin_counts(&end_to_end(&pre, 0, train), k),
        post_train: bin_counts(&end_to_end(&post, train, train), k),
        heldout_pre: bin_counts(&end_to_end(&pre, 2 * train, heldout), k),
        heldout_post: bin_counts(&end_to_end(&post, 2 * train, heldout), k),
        truth,
    })
}

#[cfg(test)]
mod counts_tests {
    use super::*;

    #[test]
    fn counts_are_the_frames_summed_and_only_changed_neurons_differ() {
        let config = PrePostCountsConfig {
            train_samples: 6,
            heldout_samples: 5,
            ..PrePostCountsConfig::default()
        };
        let sim = prepost_counts(&config, 9).unwrap();
        let (pre, post, truth) = prepost(&config.prepost, 17, 9).unwrap();
        assert_eq!(truth, sim.truth);
        // 6 samples of 256 frames, 4 frames per bin.
        assert_eq!(sim.pre_train.dim(), (32, 6 * 64));
        assert_eq!(sim.heldout_post.dim(), (32, 5 * 64));
        // Bin b of the held-out pre: frames 4b..4b+4 of pre sample 12 + b / 64.
        for (i, b) in [(0, 0), (7, 70), (31, 319)] {
            let (sample, start) = (12 + b / 64, 4 * (b % 64));
            let expected: u32 = (start..start + 4)
                .map(|t| u32::from(pre[[sample, i, t]]))
                .sum();
            assert_eq!(sim.heldout_pre[[i, b]], expected);
            let expected: u32 = (start..start + 4)
                .map(|t| u32::from(post[[sample, i, t]]))
                .sum();
            assert_eq!(sim.heldout_post[[i, b]], expected);
        }
        for n in 0..32 {
            let same = sim.heldout_pre.row(n) == sim.heldout_post.row(n);
            assert_eq!(same, !truth.changed_neurons.contains(&n), "neuron {n}");
        }
        assert!(sim.pre_train.iter().all(|&c| c <= 4));
        let bad = PrePostCountsConfig {
            frames_per_bin: 3,
            ..config
        };
        assert!(prepost_counts(&bad, 9).is_err());
    }
}

#[cfg(test)]
mod imaging_tests {
    use super::*;

    #[test]
    fn recordings_are_the_samples_end_to_end_and_only_changed_neurons_differ() {
        let config = PrePostCalciumConfig {
            train_samples: 20,
            heldout_samples: 10,
            ..PrePostCalciumConfig::default()
        };
        let sim = prepost_imaging(&config, 3).unwrap();
        let (pre, post, truth) = prepost(&config.prepost, 50, 3).unwrap();
        assert_eq!(truth, sim.truth);
        let bins = config.prepost.population.bins;
        // Sample 21 of post is frames bins..2 bins of the post training recording.
        for n in 0..32 {
            for t in 0..bins {
                assert_eq!(sim.post_train.spikes[(n, bins + t)], post[(21, n, t)]);
                assert_eq!(sim.heldout_pre.spikes[(n, 2 * bins + t)], pre[(42, n, t)]);
            }
        }
        // Held-out pre and post are paired: unchanged neurons have identical spikes.
        for n in 0..32 {
            let same = sim.heldout_pre.spikes.row(n) == sim.heldout_post.spikes.row(n);
            assert_eq!(same, !truth.changed_neurons.contains(&n), "neuron {n}");
        }
        // The fluorescence is baseline + calcium + noise of sd 0.1: the residual after removing
        // the noise-free calcium has that sd.
        let c = crate::calcium::calcium(&sim.pre_train.spikes.mapv(f64::from), &config.calcium)
            .unwrap();
        let resid = &sim.pre_train.fluorescence - &c - 1.0;
        let sd = (resid.mapv(|v| v * v).mean().unwrap()).sqrt();
        assert!((sd - 0.1).abs() < 0.005, "{sd}");
        assert!(
            prepost_imaging(
                &PrePostCalciumConfig {
                    heldout_samples: 0,
                    ..config
                },
                3
            )
            .is_err()
        );
    }
}
