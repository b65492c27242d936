//! The synthetic populations of Spike-GAN (Molano-Mazon et al., ICLR 2018; METHODS.md
//! section 1), with their ground truth. Bins are 1 ms; samples are neurons x bins of 0/1.
//!
//! - [`UniformConfig`]: neurons in groups sharing a rate and a pairwise correlation; each neuron
//!   copies its group's reference train in a bin with probability `sqrt(c)`, so that two
//!   neurons of a group have correlation `c`; then the soft refractory rule; then the rows are
//!   permuted so correlated neurons are not neighbours.
//! - [`PacketsConfig`]: independent background spikes plus, per group, "packets": at an onset,
//!   neuron `j` of the group fires at `onset + j`, a sequence the importance maps must recover.
//!
//! Every random draw comes from the `ChaCha8` generator seeded with the caller's seed.

use ndarray::{Array2, Array3, Axis};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Settings of the `uniform` population. Defaults are the paper's main setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UniformConfig {
    /// Neurons per sample. Default 16.
    pub neurons: usize,
    /// Bins per sample. Default 128.
    pub bins: usize,
    /// Mean spike probability per bin `fr`; each group's rate is drawn in [0.5 fr, 1.5 fr].
    /// Default 0.25.
    pub rate: f64,
    /// Mean within-group correlation `c`; each group's is drawn in [0.5 c, 1.5 c]. Default 0.3.
    pub correlation: f64,
    /// Refractory period `refr` in bins (0 disables the rule). Default 2.
    pub refractory: f64,
    /// Neurons per correlated group. Default 2.
    pub group_size: usize,
}

impl Default for UniformConfig {
    fn default() -> Self {
        Self {
            neurons: 16,
            bins: 128,
            rate: 0.25,
            correlation: 0.3,
            refractory: 2.0,
            group_size: 2,
        }
    }
}

impl UniformConfig {
    /// A named preset of the paper: `16x128` (main), `32x256`, `16x496`, `toy` (2 x 12).
    pub fn preset(name: &str) -> Result<Self> {
        let base = Self::default();
        match name {
            "16x128" => Ok(base),
            "32x256" => Ok(Self {
                neurons: 32,
                bins: 256,
                ..base
            }),
            "16x496" => Ok(Self {
                neurons: 16,
                bins: 496,
                ..base
            }),
            "toy" => Ok(Self {
                neurons: 2,
                bins: 12,
                ..base
            }),
            other => Err(invalid(format!(
                "unknown uniform preset '{other}': use 16x128, 32x256, 16x496 or toy"
            ))),
        }
    }

    /// Refuse settings the model cannot produce.
    pub fn check(&self) -> Result<()> {
        if self.neurons == 0 || self.bins == 0 {
            return Err(invalid("neurons and bins must be at least 1"));
        }
        if self.group_size == 0 || !self.neurons.is_multiple_of(self.group_size) {
            return Err(invalid(format!(
                "group size {} must divide the {} neurons",
                self.group_size, self.neurons
            )));
        }
        if !(self.rate > 0.0 && 1.5 * self.rate <= 1.0) {
            return Err(invalid(format!(
                "rate {} must be in (0, 2/3] so that 1.5 x rate is a probability",
                self.rate
            )));
        }
        if !(self.correlation >= 0.0 && 1.5 * self.correlation <= 1.0) {
            return Err(invalid(format!(
                "correlation {} must be in [0, 2/3]",
                self.correlation
            )));
        }
        if !(self.refractory >= 0.0 && self.refractory.is_finite()) {
            return Err(invalid(format!(
                "refractory period {} must be >= 0",
                self.refractory
            )));
        }
        Ok(())
    }
}

/// What generated a `uniform` dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UniformTruth {
    /// The settings.
    pub config: UniformConfig,
    /// Spike probability per bin of each output row, before the refractory rule.
    pub rates: Vec<f64>,
    /// Correlation of each output row with the other members of its group, before the
    /// refractory rule.
    pub correlations: Vec<f64>,
    /// Group of each output row.
    pub groups: Vec<usize>,
    /// `permutation[row]` = the neuron (in group order) shown at that row.
    pub permutation: Vec<usize>,
    /// The seed.
    pub seed: u64,
}

/// Remove spikes by the soft refractory rule: each spike whose interval to the previous spike
/// is `isi` bins is removed with probability `exp(-isi / sigma^2)`, `sigma = refr / 1.5`;
/// passes repeat until one removes nothing.
pub fn apply_refractory(train: &mut [u8], refractory: f64, rng: &mut ChaCha8Rng) {
    if refractory <= 0.0 {
        return;
    }
    let sigma2 = (refractory / 1.5).powi(2);
    loop {
        let mut removed = false;
        let mut last: Option<usize> = None;
        for (t, spike) in train.iter_mut().enumerate() {
            if *spike == 0 {
                continue;
            }
            if let Some(prev) = last {
                let isi = (t - prev) as f64;
                if rng.random::<f64>() < (-isi / sigma2).exp() {
                    *spike = 0;
                    removed = true;
                    continue;
                }
            }
            last = Some(t);
        }
        if !removed {
            break;
        }
    }
}

fn bernoulli_train(p: f64, len: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    (0..len)
        .map(|_| u8::from(rng.random::<f64>() < p))
        .collect()
}

/// `samples` samples of the `uniform` population (samples x neurons x bins, 0/1) and the
/// ground truth.
pub fn uniform(
    config: &UniformConfig,
    samples: usize,
    seed: u64,
) -> Result<(Array3<u8>, UniformTruth)> {
    config.check()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let groups = config.neurons / config.group_size;
    let group_rates: Vec<f64> = (0..groups)
        .map(|_| config.rate * rng.random_range(0.5..1.5))
        .collect();
    let group_corrs: Vec<f64> = (0..groups)
        .map(|_| {
            if config.correlation > 0.0 {
                config.correlation * rng.random_range(0.5..1.5)
            } else {
                0.0
            }
        })
        .collect();
    let mut permutation: Vec<usize> = (0..config.neurons).collect();
    permutation.shuffle(&mut rng);
    let warmup = 2 * config.bins;
    let len = warmup + config.bins;
    let mut out = Array3::<u8>::zeros((samples, config.neurons, config.bins));
    for mut sample in out.outer_iter_mut() {
        let mut rows = Vec::with_capacity(config.neurons);
        for g in 0..groups {
            let (p, c) = (group_rates[g], group_corrs[g]);
            let reference = bernoulli_train(p, len, &mut rng);
            for _ in 0..config.group_size {
                let mut own = bernoulli_train(p, len, &mut rng);
                for (t, v) in own.iter_mut().enumerate() {
                    if rng.random::<f64>() < c.sqrt() {
                        *v = reference[t];
                    }
                }
                apply_refractory(&mut own, config.refractory, &mut rng);
                rows.push(own);
            }
        }
        for (row, &neuron) in sample.axis_iter_mut(Axis(0)).zip(&permutation) {
            let mut row = row;
            for (slot, &v) in row.iter_mut().zip(&rows[neuron][warmup..]) {
                *slot = v;
            }
        }
    }
    let truth = UniformTruth {
        config: config.clone(),
        rates: permutation
            .iter()
            .map(|&n| group_rates[n / config.group_size])
            .collect(),
        correlations: permutation
            .iter()
            .map(|&n| group_corrs[n / config.group_size])
            .collect(),
        groups: permutation.iter().map(|&n| n / config.group_size).collect(),
        permutation,
        seed,
    };
    Ok((out, truth))
}

/// Settings of the `packets` population. Defaults are the paper's setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PacketsConfig {
    /// Neurons per sample. Default 32.
    pub neurons: usize,
    /// Bins per sample. Default 64.
    pub bins: usize,
    /// Mean background spike probability per bin; each neuron's is drawn in [0.5, 1.5] x this.
    /// Default 0.1.
    pub rate: f64,
    /// Probability per bin of a packet onset in a group. Default 0.1.
    pub packet_prob: f64,
    /// Neurons per group (and packet length). Default 8.
    pub group_size: usize,
    /// Groups that emit packets (the first `packet_groups` groups). Default 1.
    pub packet_groups: usize,
    /// Maximum jitter of each packet spike in bins (0: none). Default 0.
    pub jitter: usize,
    /// Refractory period of the background in bins. Default 2.
    pub refractory: f64,
}

impl Default for PacketsConfig {
    fn default() -> Self {
        Self {
            neurons: 32,
            bins: 64,
            rate: 0.1,
            packet_prob: 0.1,
            group_size: 8,
            packet_groups: 1,
            jitter: 0,
            refractory: 2.0,
        }
    }
}

impl PacketsConfig {
    /// Refuse settings the model cannot produce.
    pub fn check(&self) -> Result<()> {
        if self.neurons == 0 || self.bins == 0 || self.group_size == 0 {
            return Err(invalid("neurons, bins and group size must be at least 1"));
        }
        if self.packet_groups * self.group_size > self.neurons {
            return Err(invalid(format!(
                "{} packet groups of {} neurons do not fit in {} neurons",
                self.packet_groups, self.group_size, self.neurons
            )));
        }
        if !(self.rate >= 0.0 && 1.5 * self.rate <= 1.0 && (0.0..=1.0).contains(&self.packet_prob))
        {
            return Err(invalid(
                "rate must be in [0, 2/3] and packet probability in [0, 1]",
            ));
        }
        Ok(())
    }
}

/// What generated a `packets` dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PacketsTruth {
    /// The settings.
    pub config: PacketsConfig,
    /// Background spike probability of each neuron.
    pub rates: Vec<f64>,
    /// The neurons of each packet group, in firing order.
    pub packet_neurons: Vec<Vec<usize>>,
    /// Packet onsets of each sample: (group, onset bin).
    pub onsets: Vec<Vec<(usize, usize)>>,
    /// The seed.
    pub seed: u64,
}

/// `samples` samples of the `packets` population and the ground truth.
pub fn packets(
    config: &PacketsConfig,
    samples: usize,
    seed: u64,
) -> Result<(Array3<u8>, PacketsTruth)> {
    config.check()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rates: Vec<f64> = (0..config.neurons)
        .map(|_| config.rate * rng.random_range(0.5..1.5))
        .collect();
    let packet_neurons: Vec<Vec<usize>> = (0..config.packet_groups)
        .map(|g| (g * config.group_size..(g + 1) * config.group_size).collect())
        .collect();
    let warmup = 2 * config.bins;
    let mut out = Array3::<u8>::zeros((samples, config.neurons, config.bins));
    let mut onsets = Vec::with_capacity(samples);
    for mut sample in out.outer_iter_mut() {
        let mut x = Array2::<u8>::zeros((config.neurons, config.bins));
        for (n, &p) in rates.iter().enumerate() {
            let mut train = bernoulli_train(p, warmup + config.bins, &mut rng);
            apply_refractory(&mut train, config.refractory, &mut rng);
            for (slot, &v) in x.row_mut(n).iter_mut().zip(&train[warmup..]) {
                *slot = v;
            }
        }
        let mut sample_onsets = Vec::new();
        for (g, members) in packet_neurons.iter().enumerate() {
            let mut t = 0;
            while t < config.bins {
                if rng.random::<f64>() < config.packet_prob {
                    sample_onsets.push((g, t));
                    for (j, &n) in members.iter().enumerate() {
                        let jitter = if config.jitter > 0 {
                            rng.random_range(0..=config.jitter)
                        } else {
                            0
                        };
                        let at = t + j + jitter;
                        if at < config.bins {
                            x[(n, at)] = 1;
                        }
                    }
                    // A hard gap of group_size bins between onsets.
                    t += config.group_size;
                } else {
                    t += 1;
                }
            }
        }
        onsets.push(sample_onsets);
        sample.assign(&x);
    }
    Ok((
        out,
        PacketsTruth {
            config: config.clone(),
            rates,
            packet_neurons,
            onsets,
            seed,
        },
    ))
}
