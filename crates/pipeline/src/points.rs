//! `neuroforge points`: a point table for MARBLE from spike times and a behaviour recorded on
//! its own clock (for example a tracked position): spikes binned, rates smoothed, behaviour
//! averaged per bin, and only the bins where the animal moves (speed above a threshold, valid
//! tracking) kept, each contiguous stretch as one trajectory.
//!
//! Output columns: `condition` (`running`), `trajectory`, `x0..` (smoothed rates, spikes per
//! second, one column per unit in the order of `unit ids`), `<behaviour prefix>0..` (the
//! behaviour columns in file order), `speed0` and `t0` (bin centre, seconds).

use std::path::Path;

use ndarray::Array2;
use neuroforge_io::{Activity, ImportOptions, PointTable, import, write_points};
use neuroforge_signal::gaussian_smooth;

use crate::error::PipelineError;

/// Options of `neuroforge points`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PointsFlags {
    /// CSV of spike times (columns unit and time_s, or as `import` accepts).
    #[cfg_attr(feature = "clap", arg(long))]
    pub spikes: std::path::PathBuf,
    /// CSV of the behaviour: a time column (`time_s`) then numeric columns; the first two are
    /// used for the speed.
    #[cfg_attr(feature = "clap", arg(long))]
    pub behaviour: std::path::PathBuf,
    /// Bin width in milliseconds.
    #[cfg_attr(feature = "clap", arg(long = "bin-ms", default_value_t = 25.0))]
    pub bin_ms: f64,
    /// Standard deviation of the Gaussian smoothing of the rates, in milliseconds (0: none).
    #[cfg_attr(feature = "clap", arg(long = "smooth-ms", default_value_t = 50.0))]
    pub smooth_ms: f64,
    /// Keep bins whose speed (of the first two behaviour columns, units per second, from the
    /// neighbouring bins) is at least this.
    #[cfg_attr(feature = "clap", arg(long = "min-speed", default_value_t = 0.0))]
    pub min_speed: f64,
    /// Half-width, in bins, of the window the speed is measured over (position change from
    /// bin b - w to b + w).
    #[cfg_attr(feature = "clap", arg(long = "speed-window", default_value_t = 4))]
    pub speed_window: usize,
    /// Behaviour samples where COLUMN equals VALUE are invalid (tracking lost); repeatable,
    /// e.g. `--invalid y_px=479`. Several pairs joined by `&` must all match:
    /// `--invalid 'x_px=522&y_px=8'`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub invalid: Vec<String>,
    /// Prefix of the behaviour block.
    #[cfg_attr(feature = "clap", arg(long, default_value = "pos"))]
    pub prefix: String,
}

/// A behaviour CSV: column names and rows of numbers.
fn read_behaviour(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>), PipelineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PipelineError::unsuitable(path, format!("cannot read: {e}")))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| PipelineError::unsuitable(path, "empty file"))?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if header.len() < 3 {
        return Err(PipelineError::unsuitable(
            path,
            "needs a time column and at least two behaviour columns",
        ));
    }
    let mut rows = Vec::new();
    for (l, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let values: Result<Vec<f64>, _> =
            line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        match values {
            Ok(v) if v.len() == header.len() && v.iter().all(|x| x.is_finite()) => rows.push(v),
            _ => {
                return Err(PipelineError::unsuitable(
                    path,
                    format!("line {}: expected {} numbers", l + 2, header.len()),
                ));
            }
        }
    }
    if rows.windows(2).any(|w| w[1][0] < w[0][0]) {
        return Err(PipelineError::unsuitable(
            path,
            "the time column is not sorted",
        ));
    }
    Ok((header, rows))
}

/// Parses `--invalid` rules into lists of (column index, value).
fn invalid_rules(
    path: &Path,
    header: &[String],
    rules: &[String],
) -> Result<Vec<Vec<(usize, f64)>>, PipelineError> {
    rules
        .iter()
        .map(|rule| {
            rule.split('&')
                .map(|pair| {
                    let (name, value) = pair.split_once('=').ok_or_else(|| {
                        PipelineError::Usage(format!("--invalid {rule}: use COLUMN=VALUE"))
                    })?;
                    let column = header
                        .iter()
                        .position(|h| h == name.trim())
                        .ok_or_else(|| {
                            PipelineError::unsuitable(
                                path,
                                format!("--invalid {rule}: no column {name}"),
                            )
                        })?;
                    let value: f64 = value.trim().parse().map_err(|_| {
                        PipelineError::Usage(format!("--invalid {rule}: {value} is not a number"))
                    })?;
                    Ok((column, value))
                })
                .collect()
        })
        .collect()
}

/// `neuroforge points`.
pub fn run(flags: &PointsFlags, out: &Path) -> Result<String, PipelineError> {
    if !(flags.bin_ms.is_finite() && flags.bin_ms > 0.0) {
        return Err(PipelineError::Usage(format!(
            "--bin-ms must be positive, got {}",
            flags.bin_ms
        )));
    }
    if !(flags.smooth_ms.is_finite() && flags.smooth_ms >= 0.0) {
        return Err(PipelineError::Usage(format!(
            "--smooth-ms must be >= 0, got {}",
            flags.smooth_ms
        )));
    }
    let recording = import(&flags.spikes, &ImportOptions::default())?;
    let Activity::SpikeTimes(trains) = recording.activity() else {
        return Err(PipelineError::unsuitable(
            &flags.spikes,
            "expected a table of spike times",
        ));
    };
    let width = flags.bin_ms / 1000.0;
    let binned = trains.bin(width)?;
    let (units, bins) = binned.counts.dim();
    let rates = binned.counts.mapv(|c| f64::from(c) / width);
    let rates = if flags.smooth_ms > 0.0 {
        gaussian_smooth(rates.view(), flags.smooth_ms / flags.bin_ms)
            .map_err(|e| PipelineError::unsuitable(&flags.spikes, e.to_string()))?
    } else {
        rates
    };
    let (header, rows) = read_behaviour(&flags.behaviour)?;
    let rules = invalid_rules(&flags.behaviour, &header, &flags.invalid)?;
    let columns = header.len() - 1;
    // Mean of the valid behaviour samples in each bin.
    let mut sums = Array2::<f64>::zeros((bins, columns));
    let mut counts = vec![0usize; bins];
    for row in &rows {
        let b = ((row[0] - trains.t_start_s) / width).floor();
        if b < 0.0 || b >= bins as f64 {
            continue;
        }
        let invalid = rules
            .iter()
            .any(|rule| rule.iter().all(|&(c, v)| row[c] == v));
        if invalid {
            continue;
        }
        let b = b as usize;
        for c in 0..columns {
            sums[[b, c]] += row[c + 1];
        }
        counts[b] += 1;
    }
    let valid = |b: usize| counts[b] > 0;
    let at = |b: usize, c: usize| sums[[b, c]] / counts[b] as f64;
    let mut kept = Vec::new();
    let mut speeds = Vec::new();
    let w = flags.speed_window.max(1);
    for b in w..bins.saturating_sub(w) {
        if !(valid(b) && valid(b - w) && valid(b + w)) {
            continue;
        }
        let dx = at(b + w, 0) - at(b - w, 0);
        let dy = at(b + w, 1) - at(b - w, 1);
        let speed = (dx * dx + dy * dy).sqrt() / (2.0 * w as f64 * width);
        if speed >= flags.min_speed {
            kept.push(b);
            speeds.push(speed);
        }
    }
    if kept.len() < 10 {
        return Err(PipelineError::unsuitable(
            &flags.behaviour,
            format!("only {} bins pass the speed and validity rules", kept.len()),
        ));
    }
    let mut trajectory = Vec::with_capacity(kept.len());
    let mut segment = 0i64;
    for (i, &b) in kept.iter().enumerate() {
        if i > 0 && b != kept[i - 1] + 1 {
            segment += 1;
        }
        trajectory.push(segment);
    }
    let x = Array2::from_shape_fn((kept.len(), units), |(r, u)| rates[[u, kept[r]]]);
    let behaviour = Array2::from_shape_fn((kept.len(), columns), |(r, c)| at(kept[r], c));
    let speed = Array2::from_shape_fn((kept.len(), 1), |(r, _)| speeds[r]);
    let time = Array2::from_shape_fn((kept.len(), 1), |(r, _)| {
        trains.t_start_s + (kept[r] as f64 + 0.5) * width
    });
    let table = PointTable {
        condition: vec!["running".to_string(); kept.len()],
        trajectory: Some(trajectory),
        blocks: vec![
            ("x".into(), x),
            (flags.prefix.clone(), behaviour),
            ("speed".into(), speed),
            ("t".into(), time),
        ],
    };
    write_points(out, &table)?;
    Ok(format!(
        "{}: {} of {bins} bins of {} ms kept ({} stretches), {units} units, behaviour {}",
        out.display(),
        kept.len(),
        flags.bin_ms,
        segment + 1,
        header[1..].join(", ")
    ))
}
