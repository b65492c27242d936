//! How close translated activity is to real activity: CalciumGAN's evaluation set (METHODS.md
//! section 2) on samples `[S, N, T]` of a non-negative activity signal (inferred spikes, or
//! calcium traces).
//!
//! Per neuron, the distribution over samples of its rate (mean signal per frame); over neuron
//! pairs, the distribution of pairwise correlations of the signal summed in bins of
//! `correlation_bin` frames (500 ms in CalciumGAN: 12 frames at 24 Hz), over all samples end to
//! end; per neuron, the distribution of van Rossum distances between consecutive samples'
//! spike trains (frames where the signal exceeds `spike_threshold`). Two sets are compared by
//! the KL divergence of these distributions on 30 shared bins ([`kl_divergence`]), per neuron
//! and averaged. When the samples are paired with a ground truth, [`paired_errors`] gives the
//! per-sample errors.

use ndarray::{Array2, ArrayView3, Axis};
use serde::{Deserialize, Serialize};

use crate::compare::upper_triangle;
use crate::error::{Result, StatsError};
use crate::histogram::kl_divergence;
use crate::moments::Moments;
use crate::trains::van_rossum_distance;

/// Settings of the evaluation. Defaults: correlations of 12-frame sums, spikes above 0.5, van
/// Rossum time constant 12 frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslationEvalConfig {
    /// Frames summed per bin for the pairwise correlations.
    pub correlation_bin: usize,
    /// Signal above which a frame holds a spike (van Rossum distances).
    pub spike_threshold: f64,
    /// Time constant of the van Rossum distance, in frames.
    pub van_rossum_tau: f64,
}

impl Default for TranslationEvalConfig {
    fn default() -> Self {
        Self {
            correlation_bin: 12,
            spike_threshold: 0.5,
            van_rossum_tau: 12.0,
        }
    }
}

/// The distributions one set of samples is summarised by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleStatistics {
    /// `rate[n][s]`: mean signal per frame of neuron `n` in sample `s`.
    pub rate: Vec<Vec<f64>>,
    /// Correlation of each neuron pair `(i < j)`, row-major over the upper triangle.
    pub correlation: Vec<f64>,
    /// Covariance of the same bin sums, `(i <= j)` (variances included), row-major.
    pub covariance: Vec<f64>,
    /// Covariance of the signal frame by frame, `(i <= j)`, row-major.
    pub frame_covariance: Vec<f64>,
    /// `van_rossum[n][k]`: distance between the spike trains of neuron `n` in samples `k` and
    /// `k + 1`.
    pub van_rossum: Vec<Vec<f64>>,
}

impl SampleStatistics {
    /// The statistics of samples `[S, N, T]`.
    pub fn of(samples: ArrayView3<'_, f64>, config: &TranslationEvalConfig) -> Result<Self> {
        let (s, n, t) = samples.dim();
        if s < 2 || n == 0 || t == 0 {
            return Err(StatsError::Data(format!(
                "{s} samples of {n} x {t}: at least 2 non-empty samples are needed"
            )));
        }
        if config.correlation_bin == 0 || config.correlation_bin > t {
            return Err(StatsError::Data(format!(
                "a correlation bin of {} frames does not fit samples of {t} frames",
                config.correlation_bin
            )));
        }
        if samples.iter().any(|v| !v.is_finite()) {
            return Err(StatsError::Data(
                "the samples hold non-finite values".into(),
            ));
        }
        let rate: Vec<Vec<f64>> = (0..n)
            .map(|k| {
                (0..s)
                    .map(|i| samples.slice(ndarray::s![i, k, ..]).sum() / t as f64)
                    .collect()
            })
            .collect();
        // Bin sums of every neuron over all samples end to end.
        let per_sample = t / config.correlation_bin;
        let mut binned = Array2::<f64>::zeros((n, s * per_sample));
        for i in 0..s {
            for k in 0..n {
                for b in 0..per_sample {
                    let from = b * config.correlation_bin;
                    binned[(k, i * per_sample + b)] = samples
                        .slice(ndarray::s![i, k, from..from + config.correlation_bin])
                        .sum();
                }
            }
        }
        let binned_moments = Moments::of(binned.view());
        let correlation = upper_triangle(&binned_moments.correlation());
        let covariance = upper_triangle_with_diagonal(&binned_moments.covariance());
        let frames = samples
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_shape_with_order((n, s * t))
            .map_err(|e| StatsError::Data(e.to_string()))?
            .to_owned();
        let frame_covariance =
            upper_triangle_with_diagonal(&Moments::of(frames.view()).covariance());
        let spikes = |i: usize, k: usize| -> Vec<f64> {
            samples
                .slice(ndarray::s![i, k, ..])
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > config.spike_threshold)
                .map(|(f, _)| f as f64)
                .collect()
        };
        let mut van_rossum = Vec::with_capacity(n);
        for k in 0..n {
            let trains: Vec<Vec<f64>> = (0..s).map(|i| spikes(i, k)).collect();
            let d = trains
                .windows(2)
                .map(|w| van_rossum_distance(&w[0], &w[1], config.van_rossum_tau))
                .collect::<Result<Vec<f64>>>()?;
            van_rossum.push(d);
        }
        Ok(Self {
            rate,
            correlation,
            covariance,
            frame_covariance,
            van_rossum,
        })
    }

    /// Mean rate of each neuron over all samples.
    pub fn mean_rates(&self) -> Vec<f64> {
        self.rate
            .iter()
            .map(|r| r.iter().sum::<f64>() / r.len().max(1) as f64)
            .collect()
    }
}

/// How far a model's sample statistics are from the real ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergences {
    /// KL(real || model) of each neuron's rate distribution.
    #[serde(deserialize_with = "crate::serde_nan::numbers")]
    pub rate_kl_per_neuron: Vec<f64>,
    /// Their mean.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub rate_kl: f64,
    /// KL of the pairwise-correlation distributions.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub correlation_kl: f64,
    /// KL of each neuron's van Rossum distance distribution.
    #[serde(deserialize_with = "crate::serde_nan::numbers")]
    pub van_rossum_kl_per_neuron: Vec<f64>,
    /// Their mean.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub van_rossum_kl: f64,
    /// Mean absolute difference of the neurons' mean rates.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub mean_rate_l1: f64,
    /// Mean absolute difference of the pairwise correlations, pair by pair.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub correlation_l1: f64,
    /// Mean absolute difference of the covariances of the correlation bins' sums, entry by
    /// entry with the variances (NaN in evaluations written before it existed).
    #[serde(
        default = "not_measured",
        deserialize_with = "crate::serde_nan::number"
    )]
    pub covariance_l1: f64,
    /// The same for the covariances of the signal frame by frame.
    #[serde(
        default = "not_measured",
        deserialize_with = "crate::serde_nan::number"
    )]
    pub frame_covariance_l1: f64,
}

fn not_measured() -> f64 {
    f64::NAN
}

/// The entries `(i <= j)` of a square matrix, row-major.
fn upper_triangle_with_diagonal(a: &Array2<f64>) -> Vec<f64> {
    let n = a.nrows();
    (0..n)
        .flat_map(|i| (i..n).map(move |j| (i, j)))
        .map(|(i, j)| a[[i, j]])
        .collect()
}

/// A translation's divergences from the real recording of the target condition, beside those
/// of the untranslated input (the baseline a translation must beat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DivergencePair {
    /// The translated recording against the real one.
    pub translated_vs_real: Divergences,
    /// The input, untranslated, against the real one.
    pub input_vs_real: Divergences,
}

/// Paired errors of the translation and of the untranslated input against the true target
/// (synthetic data, where the same trials exist in both conditions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// The translated recording against the truth.
    pub translated: PairedErrors,
    /// The input, untranslated, against the truth.
    pub input: PairedErrors,
}

/// The evaluation `neuroforge translate --against` writes: divergences of the inferred spikes
/// and of the calcium they imply, and the paired errors when asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslationEvaluation {
    /// The input's condition (`pre` or `post`).
    pub from: String,
    /// The condition translated to.
    pub to: String,
    /// Windows translated.
    pub windows: usize,
    /// Windows of the real recording of the target condition.
    pub real_windows: usize,
    /// The training iteration of the generator used.
    pub iteration: u64,
    /// Divergences of the inferred spikes.
    pub spikes: DivergencePair,
    /// Divergences of the calcium the spikes imply.
    pub calcium: DivergencePair,
    /// Paired errors (`--paired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<PairedComparison>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// KL divergences and L1 distances of `model`'s statistics from `real`'s (same neurons).
pub fn divergences(real: &SampleStatistics, model: &SampleStatistics) -> Result<Divergences> {
    if real.rate.len() != model.rate.len() {
        return Err(StatsError::Data(format!(
            "{} neurons against {}",
            real.rate.len(),
            model.rate.len()
        )));
    }
    let kl = |a: &[f64], b: &[f64]| kl_divergence(a, b).unwrap_or(f64::NAN);
    let rate_kl_per_neuron: Vec<f64> = real
        .rate
        .iter()
        .zip(&model.rate)
        .map(|(a, b)| kl(a, b))
        .collect();
    let van_rossum_kl_per_neuron: Vec<f64> = real
        .van_rossum
        .iter()
        .zip(&model.van_rossum)
        .map(|(a, b)| kl(a, b))
        .collect();
    let l1 = |a: &[f64], b: &[f64]| {
        mean(
            &a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .collect::<Vec<f64>>(),
        )
    };
    Ok(Divergences {
        rate_kl: mean(&rate_kl_per_neuron),
        rate_kl_per_neuron,
        correlation_kl: kl(&real.correlation, &model.correlation),
        van_rossum_kl: mean(&van_rossum_kl_per_neuron),
        van_rossum_kl_per_neuron,
        mean_rate_l1: l1(&real.mean_rates(), &model.mean_rates()),
        correlation_l1: l1(&real.correlation, &model.correlation),
        covariance_l1: l1(&real.covariance, &model.covariance),
        frame_covariance_l1: l1(&real.frame_covariance, &model.frame_covariance),
    })
}

/// Per-sample errors of predictions against their paired ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedErrors {
    /// Mean over samples and neurons of `|rate(pred) - rate(truth)|`, rates as mean signal per
    /// frame of one neuron in one sample.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub rate_mae: f64,
    /// The same per neuron.
    #[serde(deserialize_with = "crate::serde_nan::numbers")]
    pub rate_mae_per_neuron: Vec<f64>,
    /// Mean absolute error of the signal, element by element.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub signal_mae: f64,
}

/// Errors of `pred` against `truth`, both `[S, N, T]`.
pub fn paired_errors(
    pred: ArrayView3<'_, f64>,
    truth: ArrayView3<'_, f64>,
) -> Result<PairedErrors> {
    if pred.dim() != truth.dim() || pred.is_empty() {
        return Err(StatsError::Data(format!(
            "predictions {:?} and ground truth {:?} must have the same non-empty shape",
            pred.dim(),
            truth.dim()
        )));
    }
    let t = pred.dim().2 as f64;
    let rates = |x: ArrayView3<'_, f64>| x.sum_axis(Axis(2)).mapv(|v| v / t);
    let diff = (rates(pred) - rates(truth)).mapv(f64::abs);
    let rate_mae_per_neuron = diff
        .mean_axis(Axis(0))
        .map(|m| m.to_vec())
        .unwrap_or_default();
    Ok(PairedErrors {
        rate_mae: diff.mean().unwrap_or(f64::NAN),
        rate_mae_per_neuron,
        signal_mae: (&pred - &truth).mapv(f64::abs).mean().unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluation_reads_back_from_its_json_nan_included() {
        let d = |kl: f64| Divergences {
            rate_kl_per_neuron: vec![kl, 0.5],
            rate_kl: kl,
            correlation_kl: 0.25,
            van_rossum_kl_per_neuron: vec![0.125],
            van_rossum_kl: 0.125,
            mean_rate_l1: 0.0625,
            correlation_l1: 0.03125,
            covariance_l1: 0.5,
            frame_covariance_l1: 0.75,
        };
        let errors = PairedErrors {
            rate_mae: 0.5,
            rate_mae_per_neuron: vec![0.5, f64::NAN],
            signal_mae: 0.25,
        };
        let evaluation = TranslationEvaluation {
            from: "pre".into(),
            to: "post".into(),
            windows: 3,
            real_windows: 4,
            iteration: 7,
            spikes: DivergencePair {
                translated_vs_real: d(f64::NAN),
                input_vs_real: d(1.0),
            },
            calcium: DivergencePair {
                translated_vs_real: d(2.0),
                input_vs_real: d(3.0),
            },
            paired: Some(PairedComparison {
                translated: errors.clone(),
                input: errors,
            }),
        };
        let text = serde_json::to_string(&evaluation).unwrap();
        let back: TranslationEvaluation = serde_json::from_str(&text).unwrap();
        assert!(back.spikes.translated_vs_real.rate_kl.is_nan());
        assert!(back.spikes.translated_vs_real.rate_kl_per_neuron[0].is_nan());
        assert_eq!(back.spikes.input_vs_real, d(1.0));
        assert_eq!(back.calcium, evaluation.calcium);
        // An evaluation written before the covariances existed reads them as not measured.
        let mut old = serde_json::to_value(d(1.0)).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("covariance_l1");
        fields.remove("frame_covariance_l1");
        let old: Divergences = serde_json::from_value(old).unwrap();
        assert!(old.covariance_l1.is_nan() && old.frame_covariance_l1.is_nan());
        let paired = back.paired.as_ref().unwrap();
        assert_eq!(paired.input.rate_mae, 0.5);
        assert!(paired.input.rate_mae_per_neuron[1].is_nan());
        assert_eq!((back.windows, back.real_windows, back.iteration), (3, 4, 7));
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        // Without --paired the key is absent, and reads back as None.
        let unpaired = TranslationEvaluation {
            paired: None,
            ..back
        };
        let text = serde_json::to_string(&unpaired).unwrap();
        assert!(!text.contains("paired"));
        let back: TranslationEvaluation = serde_json::from_str(&text).unwrap();
        assert!(back.paired.is_none());
    }
    use ndarray::Array3;

    #[test]
    fn statistics_of_a_hand_made_set() {
        // 2 samples, 2 neurons, 4 frames; bins of 2 frames.
        let mut x = Array3::<f64>::zeros((2, 2, 4));
        x[(0, 0, 0)] = 1.0;
        x[(0, 1, 0)] = 1.0;
        x[(1, 0, 3)] = 1.0;
        x[(1, 1, 2)] = 1.0;
        x[(1, 1, 3)] = 0.4; // below the spike threshold
        let config = TranslationEvalConfig {
            correlation_bin: 2,
            ..TranslationEvalConfig::default()
        };
        let st = SampleStatistics::of(x.view(), &config).unwrap();
        assert_eq!(st.rate[0], vec![0.25, 0.25]);
        assert!((st.rate[1][1] - 0.35).abs() < 1e-12);
        // Binned: neuron 0 [1, 0, 0, 1] (mean 0.5), neuron 1 [1, 0, 0, 1.4] (mean 0.6):
        // sum of products of deviations 1.2, of squares 1 and 1.52.
        let want = 1.2 / 1.52f64.sqrt();
        assert!(
            (st.correlation[0] - want).abs() < 1e-12,
            "{}",
            st.correlation[0]
        );
        // Covariances of the bin sums (ddof 1 over 4 bins): 1 / 3, 1.2 / 3, 1.52 / 3.
        let want = [1.0 / 3.0, 1.2 / 3.0, 1.52 / 3.0];
        for (got, want) in st.covariance.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{:?}", st.covariance);
        }
        // Frame by frame, samples end to end: neuron 0 [1 0 0 0 0 0 0 1] (mean 1/4), neuron 1
        // [1 0 0 0 0 0 1 0.4] (mean 0.3); over 7 degrees of freedom.
        let a = [1.0, 0., 0., 0., 0., 0., 0., 1.];
        let b = [1.0, 0., 0., 0., 0., 0., 1., 0.4];
        let cov = |u: &[f64], v: &[f64]| {
            let (mu, mv) = (mean(u), mean(v));
            u.iter()
                .zip(v)
                .map(|(x, y)| (x - mu) * (y - mv))
                .sum::<f64>()
                / 7.0
        };
        let want = [cov(&a, &a), cov(&a, &b), cov(&b, &b)];
        assert_eq!(st.frame_covariance.len(), 3);
        for (got, want) in st.frame_covariance.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{:?}", st.frame_covariance);
        }
        // Neuron 0: a spike at 0 against one at 3: D^2 = 2 - 2 exp(-3 / tau).
        let d = (2.0 - 2.0 * (-3.0f64 / 12.0).exp()).sqrt();
        assert!((st.van_rossum[0][0] - d).abs() < 1e-12);
    }

    #[test]
    fn identical_sets_do_not_diverge_and_shifted_rates_do() {
        let x = Array3::from_shape_fn((40, 3, 24), |(s, n, t)| {
            if (s * 7 + n * 3 + t * 5) % 11 < 2 + n {
                1.0
            } else {
                0.0
            }
        });
        let config = TranslationEvalConfig::default();
        let a = SampleStatistics::of(x.view(), &config).unwrap();
        let same = divergences(&a, &a).unwrap();
        assert!(same.rate_kl.abs() < 1e-12 && same.correlation_kl.abs() < 1e-12);
        assert!(same.mean_rate_l1 == 0.0);
        let doubled = x.mapv(|v| 2.0 * v);
        let b = SampleStatistics::of(doubled.view(), &config).unwrap();
        let d = divergences(&a, &b).unwrap();
        assert!(d.rate_kl > 1.0, "{}", d.rate_kl);
        // Correlation is scale-free, so doubling leaves it; covariances grow fourfold.
        assert!(d.correlation_kl.abs() < 1e-12);
        assert!(same.covariance_l1 == 0.0 && same.frame_covariance_l1 == 0.0);
        assert!(
            (d.covariance_l1
                - 3.0 * mean(&a.covariance.iter().map(|c| c.abs()).collect::<Vec<_>>()))
            .abs()
                < 1e-9
        );
        assert!(
            (d.frame_covariance_l1
                - 3.0
                    * mean(
                        &a.frame_covariance
                            .iter()
                            .map(|c| c.abs())
                            .collect::<Vec<_>>()
                    ))
            .abs()
                < 1e-9
        );
        let mean_rates = a.mean_rates();
        assert!((d.mean_rate_l1 - mean(&mean_rates)).abs() < 1e-12);
    }

    #[test]
    fn paired_errors_by_hand() {
        let truth = Array3::from_shape_fn((2, 2, 4), |(s, n, t)| (s + n + t) as f64);
        let mut pred = truth.clone();
        pred[(0, 1, 2)] += 2.0;
        let e = paired_errors(pred.view(), truth.view()).unwrap();
        // One rate off by 2 / 4 among 4 (sample, neuron) rates.
        assert!((e.rate_mae - 0.125).abs() < 1e-12);
        assert_eq!(e.rate_mae_per_neuron, vec![0.0, 0.25]);
        assert!((e.signal_mae - 2.0 / 16.0).abs() < 1e-12);
        assert!(paired_errors(pred.view(), truth.slice(ndarray::s![..1, .., ..])).is_err());
    }
}
