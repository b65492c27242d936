//! Spike inference by OASIS, the Online Active Set method to Infer Spikes (Friedrich, Zhou &
//! Paninski, PLoS Comput Biol 2017), for the AR(1) calcium model
//! `c_t = g c_{t-1} + s_t`, `y_t = c_t + noise`.
//!
//! [`oasis_ar1`] solves `min_c 1/2 ||c - y||^2 + lam ||s||_1` subject to `s_t = c_t - g c_{t-1}`
//! being 0 or at least `s_min` (convex for `s_min = 0`; the `s_min` variant is the paper's greedy
//! approximation of the minimum-spike-size problem). It runs the pool-adjacent-violators scheme
//! of the paper: each pool is a run of frames with no spike inside, its calcium decaying by `g`
//! from a value fitted by least squares; a new frame starts a pool, and pools are merged while
//! the jump between them is below `s_min`. Conventions follow the reference implementation
//! (oasis-deconv), against which it is tested: the penalty enters as the shifted data
//! `y_t - lam (1 - g)` (`y_T - lam` at the last frame), the first pool is clipped at 0, and
//! `s_0 = 0` (the first frame holds the initial calcium, not a spike).
//!
//! [`noise_level`] and [`estimate_ar1`] estimate the noise standard deviation (from the power
//! spectrum's high-frequency band, Welch's method) and the decay `g` (from the autocovariance)
//! when they are not known, as OASIS does.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError, data, parameter};

/// One run of frames without a spike: calcium `value * g^k` at its `k`-th frame, with `value`
/// the ratio of a weighted data sum to its weight.
#[derive(Debug, Clone, Copy)]
struct Pool {
    /// `sum_k y_{start+k} g^k`.
    weighted_sum: f64,
    /// `sum_k g^(2k)`.
    weight: f64,
    start: usize,
    len: usize,
    /// `g^len`, kept up to date on merges (saves an `exp` per comparison).
    decay: f64,
}

impl Pool {
    fn value(&self) -> f64 {
        self.weighted_sum / self.weight
    }
}

/// Denoised calcium `c` and inferred spikes `s` of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Deconvolution {
    /// Denoised calcium, one value per frame.
    pub calcium: Vec<f64>,
    /// Inferred spike amplitudes `c_t - g c_{t-1}` (0 at frame 0), one per frame.
    pub spikes: Vec<f64>,
}

fn check_ar1(g: f64, lam: f64, s_min: f64) -> Result<()> {
    if !(g.is_finite() && g > 0.0 && g < 1.0) {
        return Err(parameter(format!(
            "AR(1) decay g must be in (0, 1), got {g}"
        )));
    }
    if !(lam.is_finite() && lam >= 0.0) {
        return Err(parameter(format!(
            "sparsity penalty must be >= 0, got {lam}"
        )));
    }
    if !(s_min.is_finite() && s_min >= 0.0) {
        return Err(parameter(format!(
            "minimum spike size must be >= 0, got {s_min}"
        )));
    }
    Ok(())
}

/// Merge adjacent pools, from the left, wherever the jump into a pool is below `s_min`
/// (the pool-adjacent-violators pass of OASIS). Pools already consistent are left alone, so
/// the pass can be re-run after the data shift of a new penalty (warm start).
fn merge_violations(pools: &mut Vec<Pool>, s_min: f64) {
    let mut kept = 0usize;
    for i in 0..pools.len() {
        pools[kept] = pools[i];
        kept += 1;
        while kept > 1 {
            let last = pools[kept - 1];
            let prev = pools[kept - 2];
            if prev.value() * prev.decay + s_min <= last.value() {
                break;
            }
            kept -= 1;
            pools[kept - 1] = Pool {
                weighted_sum: prev.weighted_sum + last.weighted_sum * prev.decay,
                weight: prev.weight + last.weight * prev.decay * prev.decay,
                start: prev.start,
                len: prev.len + last.len,
                decay: prev.decay * last.decay,
            };
        }
    }
    pools.truncate(kept);
}

/// Calcium of each frame from the pools; pool values below their floor (0 for the first pool,
/// `s_min` for the others) are set to 0.
fn pools_to_calcium(pools: &[Pool], g: f64, s_min: f64, n: usize) -> Vec<f64> {
    let mut calcium = vec![0.0; n];
    fill_calcium(pools, g, s_min, &mut calcium);
    calcium
}

/// [`pools_to_calcium`] into an existing buffer.
fn fill_calcium(pools: &[Pool], g: f64, s_min: f64, calcium: &mut [f64]) {
    for (j, pool) in pools.iter().enumerate() {
        let mut v = pool.value();
        if (j == 0 && v < 0.0) || (j > 0 && v < s_min) {
            v = 0.0;
        }
        for c in &mut calcium[pool.start..pool.start + pool.len] {
            *c = v;
            v *= g;
        }
    }
}

fn spikes_of(calcium: &[f64], g: f64) -> Vec<f64> {
    let mut spikes = vec![0.0; calcium.len()];
    for t in 1..calcium.len() {
        spikes[t] = calcium[t] - g * calcium[t - 1];
    }
    spikes
}

fn check_trace(y: &[f64]) -> Result<()> {
    if y.is_empty() {
        return Err(data("empty trace"));
    }
    if let Some(t) = y.iter().position(|v| !v.is_finite()) {
        return Err(data(format!(
            "trace value {} at frame {t} is not finite",
            y[t]
        )));
    }
    Ok(())
}

/// One-frame pools of `y - offset`, shifted for the penalty `lam`.
fn initial_pools(y: &[f64], offset: f64, g: f64, lam: f64) -> Vec<Pool> {
    let n = y.len();
    (0..n)
        .map(|t| {
            let shift = lam * if t + 1 == n && t > 0 { 1.0 } else { 1.0 - g };
            Pool {
                weighted_sum: y[t] - offset - shift,
                weight: 1.0,
                start: t,
                len: 1,
                decay: g,
            }
        })
        .collect()
}

/// OASIS for the AR(1) model with decay `g`, L1 penalty `lam` and minimum spike size `s_min`.
pub fn oasis_ar1(y: &[f64], g: f64, lam: f64, s_min: f64) -> Result<Deconvolution> {
    check_ar1(g, lam, s_min)?;
    check_trace(y)?;
    let mut pools = initial_pools(y, 0.0, g, lam);
    merge_violations(&mut pools, s_min);
    let calcium = pools_to_calcium(&pools, g, s_min, y.len());
    let spikes = spikes_of(&calcium, g);
    Ok(Deconvolution { calcium, spikes })
}

/// The result of noise-constrained deconvolution: the fit, and the penalty and baseline that
/// produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstrainedDeconvolution {
    /// Calcium (without the baseline) and spikes.
    pub fit: Deconvolution,
    /// The L1 penalty at which the residual matches the noise.
    pub lam: f64,
    /// The fluorescence baseline `b` (`y ~ c + b`).
    pub baseline: f64,
}

/// Noise-constrained OASIS AR(1) (Friedrich et al. 2017, eq. 4): the sparsest non-negative fit
/// whose residual energy equals the noise, `||y - b - c||^2 = sn^2 T`, found by increasing the
/// penalty from 0 along the exact quadratic path of the residual while the pools stay fixed,
/// re-merging pools after each step (the homotopy of the paper). The baseline `b >= 0` is
/// re-estimated as the mean residual and the penalty re-solved until it settles (at most 10
/// rounds). This is the problem oasis-deconv's `deconvolve(y, g, penalty=1)` solves.
pub fn constrained_oasis_ar1(y: &[f64], g: f64, sn: f64) -> Result<ConstrainedDeconvolution> {
    check_ar1(g, 0.0, 0.0)?;
    check_trace(y)?;
    if !(sn.is_finite() && sn > 0.0) {
        return Err(parameter(format!("noise level must be positive, got {sn}")));
    }
    let n = y.len();
    let target = sn * sn * n as f64;
    // Start from a low percentile of the trace, below the baseline of any transient-laden trace.
    let mut sorted = y.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut baseline = sorted[n * 15 / 100].max(0.0);
    let mut best = None;
    let mut start_lam = 0.0;
    for _round in 0..10 {
        let (calcium, lam) = solve_penalty(y, baseline, g, target, start_lam);
        let mean_residual = y.iter().zip(&calcium).map(|(v, c)| v - c).sum::<f64>() / n as f64;
        let next = mean_residual.max(0.0);
        let settled = (next - baseline).abs() <= 1e-6 * (1.0 + baseline.abs());
        best = Some((calcium, lam, baseline));
        if settled {
            break;
        }
        // A higher baseline leaves less signal, so the penalty falls: restart the path below
        // the last solution (the path only climbs).
        start_lam = 0.5 * lam;
        baseline = next;
    }
    let (calcium, lam, baseline) = best.ok_or_else(|| data("no rounds ran"))?;
    let spikes = spikes_of(&calcium, g);
    Ok(ConstrainedDeconvolution {
        fit: Deconvolution { calcium, spikes },
        lam,
        baseline,
    })
}

/// For a fixed baseline, the calcium at the penalty where `||y - b - c||^2` reaches `target`
/// (or where the fit vanishes, if the data never reach it), following the penalty upwards from
/// `start_lam` (0 if the residual there already exceeds the target).
fn solve_penalty(y: &[f64], baseline: f64, g: f64, target: f64, start_lam: f64) -> (Vec<f64>, f64) {
    let n = y.len();
    let residual_energy = |c: &[f64]| -> f64 {
        y.iter()
            .zip(c)
            .map(|(v, c)| (v - baseline - c).powi(2))
            .sum()
    };
    let mut lam = start_lam;
    let mut pools = initial_pools(y, baseline, g, lam);
    merge_violations(&mut pools, 0.0);
    let mut calcium = pools_to_calcium(&pools, g, 0.0, n);
    let mut rss = residual_energy(&calcium);
    if lam > 0.0 && rss > target {
        lam = 0.0;
        pools = initial_pools(y, baseline, g, 0.0);
        merge_violations(&mut pools, 0.0);
        fill_calcium(&pools, g, 0.0, &mut calcium);
        rss = residual_energy(&calcium);
    }
    let mut slope = vec![0.0; n];
    for _ in 0..1000 {
        if rss >= target * (1.0 - 1e-4) || calcium.iter().sum::<f64>() <= 1e-9 {
            break;
        }
        // How much each frame's calcium falls per unit of penalty, with the pools fixed:
        // (1 - g^l) / w for a pool of length l (1 / w for the last pool), decaying by g; a pool
        // clipped to 0 does not move.
        let last = pools.len() - 1;
        for (i, pool) in pools.iter().enumerate() {
            let mut a = if pool.value() <= 0.0 {
                0.0
            } else if i == last {
                1.0 / pool.weight
            } else {
                (1.0 - pool.decay) / pool.weight
            };
            for s in &mut slope[pool.start..pool.start + pool.len] {
                *s = a;
                a *= g;
            }
        }
        let (mut aa, mut bb) = (0.0, 0.0);
        for ((v, c), s) in y.iter().zip(&calcium).zip(&slope) {
            aa += s * s;
            bb += (v - baseline - c) * s;
        }
        if aa <= 0.0 {
            break;
        }
        let cc = rss - target;
        let step = (-bb + (bb * bb - aa * cc).max(0.0).sqrt()) / aa;
        lam += step;
        for (i, pool) in pools.iter_mut().enumerate() {
            pool.weighted_sum -= step * if i == last { 1.0 } else { 1.0 - pool.decay };
        }
        merge_violations(&mut pools, 0.0);
        fill_calcium(&pools, g, 0.0, &mut calcium);
        rss = residual_energy(&calcium);
    }
    (calcium, lam)
}

/// Settings of OASIS spike inference over many neurons. Defaults: decay, noise and penalty
/// estimated per neuron; no minimum spike size; no binarisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OasisConfig {
    /// AR(1) decay per frame; `None` estimates it from each trace's autocovariance.
    pub g: Option<f64>,
    /// L1 penalty; `None` chooses it per neuron so that the residual matches the estimated
    /// noise (or 0 when `s_min > 0`, CalciumGAN's thresholded OASIS).
    pub lam: Option<f64>,
    /// Minimum spike size (0: none).
    pub s_min: f64,
    /// Turn spikes into 0/1: 1 where the inferred spike exceeds this threshold.
    pub binarize: Option<f64>,
}

/// Spikes inferred from every trace of a population, and the decay used for each.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationDeconvolution {
    /// Inferred spikes (or 0/1 when binarised), neurons x frames.
    pub spikes: Array2<f64>,
    /// The AR(1) decay used for each neuron.
    pub g: Vec<f64>,
    /// The L1 penalty used for each neuron.
    pub lam: Vec<f64>,
}

/// OASIS on each row (neuron) of `traces` (neurons x frames), neurons in parallel (rayon's
/// global pool; `RAYON_NUM_THREADS` sets its size). Results do not depend on the thread count.
pub fn deconvolve_population(
    traces: ArrayView2<'_, f64>,
    config: &OasisConfig,
) -> Result<PopulationDeconvolution> {
    let rows: Vec<Vec<f64>> = traces.rows().into_iter().map(|r| r.to_vec()).collect();
    let per_neuron: Vec<Result<(Vec<f64>, f64, f64)>> = rows
        .par_iter()
        .enumerate()
        .map(|(n, y)| {
            let in_neuron = |e: SignalError| data(format!("neuron {n}: {e}"));
            let sn = noise_level(y).map_err(in_neuron)?;
            let g = match config.g {
                Some(g) => g,
                None => estimate_ar1(y, sn).map_err(in_neuron)?,
            };
            let (spikes, lam) = match (config.lam, config.s_min > 0.0) {
                (None, false) => {
                    let d = constrained_oasis_ar1(y, g, sn).map_err(in_neuron)?;
                    (d.fit.spikes, d.lam)
                }
                (lam, _) => {
                    let lam = lam.unwrap_or(0.0);
                    (
                        oasis_ar1(y, g, lam, config.s_min)
                            .map_err(in_neuron)?
                            .spikes,
                        lam,
                    )
                }
            };
            let spikes = match config.binarize {
                Some(t) => spikes
                    .into_iter()
                    .map(|s| if s > t { 1.0 } else { 0.0 })
                    .collect(),
                None => spikes,
            };
            Ok((spikes, g, lam))
        })
        .collect();
    let (neurons, frames) = traces.dim();
    let mut spikes = Array2::<f64>::zeros((neurons, frames));
    let mut gs = Vec::with_capacity(neurons);
    let mut lams = Vec::with_capacity(neurons);
    for (n, r) in per_neuron.into_iter().enumerate() {
        let (s, g, lam) = r?;
        spikes.row_mut(n).assign(&ndarray::Array1::from(s));
        gs.push(g);
        lams.push(lam);
    }
    Ok(PopulationDeconvolution {
        spikes,
        g: gs,
        lam: lams,
    })
}

/// Periodic Hann window of length `n` (SciPy's `get_window('hann', n)`).
fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos())
        .collect()
}

/// Noise standard deviation of a trace from its power spectral density: the square root of
/// half the mean Welch PSD over normalised frequencies in (0.25, 0.5) (Pnevmatikakis et al.
/// 2016; OASIS's `GetSn`). Welch: Hann segments of 256 samples (the whole trace if shorter),
/// 50% overlap, mean removed per segment, one-sided density.
pub fn noise_level(y: &[f64]) -> Result<f64> {
    if y.len() < 8 {
        return Err(data(format!(
            "a noise estimate needs at least 8 frames, got {}",
            y.len()
        )));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err(data("trace holds NaN or infinite values"));
    }
    let seg = y.len().min(256);
    let step = seg - seg / 2;
    let window = hann(seg);
    let norm: f64 = window.iter().map(|w| w * w).sum();
    // Frequencies k / seg strictly inside (0.25, 0.5); none of them is DC or Nyquist, so every
    // one-sided bin is doubled.
    let bins: Vec<usize> = (0..=seg / 2)
        .filter(|&k| {
            let f = k as f64 / seg as f64;
            f > 0.25 && f < 0.5
        })
        .collect();
    if bins.is_empty() {
        return Err(data("trace too short for a noise estimate"));
    }
    let mut psd = vec![0.0; bins.len()];
    let mut segments = 0usize;
    let mut start = 0;
    let mut re = vec![0.0; seg];
    let mut im = vec![0.0; seg];
    // A power-of-two segment (the usual 256) goes through a radix-2 FFT; other lengths (short
    // traces) through the direct DFT of the kept bins.
    let fft = seg.is_power_of_two().then(|| Fft::new(seg));
    while start + seg <= y.len() {
        let chunk = &y[start..start + seg];
        let mean = chunk.iter().sum::<f64>() / seg as f64;
        for (((r, i), v), w) in re.iter_mut().zip(im.iter_mut()).zip(chunk).zip(&window) {
            *r = (v - mean) * w;
            *i = 0.0;
        }
        match &fft {
            Some(fft) => {
                fft.forward(&mut re, &mut im);
                for (p, &k) in psd.iter_mut().zip(&bins) {
                    *p += 2.0 * (re[k] * re[k] + im[k] * im[k]) / norm;
                }
            }
            None => {
                for (p, &k) in psd.iter_mut().zip(&bins) {
                    let (mut sr, mut si) = (0.0, 0.0);
                    for (t, v) in re.iter().enumerate() {
                        let phase =
                            2.0 * std::f64::consts::PI * ((k * t) % seg) as f64 / seg as f64;
                        let (s, c) = phase.sin_cos();
                        sr += v * c;
                        si -= v * s;
                    }
                    *p += 2.0 * (sr * sr + si * si) / norm;
                }
            }
        }
        segments += 1;
        start += step;
    }
    let mean_psd = psd.iter().sum::<f64>() / (psd.len() as f64 * segments as f64);
    Ok((mean_psd / 2.0).sqrt())
}

/// An in-place iterative radix-2 FFT of a fixed power-of-two length (forward transform,
/// `X_k = sum_t x_t exp(-2 pi i k t / n)`).
struct Fft {
    n: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl Fft {
    fn new(n: usize) -> Self {
        let angle = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
        Self {
            n,
            cos: (0..n / 2).map(|k| angle(k).cos()).collect(),
            sin: (0..n / 2).map(|k| angle(k).sin()).collect(),
        }
    }

    fn forward(&self, re: &mut [f64], im: &mut [f64]) {
        let n = self.n;
        let bits = n.trailing_zeros();
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if j > i {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let stride = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let (c, s) = (self.cos[k * stride], -self.sin[k * stride]);
                    let (a, b) = (start + k, start + k + len / 2);
                    let tr = re[b] * c - im[b] * s;
                    let ti = re[b] * s + im[b] * c;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len <<= 1;
        }
    }
}

/// AR(1) decay `g` from the autocovariance of a trace with noise level `sn`: the least-squares
/// solution of `acov(k) = g acov(k - 1)` over lags 1..=11, with the noise variance removed from
/// lag 0 (OASIS's `estimate_time_constant` with p = 1). Estimates outside (0, 1) are replaced by
/// 0.95 (above 1) or 0.15 (below 0), OASIS's fallbacks without its random jitter.
pub fn estimate_ar1(y: &[f64], sn: f64) -> Result<f64> {
    const LAGS: usize = 11;
    if y.len() <= LAGS + 1 {
        return Err(data(format!(
            "a decay estimate needs more than {} frames",
            LAGS + 1
        )));
    }
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let centred: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let acov: Vec<f64> = (0..=LAGS)
        .map(|k| {
            centred[k..]
                .iter()
                .zip(&centred)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n
        })
        .collect();
    let column: Vec<f64> = (0..LAGS)
        .map(|k| acov[k] - if k == 0 { sn * sn } else { 0.0 })
        .collect();
    let denom: f64 = column.iter().map(|a| a * a).sum();
    if denom <= 0.0 {
        return Err(data("the trace has no variance to estimate a decay from"));
    }
    let g = column
        .iter()
        .zip(&acov[1..])
        .map(|(a, b)| a * b)
        .sum::<f64>()
        / denom;
    Ok(if g > 1.0 {
        0.95
    } else if g < 0.0 {
        0.15
    } else {
        g
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noiseless_traces_are_inverted_exactly() {
        let g = 0.9;
        let spikes = [0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.5, 0.0, 0.0, 0.0];
        let mut y = vec![0.0; spikes.len()];
        for t in 0..spikes.len() {
            y[t] = spikes[t] + if t > 0 { g * y[t - 1] } else { 0.0 };
        }
        let d = oasis_ar1(&y, g, 0.0, 0.0).unwrap();
        for (a, b) in d.calcium.iter().zip(&y) {
            assert!((a - b).abs() < 1e-12);
        }
        for (a, b) in d.spikes.iter().zip(&spikes) {
            assert!((a - b).abs() < 1e-12);
        }
        // A minimum spike size above 0.5 merges the small event away.
        let d = oasis_ar1(&y, g, 0.0, 0.8).unwrap();
        assert!(d.spikes[6].abs() < 1e-12 && d.spikes[4] > 1.0);
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(oasis_ar1(&[1.0], 1.0, 0.0, 0.0).is_err());
        assert!(oasis_ar1(&[1.0], 0.5, -1.0, 0.0).is_err());
        assert!(oasis_ar1(&[], 0.5, 0.0, 0.0).is_err());
        assert!(oasis_ar1(&[f64::NAN], 0.5, 0.0, 0.0).is_err());
        assert!(noise_level(&[1.0; 4]).is_err());
    }

    #[test]
    fn white_noise_level_is_recovered() {
        // A deterministic pseudo-random sequence (xorshift) with known variance 1/12 * 4 = 1/3.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let y: Vec<f64> = (0..20_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        let sn = noise_level(&y).unwrap();
        assert!((sn - (1.0f64 / 3.0).sqrt()).abs() < 0.02, "{sn}");
    }
}
