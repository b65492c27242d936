//! Training curves of a run from its `metrics.jsonl` (one JSON object per logged iteration or
//! epoch, as `neuroforge-train` writes it). Spike-GAN: the critic's Wasserstein estimate on
//! training and held-out samples, the gradient penalty, the generator loss, and the errors of
//! fresh samples against the training data beside the sampling floor and, where known, a
//! baseline's errors. CycleGAN: the generators' loss and its parts, the discriminators' loss.
//! MARBLE: training and validation loss per epoch, and the learning rate.

use serde_json::Value;

use crate::ReportBuilder;
use crate::svg::{self, Axis, PALETTE, Series};

/// The (iteration, value) points of the figure `key` picks out of each metrics line (lines
/// that are not JSON or lack the figure are skipped); MARBLE's lines count epochs instead.
pub fn metric_series(metrics: &str, key: impl Fn(&Value) -> Option<f64>) -> Vec<(f64, f64)> {
    metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| {
            let x = m["iteration"].as_f64().or_else(|| m["epoch"].as_f64())?;
            Some((x, key(&m)?))
        })
        .collect()
}

/// The points of the top-level figure `key` of each metrics line.
fn top_level_series(metrics: &str, key: &str) -> Vec<(f64, f64)> {
    metric_series(metrics, |m| m[key].as_f64())
}

/// What a training report says in place of figures when the run logged no line yet.
const NO_METRICS: &str = "No training figures: the run has no metrics lines yet.";

/// Which model a run trains, for its training figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Spike-GAN (WGAN-GP).
    SpikeGan,
    /// CycleGAN (least-squares GAN with cycle and identity losses).
    CycleGan,
    /// MARBLE (contrastive loss, per epoch).
    Marble,
}

/// The training report of a run: its figures, from `metrics.jsonl`, after a line on what the run
/// is (`description`).
pub fn training_report(model: Model, description: &str, metrics: &str) -> crate::Report {
    let mut report = ReportBuilder::new("report", "Training");
    report.text(description);
    match model {
        Model::SpikeGan => spikegan_figures(&mut report, metrics, None),
        Model::CycleGan => cyclegan_figures(&mut report, metrics),
        Model::Marble => marble_figures(&mut report, metrics),
    }
    report.finish()
}

/// CycleGAN's losses over iterations.
pub fn cyclegan_figures(report: &mut ReportBuilder, metrics: &str) {
    let series = |key: &str| top_level_series(metrics, key);
    let generator = series("generator_loss");
    if generator.is_empty() {
        report.text(NO_METRICS);
        return;
    }
    report.figure(
        "training-generators.svg",
        "The generators' loss and its parts (cycle and identity before their weights)",
        svg::lines(
            "Generators: loss and its parts",
            &Axis::non_negative("iteration"),
            &Axis::non_negative("loss"),
            &[
                Series::new("whole loss", PALETTE[0], generator),
                Series::new("adversarial", PALETTE[1], series("adversarial")),
                Series::new("cycle L1", PALETTE[2], series("cycle")),
                Series::new("identity L1", PALETTE[4], series("identity")),
            ],
        ),
    );
    report.figure(
        "training-discriminators.svg",
        "The discriminators' least-squares loss (both)",
        svg::lines(
            "Discriminators: loss",
            &Axis::non_negative("iteration"),
            &Axis::non_negative("loss"),
            &[Series::new(
                "discriminator loss",
                PALETTE[3],
                series("discriminator_loss"),
            )],
        ),
    );
}

/// MARBLE's losses and learning rate over epochs.
pub fn marble_figures(report: &mut ReportBuilder, metrics: &str) {
    let series = |key: &str| top_level_series(metrics, key);
    let train = series("train_loss");
    if train.is_empty() {
        report.text(NO_METRICS);
        return;
    }
    report.figure(
        "training-loss.svg",
        "Contrastive loss on the training and validation points per epoch",
        svg::lines(
            "MARBLE: contrastive loss",
            &Axis::non_negative("epoch"),
            &Axis::linear("loss"),
            &[
                Series::new("training", PALETTE[0], train),
                Series::new("validation", PALETTE[1], series("validation_loss")),
            ],
        ),
    );
    report.figure(
        "training-learning-rate.svg",
        "The optimiser's learning rate per epoch",
        svg::lines(
            "MARBLE: learning rate",
            &Axis::non_negative("epoch"),
            &Axis::log("learning rate"),
            &[Series::new(
                "learning rate",
                PALETTE[2],
                series("learning_rate"),
            )],
        ),
    );
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
    let series = |key: &str| top_level_series(metrics, key);
    let estimate = series("wasserstein_train_subset");
    if estimate.is_empty() {
        report.text(NO_METRICS);
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
    fn every_model_gets_its_figures() {
        let cycle = r#"{"iteration":1,"generator_loss":3.0,"adversarial":1.0,"cycle":0.5,"identity":0.2,"discriminator_loss":0.4}"#;
        let report = training_report(Model::CycleGan, "a run", cycle);
        assert_eq!(report.plots.len(), 2);
        assert!(report.markdown.contains("a run"));
        let marble = r#"{"epoch":0,"train_loss":1.2,"validation_loss":1.3,"learning_rate":0.01}
{"epoch":1,"train_loss":1.0,"validation_loss":1.1,"learning_rate":0.01}"#;
        let report = training_report(Model::Marble, "", marble);
        assert_eq!(report.plots.len(), 2);
        assert!(report.plots[0].1.contains("validation"));
        assert_eq!(training_report(Model::SpikeGan, "", METRICS).plots.len(), 3);
    }

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
