//! What the user sees while work runs: a bar over a training session's steps with its latest
//! losses, and a spinner over everything else. Both draw on stderr when it is a terminal.
//! Without one (a batch job, `nohup`, a pipe), a training session writes one plain line per
//! logged step instead, and log lines never carry colour codes. Log lines go through
//! [`LogWriter`], which lifts the bar off the screen while a line is written, so no stale copy
//! of the bar is left in the scroll-back.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use neuroforge_train::{
    CycleGanTrainer, CycleLosses, CycleMetricsLine, EpochLine, IterationLosses, MarbleTrainer,
    MetricsLine, SessionObserver, SpikeGanTrainer,
};

/// The bar or spinner drawn now, if any: log lines are written around it.
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn set_drawn(bar: Option<&ProgressBar>) {
    if let Ok(mut drawn) = DRAWN.lock() {
        *drawn = bar.cloned();
    }
}

/// Erase the bar or spinner drawn now, if any, so that a last line written before the process
/// ends is not followed by a stale copy of it.
pub fn clear_bar() {
    let drawn = DRAWN.lock().ok().and_then(|d| d.clone());
    if let Some(bar) = drawn {
        bar.finish_and_clear();
    }
}

/// stderr for log lines (tracing's writer): the bar being drawn, if any, is hidden while a line
/// is written and drawn again below it.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let drawn = DRAWN.lock().ok().and_then(|d| d.clone());
        match drawn {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether stderr is a terminal (bars and colours) or not (plain lines).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar on stderr over the steps (iterations, epochs) of a training run, with a
/// message of the latest losses; a spinner until the steps are known; hidden when stderr is
/// not a terminal, cleared when dropped.
pub struct StepBar {
    bar: ProgressBar,
    unit: String,
}

impl StepBar {
    /// A spinner showing `message` until [`StepBar::start`] tells the steps, called `unit`.
    pub fn new(unit: &str, message: &str) -> Self {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        set_drawn(Some(&bar));
        Self {
            bar,
            unit: unit.to_string(),
        }
    }

    /// Training resumes after `position` of `total` steps: the spinner becomes a bar.
    pub fn start(&self, position: u64, total: u64) {
        let unit = &self.unit;
        let template = format!("{{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed}} < {{eta}}] {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style);
        }
        self.bar.set_length(total);
        self.bar.set_position(position);
        self.bar.set_message(String::new());
    }

    /// Step `position` is done.
    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// Show `message` beside the bar.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }
}

impl Drop for StepBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        set_drawn(None);
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
    set_drawn(Some(&bar));
    let out = work();
    bar.finish_and_clear();
    set_drawn(None);
    out
}

/// `seconds` as a short duration: `42s`, `3m 05s`, `2h 07m`.
fn short_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The plain progress line written without a terminal: step, share, speed, time left, losses.
fn plain_line(
    unit: &str,
    position: u64,
    start: (Instant, u64),
    total: u64,
    losses: &str,
) -> String {
    let (started, first) = start;
    let done = position.saturating_sub(first);
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let percent = if total > 0 {
        100.0 * position as f64 / total as f64
    } else {
        100.0
    };
    let left = if rate > 0.0 {
        short_duration(total.saturating_sub(position) as f64 / rate)
    } else {
        "-".to_string()
    };
    let singular = unit.strip_suffix('s').unwrap_or(unit);
    format!(
        "{singular} {position}/{total} ({percent:.0}%), {rate:.2} {unit}/s, {left} left: {losses}"
    )
}

/// The bar of a training session, told of its steps by the session loop; without a terminal,
/// one plain line on stderr per logged step.
pub struct SessionBar {
    bar: StepBar,
    unit: String,
    plain: bool,
    /// When the session's first step started, the step it started after, and its total.
    started: Option<(Instant, u64, u64)>,
}

impl SessionBar {
    /// A bar over steps called `unit` (iterations, epochs), showing `message` until the first
    /// step (while the data are prepared).
    pub fn new(unit: &str, message: &str) -> Self {
        Self {
            bar: StepBar::new(unit, message),
            unit: unit.to_string(),
            plain: !stderr_is_terminal(),
            started: None,
        }
    }

    fn start(&mut self, start: u64, total: u64) {
        self.bar.start(start, total);
        self.started = Some((Instant::now(), start, total));
    }

    /// Show the latest losses: beside the bar, or as a plain line without a terminal.
    fn logged(&self, position: u64, losses: String) {
        if self.plain {
            if let Some((started, first, total)) = self.started {
                eprintln!(
                    "{}",
                    plain_line(&self.unit, position, (started, first), total, &losses)
                );
            }
        } else {
            self.bar.set_message(losses);
        }
    }
}

impl SessionObserver<SpikeGanTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.start(start, total);
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
        self.logged(
            line.iteration,
            format!(
                "W {:.3} GP {:.3} held-out W {}{errors}",
                line.losses.wasserstein,
                line.losses.gradient_penalty,
                line.wasserstein_heldout
                    .map_or("-".to_string(), |w| format!("{w:.3}"))
            ),
        );
    }
}

impl SessionObserver<CycleGanTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.start(start, total);
    }
    fn on_iteration(&mut self, iteration: u64, _losses: &CycleLosses) {
        self.bar.set_position(iteration);
    }
    fn on_log(&mut self, line: &CycleMetricsLine) {
        let losses = &line.losses;
        self.logged(
            line.iteration,
            format!(
                "G {:.3} cycle {:.3} D {:.3}",
                losses.generator_loss, losses.cycle, losses.discriminator_loss
            ),
        );
    }
}

impl SessionObserver<MarbleTrainer> for SessionBar {
    fn on_start(&mut self, start: u64, total: u64) {
        self.start(start, total);
    }
    fn on_log(&mut self, line: &EpochLine) {
        self.bar.set_position(line.epoch as u64);
        self.logged(
            line.epoch as u64,
            format!(
                "loss {:.4} validation {:.4} t {:.3}",
                line.train_loss, line.validation_loss, line.diffusion_time
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_the_step_share_speed_and_time_left() {
        assert_eq!(short_duration(42.4), "42s");
        assert_eq!(short_duration(185.0), "3m 05s");
        assert_eq!(short_duration(7620.0), "2h 07m");
        let line = plain_line("iterations", 10, (Instant::now(), 0), 40, "W 0.1");
        // Ten steps in (almost) no time: a huge rate, and no time left to speak of.
        assert!(line.starts_with("iteration 10/40 (25%), "), "{line}");
        assert!(line.ends_with(" left: W 0.1"), "{line}");
        let none = plain_line(
            "epochs",
            3,
            (Instant::now() + Duration::from_secs(60), 3),
            9,
            "",
        );
        assert!(
            none.starts_with("epoch 3/9 (33%), 0.00 epochs/s, - left"),
            "{none}"
        );
    }
}
