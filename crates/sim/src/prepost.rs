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

use ndarray::Array3;
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
