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

use super::{
    ConstrainedDeconvolution, Deconvolution, check_noise, check_penalty, check_trace,
    initial_baseline,
};
use crate::error::{Result, parameter};

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

fn check_ar1(g: f64, lam: f64, s_min: f64) -> Result<()> {
    if !(g.is_finite() && g > 0.0 && g < 1.0) {
        return Err(parameter(format!(
            "AR(1) decay g must be in (0, 1), got {g}"
        )));
    }
    check_penalty(lam, s_min)
}

/// Merge adjacent pools, from the left, wherever the jump into a pool is below `s_min`
/// (the pool-adjacent-violators pass of OASIS).
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
    calcium
}

fn spikes_of(calcium: &[f64], g: f64) -> Vec<f64> {
    let mut spikes = vec![0.0; calcium.len()];
    for t in 1..calcium.len() {
        spikes[t] = calcium[t] - g * calcium[t - 1];
    }
    spikes
}

/// How much a unit of penalty shifts frame `t` of `n`: `1 - g`, or 1 at the last frame (the
/// penalty is on `|s|_1`, and the last frame's calcium has no later frame to decay into).
fn penalty_shift(t: usize, n: usize, g: f64) -> f64 {
    if t + 1 == n && t > 0 { 1.0 } else { 1.0 - g }
}

/// One-frame pools of `y`, shifted for the penalty `lam`.
fn initial_pools(y: &[f64], g: f64, lam: f64) -> Vec<Pool> {
    let n = y.len();
    (0..n)
        .map(|t| {
            let shift = lam * penalty_shift(t, n, g);
            Pool {
                weighted_sum: y[t] - shift,
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
    let mut pools = initial_pools(y, g, lam);
    merge_violations(&mut pools, s_min);
    let calcium = pools_to_calcium(&pools, g, s_min, y.len());
    let spikes = spikes_of(&calcium, g);
    Ok(Deconvolution { calcium, spikes })
}

/// Noise-constrained OASIS AR(1) (Friedrich et al. 2017, eq. 4, with a baseline): the sparsest
/// fit whose residual energy equals the noise, `||y - b - c||^2 = sn^2 T`, with the baseline
/// `b >= 0` at the mean residual. This is the problem oasis-deconv's
/// `deconvolve(y, g, penalty=1)` solves.
///
/// Each pool keeps sufficient statistics of its frames (see [`StatPool`]), so that with the
/// pools fixed the pool values are linear in `(lam, b)`, the mean residual is linear, and the
/// residual energy is a closed-form quadratic: `RSS(lam) = R0 + lam^2 K` once `b` is tied to
/// `lam` by the mean-residual condition. Each round solves that for the penalty and baseline
/// exactly (O(pools), not O(T)), then merges the pools the new values make inconsistent; it
/// stops when a round changes no pool. The trace is read twice in all (the first pass and the
/// final calcium).
pub fn constrained_oasis_ar1(y: &[f64], g: f64, sn: f64) -> Result<ConstrainedDeconvolution> {
    check_ar1(g, 0.0, 0.0)?;
    check_trace(y)?;
    check_noise(sn)?;
    let n = y.len();
    let target = sn * sn * n as f64;
    let mut baseline = initial_baseline(y);
    let mut lam = 0.0;
    let mut pools: Vec<StatPool> = (0..n)
        .map(|t| StatPool::frame(y[t], penalty_shift(t, n, g), t, g))
        .collect();
    merge_stat_pools(&mut pools, lam, baseline);
    for _round in 0..200 {
        let Some((next_lam, next_baseline)) =
            solve_penalty_and_baseline(&pools, lam, baseline, target)
        else {
            break;
        };
        let flips = pools
            .iter()
            .any(|p| (p.value(lam, baseline) > 0.0) != (p.value(next_lam, next_baseline) > 0.0));
        lam = next_lam;
        baseline = next_baseline;
        let merged = merge_stat_pools(&mut pools, lam, baseline);
        if !merged && !flips {
            break;
        }
    }
    let mut calcium = vec![0.0; n];
    for pool in &pools {
        let mut v = pool.value(lam, baseline).max(0.0);
        for c in &mut calcium[pool.start..pool.start + pool.len] {
            *c = v;
            v *= g;
        }
    }
    let spikes = spikes_of(&calcium, g);
    Ok(ConstrainedDeconvolution {
        fit: Deconvolution { calcium, spikes },
        lam,
        baseline,
    })
}

/// A pool of the noise-constrained solver: a run of frames `start..start + len` whose calcium is
/// `v g^k`, with the sufficient statistics that make `v` and the pool's residual energy closed
/// forms in the penalty `lam` and baseline `b`:
/// `v = (sum y g^k - b sum g^k - lam sum h g^k) / sum g^2k` (`h` the per-frame penalty shift,
/// `1 - g`, or 1 at the last frame), and, for `v > 0`, residual energy
/// `sum (y - b)^2 - (sum (y - b) g^k)^2 / sum g^2k + lam^2 (sum h g^k)^2 / sum g^2k`.
#[derive(Debug, Clone, Copy)]
struct StatPool {
    /// `sum_k y_{start+k} g^k`.
    data_g: f64,
    /// `sum_k g^k`.
    ones_g: f64,
    /// `sum_k h_{start+k} g^k`.
    shift_g: f64,
    /// `sum_k g^(2k)`.
    weight: f64,
    /// `sum_k y_{start+k}`.
    sum: f64,
    /// `sum_k y_{start+k}^2`.
    sum_sq: f64,
    start: usize,
    len: usize,
    /// `g^len`.
    decay: f64,
}

impl StatPool {
    fn frame(y: f64, shift: f64, t: usize, g: f64) -> Self {
        Self {
            data_g: y,
            ones_g: 1.0,
            shift_g: shift,
            weight: 1.0,
            sum: y,
            sum_sq: y * y,
            start: t,
            len: 1,
            decay: g,
        }
    }

    fn value(&self, lam: f64, baseline: f64) -> f64 {
        (self.data_g - baseline * self.ones_g - lam * self.shift_g) / self.weight
    }

    /// Append the pool that follows this one.
    fn absorb(&mut self, next: &Self) {
        let d = self.decay;
        self.data_g += d * next.data_g;
        self.ones_g += d * next.ones_g;
        self.shift_g += d * next.shift_g;
        self.weight += d * d * next.weight;
        self.sum += next.sum;
        self.sum_sq += next.sum_sq;
        self.len += next.len;
        self.decay *= next.decay;
    }
}

/// Merge adjacent pools, from the left, wherever the calcium would jump down into a pool at
/// penalty `lam` and baseline `b`. Returns whether any pool merged.
fn merge_stat_pools(pools: &mut Vec<StatPool>, lam: f64, baseline: f64) -> bool {
    let before = pools.len();
    let mut kept = 0usize;
    for i in 0..pools.len() {
        pools[kept] = pools[i];
        kept += 1;
        kept = merge_tail(&mut pools[..kept], lam, baseline);
    }
    pools.truncate(kept);
    kept != before
}

/// Merge the last pool of `pools` backwards while it violates; the new number of pools.
fn merge_tail(pools: &mut [StatPool], lam: f64, baseline: f64) -> usize {
    let mut kept = pools.len();
    while kept > 1 {
        let last = pools[kept - 1];
        let prev = &mut pools[kept - 2];
        if prev.value(lam, baseline) * prev.decay <= last.value(lam, baseline) {
            break;
        }
        prev.absorb(&last);
        kept -= 1;
    }
    kept
}

/// With the pools fixed (and each pool's sign at `(lam, b)` fixed), the penalty and baseline at
/// which the residual energy equals `target` and the residual has mean 0 (or the baseline is 0,
/// if the mean-residual baseline would be negative). `None` when no pool carries calcium.
fn solve_penalty_and_baseline(
    pools: &[StatPool],
    lam: f64,
    baseline: f64,
    target: f64,
) -> Option<(f64, f64)> {
    // RSS(lam, b) = q0 - 2 b q1 + b^2 q2 + lam^2 k, mean residual * T = q1 - b q2 + lam c.
    let (mut q0, mut q1, mut q2, mut k, mut c) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in pools {
        q0 += p.sum_sq;
        q1 += p.sum;
        q2 += p.len as f64;
        if p.value(lam, baseline) > 0.0 {
            q0 -= p.data_g * p.data_g / p.weight;
            q1 -= p.ones_g * p.data_g / p.weight;
            q2 -= p.ones_g * p.ones_g / p.weight;
            k += p.shift_g * p.shift_g / p.weight;
            c += p.ones_g * p.shift_g / p.weight;
        }
    }
    if k <= 0.0 {
        return None;
    }
    let at_fixed_baseline = |b: f64| {
        let r0 = q0 - 2.0 * b * q1 + b * b * q2;
        ((target - r0).max(0.0) / k).sqrt()
    };
    // q2 = sum over frames of what the pools cannot absorb of a constant; 0 when every pool is a
    // single free frame, and then the data do not determine the baseline: keep it.
    if q2 <= 1e-9 * pools.iter().map(|p| p.len as f64).sum::<f64>() {
        return Some((at_fixed_baseline(baseline), baseline));
    }
    // b(lam) = (q1 + lam c) / q2 makes the linear term vanish: RSS = q0 - q1^2/q2 + lam^2 (k + c^2/q2).
    let r0 = q0 - q1 * q1 / q2;
    let lam_joint = ((target - r0).max(0.0) / (k + c * c / q2)).sqrt();
    let b_joint = (q1 + lam_joint * c) / q2;
    if b_joint >= 0.0 {
        Some((lam_joint, b_joint))
    } else {
        Some((at_fixed_baseline(0.0), 0.0))
    }
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
    }
}
