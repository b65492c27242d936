//! Noise level and decay estimates of a calcium trace, as OASIS computes them when they are not
//! given: the noise from the high-frequency band of the Welch power spectrum, the AR decays
//! from the autocovariance.

use crate::error::{Result, data};

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
    let mut re = vec![0.0; seg];
    let mut im = vec![0.0; seg];
    // A power-of-two segment (the usual 256) goes through a radix-2 FFT; other lengths (short
    // traces) through the direct DFT of the kept bins.
    let starts: Vec<usize> = (0..)
        .map(|i| i * step)
        .take_while(|s| s + seg <= y.len())
        .collect();
    let segments = starts.len();
    let windowed = |start: usize, out: &mut [f64]| {
        let chunk = &y[start..start + seg];
        let mean = chunk.iter().sum::<f64>() / seg as f64;
        for ((o, v), w) in out.iter_mut().zip(chunk).zip(&window) {
            *o = (v - mean) * w;
        }
    };
    if seg.is_power_of_two() {
        // Two real segments per complex FFT: z = a + i b, then
        // A_k = (Z_k + conj Z_{n-k}) / 2 and B_k = (Z_k - conj Z_{n-k}) / 2i.
        let fft = Fft::new(seg);
        for pair in starts.chunks(2) {
            windowed(pair[0], &mut re);
            match pair.get(1) {
                Some(&second) => windowed(second, &mut im),
                None => im.fill(0.0),
            }
            fft.forward(&mut re, &mut im);
            for (p, &k) in psd.iter_mut().zip(&bins) {
                let m = (seg - k) % seg;
                let a = (re[k] + re[m]).powi(2) + (im[k] - im[m]).powi(2);
                let b = (re[k] - re[m]).powi(2) + (im[k] + im[m]).powi(2);
                *p += 2.0 * (a + b) / 4.0 / norm;
            }
        }
    } else {
        // Short traces of other lengths: the direct DFT of the kept bins.
        for &start in &starts {
            windowed(start, &mut re);
            for (p, &k) in psd.iter_mut().zip(&bins) {
                let (mut sr, mut si) = (0.0, 0.0);
                for (t, v) in re.iter().enumerate() {
                    let phase = 2.0 * std::f64::consts::PI * ((k * t) % seg) as f64 / seg as f64;
                    let (s, c) = phase.sin_cos();
                    sr += v * c;
                    si -= v * s;
                }
                *p += 2.0 * (sr * sr + si * si) / norm;
            }
        }
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
    let acov = autocovariance(y, LAGS);
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

/// Biased autocovariance of `y` (mean removed, divided by the length) at lags `0..=max_lag`.
fn autocovariance(y: &[f64], max_lag: usize) -> Vec<f64> {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let centred: Vec<f64> = y.iter().map(|v| v - mean).collect();
    (0..=max_lag)
        .map(|k| {
            centred[k..]
                .iter()
                .zip(&centred)
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n
        })
        .collect()
}

/// AR(2) coefficients `(g1, g2)` (`c_t = g1 c_{t-1} + g2 c_{t-2} + s_t`) from the
/// autocovariance of a trace with noise level `sn`, OASIS's `estimate_time_constant` with p = 2:
/// the least-squares solution of `acov(k) = g1 acov(k - 1) + g2 acov(k - 2)` over lags 1..=12
/// with the noise variance removed at lag 0, then each root of `z^2 - g1 z - g2` (its real part)
/// outside (0, 1) replaced by 0.95 (above 1) or 0.15 (below 0), OASIS's fallbacks without its
/// random jitter.
pub fn estimate_ar2(y: &[f64], sn: f64) -> Result<(f64, f64)> {
    const LAGS: usize = 12;
    if y.len() <= LAGS + 1 {
        return Err(data(format!(
            "a decay estimate needs more than {} frames",
            LAGS + 1
        )));
    }
    let acov = autocovariance(y, LAGS);
    let noisy = |i: usize, j: usize| acov[i.abs_diff(j)] - if i == j { sn * sn } else { 0.0 };
    let a = nalgebra::DMatrix::from_fn(LAGS, 2, noisy);
    let b = nalgebra::DVector::from_fn(LAGS, |i, _| acov[i + 1]);
    let solution = a
        .svd(true, true)
        .solve(&b, 1e-12)
        .map_err(|e| data(format!("the AR(2) least-squares problem failed: {e}")))?;
    let (g1, g2) = (solution[0], solution[1]);
    if !(g1.is_finite() && g2.is_finite()) {
        return Err(data("the trace has no variance to estimate a decay from"));
    }
    let discriminant = g1 * g1 + 4.0 * g2;
    let (mut d, mut r) = if discriminant >= 0.0 {
        let root = discriminant.sqrt();
        ((g1 + root) / 2.0, (g1 - root) / 2.0)
    } else {
        (g1 / 2.0, g1 / 2.0)
    };
    for root in [&mut d, &mut r] {
        if *root > 1.0 {
            *root = 0.95;
        } else if *root < 0.0 {
            *root = 0.15;
        }
    }
    Ok((d + r, -d * r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_flat_traces_are_refused() {
        assert!(noise_level(&[1.0; 4]).is_err());
        assert!(estimate_ar1(&[1.0; 12], 0.1).is_err());
        assert!(estimate_ar2(&[1.0; 13], 0.1).is_err());
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
