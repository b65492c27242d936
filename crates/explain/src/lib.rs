//! # neuroforge-explain
//!
//! Which parts of a sample a trained network relies on.
//!
//! - [`importance_maps`]: Spike-GAN's importance maps (Molano-Mazon et al., ICLR 2018;
//!   METHODS.md section 1). For a binary sample `X` (neurons x bins) with score `s0 = D(X)`,
//!   for each neuron `n` and window start `t = 0, step, 2 step, ...` (`t <= T - w`), the bins of
//!   `X[n, t..t+w]` are randomly permuted and the sample rescored, `shuffles` times; `g(n, t)`
//!   is the mean of `|s0 - s_shuffled|`. The map `M[n, tau]` is the mean of `g` over the
//!   windows that contain `tau`, times `X[n, tau]`, so only spikes carry importance.
//!   Paper settings: `w = 8`, step 2, 5 shuffles.
//! - [`packet_shape`]: the paper's read-out of the maps on the `packets` data: threshold `M`
//!   at a percentile over spikes, align each sample at its first supra-threshold bin and
//!   average the samples around it; the neurons' peak lags give the recovered firing
//!   sequence.
//! - [`attribution`]: per-neuron and per-time aggregation of attribution maps (CycleGAN's
//!   `|G(x) - x|`, saliency, Grad-CAM) and the ROC AUC of a per-neuron ranking against the
//!   truly changed neurons.
//!
//! - [`cyclegan_attributions`]: CycleGAN's maps of a trained generator and the target
//!   discriminator (`|G(x) - x|`, input-gradient saliency, Grad-CAM), on any burn device with
//!   autodiff.
//!
//! The importance maps' scorer is any function from a batch of samples to one score per
//! sample, so this crate needs no deep-learning framework: the CLI passes a trained critic, the
//! tests a hand-written sequence detector.

pub mod attribution;
pub mod cyclegan;
pub use attribution::{AggregatedAttribution, aggregate, roc_auc};
pub use cyclegan::{AttributionMaps, cyclegan_attributions};

use ndarray::{Array2, Array3, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What can go wrong computing an explanation.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// A setting does not fit the samples.
    #[error("invalid explanation settings: {0}")]
    Config(String),
    /// The scorer failed or returned the wrong number of scores.
    #[error("scoring failed: {0}")]
    Scorer(String),
    /// A network could not be run or differentiated.
    #[error("network: {0}")]
    Network(String),
}

/// Result with [`ExplainError`].
pub type Result<T, E = ExplainError> = std::result::Result<T, E>;

/// Settings of the importance maps. Defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportanceConfig {
    /// Bins per shuffled window `w`. Default 8.
    pub window: usize,
    /// Bins between window starts. Default 2.
    pub step: usize,
    /// Shuffles per window. Default 5.
    pub shuffles: usize,
    /// Seed of the shuffles (sample `k` uses ChaCha8 stream `k`). Default 0.
    pub seed: u64,
}

impl Default for ImportanceConfig {
    fn default() -> Self {
        Self {
            window: 8,
            step: 2,
            shuffles: 5,
            seed: 0,
        }
    }
}

/// Importance maps of a set of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportanceMaps {
    /// `M[k, n, tau]`: importance of the spike of neuron `n` at bin `tau` of sample `k` (0 where
    /// there is no spike).
    pub maps: Array3<f64>,
    /// The score `s0` of each sample.
    pub scores: Vec<f64>,
}

impl ImportanceMaps {
    /// Importance of each neuron: the mean of the maps over samples and bins.
    pub fn neuron_importance(&self) -> Vec<f64> {
        self.maps
            .mean_axis(Axis(2))
            .and_then(|m| m.mean_axis(Axis(0)))
            .map(|m| m.to_vec())
            .unwrap_or_default()
    }

    /// Importance of each bin: the mean of the maps over samples and neurons.
    pub fn time_importance(&self) -> Vec<f64> {
        self.maps
            .mean_axis(Axis(1))
            .and_then(|m| m.mean_axis(Axis(0)))
            .map(|m| m.to_vec())
            .unwrap_or_default()
    }
}

/// Window starts `0, step, ...` up to `bins - window`.
fn window_starts(bins: usize, config: &ImportanceConfig) -> Vec<usize> {
    (0..=bins - config.window).step_by(config.step).collect()
}

/// Importance maps of `samples` (samples x neurons x bins, 0/1) under `score`, which maps a
/// batch of `count` samples laid out sample-major (`count * neurons * bins` values) to `count`
/// scores.
pub fn importance_maps<E: std::fmt::Display>(
    samples: &Array3<u8>,
    config: &ImportanceConfig,
    mut score: impl FnMut(&[f32], usize) -> std::result::Result<Vec<f64>, E>,
) -> Result<ImportanceMaps> {
    let (count, neurons, bins) = samples.dim();
    if config.window == 0 || config.window > bins || config.step == 0 || config.shuffles == 0 {
        return Err(ExplainError::Config(format!(
            "window ({}) must be in 1..={bins}, step ({}) and shuffles ({}) at least 1",
            config.window, config.step, config.shuffles
        )));
    }
    let starts = window_starts(bins, config);
    let sample_len = neurons * bins;
    let mut maps = Array3::<f64>::zeros((count, neurons, bins));
    let mut scores = Vec::with_capacity(count);
    for (k, sample) in samples.outer_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(k as u64);
        let original: Vec<f32> = sample.iter().map(|&v| f32::from(v)).collect();
        // The original first, then every shuffled copy: neuron, window start, shuffle.
        let copies = 1 + neurons * starts.len() * config.shuffles;
        let mut batch = Vec::with_capacity(copies * sample_len);
        batch.extend_from_slice(&original);
        for n in 0..neurons {
            for &t in &starts {
                for _ in 0..config.shuffles {
                    let offset = batch.len();
                    batch.extend_from_slice(&original);
                    let row = offset + n * bins;
                    batch[row + t..row + t + config.window].shuffle(&mut rng);
                }
            }
        }
        let values = score(&batch, copies).map_err(|e| ExplainError::Scorer(e.to_string()))?;
        if values.len() != copies {
            return Err(ExplainError::Scorer(format!(
                "{} scores for {copies} samples",
                values.len()
            )));
        }
        let s0 = values[0];
        scores.push(s0);
        let mut map = maps.index_axis_mut(Axis(0), k);
        let mut next = 1;
        for n in 0..neurons {
            let mut total = vec![0.0; bins];
            let mut covering = vec![0usize; bins];
            for &t in &starts {
                let g = values[next..next + config.shuffles]
                    .iter()
                    .map(|s| (s0 - s).abs())
                    .sum::<f64>()
                    / config.shuffles as f64;
                next += config.shuffles;
                for tau in t..t + config.window {
                    total[tau] += g;
                    covering[tau] += 1;
                }
            }
            for tau in 0..bins {
                if sample[(n, tau)] > 0 && covering[tau] > 0 {
                    map[(n, tau)] = total[tau] / covering[tau] as f64;
                }
            }
        }
    }
    Ok(ImportanceMaps { maps, scores })
}

/// The firing sequence the importance maps reveal (the paper's packet read-out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacketShape {
    /// The importance threshold: the chosen percentile of the map over all spikes.
    pub threshold: f64,
    /// Samples that had a supra-threshold spike (and were aligned).
    pub aligned_samples: usize,
    /// The relative lag of each column of `shape`: `-half_width ..= half_width` bins around
    /// the alignment bin.
    pub relative_lags: Vec<i64>,
    /// `shape[n][i]`: spike probability of neuron `n` at `relative_lags[i]` bins from the
    /// alignment bin, over the aligned samples.
    pub shape: Vec<Vec<f64>>,
    /// The neurons that take part in the sequence (peak above their own mean at least half the
    /// largest such peak), ordered by the lag of their peak: the recovered firing order.
    pub order: Vec<usize>,
    /// The peak lag of each neuron of `order`, relative to the alignment bin.
    pub lags: Vec<i64>,
}

/// Threshold the maps at `percentile` (in [0, 100]) of their values over spikes, align every
/// sample at its first bin with a supra-threshold spike, and average the samples within
/// `half_width` bins of it: the packet appears as neurons peaking one after the other.
pub fn packet_shape(
    samples: &Array3<u8>,
    maps: &ImportanceMaps,
    percentile: f64,
    half_width: usize,
) -> Result<PacketShape> {
    if samples.dim() != maps.maps.dim() {
        return Err(ExplainError::Config(format!(
            "{:?} samples but maps of {:?}",
            samples.dim(),
            maps.maps.dim()
        )));
    }
    if !(0.0..=100.0).contains(&percentile) || half_width == 0 {
        return Err(ExplainError::Config(format!(
            "percentile ({percentile}) must be in [0, 100] and the half width at least 1"
        )));
    }
    let (_, neurons, bins) = samples.dim();
    let mut values: Vec<f64> = samples
        .iter()
        .zip(maps.maps.iter())
        .filter(|(x, _)| **x > 0)
        .map(|(_, m)| *m)
        .collect();
    values.sort_by(f64::total_cmp);
    let threshold = match values.len() {
        0 => 0.0,
        n => values[((percentile / 100.0) * (n - 1) as f64).round() as usize],
    };
    let width = 2 * half_width + 1;
    let mut total = Array2::<f64>::zeros((neurons, width));
    let mut counted = vec![0usize; width];
    let mut aligned = 0usize;
    for (sample, map) in samples.outer_iter().zip(maps.maps.outer_iter()) {
        let Some(onset) = (0..bins).find(|&tau| (0..neurons).any(|n| map[(n, tau)] > threshold))
        else {
            continue;
        };
        aligned += 1;
        for (i, count) in counted.iter_mut().enumerate() {
            let Some(tau) = (onset + i).checked_sub(half_width).filter(|&t| t < bins) else {
                continue;
            };
            *count += 1;
            for n in 0..neurons {
                total[(n, i)] += f64::from(sample[(n, tau)]);
            }
        }
    }
    for (i, &count) in counted.iter().enumerate() {
        if count > 0 {
            total.column_mut(i).mapv_inplace(|v| v / count as f64);
        }
    }
    let (order, peak_columns) = sequence_order(total.view());
    let relative = |i: usize| i as i64 - half_width as i64;
    Ok(PacketShape {
        threshold,
        aligned_samples: aligned,
        relative_lags: (0..width).map(relative).collect(),
        shape: total.outer_iter().map(|r| r.to_vec()).collect(),
        order,
        lags: peak_columns.into_iter().map(relative).collect(),
    })
}

/// Neurons whose peak above their own mean is at least half the largest such peak, ordered by
/// the column of their peak (ties by neuron).
fn sequence_order(shape: ArrayView2<'_, f64>) -> (Vec<usize>, Vec<usize>) {
    let peaks: Vec<(usize, f64)> = shape
        .outer_iter()
        .map(|row| {
            let mean = row.mean().unwrap_or(0.0);
            row.iter().enumerate().fold((0, f64::MIN), |best, (i, &v)| {
                if v - mean > best.1 {
                    (i, v - mean)
                } else {
                    best
                }
            })
        })
        .collect();
    let top = peaks.iter().map(|p| p.1).fold(0.0, f64::max);
    if top <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let mut members: Vec<(usize, usize)> = peaks
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1 >= 0.5 * top)
        .map(|(n, p)| (p.0, n))
        .collect();
    members.sort();
    (
        members.iter().map(|m| m.1).collect(),
        members.iter().map(|m| m.0).collect(),
    )
}
