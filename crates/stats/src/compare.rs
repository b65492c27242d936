//! Every statistic of two recordings (real and generated) side by side, the L1 error of each,
//! and bootstrap intervals that tell a real difference from sampling noise.
//!
//! Conventions (those of Spike-GAN's published retina numbers): statistics are computed over the
//! whole recordings; `window` only cuts samples where a statistic is per sample (mean time
//! course, whole-sample patterns, nearest-sample distances, and the autocorrelogram, which then
//! counts pairs of bins inside each window).
//!
//! Bootstrap: each recording is cut into `blocks` contiguous blocks (whole windows when a window
//! is set); a resample draws as many blocks with replacement from each recording and recomputes
//! the moment statistics (rates, covariances, correlations, lag-1 covariances, `P(k)`,
//! autocorrelogram) from the blocks' summed sufficient statistics. `ci95` is the 2.5 and 97.5
//! percentiles over resamples of the L1 distance between a resample of the real and one of the
//! generated recording; `real_vs_real` (median and `real_vs_real_ci95`) is the same distance
//! between two independent resamples of the real recording: what two equally sized draws of the
//! same data show. Both include the sampling noise of two resampled sets, so they sit above the
//! point estimate `l1_error` and are to be read against each other: `noise_fraction`, the
//! fraction of resamples in which generated-vs-real is at most real-vs-real, is near 0.5 when the
//! generated data are as close to the data as the data are to themselves and near 0 when they
//! differ by more than sampling noise. Blocks keep the time structure inside them; pairs of bins
//! across block edges are left out of resamples (they are in the point estimates).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};
use crate::histogram::{kl_divergence, l1_distance};
use crate::moments::{ACG_LAGS, Moments, boundary_terms};
use crate::patterns::{PackedSamples, compare_patterns, nearest_distances};
use crate::trains::{isi_distribution, rebin, spike_times, van_rossum_distance};

/// Settings of a comparison. Defaults in brackets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareConfig {
    /// Bins per sample for the per-sample statistics [none: whole recordings; patterns of
    /// single bins; no time course or nearest-sample check].
    pub window: Option<usize>,
    /// Bootstrap resamples [200]; 0 turns the bootstrap off.
    pub bootstrap: usize,
    /// Blocks per recording for the bootstrap [100].
    pub blocks: usize,
    /// Seed of the bootstrap and of the sample subsets [0].
    pub seed: u64,
    /// Bins summed into one count for the spike-count correlation [25: 500 ms at 20 ms bins, as
    /// CalciumGAN].
    pub count_bin: usize,
    /// van Rossum time constant, bins [10].
    pub van_rossum_tau: f64,
    /// Length of the segments compared by the van Rossum distance, bins [the window, else 1000].
    pub van_rossum_segment: Option<usize>,
    /// Segment pairs per neuron for the van Rossum distance [50].
    pub van_rossum_pairs: usize,
    /// Largest inter-spike interval with its own histogram bin [100 bins].
    pub max_isi: usize,
    /// Samples whose nearest neighbour is searched, per set [1000].
    pub nearest_samples: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            window: None,
            bootstrap: 200,
            blocks: 100,
            seed: 0,
            count_bin: 25,
            van_rossum_tau: 10.0,
            van_rossum_segment: None,
            van_rossum_pairs: 50,
            max_isi: 100,
            nearest_samples: 1000,
        }
    }
}

/// One statistic of both recordings, and how far apart they are. It reads back from the JSON
/// that `neuroforge stats --json` writes (JSON has no NaN: a NaN is written as `null` and read
/// back as NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatisticComparison {
    /// What the statistic is, and how its values are laid out.
    pub description: String,
    /// `sum |real - generated|` over the statistic's values.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub l1_error: f64,
    /// Bootstrap 95% interval of `l1_error` (moment statistics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    /// Median L1 distance between two bootstrap resamples of the real recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_vs_real: Option<f64>,
    /// 95% interval of that real-vs-real distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_vs_real_ci95: Option<[f64; 2]>,
    /// Fraction of resamples in which the generated-vs-real distance is at most the
    /// real-vs-real distance: near 0.5 when the generated data are as close to the data as the
    /// data to themselves, near 0 when they differ by more than sampling noise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_fraction: Option<f64>,
    /// `KL(real || generated)` of the histograms of the values (30 shared bins, CalciumGAN),
    /// where the values form a distribution across neurons or pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl: Option<f64>,
    /// The statistic of the real recording.
    #[serde(deserialize_with = "crate::serde_nan::numbers")]
    pub real: Vec<f64>,
    /// The statistic of the generated recording.
    #[serde(deserialize_with = "crate::serde_nan::numbers")]
    pub generated: Vec<f64>,
    /// Further named figures (entropies, means, fractions).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "crate::serde_nan::named"
    )]
    pub extra: BTreeMap<String, f64>,
}

/// The comparison of two recordings, as `neuroforge stats --json` writes it (each statistic
/// under its name, and `settings`); it reads back from that file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Each statistic by name.
    #[serde(flatten)]
    pub statistics: BTreeMap<String, StatisticComparison>,
    /// The settings used.
    pub settings: CompareConfig,
}

impl StatisticComparison {
    fn new(description: &str, real: Vec<f64>, generated: Vec<f64>) -> Self {
        Self {
            description: description.to_string(),
            l1_error: l1_distance(&real, &generated),
            ci95: None,
            real_vs_real: None,
            real_vs_real_ci95: None,
            noise_fraction: None,
            kl: None,
            real,
            generated,
            extra: BTreeMap::new(),
        }
    }
}

/// Block statistics of one recording: the blocks' moments and the terms of the pairs of bins
/// across block edges.
struct Blocked {
    blocks: Vec<Moments>,
    whole: Moments,
}

/// Block boundaries: whole windows (or bins) per block, every block longer than the largest
/// autocorrelogram lag (edge terms join adjacent blocks only).
fn block_edges(bins: usize, window: Option<usize>, blocks: usize) -> Vec<usize> {
    let unit = window.unwrap_or(1).max(1);
    let units = (bins / unit).max(1);
    let longest = (bins / (ACG_LAGS + 1)).max(1);
    let count = blocks.clamp(1, units).min(longest);
    let mut edges: Vec<usize> = (0..count).map(|k| k * units / count * unit).collect();
    edges.push(bins);
    edges.dedup();
    edges
}

fn blocked(x: ArrayView2<'_, f64>, window: Option<usize>, blocks: usize) -> Blocked {
    let edges = block_edges(x.ncols(), window, blocks);
    let blocks: Vec<Moments> = edges
        .par_windows(2)
        .map(|e| {
            let part = x.slice(s![.., e[0]..e[1]]);
            let mut m = Moments::of(part);
            if let Some(w) = window {
                // Autocorrelogram pairs inside each whole window only.
                let mut acg = [0.0; ACG_LAGS + 1];
                let mut start = 0;
                while start + w <= part.ncols() {
                    let one = Moments::of_autocorrelation(part.slice(s![.., start..start + w]));
                    for (a, b) in acg.iter_mut().zip(one) {
                        *a += b;
                    }
                    start += w;
                }
                m.acg = acg;
            }
            m
        })
        .collect();
    let mut whole = Moments::zeros(x.nrows());
    for b in &blocks {
        whole.add_scaled(b, 1.0);
    }
    for e in edges.windows(3) {
        let left = x.slice(s![.., e[0]..e[1]]);
        let right = x.slice(s![.., e[1]..e[2]]);
        let mut edge = boundary_terms(left, right);
        if window.is_some() {
            edge.acg = [0.0; ACG_LAGS + 1];
        }
        whole.add_scaled(&edge, 1.0);
    }
    Blocked { blocks, whole }
}

/// The entries above the diagonal of a square matrix, row by row (pairs `i < j`).
pub(crate) fn upper_triangle(a: &Array2<f64>) -> Vec<f64> {
    let n = a.nrows();
    let mut v = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            v.push(a[[i, j]]);
        }
    }
    v
}

/// The moment statistics as flat vectors, in a fixed order.
fn moment_statistics(m: &Moments, count_len: usize) -> [Vec<f64>; 6] {
    let cov = m.covariance();
    let corr = m.correlation();
    let acg = m.autocorrelogram();
    let symmetric: Vec<f64> = acg.iter().rev().chain(acg.iter()).copied().collect();
    [
        m.firing_rate().to_vec(),
        upper_triangle(&cov),
        upper_triangle(&corr),
        m.lag1_covariance().iter().copied().collect(),
        m.population_count(count_len),
        symmetric,
    ]
}

const MOMENT_NAMES: [(&str, &str); 6] = [
    (
        "firing_rate",
        "mean count per bin of each neuron (spike probability per bin for binary data)",
    ),
    (
        "covariance",
        "covariance of each pair of neurons over bins (ddof 1), pairs i < j in row order",
    ),
    (
        "correlation",
        "Pearson correlation of each pair of neurons over bins, pairs i < j in row order",
    ),
    (
        "lag1_covariance",
        "covariance of x_i(t) and x_j(t + 1) (ddof 1), the full neurons x neurons matrix, row-major",
    ),
    (
        "population_count",
        "P(k): fraction of bins with k spikes summed over neurons, k = 0, 1, ...",
    ),
    (
        "autocorrelogram",
        "sum over neurons of x(t) x(t + l), lags -10..-1 then 1..10, divided by its maximum",
    ),
];

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Compare `real` and `generated` (neurons x bins, counts). Both need the same number of
/// neurons.
pub fn compare(
    real: ArrayView2<'_, f64>,
    generated: ArrayView2<'_, f64>,
    config: &CompareConfig,
) -> Result<Comparison> {
    let neurons = real.nrows();
    if generated.nrows() != neurons {
        return Err(data(format!(
            "the recordings have {} and {} neurons",
            neurons,
            generated.nrows()
        )));
    }
    if neurons == 0 {
        return Err(data("no neurons"));
    }
    if let Some(w) = config.window
        && (w == 0 || w > real.ncols() || w > generated.ncols())
    {
        return Err(parameter(format!(
            "the window ({w} bins) must be between 1 and the length of each recording \
             ({} and {} bins)",
            real.ncols(),
            generated.ncols()
        )));
    }
    if real.ncols() < 2 || generated.ncols() < 2 {
        return Err(data("each recording needs at least 2 bins"));
    }
    if config.count_bin == 0 || config.blocks == 0 {
        return Err(parameter("count_bin and blocks must be at least 1"));
    }
    let real_blocks = blocked(real, config.window, config.blocks);
    let gen_blocks = blocked(generated, config.window, config.blocks);
    let count_len = real_blocks
        .whole
        .count_histogram
        .len()
        .max(gen_blocks.whole.count_histogram.len())
        .max(neurons + 1);
    let real_stats = moment_statistics(&real_blocks.whole, count_len);
    let gen_stats = moment_statistics(&gen_blocks.whole, count_len);
    let mut statistics = BTreeMap::new();
    for (k, (name, description)) in MOMENT_NAMES.iter().enumerate() {
        let mut entry =
            StatisticComparison::new(description, real_stats[k].clone(), gen_stats[k].clone());
        if matches!(*name, "firing_rate" | "correlation") {
            entry.kl = kl_divergence(&entry.real, &entry.generated);
        }
        statistics.insert((*name).to_string(), entry);
    }
    if config.bootstrap > 0 {
        bootstrap(
            &real_blocks,
            &gen_blocks,
            neurons,
            count_len,
            config,
            &mut statistics,
        );
    }
    per_sample_statistics(real, generated, config, &mut statistics)?;
    Ok(Comparison {
        statistics,
        settings: config.clone(),
    })
}

fn resample(blocks: &[Moments], rng: &mut ChaCha8Rng, neurons: usize) -> Moments {
    let mut m = Moments::zeros(neurons);
    for _ in 0..blocks.len() {
        let pick = rng.random_range(0..blocks.len());
        m.add_scaled(&blocks[pick], 1.0);
    }
    m
}

fn bootstrap(
    real: &Blocked,
    generated: &Blocked,
    neurons: usize,
    count_len: usize,
    config: &CompareConfig,
    statistics: &mut BTreeMap<String, StatisticComparison>,
) {
    let draws: Vec<([f64; 6], [f64; 6])> = (0..config.bootstrap)
        .into_par_iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(r as u64 + 1);
            let a = moment_statistics(&resample(&real.blocks, &mut rng, neurons), count_len);
            let b = moment_statistics(&resample(&generated.blocks, &mut rng, neurons), count_len);
            let a2 = moment_statistics(&resample(&real.blocks, &mut rng, neurons), count_len);
            let mut errors = [0.0; 6];
            let mut noise = [0.0; 6];
            for k in 0..6 {
                errors[k] = l1_distance(&a[k], &b[k]);
                noise[k] = l1_distance(&a[k], &a2[k]);
            }
            (errors, noise)
        })
        .collect();
    for (k, (name, _)) in MOMENT_NAMES.iter().enumerate() {
        let within = draws.iter().filter(|d| d.0[k] <= d.1[k]).count();
        let mut errors: Vec<f64> = draws.iter().map(|d| d.0[k]).collect();
        let mut noise: Vec<f64> = draws.iter().map(|d| d.1[k]).collect();
        errors.sort_by(f64::total_cmp);
        noise.sort_by(f64::total_cmp);
        if let Some(entry) = statistics.get_mut(*name) {
            entry.ci95 = Some([percentile(&errors, 0.025), percentile(&errors, 0.975)]);
            entry.real_vs_real = Some(percentile(&noise, 0.5));
            entry.real_vs_real_ci95 = Some([percentile(&noise, 0.025), percentile(&noise, 0.975)]);
            entry.noise_fraction = Some(within as f64 / draws.len().max(1) as f64);
        }
    }
}

/// Evenly spread indices: `count` of `0..len` (all of them when `len <= count`).
fn spread(len: usize, count: usize) -> Vec<usize> {
    if len <= count {
        return (0..len).collect();
    }
    (0..count).map(|k| k * len / count).collect()
}

fn per_sample_statistics(
    real: ArrayView2<'_, f64>,
    generated: ArrayView2<'_, f64>,
    config: &CompareConfig,
    statistics: &mut BTreeMap<String, StatisticComparison>,
) -> Result<()> {
    let neurons = real.nrows();
    // Inter-spike intervals.
    statistics.insert(
        "isi_distribution".into(),
        StatisticComparison::new(
            &format!(
                "fraction of inter-spike intervals of d bins, d = 0..{}, the last entry {} or more, \
                 pooled over neurons",
                config.max_isi, config.max_isi
            ),
            isi_distribution(real, config.max_isi),
            isi_distribution(generated, config.max_isi),
        ),
    );
    // Spike-count correlations at a coarser bin.
    let coarse_real = rebin(real, config.count_bin)?;
    let coarse_gen = rebin(generated, config.count_bin)?;
    if coarse_real.ncols() >= 2 && coarse_gen.ncols() >= 2 {
        let pairs = |x: &Array2<f64>| upper_triangle(&Moments::of(x.view()).correlation());
        let mut entry = StatisticComparison::new(
            &format!(
                "Pearson correlation of spike counts summed over {} bins, pairs i < j",
                config.count_bin
            ),
            pairs(&coarse_real),
            pairs(&coarse_gen),
        );
        entry.kl = kl_divergence(&entry.real, &entry.generated);
        statistics.insert("spike_count_correlation".into(), entry);
    }
    // van Rossum distances between segments of each neuron's train.
    let segment = config
        .van_rossum_segment
        .or(config.window)
        .unwrap_or(1000)
        .max(1);
    let within = |x: ArrayView2<'_, f64>| -> Result<(Vec<f64>, Vec<f64>)> {
        let segments = x.ncols() / segment;
        let pairs = config.van_rossum_pairs.min(segments.saturating_sub(1));
        let starts = spread(segments.saturating_sub(1), pairs);
        let mut means = Vec::with_capacity(neurons);
        let mut all = Vec::new();
        for row in x.rows() {
            let mut total = 0.0;
            for &k in &starts {
                let a = spike_times(&row.slice(s![k * segment..(k + 1) * segment]).to_vec());
                let b = spike_times(&row.slice(s![(k + 1) * segment..(k + 2) * segment]).to_vec());
                let d = van_rossum_distance(&a, &b, config.van_rossum_tau)?;
                total += d;
                all.push(d);
            }
            means.push(if starts.is_empty() {
                0.0
            } else {
                total / starts.len() as f64
            });
        }
        Ok((means, all))
    };
    let (vr_real, vr_real_all) = within(real)?;
    let (vr_gen, vr_gen_all) = within(generated)?;
    if !vr_real_all.is_empty() && !vr_gen_all.is_empty() {
        let mut entry = StatisticComparison::new(
            &format!(
                "per neuron, the mean van Rossum distance (tau {} bins) between consecutive \
                 {segment}-bin segments of its train",
                config.van_rossum_tau
            ),
            vr_real,
            vr_gen,
        );
        entry.kl = kl_divergence(&vr_real_all, &vr_gen_all);
        statistics.insert("van_rossum".into(), entry);
    }
    // Whole-sample patterns.
    let window = config.window.unwrap_or(1);
    let binary = real
        .iter()
        .chain(generated.iter())
        .all(|&v| v == 0.0 || v == 1.0);
    let bits = if binary { 1 } else { 8 };
    let packed_real = PackedSamples::new(real, window, bits);
    let packed_gen = PackedSamples::new(generated, window, bits);
    let patterns = compare_patterns(&packed_real, &packed_gen);
    let mut entry = StatisticComparison::new(
        &format!("probabilities of whole {window}-bin patterns (l1_error over their union)"),
        Vec::new(),
        Vec::new(),
    );
    entry.l1_error = patterns.l1;
    entry
        .extra
        .insert("entropy_real_bits".into(), patterns.entropy_a);
    entry
        .extra
        .insert("entropy_generated_bits".into(), patterns.entropy_b);
    entry
        .extra
        .insert("distinct_real".into(), patterns.distinct.0 as f64);
    entry
        .extra
        .insert("distinct_generated".into(), patterns.distinct.1 as f64);
    entry
        .extra
        .insert("generated_unseen_in_real".into(), patterns.b_unseen_in_a);
    statistics.insert("patterns".into(), entry);
    if let Some(w) = config.window {
        // Mean time course over the window.
        let course = |x: ArrayView2<'_, f64>| -> Vec<f64> {
            let samples = x.ncols() / w;
            (0..w)
                .map(|t| {
                    let mut total = 0.0;
                    for k in 0..samples {
                        total += x.column(k * w + t).sum();
                    }
                    total / (samples * neurons).max(1) as f64
                })
                .collect()
        };
        statistics.insert(
            "mean_time_course".into(),
            StatisticComparison::new(
                "mean count per neuron at each bin of the window, averaged over samples",
                course(real),
                course(generated),
            ),
        );
        // Nearest-sample distances: generated -> real, against real -> other real.
        let real_which = spread(packed_real.len(), config.nearest_samples);
        let gen_which = spread(packed_gen.len(), config.nearest_samples);
        let rr = nearest_distances(&packed_real, &real_which, &packed_real, true);
        let gr = nearest_distances(&packed_gen, &gen_which, &packed_real, false);
        let max = rr.iter().chain(&gr).copied().max().unwrap_or(0) as usize;
        let hist = |d: &[u32]| -> Vec<f64> {
            let mut h = vec![0.0; max + 1];
            for &v in d {
                h[v as usize] += 1.0;
            }
            let n = d.len().max(1) as f64;
            h.iter().map(|c| c / n).collect()
        };
        let mean = |d: &[u32]| d.iter().map(|&v| f64::from(v)).sum::<f64>() / d.len().max(1) as f64;
        let mut entry = StatisticComparison::new(
            if binary {
                "distribution of the Hamming distance from a sample to its nearest real sample \
                 (real: another real sample), distances 0, 1, ..."
            } else {
                "distribution of the L1 distance from a sample to its nearest real sample \
                 (real: another real sample), distances 0, 1, ..."
            },
            hist(&rr),
            hist(&gr),
        );
        entry.extra.insert("mean_real".into(), mean(&rr));
        entry.extra.insert("mean_generated".into(), mean(&gr));
        entry.extra.insert(
            "generated_copies".into(),
            gr.iter().filter(|&&d| d == 0).count() as f64 / gr.len().max(1) as f64,
        );
        statistics.insert("nearest_sample".into(), entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comparison_reads_back_from_its_json_nan_included() {
        // A silent neuron: its correlations are NaN, which JSON writes as null.
        let x = ndarray::Array2::from_shape_fn((3, 64), |(n, t)| {
            if n == 2 {
                0.0
            } else {
                f64::from(u8::from((t * (n + 2)) % 5 == 0))
            }
        });
        let y = ndarray::Array2::from_shape_fn((3, 64), |(n, t)| {
            if n == 2 {
                0.0
            } else {
                f64::from(u8::from((t * (n + 1)) % 3 == 0))
            }
        });
        let config = CompareConfig {
            window: Some(8),
            bootstrap: 20,
            blocks: 4,
            ..CompareConfig::default()
        };
        let c = compare(x.view(), y.view(), &config).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("null"), "the case must hold a NaN");
        let back: Comparison = serde_json::from_str(&text).unwrap();
        assert_eq!(back.statistics.len(), c.statistics.len());
        assert_eq!(back.settings, c.settings);
        for (name, s) in &c.statistics {
            let b = &back.statistics[name];
            let same = |u: f64, v: f64| u == v || (u.is_nan() && v.is_nan());
            assert!(same(s.l1_error, b.l1_error), "{name}");
            assert_eq!(s.ci95, b.ci95, "{name}");
            assert!(
                s.real.iter().zip(&b.real).all(|(u, v)| same(*u, *v)),
                "{name}"
            );
            assert!(
                s.generated
                    .iter()
                    .zip(&b.generated)
                    .all(|(u, v)| same(*u, *v)),
                "{name}"
            );
            assert_eq!(
                s.extra.keys().collect::<Vec<_>>(),
                b.extra.keys().collect::<Vec<_>>()
            );
        }
        // Written again, it is the same text.
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }

    #[test]
    fn autocorrelogram_and_time_course_of_a_periodic_train() {
        // One neuron spiking every 3rd bin, windows of 6 bins: inside each window the pairs at
        // lag 3 are the only coincidences (lag 6 does not fit in a window); the time course is
        // 1 at bins 0 and 3.
        let x =
            ndarray::Array2::from_shape_fn((1, 60), |(_, t)| if t % 3 == 0 { 1.0 } else { 0.0 });
        let config = CompareConfig {
            window: Some(6),
            bootstrap: 0,
            blocks: 4,
            ..CompareConfig::default()
        };
        let c = compare(x.view(), x.view(), &config).unwrap();
        let acg = &c.statistics["autocorrelogram"].real;
        let mut want = vec![0.0; 20];
        want[7] = 1.0; // lag -3
        want[12] = 1.0; // lag +3
        assert_eq!(acg, &want);
        assert_eq!(
            c.statistics["mean_time_course"].real,
            vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        );
        // Whole recording (20 spikes): 19 pairs at lag 3, 18 at lag 6, 17 at lag 9.
        let whole = compare(
            x.view(),
            x.view(),
            &CompareConfig {
                bootstrap: 0,
                blocks: 7,
                ..CompareConfig::default()
            },
        )
        .unwrap();
        let acg = &whole.statistics["autocorrelogram"].real;
        assert_eq!(acg[12], 1.0);
        assert!((acg[15] - 18.0 / 19.0).abs() < 1e-12, "{}", acg[15]);
        assert!((acg[18] - 17.0 / 19.0).abs() < 1e-12, "{}", acg[18]);
        assert_eq!(acg[13] + acg[14] + acg[16] + acg[17] + acg[19], 0.0);
        assert_eq!(c.statistics["firing_rate"].l1_error, 0.0);
    }

    #[test]
    fn a_recording_against_itself_has_no_error() {
        // Pseudo-random counts 0..=2 for 4 neurons: every statistic agrees exactly, except the
        // nearest-sample check, where each generated sample finds itself among the real ones.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let x = ndarray::Array2::from_shape_fn((4, 3000), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 33) % 7).saturating_sub(4) as f64
        });
        let config = CompareConfig {
            window: Some(20),
            bootstrap: 20,
            count_bin: 10,
            van_rossum_segment: Some(100),
            ..CompareConfig::default()
        };
        let c = compare(x.view(), x.view(), &config).unwrap();
        assert!(c.statistics.len() >= 12);
        for (name, s) in &c.statistics {
            if name == "nearest_sample" {
                assert_eq!(s.extra["generated_copies"], 1.0);
            } else {
                assert_eq!(s.l1_error, 0.0, "{name}");
            }
            if let Some(f) = s.noise_fraction {
                // Resamples of the same data: as often closer as farther.
                assert!(f > 0.2 && f < 0.8, "{name}: {f}");
            }
        }
    }

    #[test]
    fn block_edges_cover_the_bins_on_window_boundaries() {
        assert_eq!(block_edges(40, None, 3), vec![0, 13, 26, 40]);
        assert_eq!(block_edges(10, None, 3), vec![0, 10]);
        assert_eq!(block_edges(100, Some(32), 2), vec![0, 32, 100]);
        assert_eq!(block_edges(5, None, 100), vec![0, 5]);
        assert_eq!(block_edges(33, None, 100), vec![0, 11, 22, 33]);
    }
}
