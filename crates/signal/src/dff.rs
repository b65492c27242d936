//! dF/F: fluorescence change relative to a baseline F0 taken as a running low percentile.
//!
//! `F0[t]` is the value of rank `floor(window * percentile / 100)` (0-based, clamped to the
//! window) among the `window` samples centred on `t`, with the trace extended by repeating its
//! edge values; `dF/F = (F - F0) / F0`. This is `scipy.ndimage.percentile_filter(F, percentile,
//! size=window, mode='nearest')`, the running-percentile baseline used by CalciumGAN and
//! suite2p-style pipelines.

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};

/// Settings of the dF/F baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DffConfig {
    /// Length of the running window in frames (odd). Default 301 (about 12.5 s at 24 Hz).
    pub window: usize,
    /// Percentile of the window taken as baseline, in [0, 100]. Default 8.
    pub percentile: f64,
}

impl Default for DffConfig {
    fn default() -> Self {
        Self {
            window: 301,
            percentile: 8.0,
        }
    }
}

impl DffConfig {
    /// Refuse invalid settings.
    pub fn check(&self) -> Result<()> {
        if self.window == 0 || self.window.is_multiple_of(2) {
            return Err(parameter(format!(
                "dF/F window must be an odd number of frames, got {}",
                self.window
            )));
        }
        if !(0.0..=100.0).contains(&self.percentile) {
            return Err(parameter(format!(
                "dF/F percentile must be in [0, 100], got {}",
                self.percentile
            )));
        }
        Ok(())
    }

    fn rank(&self) -> usize {
        ((self.window as f64 * self.percentile / 100.0) as usize).min(self.window - 1)
    }
}

/// Running-percentile baseline of one trace.
pub fn baseline(trace: ArrayView1<'_, f64>, config: &DffConfig) -> Result<Vec<f64>> {
    config.check()?;
    let n = trace.len();
    if n == 0 {
        return Err(data("empty trace"));
    }
    if trace.iter().any(|v| !v.is_finite()) {
        return Err(data("trace holds NaN or infinite values"));
    }
    let half = (config.window / 2) as isize;
    let at = |i: isize| trace[i.clamp(0, n as isize - 1) as usize];
    let rank = config.rank();
    // A sorted copy of the current window, updated by one removal and one insertion per frame.
    let mut sorted: Vec<f64> = (-half..=half).map(at).collect();
    sorted.sort_by(f64::total_cmp);
    let mut out = Vec::with_capacity(n);
    for t in 0..n as isize {
        out.push(sorted[rank]);
        let leaving = at(t - half);
        let entering = at(t + half + 1);
        if let Ok(i) = sorted.binary_search_by(|v| v.total_cmp(&leaving)) {
            sorted.remove(i);
        }
        let j = sorted.partition_point(|v| v.total_cmp(&entering).is_lt());
        sorted.insert(j, entering);
    }
    Ok(out)
}

/// dF/F of each row (neuron) of `f` (neurons x frames). Baselines must be positive.
pub fn dff(f: ArrayView2<'_, f64>, config: &DffConfig) -> Result<Array2<f64>> {
    let mut out = Array2::<f64>::zeros(f.dim());
    for (n, (row, mut o)) in f.rows().into_iter().zip(out.rows_mut()).enumerate() {
        let f0 = baseline(row, config)?;
        for ((slot, &v), &b) in o.iter_mut().zip(row.iter()).zip(&f0) {
            if b <= 0.0 {
                return Err(data(format!(
                    "neuron {n}: baseline F0 = {b} is not positive; dF/F needs raw fluorescence \
                     (subtract neuropil before, not after, or add an offset)"
                )));
            }
            *slot = (v - b) / b;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_is_the_running_rank_with_nearest_padding() {
        let x = ndarray::array![5.0, 1.0, 4.0, 2.0, 3.0];
        // Window 3, percentile 0 -> running minimum with edge repetition.
        let b = baseline(
            x.view(),
            &DffConfig {
                window: 3,
                percentile: 0.0,
            },
        )
        .unwrap();
        assert_eq!(b, vec![1.0, 1.0, 1.0, 2.0, 2.0]);
        // Percentile 50 of 3 -> rank 1, the running median.
        let b = baseline(
            x.view(),
            &DffConfig {
                window: 3,
                percentile: 50.0,
            },
        )
        .unwrap();
        assert_eq!(b, vec![5.0, 4.0, 2.0, 3.0, 3.0]);
        assert!(
            baseline(
                x.view(),
                &DffConfig {
                    window: 4,
                    percentile: 8.0
                }
            )
            .is_err()
        );
        let d = dff(
            ndarray::array![[2.0, 4.0, 2.0]].view(),
            &DffConfig {
                window: 3,
                percentile: 0.0,
            },
        )
        .unwrap();
        assert_eq!(d.row(0).to_vec(), vec![0.0, 1.0, 0.0]);
    }
}
