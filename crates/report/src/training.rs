//! Training curves of a Spike-GAN run from its `metrics.jsonl` (one JSON object per logged
//! iteration, as `neuroforge-train` writes it): the critic's Wasserstein estimate on training and
//! held-out samples, the gradient penalty, the generator loss, and the errors of fresh samples
//! against the training data beside the sampling floor and, where known, a baseline's errors.

use serde_json::Value;

use crate::ReportBuilder;
use crate::svg::{self, Axis, PALETTE, Series};

/// The (iteration, value) points of the figure `key` picks out of each metrics line (lines
/// that are not JSON or lack the figure are skipped).
pub fn metric_series(metrics: &str, key: impl Fn(&Value) -> Option<f64>) -> Vec<(f64, f64)> {
    metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| Some((m["iteration"].as_f64()?, key(&m)?)))
        .collect()
}

/// The errors of a baseline drawn as flat reference lines: (firing-rate L1, covariance L1) and
/// whose they are ("DG").
#[derive(Debug, Clone)]
pub struct BaselineErrors {
    /// Name in the legend.
    pub name: String,
    /// Sum over neurons of the absolute firing-rate error.
    pub firing_rate_l1: f64,
    /// Sum over pairs of the absolute covariance error.
    pub covariance_l1: f64,
}

/// Append the training figures of `metrics` to `report` (nothing when no line has figures).
pub fn spikegan_figures(
    report: &mut ReportBuilder,
    metrics: &str,
    baseline: Option<&BaselineErrors>,
) {
    let series = |key: &'static str| metric_series(metrics, move |m| m[key].as_f64());
    let estimate = series("wasserstein_train_subset");
    if estimate.is_empty() {
        report.text("No training figures: the run has no metrics lines yet.");
        return;
    }
    report.figure(
        "training-critic.svg",
        "The critic's Wasserstein estimate on training and held-out samples (held out well below \
         training: the critic memorises), and the gradient penalty before its weight",
        svg::lines(
            "Critic: Wasserstein estimate and gradient penalty",
            &Axis::non_negative("generator iteration"),
            &Axis::linear("value (critic output units)"),
            &[
                Series::new("W estimate, training", PALETTE[0], estimate),
                Series::new(
                    "W estimate, held out",
                    PALETTE[1],
                    series("wasserstein_heldout"),
                ),
                Series::new("gradient penalty", PALETTE[2], series("gradient_penalty")),
            ],
        ),
    );
    report.figure(
        "training-generator.svg",
        "The generator's loss -D(G(z)), averaged between log lines",
        svg::lines(
            "Generator loss",
            &Axis::non_negative("generator iteration"),
            &Axis::linear("-D(G(z)) (critic output units)"),
            &[Series::new(
                "generator loss",
                PALETTE[4],
                series("generator_loss"),
            )],
        ),
    );
    let errors = |key: &'static str| {
        metric_series(metrics, move |m| {
            m["sample_errors"][key].as_f64().filter(|y| *y > 0.0)
        })
    };
    let rates = errors("firing_rate_l1");
    if rates.is_empty() {
        return;
    }
    let mut lines = vec![
        Series::new("firing-rate error", PALETTE[0], rates.clone()),
        Series::new("covariance error", PALETTE[1], errors("covariance_l1")),
        Series::new("rate error floor", PALETTE[7], errors("firing_rate_floor")).dashed(),
    ];
    if let (Some(b), Some(first), Some(last)) = (baseline, rates.first(), rates.last()) {
        let flat = |v: f64| vec![(first.0, v), (last.0, v)];
        lines.push(
            Series::new(
                &format!("{} rate error", b.name),
                PALETTE[0],
                flat(b.firing_rate_l1),
            )
            .dashed(),
        );
        lines.push(
            Series::new(
                &format!("{} covariance error", b.name),
                PALETTE[1],
                flat(b.covariance_l1),
            )
            .dashed(),
        );
    }
    report.figure(
        "training-errors.svg",
        "Errors of fresh samples against the training data at each log line (log scale), with \
         the rate error a perfect model shows on as many samples (the floor)",
        svg::lines(
            "L1 errors of fresh samples while training",
            &Axis::non_negative("generator iteration"),
            &Axis::log("L1 error"),
            &lines,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = r#"{"iteration":100,"wasserstein_train_subset":2.0,"wasserstein_heldout":1.5,"gradient_penalty":0.1,"generator_loss":-3.0,"sample_errors":{"firing_rate_l1":0.5,"covariance_l1":0.2,"firing_rate_floor":0.05}}
not json
{"iteration":200,"wasserstein_train_subset":1.0,"gradient_penalty":0.05,"generator_loss":-2.0,"sample_errors":{"firing_rate_l1":0.25,"covariance_l1":0.1,"firing_rate_floor":0.05}}
"#;

    #[test]
    fn series_skip_lines_without_the_figure() {
        let held = metric_series(METRICS, |m| m["wasserstein_heldout"].as_f64());
        assert_eq!(held, vec![(100.0, 1.5)]);
        let rates = metric_series(METRICS, |m| m["sample_errors"]["firing_rate_l1"].as_f64());
        assert_eq!(rates, vec![(100.0, 0.5), (200.0, 0.25)]);
    }

    #[test]
    fn three_figures_with_the_baseline_in_the_legend() {
        let mut report = ReportBuilder::new("r", "t");
        let dg = BaselineErrors {
            name: "DG".into(),
            firing_rate_l1: 0.02,
            covariance_l1: 0.03,
        };
        spikegan_figures(&mut report, METRICS, Some(&dg));
        let report = report.finish();
        assert_eq!(report.plots.len(), 3);
        assert!(report.plots[2].1.contains("DG covariance error"));
        let mut empty = ReportBuilder::new("r", "t");
        spikegan_figures(&mut empty, "", None);
        assert!(empty.finish().plots.is_empty());
    }
}
