//! OASIS for the AR(2) calcium model `c_t = g1 c_{t-1} + g2 c_{t-2} + s_t` (a rise and a decay),
//! the greedy pool algorithm of Friedrich, Zhou & Paninski (2017, section "AR(2)").
//!
//! With two time constants a pool's calcium is no longer one free value times a power: inside a
//! pool starting at `t` after a pool that ended with calcium `w'`, the calcium is
//! `c_{t+k} = a_k v + g2 a_{k-1} w'`, where `a_k = (d^(k+1) - r^(k+1)) / (d - r)` is the impulse
//! response (`d > r` the roots of `z^2 = g1 z + g2`) and `v` the pool's first value, fitted by
//! least squares with `w'` held fixed. Frames are added one at a time; while the previous pool,
//! continued, would exceed the new pool's first value minus `s_min` (a negative or too small
//! spike), the two merge. The first pool decays with the slower root alone. This is an
//! approximation of the exact problem (the paper's greedy variant, which oasis-deconv's
//! `oasisAR2` implements and against which this is tested), exact for noiseless data.
//!
//! Conventions follow oasis-deconv: the penalty shifts the data by `lam (1 - g1 - g2)`
//! (`lam (1 - g1)` at the last-but-one and `lam` at the last frame), the first pool is clipped
//! at 0, and `s_0 = s_1 = 0`.
//!
//! Each pool keeps `sum_k d^(k+1) y_{t+k}` and `sum_k r^(k+1) y_{t+k}`, so a merge costs O(1)
//! instead of the reference's O(pool length) dot product.

use super::{
    ConstrainedDeconvolution, Deconvolution, check_noise, check_penalty, check_trace,
    initial_baseline,
};
use crate::error::{Result, data, parameter};

/// The two real roots `d > r > 0` of an AR(2) kernel, and the impulse-response tables a fit
/// needs for a trace of `n` frames.
struct Kernel {
    g1: f64,
    g2: f64,
    d: f64,
    r: f64,
    /// `a_k = (d^(k+1) - r^(k+1)) / (d - r)`.
    response: Vec<f64>,
    /// `sum_{j <= k} a_j^2`.
    response_sq_cum: Vec<f64>,
    /// `sum_{j <= k} a_j g2 a_{j-1}` (`a_{-1} = 0`).
    response_cross_cum: Vec<f64>,
}

impl Kernel {
    fn new(g1: f64, g2: f64, n: usize) -> Result<Self> {
        let discriminant = g1 * g1 + 4.0 * g2;
        if !(g1.is_finite() && g2.is_finite() && g2 < 0.0 && discriminant > 0.0) {
            return Err(parameter(format!(
                "AR(2) coefficients g1 {g1}, g2 {g2} must have two distinct real roots in (0, 1) \
                 (g2 < 0 and g1^2 + 4 g2 > 0)"
            )));
        }
        let d = (g1 + discriminant.sqrt()) / 2.0;
        let r = (g1 - discriminant.sqrt()) / 2.0;
        if !(d < 1.0 && r > 0.0 && d - r > 1e-6) {
            return Err(parameter(format!(
                "AR(2) coefficients g1 {g1}, g2 {g2} have roots {d} and {r}; both must lie in \
                 (0, 1), at least 1e-6 apart"
            )));
        }
        let mut response = Vec::with_capacity(n);
        let (mut dk, mut rk) = (d, r);
        for _ in 0..n {
            response.push((dk - rk) / (d - r));
            dk *= d;
            rk *= r;
        }
        let mut response_sq_cum = Vec::with_capacity(n);
        let mut response_cross_cum = Vec::with_capacity(n);
        let (mut sq, mut cross) = (0.0, 0.0);
        for k in 0..n {
            sq += response[k] * response[k];
            if k > 0 {
                cross += response[k] * g2 * response[k - 1];
            }
            response_sq_cum.push(sq);
            response_cross_cum.push(cross);
        }
        Ok(Self {
            g1,
            g2,
            d,
            r,
            response,
            response_sq_cum,
            response_cross_cum,
        })
    }

    /// `g2 a_{k-1}`: the weight of the previous pool's last value at the `k`-th frame of a pool.
    fn carry(&self, k: usize) -> f64 {
        if k == 0 {
            0.0
        } else {
            self.g2 * self.response[k - 1]
        }
    }
}

/// A run of frames without a spike inside.
#[derive(Debug, Clone, Copy)]
struct Pool2 {
    /// Calcium at the first frame.
    first: f64,
    /// Calcium at the last frame.
    last: f64,
    start: usize,
    len: usize,
    /// `sum_k d^(k+1) y_{start+k}` and `d^len`.
    d_sum: f64,
    d_pow: f64,
    /// `sum_k r^(k+1) y_{start+k}` and `r^len`.
    r_sum: f64,
    r_pow: f64,
}

/// OASIS for the AR(2) model with coefficients `g1`, `g2`, L1 penalty `lam` and minimum spike
/// size `s_min` (see the module documentation for the algorithm and its conventions).
pub fn oasis_ar2(y: &[f64], g1: f64, g2: f64, lam: f64, s_min: f64) -> Result<Deconvolution> {
    check_penalty(lam, s_min)?;
    check_trace(y)?;
    let kernel = Kernel::new(g1, g2, y.len())?;
    Ok(fit(y, 0.0, &kernel, lam, s_min))
}

/// The AR(2) pool algorithm on `y - baseline` with the kernel's tables precomputed.
fn fit(y: &[f64], baseline: f64, kernel: &Kernel, lam: f64, s_min: f64) -> Deconvolution {
    let n = y.len();
    let (g1, g2, d, r) = (kernel.g1, kernel.g2, kernel.d, kernel.r);
    let shifted = |t: usize| {
        let shift = if t + 1 == n {
            1.0
        } else if t + 2 == n {
            1.0 - g1
        } else {
            1.0 - g1 - g2
        };
        y[t] - baseline - lam * shift
    };
    let mut pools: Vec<Pool2> = Vec::with_capacity(n / 4 + 1);
    let y0 = shifted(0).max(0.0);
    pools.push(Pool2 {
        first: y0,
        last: y0,
        start: 0,
        len: 1,
        d_sum: d * shifted(0),
        d_pow: d,
        r_sum: r * shifted(0),
        r_pow: r,
    });
    for t in 1..n {
        let v = shifted(t);
        pools.push(Pool2 {
            first: v,
            last: v,
            start: t,
            len: 1,
            d_sum: d * v,
            d_pow: d,
            r_sum: r * v,
            r_pow: r,
        });
        loop {
            let i = pools.len() - 1;
            if i == 0 {
                break;
            }
            let prev = pools[i - 1];
            let predicted = if i > 1 {
                kernel.response[prev.len] * prev.first + kernel.carry(prev.len) * pools[i - 2].last
            } else {
                prev.last * d
            };
            if predicted <= pools[i].first - s_min {
                break;
            }
            let next = pools[i];
            pools.pop();
            let before = if i > 1 { Some(pools[i - 2].last) } else { None };
            let merged = &mut pools[i - 1];
            merged.d_sum += merged.d_pow * next.d_sum;
            merged.r_sum += merged.r_pow * next.r_sum;
            merged.d_pow *= next.d_pow;
            merged.r_pow *= next.r_pow;
            merged.len += next.len;
            let l = merged.len - 1;
            match before {
                Some(w) => {
                    let response_dot = (merged.d_sum - merged.r_sum) / (d - r);
                    merged.first = (response_dot - kernel.response_cross_cum[l] * w)
                        / kernel.response_sq_cum[l];
                    merged.last = kernel.response[l] * merged.first + kernel.carry(l) * w;
                }
                None => {
                    // sum_k d^k y_k (1 - d^2) / (1 - d^(2 len)): the least-squares value of a
                    // pure decay, clipped at 0.
                    let decay_sq = merged.d_pow * merged.d_pow;
                    merged.first = (merged.d_sum / d * (1.0 - d * d) / (1.0 - decay_sq)).max(0.0);
                    merged.last = merged.first * merged.d_pow / d;
                }
            }
        }
    }
    let mut calcium = vec![0.0; n];
    let mut v = pools[0].first;
    for c in &mut calcium[..pools[0].len] {
        *c = v;
        v *= d;
    }
    for pool in &pools[1..] {
        let (s, e) = (pool.start, pool.start + pool.len);
        calcium[s] = pool.first;
        for j in s + 1..e - 1 {
            calcium[j] = g1 * calcium[j - 1] + g2 * calcium[j - 2];
        }
        calcium[e - 1] = pool.last;
    }
    let mut spikes = vec![0.0; n];
    for t in 2..n {
        spikes[t] = calcium[t] - g1 * calcium[t - 1] - g2 * calcium[t - 2];
    }
    Deconvolution { calcium, spikes }
}

/// Noise-constrained OASIS AR(2): the penalty at which the residual energy
/// `||y - b - c||^2` equals `sn^2 T`, found by bisection on the penalty (the greedy AR(2) fit has
/// no closed-form path), with the baseline `b >= 0` re-estimated as the mean residual for up to
/// 5 rounds. The penalty is bracketed by doubling from `sn` and bisected until the residual is
/// within 1e-4 (relative) of its target.
pub fn constrained_oasis_ar2(
    y: &[f64],
    g1: f64,
    g2: f64,
    sn: f64,
) -> Result<ConstrainedDeconvolution> {
    check_trace(y)?;
    check_noise(sn)?;
    let n = y.len();
    let kernel = Kernel::new(g1, g2, n)?;
    let target = sn * sn * n as f64;
    let mut baseline = initial_baseline(y);
    let rss = |fit: &Deconvolution, b: f64| residual_energy(y, b, &fit.calcium);
    let mut best = None;
    for _round in 0..5 {
        let mut lo = 0.0;
        let mut lo_fit = fit(y, baseline, &kernel, 0.0, 0.0);
        let (lam, result) = if rss(&lo_fit, baseline) >= target {
            (0.0, lo_fit)
        } else {
            let mut hi = sn;
            let mut hi_fit = fit(y, baseline, &kernel, hi, 0.0);
            let mut doublings = 0;
            while rss(&hi_fit, baseline) < target && hi_fit.calcium.iter().any(|&c| c > 0.0) {
                lo = hi;
                lo_fit = hi_fit;
                hi *= 2.0;
                hi_fit = fit(y, baseline, &kernel, hi, 0.0);
                doublings += 1;
                if doublings > 200 {
                    return Err(data("the penalty could not be bracketed"));
                }
            }
            let _ = lo_fit;
            let mut answer = (hi, hi_fit);
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                let mid_fit = fit(y, baseline, &kernel, mid, 0.0);
                let mid_rss = rss(&mid_fit, baseline);
                let done = (mid_rss - target).abs() <= 1e-4 * target || hi - lo <= 1e-12 * hi;
                if mid_rss < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
                answer = (mid, mid_fit);
                if done {
                    break;
                }
            }
            answer
        };
        let mean_residual = y
            .iter()
            .zip(&result.calcium)
            .map(|(v, c)| v - c)
            .sum::<f64>()
            / n as f64;
        let next = mean_residual.max(0.0);
        let settled = (next - baseline).abs() <= 1e-6 * (1.0 + baseline.abs());
        best = Some(ConstrainedDeconvolution {
            fit: result,
            lam,
            baseline,
        });
        if settled {
            break;
        }
        baseline = next;
    }
    best.ok_or_else(|| data("no rounds ran"))
}

/// `||y - b - c||^2`.
fn residual_energy(y: &[f64], baseline: f64, calcium: &[f64]) -> f64 {
    y.iter()
        .zip(calcium)
        .map(|(v, c)| (v - baseline - c).powi(2))
        .sum()
}

/// `c = K s`: calcium from spikes by the AR(2) recursion `c_t = s_t + g1 c_{t-1} + g2 c_{t-2}`.
fn convolve(s: &[f64], g1: f64, g2: f64, c: &mut [f64]) {
    let (mut c1, mut c2) = (0.0, 0.0);
    for (out, &v) in c.iter_mut().zip(s) {
        let value = v + g1 * c1 + g2 * c2;
        *out = value;
        c2 = c1;
        c1 = value;
    }
}

/// `K^T r`: the adjoint of [`convolve`], the same recursion run backwards.
fn convolve_adjoint(r: &[f64], g1: f64, g2: f64, out: &mut [f64]) {
    let (mut z1, mut z2) = (0.0, 0.0);
    for (o, &v) in out.iter_mut().zip(r).rev() {
        let value = v + g1 * z1 + g2 * z2;
        *o = value;
        z2 = z1;
        z1 = value;
    }
}

/// The exact convex AR(2) problem `min_s 1/2 ||y - b - K s||^2 + lam sum_{t >= 2} s_t`, `s >= 0`
/// (`s_0, s_1` unpenalised: the initial calcium), by FISTA with gradient restarts (O'Donoghue &
/// Candes 2015) from `start`. Each iteration is two O(T) recursions; the step is `1 / L` with
/// `L = (sum_k h_k)^2 >= ||K||^2` (`h` the impulse response). Stops when the objective changes
/// by less than 1e-10 relative or after `max_iterations`.
fn fista_ar2(
    y: &[f64],
    baseline: f64,
    kernel: &Kernel,
    lam: f64,
    start: &[f64],
    max_iterations: usize,
) -> Vec<f64> {
    let n = y.len();
    let (g1, g2) = (kernel.g1, kernel.g2);
    let gain: f64 = kernel
        .response
        .iter()
        .map(|h| h.abs())
        .sum::<f64>()
        .max(1.0);
    let step = 1.0 / (gain * gain);
    let mut s = start.to_vec();
    let mut z = s.clone();
    let mut next = vec![0.0; n];
    let mut calcium = vec![0.0; n];
    let mut residual = vec![0.0; n];
    let mut gradient = vec![0.0; n];
    let mut momentum = 1.0f64;
    let objective = |c: &[f64], s: &[f64]| -> f64 {
        0.5 * residual_energy(y, baseline, c) + lam * s.iter().skip(2).sum::<f64>()
    };
    let mut last = f64::INFINITY;
    for iteration in 0..max_iterations {
        convolve(&z, g1, g2, &mut calcium);
        for ((r, v), c) in residual.iter_mut().zip(y).zip(&calcium) {
            *r = v - baseline - c;
        }
        convolve_adjoint(&residual, g1, g2, &mut gradient);
        for (t, ((out, zt), g)) in next.iter_mut().zip(&z).zip(&gradient).enumerate() {
            let penalty = if t < 2 { 0.0 } else { lam };
            *out = (zt + step * (g - penalty)).max(0.0);
        }
        // Restart the momentum when it points against the step just taken.
        let against: f64 = z
            .iter()
            .zip(&next)
            .zip(&s)
            .map(|((zt, nt), st)| (zt - nt) * (nt - st))
            .sum();
        let accelerated = (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt()) / 2.0;
        let beta = if against > 0.0 {
            momentum = 1.0;
            0.0
        } else {
            let b = (momentum - 1.0) / accelerated;
            momentum = accelerated;
            b
        };
        for ((zt, nt), st) in z.iter_mut().zip(&next).zip(&s) {
            *zt = nt + beta * (nt - st);
        }
        std::mem::swap(&mut s, &mut next);
        if iteration % 20 == 19 {
            convolve(&s, g1, g2, &mut calcium);
            let value = objective(&calcium, &s);
            if (last - value).abs() <= 1e-10 * value.abs().max(1e-300) {
                break;
            }
            last = value;
        }
    }
    s
}

/// The exact convex AR(2) deconvolution for penalty `lam` and baseline `baseline` (FISTA, see
/// [`constrained_exact_ar2`]); spikes on frames 0 and 1 are reported as 0 (initial calcium), as
/// in [`oasis_ar2`].
pub fn exact_ar2(y: &[f64], g1: f64, g2: f64, lam: f64, baseline: f64) -> Result<Deconvolution> {
    check_penalty(lam, 0.0)?;
    check_trace(y)?;
    let kernel = Kernel::new(g1, g2, y.len())?;
    let s = fista_ar2(y, baseline, &kernel, lam, &vec![0.0; y.len()], 5000);
    Ok(exact_result(&s, g1, g2))
}

fn exact_result(s: &[f64], g1: f64, g2: f64) -> Deconvolution {
    let mut calcium = vec![0.0; s.len()];
    convolve(s, g1, g2, &mut calcium);
    let mut spikes = s.to_vec();
    for v in spikes.iter_mut().take(2) {
        *v = 0.0;
    }
    Deconvolution { calcium, spikes }
}

/// Noise-constrained AR(2) deconvolution on the exact convex problem (what oasis-deconv's
/// `deconvolve(y, g=(g1, g2), penalty=1)` solves with its online NNLS): the penalty at which
/// `||y - b - c||^2 = sn^2 T` with the baseline `b >= 0` at the mean residual. It starts from
/// the greedy solution ([`constrained_oasis_ar2`]: its penalty, baseline and spikes), brackets
/// the penalty by factors of 1.5 and bisects it (at most 12 steps, until the residual is within
/// 0.5% of its target), each step 120 warm-started FISTA iterations ([`exact_ar2`]); then the baseline
/// is re-estimated and the search repeated once if it moved. Slower than the greedy solver and
/// better at recovering spikes (docs/BENCHMARKS.md).
pub fn constrained_exact_ar2(
    y: &[f64],
    g1: f64,
    g2: f64,
    sn: f64,
) -> Result<ConstrainedDeconvolution> {
    let greedy = constrained_oasis_ar2(y, g1, g2, sn)?;
    let n = y.len();
    let kernel = Kernel::new(g1, g2, n)?;
    let target = sn * sn * n as f64;
    // The greedy fit as a starting point: its spikes, and the initial calcium as s_0, s_1.
    let mut s = greedy.fit.spikes.clone();
    if let Some(&c0) = greedy.fit.calcium.first() {
        s[0] = c0.max(0.0);
    }
    if n > 1 {
        s[1] = (greedy.fit.calcium[1] - g1 * greedy.fit.calcium[0]).max(0.0);
    }
    for v in &mut s {
        *v = v.max(0.0);
    }
    let mut baseline = greedy.baseline;
    let mut lam = greedy.lam.max(1e-3 * sn);
    let mut calcium = vec![0.0; n];
    let rss = |s: &[f64], b: f64, calcium: &mut [f64]| -> f64 {
        convolve(s, g1, g2, calcium);
        residual_energy(y, b, calcium)
    };
    const ITERATIONS: usize = 120;
    for _round in 0..2 {
        let mut current = fista_ar2(y, baseline, &kernel, lam, &s, ITERATIONS);
        let mut r = rss(&current, baseline, &mut calcium);
        // Bracket the target between lo (residual below) and hi (residual above).
        let (mut lo, mut hi) = if r < target {
            (lam, lam * 1.5)
        } else {
            (lam / 1.5, lam)
        };
        for _ in 0..60 {
            if (r - target).abs() <= 5e-3 * target {
                break;
            }
            let probe = if r < target { hi } else { lo };
            let trial = fista_ar2(y, baseline, &kernel, probe, &current, ITERATIONS);
            let tr = rss(&trial, baseline, &mut calcium);
            if (tr < target) == (r < target) {
                // Same side: move the bracket outwards.
                let vanished = trial.iter().skip(2).all(|&v| v == 0.0);
                lam = probe;
                current = trial;
                r = tr;
                if r < target {
                    lo = lam;
                    hi = lam * 1.5;
                } else {
                    hi = lam;
                    lo = lam / 1.5;
                }
                if vanished && r < target {
                    break;
                }
            } else {
                if r < target {
                    lo = lam;
                    hi = probe;
                } else {
                    hi = lam;
                    lo = probe;
                }
                break;
            }
        }
        for _ in 0..12 {
            if (r - target).abs() <= 5e-3 * target {
                break;
            }
            lam = 0.5 * (lo + hi);
            current = fista_ar2(y, baseline, &kernel, lam, &current, ITERATIONS);
            r = rss(&current, baseline, &mut calcium);
            if r < target {
                lo = lam;
            } else {
                hi = lam;
            }
        }
        s = current;
        convolve(&s, g1, g2, &mut calcium);
        let next = (y.iter().zip(&calcium).map(|(v, c)| v - c).sum::<f64>() / n as f64).max(0.0);
        let settled = (next - baseline).abs() <= 1e-4 * sn;
        baseline = next;
        if settled {
            break;
        }
    }
    let s = fista_ar2(y, baseline, &kernel, lam, &s, 400);
    Ok(ConstrainedDeconvolution {
        fit: exact_result(&s, g1, g2),
        lam,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noiseless_traces_are_inverted_exactly() {
        let (g1, g2) = (1.7, -0.712); // roots 0.89 and 0.8
        let spikes = [
            0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.0, 0.0,
        ];
        let mut y = vec![0.0; spikes.len()];
        for t in 0..spikes.len() {
            y[t] = spikes[t]
                + if t > 0 { g1 * y[t - 1] } else { 0.0 }
                + if t > 1 { g2 * y[t - 2] } else { 0.0 };
        }
        let d = oasis_ar2(&y, g1, g2, 0.0, 0.0).unwrap();
        for (t, (a, b)) in d.spikes.iter().zip(&spikes).enumerate() {
            assert!((a - b).abs() < 1e-9, "frame {t}: {a} vs {b}");
        }
        for (a, b) in d.calcium.iter().zip(&y) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn convolution_adjoint_is_the_transpose() {
        // <K s, r> = <s, K^T r> for arbitrary vectors.
        let (g1, g2) = (1.55, -0.57);
        let s: Vec<f64> = (0..40).map(|t| ((t * 7 % 11) as f64 - 5.0) / 3.0).collect();
        let r: Vec<f64> = (0..40).map(|t| ((t * 5 % 13) as f64 - 6.0) / 4.0).collect();
        let mut ks = vec![0.0; 40];
        let mut ktr = vec![0.0; 40];
        convolve(&s, g1, g2, &mut ks);
        convolve_adjoint(&r, g1, g2, &mut ktr);
        let a: f64 = ks.iter().zip(&r).map(|(x, y)| x * y).sum();
        let b: f64 = s.iter().zip(&ktr).map(|(x, y)| x * y).sum();
        assert!((a - b).abs() < 1e-9 * a.abs().max(1.0));
    }

    #[test]
    fn exact_solver_satisfies_the_optimality_conditions() {
        // KKT of min 1/2 ||y - K s||^2 + lam sum s: g = K^T (y - K s) equals lam where s > 0
        // and is at most lam where s = 0 (no penalty on frames 0 and 1).
        let (g1, g2, lam) = (1.55, -0.57, 0.4);
        let y: Vec<f64> = (0..300)
            .map(|t| {
                let spikes = [(20usize, 1.0), (90, 1.5), (95, 0.7), (200, 1.0)];
                let mut v = 0.05 * (((t * 37) % 17) as f64 / 8.0 - 1.0);
                for (at, size) in spikes {
                    if t >= at {
                        let k = t - at;
                        v += size * (0.95f64.powi(k as i32 + 1) - 0.6f64.powi(k as i32 + 1)) / 0.35;
                    }
                }
                v
            })
            .collect();
        let kernel = Kernel::new(g1, g2, y.len()).unwrap();
        let s = fista_ar2(&y, 0.0, &kernel, lam, &vec![0.0; y.len()], 200_000);
        let mut c = vec![0.0; y.len()];
        convolve(&s, g1, g2, &mut c);
        let r: Vec<f64> = y.iter().zip(&c).map(|(a, b)| a - b).collect();
        let mut g = vec![0.0; y.len()];
        convolve_adjoint(&r, g1, g2, &mut g);
        for t in 2..y.len() {
            if s[t] > 1e-6 {
                assert!(
                    (g[t] - lam).abs() < 1e-3,
                    "frame {t}: {} with s {}",
                    g[t],
                    s[t]
                );
            } else {
                assert!(g[t] <= lam + 1e-3, "frame {t}: {}", g[t]);
            }
        }
    }

    #[test]
    fn kernels_without_two_real_roots_in_the_unit_interval_are_refused() {
        for (g1, g2) in [(0.9, 0.0), (1.0, -0.5), (2.0, -0.99), (1.9, -0.8)] {
            assert!(
                oasis_ar2(&[1.0, 2.0], g1, g2, 0.0, 0.0).is_err(),
                "{g1} {g2}"
            );
        }
        assert!(oasis_ar2(&[1.0, 2.0], 1.7, -0.712, -1.0, 0.0).is_err());
    }
}
