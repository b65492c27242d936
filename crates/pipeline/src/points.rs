//! `neuroforge points`: a point table for MARBLE from spike times and a behaviour recorded on
//! its own clock (for example a tracked position), or from a recording of binned counts (or
//! spike times) whose covariates hold the behaviour per bin: spikes binned on a grid anchored at
//! `--start-s` (0 by default, so no bin is lost or shifted by where the first spike falls),
//! rates smoothed, behaviour averaged per bin, and only the bins where the animal moves (speed
//! above a threshold, valid tracking) kept, each contiguous stretch as one trajectory.
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
    /// CSV of spike times (columns unit and time_s, or as `import` accepts); with
    /// --behaviour.
    #[cfg_attr(
        feature = "clap",
        arg(
            long,
            required_unless_present = "data",
            conflicts_with = "data",
            requires = "behaviour"
        )
    )]
    pub spikes: Option<std::path::PathBuf>,
    /// CSV of the behaviour: a time column (`time_s`) then numeric columns; the first two are
    /// used for the speed.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "data"))]
    pub behaviour: Option<std::path::PathBuf>,
    /// A recording (or any file `import` reads) of binned counts, or of spike times (binned at
    /// --bin-ms), whose covariates are the behaviour per bin (attach them with `neuroforge
    /// import --covariates`); missing values (NaN) mark invalid bins.
    #[cfg_attr(feature = "clap", arg(long))]
    pub data: Option<std::path::PathBuf>,
    /// With --data: the covariates that form the behaviour block, in order [default: every
    /// numeric covariate]; the first two (or the one) give the speed.
    #[cfg_attr(
        feature = "clap",
        arg(long = "behaviour-columns", value_delimiter = ',')
    )]
    pub behaviour_columns: Vec<String>,
    /// Start of the bin grid for spike times, in seconds (bins cover [start + k w, start +
    /// (k + 1) w)).
    #[cfg_attr(feature = "clap", arg(long = "start-s", default_value_t = 0.0))]
    pub start_s: f64,
    /// Bin width in milliseconds (spike times; a binned recording keeps its own).
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

/// Binned activity and the behaviour per bin, whichever way they came in.
struct Binned {
    /// Rates in spikes per second, units x bins (not yet smoothed).
    rates: Array2<f64>,
    /// Bin width in seconds.
    width: f64,
    /// Start of bin 0, seconds.
    start: f64,
    /// Names of the behaviour columns.
    names: Vec<String>,
    /// Behaviour per bin (bins x columns); NaN where no valid sample fell in the bin.
    behaviour: Array2<f64>,
    /// The file the behaviour came from (for messages).
    behaviour_file: std::path::PathBuf,
    /// The file the activity came from (for messages).
    activity_file: std::path::PathBuf,
}

/// Spike times binned on the grid anchored at `start` (every spike must be at or after it), as
/// rates in spikes per second.
fn bin_from(
    trains: &neuroforge_io::SpikeTrains,
    start: f64,
    width: f64,
    path: &Path,
) -> Result<Array2<f64>, PipelineError> {
    let binned = trains
        .bin_from(start, width)
        .map_err(|e| PipelineError::unsuitable(path, format!("{e}: check --start-s")))?;
    Ok(binned.counts.mapv(|c| f64::from(c) / width))
}

/// Spike times from a CSV and a behaviour CSV on the same clock, binned at --bin-ms from
/// --start-s.
fn from_spike_and_behaviour_files(
    flags: &PointsFlags,
    spikes: &Path,
    behaviour_file: &Path,
) -> Result<Binned, PipelineError> {
    let recording = import(spikes, &ImportOptions::default())?;
    let Activity::SpikeTimes(trains) = recording.activity() else {
        return Err(PipelineError::unsuitable(
            spikes,
            "expected a table of spike times",
        ));
    };
    let width = flags.bin_ms / 1000.0;
    let rates = bin_from(trains, flags.start_s, width, spikes)?;
    let bins = rates.ncols();
    let (header, rows) = read_behaviour(behaviour_file)?;
    let rules = invalid_rules(behaviour_file, &header, &flags.invalid)?;
    let columns = header.len() - 1;
    // Mean of the valid behaviour samples in each bin.
    let mut sums = Array2::<f64>::zeros((bins, columns));
    let mut counts = vec![0usize; bins];
    for row in &rows {
        let b = ((row[0] - flags.start_s) / width).floor();
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
    let behaviour = Array2::from_shape_fn((bins, columns), |(b, c)| {
        if counts[b] > 0 {
            sums[[b, c]] / counts[b] as f64
        } else {
            f64::NAN
        }
    });
    Ok(Binned {
        rates,
        width,
        start: flags.start_s,
        names: header[1..].to_vec(),
        behaviour,
        behaviour_file: behaviour_file.to_path_buf(),
        activity_file: spikes.to_path_buf(),
    })
}

/// A recording of counts (or spike times) whose covariates carry the behaviour per bin.
fn from_recording(flags: &PointsFlags, path: &Path) -> Result<Binned, PipelineError> {
    let recording = neuroforge_io::open(path, &ImportOptions::default())?;
    let (rates, width, start) = match recording.activity() {
        Activity::Binned(b) => {
            let width = b.bin_width_s.ok_or_else(|| {
                PipelineError::unsuitable(
                    path,
                    "the bin width is unknown: import the counts with --bin-ms",
                )
            })?;
            (b.counts.mapv(|c| f64::from(c) / width), width, 0.0)
        }
        Activity::SpikeTimes(trains) => {
            let width = flags.bin_ms / 1000.0;
            (
                bin_from(trains, flags.start_s, width, path)?,
                width,
                flags.start_s,
            )
        }
        Activity::Traces(_) => {
            return Err(PipelineError::unsuitable(
                path,
                "points takes binned counts or spike times, not traces",
            ));
        }
    };
    let numeric: Vec<(&str, Vec<f64>)> = recording
        .covariates()
        .iter()
        .filter_map(|c| {
            let values = match &c.values {
                neuroforge_io::CovariateValues::Float(v) => v.clone(),
                neuroforge_io::CovariateValues::Int(v) => v.iter().map(|&x| x as f64).collect(),
                neuroforge_io::CovariateValues::Text(_) => return None,
            };
            Some((c.name.as_str(), values))
        })
        .collect();
    let chosen: Vec<(&str, Vec<f64>)> = if flags.behaviour_columns.is_empty() {
        numeric
    } else {
        flags
            .behaviour_columns
            .iter()
            .map(|name| {
                numeric
                    .iter()
                    .find(|(n, _)| n == name)
                    .cloned()
                    .ok_or_else(|| {
                        PipelineError::unsuitable(
                            path,
                            format!(
                                "no numeric covariate '{name}' (it has: {})",
                                recording
                                    .covariates()
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(PipelineError::unsuitable(
            path,
            "has no numeric covariate to use as the behaviour: attach one with `neuroforge \
             import --covariates`",
        ));
    }
    let bins = rates.ncols();
    if chosen[0].1.len() != bins {
        return Err(PipelineError::unsuitable(
            path,
            format!(
                "its covariates hold {} values for {bins} bins: bin spike times with --bin-ms \
                 only when the covariates were sampled on that grid",
                chosen[0].1.len()
            ),
        ));
    }
    let behaviour = Array2::from_shape_fn((bins, chosen.len()), |(b, c)| chosen[c].1[b]);
    Ok(Binned {
        rates,
        width,
        start,
        names: chosen.iter().map(|(n, _)| n.to_string()).collect(),
        behaviour,
        behaviour_file: path.to_path_buf(),
        activity_file: path.to_path_buf(),
    })
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
    if !flags.start_s.is_finite() {
        return Err(PipelineError::Usage(format!(
            "--start-s must be a number, got {}",
            flags.start_s
        )));
    }
    let source = match (&flags.data, &flags.spikes, &flags.behaviour) {
        (Some(data), None, None) => from_recording(flags, data)?,
        (None, Some(spikes), Some(behaviour)) => {
            from_spike_and_behaviour_files(flags, spikes, behaviour)?
        }
        _ => {
            return Err(PipelineError::Usage(
                "give --data (counts with their behaviour as covariates), or --spikes with \
                 --behaviour"
                    .into(),
            ));
        }
    };
    let Binned {
        rates,
        width,
        start,
        names,
        behaviour,
        behaviour_file,
        activity_file,
    } = source;
    let (units, bins) = rates.dim();
    let rates = if flags.smooth_ms > 0.0 {
        gaussian_smooth(rates.view(), flags.smooth_ms / (width * 1000.0))
            .map_err(|e| PipelineError::unsuitable(&activity_file, e.to_string()))?
    } else {
        rates
    };
    let columns = names.len();
    let valid = |b: usize| behaviour.row(b).iter().all(|v| v.is_finite());
    let at = |b: usize, c: usize| behaviour[[b, c]];
    let mut kept = Vec::new();
    let mut speeds = Vec::new();
    let w = flags.speed_window.max(1);
    let speed_columns = columns.min(2);
    for b in w..bins.saturating_sub(w) {
        if !(valid(b) && valid(b - w) && valid(b + w)) {
            continue;
        }
        let squared: f64 = (0..speed_columns)
            .map(|c| (at(b + w, c) - at(b - w, c)).powi(2))
            .sum();
        let speed = squared.sqrt() / (2.0 * w as f64 * width);
        if speed >= flags.min_speed {
            kept.push(b);
            speeds.push(speed);
        }
    }
    if kept.len() < 10 {
        return Err(PipelineError::unsuitable(
            &behaviour_file,
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
    let behaviour_block = Array2::from_shape_fn((kept.len(), columns), |(r, c)| at(kept[r], c));
    let speed = Array2::from_shape_fn((kept.len(), 1), |(r, _)| speeds[r]);
    let time = Array2::from_shape_fn((kept.len(), 1), |(r, _)| {
        start + (kept[r] as f64 + 0.5) * width
    });
    let table = PointTable {
        condition: vec!["running".to_string(); kept.len()],
        trajectory: Some(trajectory),
        blocks: vec![
            ("x".into(), x),
            (flags.prefix.clone(), behaviour_block),
            ("speed".into(), speed),
            ("t".into(), time),
        ],
    };
    write_points(out, &table)?;
    Ok(format!(
        "{}: {} of {bins} bins of {} ms kept ({} stretches), {units} units, behaviour {}",
        out.display(),
        kept.len(),
        width * 1000.0,
        segment + 1,
        names.join(", ")
    ))
}
