//! Training samples: binary windows `neurons x window` cut from a population recording, and
//! their split into a training and a held-out set.
//!
//! Windows are kept as start offsets into one `neurons x bins` array, so a recording with many
//! overlapping windows (the retina: 283,041 bins cut with stride 1) costs no more memory than
//! the recording itself.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// How samples are cut from a recording. Defaults follow the Spike-GAN paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Bins per sample. `None` (default): the recording's own samples when it is a set of
    /// independent samples (a `sample` covariate, as `neuroforge simulate` writes), else 32
    /// (the paper's retina windows).
    pub window: Option<usize>,
    /// Bins between the starts of consecutive windows of a continuous recording. Default 1 (the
    /// paper's retina setting).
    pub stride: usize,
    /// Fraction of the data held out to watch the critic overfit: the last samples, or the
    /// last bins of a continuous recording (windows that would straddle the boundary are
    /// dropped). Default 0.2 (the paper's 2048 of 10,240 samples).
    pub holdout_fraction: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            window: None,
            stride: 1,
            holdout_fraction: 0.2,
        }
    }
}

/// Bins per window when neither the configuration nor the recording says (the paper's retina
/// windows).
pub const DEFAULT_WINDOW: usize = 32;

/// A set of binary samples `neurons x window`, each a window of one shared array.
#[derive(Debug, Clone)]
pub struct SampleWindows {
    data: std::sync::Arc<Array2<u8>>,
    window: usize,
    starts: Vec<usize>,
}

impl SampleWindows {
    /// Samples of `window` bins starting at `starts` in `data` (neurons x bins, 0/1).
    pub fn new(
        data: std::sync::Arc<Array2<u8>>,
        window: usize,
        starts: Vec<usize>,
    ) -> Result<Self> {
        if window == 0 {
            return Err(TrainError::Data("a sample needs at least one bin".into()));
        }
        if let Some(&bad) = starts.iter().find(|&&s| s + window > data.ncols()) {
            return Err(TrainError::Data(format!(
                "a window starting at bin {bad} runs past the end of the data ({} bins)",
                data.ncols()
            )));
        }
        Ok(Self {
            data,
            window,
            starts,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Neurons per sample.
    pub fn neurons(&self) -> usize {
        self.data.nrows()
    }

    /// Bins per sample.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Appends samples `indices` to `out` as `f32`, sample-major then neuron then bin (the
    /// `[B, N, T]` layout of the models).
    pub fn gather_into(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.reserve(indices.len() * self.neurons() * self.window);
        for &i in indices {
            let start = self.starts[i];
            for row in self.data.rows() {
                out.extend(
                    row.iter()
                        .skip(start)
                        .take(self.window)
                        .map(|&v| f32::from(v)),
                );
            }
        }
    }

    /// The bins of the shared array that at least one sample covers, in order (each bin once,
    /// however many overlapping windows hold it): the recording these samples were cut from.
    pub fn covered_bins(&self) -> Vec<usize> {
        let mut covered = vec![false; self.data.ncols()];
        for &start in &self.starts {
            covered[start..start + self.window].fill(true);
        }
        (0..covered.len()).filter(|&b| covered[b]).collect()
    }

    /// The activity of neuron `neuron` in bin `bin` of the shared array (0 or 1).
    pub(crate) fn bin_value(&self, neuron: usize, bin: usize) -> u8 {
        self.data[[neuron, bin]]
    }

    /// Sample `index` as a `neurons x window` array.
    pub fn sample(&self, index: usize) -> Array2<u8> {
        let start = self.starts[index];
        self.data
            .slice(ndarray::s![.., start..start + self.window])
            .to_owned()
    }
}

/// Training and held-out samples of one recording.
#[derive(Debug, Clone)]
pub struct SplitSamples {
    /// The samples the networks train on.
    pub train: SampleWindows,
    /// The held-out samples (critic overfitting, nearest-sample checks).
    pub heldout: SampleWindows,
}

/// Cut `data` (neurons x bins, 0/1) into samples and split them.
///
/// `sample_len`: `Some(T)` when the recording is a concatenation of independent samples of `T`
/// bins (each sample is then one window, and the held-out set is the last samples); `None` for
/// a continuous recording, cut into windows of `config.window` bins every `config.stride` bins.
pub fn split_samples(
    data: Array2<u8>,
    sample_len: Option<usize>,
    config: &DataConfig,
) -> Result<SplitSamples> {
    if let Some(&bad) = data.iter().find(|&&v| v > 1) {
        return Err(TrainError::Data(format!(
            "Spike-GAN models binary activity, but a bin holds {bad} spikes: binarise first \
             (neuroforge preprocess --binarize 0.5, or re-bin with smaller bins)"
        )));
    }
    if !(config.holdout_fraction.is_finite() && (0.0..1.0).contains(&config.holdout_fraction)) {
        return Err(TrainError::Config(format!(
            "holdout_fraction must be in [0, 1) (got {})",
            config.holdout_fraction
        )));
    }
    let bins = data.ncols();
    let data = std::sync::Arc::new(data);
    let (window, train_starts, heldout_starts) = match (sample_len, config.window) {
        (Some(len), window) if window.unwrap_or(len) == len => {
            if len == 0 || !bins.is_multiple_of(len) {
                return Err(TrainError::Data(format!(
                    "{bins} bins do not divide into samples of {len} bins"
                )));
            }
            let count = bins / len;
            let heldout = (count as f64 * config.holdout_fraction).round() as usize;
            let starts: Vec<usize> = (0..count).map(|k| k * len).collect();
            let (train, held) = starts.split_at(count - heldout.min(count));
            (len, train.to_vec(), held.to_vec())
        }
        (Some(len), window) => {
            let window = window.unwrap_or(len);
            return Err(TrainError::Config(format!(
                "the data are independent samples of {len} bins; a window of {window} bins \
                 would mix samples (leave window unset)"
            )));
        }
        (None, window) => {
            let window = window.unwrap_or(DEFAULT_WINDOW);
            if config.stride == 0 {
                return Err(TrainError::Config("stride must be at least 1".into()));
            }
            if window == 0 || window > bins {
                return Err(TrainError::Data(format!(
                    "a window of {window} bins does not fit the {bins} bins of the data"
                )));
            }
            let boundary = bins - (bins as f64 * config.holdout_fraction).round() as usize;
            let mut train = Vec::new();
            let mut held = Vec::new();
            let mut start = 0;
            while start + window <= bins {
                if start + window <= boundary {
                    train.push(start);
                } else if start >= boundary {
                    held.push(start);
                }
                start += config.stride;
            }
            (window, train, held)
        }
    };
    if train_starts.is_empty() {
        return Err(TrainError::Data(format!(
            "no training samples of {window} bins remain after holding out {}",
            config.holdout_fraction
        )));
    }
    Ok(SplitSamples {
        train: SampleWindows::new(data.clone(), window, train_starts)?,
        heldout: SampleWindows::new(data, window, heldout_starts)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_samples_hold_out_the_last_ones() -> Result<()> {
        let mut data = Array2::<u8>::zeros((2, 40));
        data[(1, 37)] = 1;
        let split = split_samples(data, Some(4), &DataConfig::default())?;
        assert_eq!((split.train.len(), split.heldout.len()), (8, 2));
        assert_eq!(split.heldout.sample(1)[(1, 1)], 1);
        let mut batch = Vec::new();
        split.heldout.gather_into(&[1], &mut batch);
        assert_eq!(batch, vec![0., 0., 0., 0., 0., 1., 0., 0.]);
        Ok(())
    }

    #[test]
    fn continuous_windows_never_straddle_the_holdout_boundary() -> Result<()> {
        let data = Array2::<u8>::zeros((3, 100));
        let config = DataConfig {
            window: Some(10),
            stride: 1,
            holdout_fraction: 0.2,
        };
        let split = split_samples(data, None, &config)?;
        // Boundary at bin 80: training windows start at 0..=70, held-out at 80..=90.
        assert_eq!(split.train.len(), 71);
        assert_eq!(split.heldout.len(), 11);
        Ok(())
    }

    #[test]
    fn counts_above_one_are_refused_with_a_fix() {
        let mut data = Array2::<u8>::zeros((1, 8));
        data[(0, 3)] = 2;
        let err = split_samples(data, None, &DataConfig::default()).map(|_| ());
        assert!(matches!(err, Err(TrainError::Data(m)) if m.contains("binarise")));
    }
}
