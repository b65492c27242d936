//! Per-neuron normalisation: min-max scaling to [0, 1] and z-scoring.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// The per-neuron parameters of a normalisation, kept so that generated data can be mapped
/// back to the original scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// Subtracted from each neuron (its minimum, or its mean).
    pub offset: Vec<f64>,
    /// Each neuron is divided by this after the offset (its range, or its standard deviation);
    /// 1 for a constant neuron, which maps to 0.
    pub scale: Vec<f64>,
}

impl Normalisation {
    /// Apply to `x` (neurons x time).
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for ((mut row, &o), &s) in out
            .rows_mut()
            .into_iter()
            .zip(&self.offset)
            .zip(&self.scale)
        {
            row.mapv_inplace(|v| (v - o) / s);
        }
        out
    }

    /// Map normalised values back to the original scale.
    pub fn invert(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for ((mut row, &o), &s) in out
            .rows_mut()
            .into_iter()
            .zip(&self.offset)
            .zip(&self.scale)
        {
            row.mapv_inplace(|v| v * s + o);
        }
        out
    }
}

fn nonzero(scale: f64) -> f64 {
    if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    }
}

/// Min-max normalisation of each neuron to [0, 1] (CalciumGAN's preprocessing).
pub fn min_max(x: ArrayView2<'_, f64>) -> (Array2<f64>, Normalisation) {
    let (offset, scale): (Vec<f64>, Vec<f64>) = x
        .rows()
        .into_iter()
        .map(|r| {
            let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, nonzero(hi - lo))
        })
        .unzip();
    let n = Normalisation { offset, scale };
    (n.apply(x), n)
}

/// Z-scoring of each neuron: subtract its mean, divide by its standard deviation (population,
/// ddof = 0).
pub fn z_score(x: ArrayView2<'_, f64>) -> (Array2<f64>, Normalisation) {
    let (offset, scale): (Vec<f64>, Vec<f64>) = x
        .rows()
        .into_iter()
        .map(|r| {
            let n = r.len() as f64;
            let mean = r.sum() / n;
            let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            (mean, nonzero(var.sqrt()))
        })
        .unzip();
    let n = Normalisation { offset, scale };
    (n.apply(x), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_and_z_score_match_hand_values_and_invert() {
        let x = ndarray::array![[1.0, 3.0, 5.0], [2.0, 2.0, 2.0]];
        let (m, p) = min_max(x.view());
        assert_eq!(m, ndarray::array![[0.0, 0.5, 1.0], [0.0, 0.0, 0.0]]);
        assert_eq!(p.invert(m.view()), x);
        let (z, p) = z_score(x.view());
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((z[(0, 0)] + 2.0 / sd).abs() < 1e-12 && z[(0, 1)].abs() < 1e-12);
        assert_eq!(z.row(1).to_vec(), vec![0.0, 0.0, 0.0]);
        let back = p.invert(z.view());
        assert!(
            back.iter()
                .zip(x.iter())
                .all(|(a, b)| (a - b).abs() < 1e-12)
        );
    }
}
