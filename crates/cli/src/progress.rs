//! What the user sees while work runs: a bar over a training session's steps with its latest
//! losses, and a spinner over everything else. Both draw on stderr and are hidden when stderr is
//! not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use neuroforge_train::{
    CycleGanTrainer, CycleLosses, EpochLine, IterationLosses, MarbleTrainer, MetricsLine,
    SessionObserver, SpikeGanTrainer,
};

/// A progress bar on stderr over the steps (iterations, epochs) of a training run, with a
/// message of the latest losses; hidden when stderr is not a terminal, cleared when dropped.
pub struct StepBar(ProgressBar);

impl StepBar {
    /// A bar over `total` steps called `unit`.
    pub fn new(unit: &str, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        let template = format!("{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed}} < {{eta}}] {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Self(bar)
    }

    /// Training resumes after `position` of `total` steps.
    pub fn start(&self, position: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(position);
    }

    /// Step `position` is done.
    pub fn set_position(&self, position: u64) {
        self.0.set_position(position);
    }

    /// Show `message` beside the bar.
    pub fn set_message(&self, message: String) {
        self.0.set_message(message);
    }
}

impl Drop for StepBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A spinner on stderr while `work` runs; hidden when stderr is not a terminal.
pub fn with_spinner<T>(message: String, work: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    let out = work();
    bar.finish_and_clear();
    out
}

/// The bar of a training session, told of its steps by the session loop.
pub struct SessionBar {
    bar: StepBar,
}

impl SessionBar {
    /// A bar over steps called `unit` (iterations, epochs), showing `message` until the first
    /// step (while the data are prepared).
    pub fn new(unit: &str, message: &str) -> Self {
        let bar = StepBar::new(unit, 0);
        bar.set_message(message.to_string());
        Self { bar }
    }
}

impl SessionObserver<SpikeGanTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.bar.start(start, total);
    }
    fn on_iteration(&mut self, iteration: u64, _losses: &IterationLosses) {
        self.bar.set_position(iteration);
    }
    fn on_log(&mut self, line: &MetricsLine) {
        let errors = line
            .sample_errors
            .map(|e| {
                format!(
                    " rate err {:.3} (floor {:.3}) cov err {:.3}",
                    e.firing_rate_l1, e.firing_rate_floor, e.covariance_l1
                )
            })
            .unwrap_or_default();
        self.bar.set_message(format!(
            "W {:.3} GP {:.3} held-out W {}{errors}",
            line.losses.wasserstein,
            line.losses.gradient_penalty,
            line.wasserstein_heldout
                .map_or("-".to_string(), |w| format!("{w:.3}"))
        ));
    }
}

impl SessionObserver<CycleGanTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.bar.start(start, total);
    }
    fn on_iteration(&mut self, iteration: u64, losses: &CycleLosses) {
        self.bar.set_position(iteration);
        if iteration.is_multiple_of(10) {
            self.bar.set_message(format!(
                "G {:.3} cycle {:.3} D {:.3}",
                losses.generator_loss, losses.cycle, losses.discriminator_loss
            ));
        }
    }
}

impl SessionObserver<MarbleTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.bar.start(start, total);
    }
    fn on_log(&mut self, line: &EpochLine) {
        self.bar.set_position(line.epoch as u64);
        self.bar.set_message(format!(
            "loss {:.4} validation {:.4} t {:.3}",
            line.train_loss, line.validation_loss, line.diffusion_time
        ));
    }
}
