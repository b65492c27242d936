//! Aggregating attribution maps (`[samples, neurons, time]`, e.g. CycleGAN's `|G(x) - x|`,
//! input-gradient saliency or Grad-CAM) per neuron and per time step, and scoring a per-neuron
//! ranking against a known set of changed neurons by the ROC AUC.

use ndarray::{ArrayView3, Axis};
use serde::{Deserialize, Serialize};

use crate::{ExplainError, Result};

/// A map aggregated along its axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregatedAttribution {
    /// Mean attribution of each neuron over samples and time.
    pub per_neuron: Vec<f64>,
    /// Mean attribution of each time step over samples and neurons.
    pub per_time: Vec<f64>,
    /// Neurons from the most to the least attributed.
    pub ranking: Vec<usize>,
}

/// Means of `maps` per neuron and per time step, and the neurons ranked by their mean.
pub fn aggregate(maps: ArrayView3<'_, f32>) -> Result<AggregatedAttribution> {
    let (s, n, t) = maps.dim();
    if s == 0 || n == 0 || t == 0 {
        return Err(ExplainError::Config(format!(
            "empty attribution maps {s} x {n} x {t}"
        )));
    }
    let maps = maps.mapv(f64::from);
    let per_neuron: Vec<f64> = maps
        .mean_axis(Axis(2))
        .and_then(|m| m.mean_axis(Axis(0)))
        .map(|m| m.to_vec())
        .unwrap_or_default();
    let per_time: Vec<f64> = maps
        .mean_axis(Axis(1))
        .and_then(|m| m.mean_axis(Axis(0)))
        .map(|m| m.to_vec())
        .unwrap_or_default();
    if per_neuron.iter().any(|v| !v.is_finite()) {
        return Err(ExplainError::Scorer(
            "the attribution maps hold non-finite values".into(),
        ));
    }
    let mut ranking: Vec<usize> = (0..n).collect();
    ranking.sort_by(|&a, &b| per_neuron[b].total_cmp(&per_neuron[a]).then(a.cmp(&b)));
    Ok(AggregatedAttribution {
        per_neuron,
        per_time,
        ranking,
    })
}

/// The ROC AUC of `scores` (one per item) for telling the items in `positives` from the rest:
/// the probability that a random positive scores above a random negative, ties counting one
/// half (the Mann-Whitney U statistic over the product of the class sizes).
pub fn roc_auc(scores: &[f64], positives: &[usize]) -> Result<f64> {
    let mut is_positive = vec![false; scores.len()];
    for &p in positives {
        match is_positive.get_mut(p) {
            Some(slot) => *slot = true,
            None => {
                return Err(ExplainError::Config(format!(
                    "positive item {p} is out of range of {} scores",
                    scores.len()
                )));
            }
        }
    }
    let pos: Vec<f64> = (0..scores.len())
        .filter(|&i| is_positive[i])
        .map(|i| scores[i])
        .collect();
    let neg: Vec<f64> = (0..scores.len())
        .filter(|&i| !is_positive[i])
        .map(|i| scores[i])
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return Err(ExplainError::Config(
            "the ROC AUC needs at least one positive and one negative item".into(),
        ));
    }
    let mut wins = 0.0;
    for &p in &pos {
        for &q in &neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    Ok(wins / (pos.len() * neg.len()) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn auc_matches_the_rank_formula() {
        // Positives score 0.9, 0.4 and 0.6; negatives 0.1, 0.4, 0.5, 0.8.
        let scores = [0.9, 0.1, 0.4, 0.4, 0.6, 0.5, 0.8];
        let auc = roc_auc(&scores, &[0, 2, 4]).unwrap();
        // Pairs won: 0.9 beats all 4; 0.4 beats 0.1 and ties 0.4 (1.5); 0.6 beats 0.1, 0.4,
        // 0.5 (3). (4 + 1.5 + 3) / 12.
        assert!((auc - 8.5 / 12.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[1.0, 2.0, 3.0], &[1, 2]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[1.0, 2.0, 3.0], &[0]).unwrap(), 0.0);
        assert!(roc_auc(&scores, &[]).is_err());
        assert!(roc_auc(&scores, &[9]).is_err());
    }

    #[test]
    fn aggregation_means_and_ranking() {
        let maps =
            Array3::from_shape_fn((2, 3, 4), |(s, n, t)| (s + 2 * n) as f32 + t as f32 * 0.1);
        let a = aggregate(maps.view()).unwrap();
        // Neuron n: mean over s of (s + 2n) + mean t * 0.1 = 0.5 + 2n + 0.15.
        for (n, v) in a.per_neuron.iter().enumerate() {
            assert!((v - (0.65 + 2.0 * n as f64)).abs() < 1e-6);
        }
        assert!((a.per_time[2] - (0.5 + 2.0 + 0.2)).abs() < 1e-6);
        assert_eq!(a.ranking, vec![2, 1, 0]);
        assert!(aggregate(Array3::<f32>::zeros((0, 3, 4)).view()).is_err());
    }
}
