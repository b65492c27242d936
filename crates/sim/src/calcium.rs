//! Calcium-imaging forward model: spikes -> AR(1) or AR(2) calcium -> fluorescence with a
//! baseline and Gaussian noise, at a frame rate (the generative model OASIS inverts,
//! Friedrich et al. 2017: `c_t = g1 c_{t-1} + g2 c_{t-2} + s_t`, `y_t = b + a c_t + noise`).

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Settings of the calcium forward model. Defaults: 24 Hz frames (CalciumGAN's rate), a
/// 0.5 s decay and no rise (AR(1), g = exp(-1 / (0.5 * 24)) = 0.920), unit amplitude, baseline
/// 0, noise 0.3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalciumConfig {
    /// Frames per second.
    pub frame_rate_hz: f64,
    /// Decay time constant of the indicator in seconds.
    pub decay_s: f64,
    /// Rise time constant in seconds; 0 gives the AR(1) model, > 0 the AR(2) model.
    pub rise_s: f64,
    /// Fluorescence per unit of calcium.
    pub amplitude: f64,
    /// Fluorescence baseline `b`.
    pub baseline: f64,
    /// Standard deviation of the Gaussian noise.
    pub noise_sd: f64,
}

impl Default for CalciumConfig {
    fn default() -> Self {
        Self {
            frame_rate_hz: 24.0,
            decay_s: 0.5,
            rise_s: 0.0,
            amplitude: 1.0,
            baseline: 0.0,
            noise_sd: 0.3,
        }
    }
}

impl CalciumConfig {
    /// The AR coefficients (g1, g2) of the sampled double-exponential kernel: with
    /// `d = exp(-1 / (decay_s fs))` and `r = exp(-1 / (rise_s fs))`, `g1 = d + r`, `g2 = -d r`
    /// (`r = 0`, AR(1), when there is no rise).
    pub fn ar_coefficients(&self) -> Result<(f64, f64)> {
        self.check()?;
        let d = (-1.0 / (self.decay_s * self.frame_rate_hz)).exp();
        let r = if self.rise_s > 0.0 {
            (-1.0 / (self.rise_s * self.frame_rate_hz)).exp()
        } else {
            0.0
        };
        Ok((d + r, -d * r))
    }

    /// Refuse settings outside the model.
    pub fn check(&self) -> Result<()> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.frame_rate_hz) || !positive(self.decay_s) {
            return Err(invalid("frame rate and decay time must be positive"));
        }
        if !(self.rise_s.is_finite() && self.rise_s >= 0.0 && self.rise_s < self.decay_s) {
            return Err(invalid(format!(
                "rise time {} must be in [0, decay time)",
                self.rise_s
            )));
        }
        let finite =
            self.noise_sd.is_finite() && self.amplitude.is_finite() && self.baseline.is_finite();
        if !(finite && self.noise_sd >= 0.0) {
            return Err(invalid(
                "noise must be >= 0 and amplitude and baseline finite",
            ));
        }
        Ok(())
    }
}

/// Noise-free calcium of each row of `spikes` (neurons x frames) under the AR model of `config`.
pub fn calcium(spikes: &Array2<f64>, config: &CalciumConfig) -> Result<Array2<f64>> {
    let (g1, g2) = config.ar_coefficients()?;
    let mut c = Array2::<f64>::zeros(spikes.dim());
    for (s, mut out) in spikes.rows().into_iter().zip(c.rows_mut()) {
        let (mut prev1, mut prev2) = (0.0, 0.0);
        for (slot, &spike) in out.iter_mut().zip(s.iter()) {
            let v = g1 * prev1 + g2 * prev2 + spike;
            *slot = v;
            prev2 = prev1;
            prev1 = v;
        }
    }
    Ok(c)
}

/// Fluorescence `b + a c + noise` from `spikes` (neurons x frames), with the noise drawn from a
/// generator seeded by `seed`; returns (fluorescence, noise-free calcium).
pub fn fluorescence(
    spikes: &Array2<f64>,
    config: &CalciumConfig,
    seed: u64,
) -> Result<(Array2<f64>, Array2<f64>)> {
    let c = calcium(spikes, config)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, config.noise_sd).map_err(|e| invalid(format!("noise: {e}")))?;
    let y = c.mapv(|v| config.baseline + config.amplitude * v + noise.sample(&mut rng));
    Ok((y, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_are_the_sampled_exponentials() {
        let cfg = CalciumConfig::default();
        let (g1, g2) = cfg.ar_coefficients().unwrap();
        assert!((g1 - (-1.0f64 / 12.0).exp()).abs() < 1e-15 && g2 == 0.0);
        let mut spikes = Array2::<f64>::zeros((1, 30));
        spikes[(0, 2)] = 1.0;
        let c = calcium(&spikes, &cfg).unwrap();
        for t in 2..30 {
            assert!((c[(0, t)] - g1.powi(t as i32 - 2)).abs() < 1e-12);
        }
        // AR(2): the impulse response is (d^(k+1) - r^(k+1)) / (d - r).
        let cfg2 = CalciumConfig {
            rise_s: 0.05,
            ..cfg
        };
        let (d, r) = ((-1.0f64 / 12.0).exp(), (-1.0f64 / 1.2).exp());
        let c = calcium(&spikes, &cfg2).unwrap();
        for k in 0..28 {
            let want = (d.powi(k + 1) - r.powi(k + 1)) / (d - r);
            assert!((c[(0, 2 + k as usize)] - want).abs() < 1e-12, "k {k}");
        }
        assert!(
            CalciumConfig {
                rise_s: 0.6,
                ..CalciumConfig::default()
            }
            .check()
            .is_err()
        );
    }
}
