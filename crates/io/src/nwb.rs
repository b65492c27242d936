//! NWB 2.x files (Neurodata Without Borders, HDF5), read and written with the pure-Rust
//! `rust-hdf5` crate (no C library; the choice and its measurements are in
//! docs/ARCHITECTURE.md).
//!
//! Reading (`neuroforge import FILE.nwb`):
//! - a `Units` table: spike times per unit (`spike_times` + `spike_times_index`), unit ids from
//!   `id`; where a `quality` (or `KSLabel`) column exists, the units labelled `good` are kept
//!   unless [`ImportOptions::all_clusters`];
//! - a `RoiResponseSeries` (inside `Fluorescence` or `DfOverF`) or any other `TimeSeries` of
//!   neural data: one row per frame, one column per ROI, with its `rate` or regular
//!   `timestamps`; integer data are binned counts, real data traces;
//! - behaviour (`SpatialSeries`, `BehavioralTimeSeries`, `Position`, any `TimeSeries`) as
//!   covariates ([`ImportOptions::behaviour`]), interpolated linearly onto the bin centres or
//!   frame times of the activity (missing outside the series' time range).
//!
//! The series to import is chosen with [`ImportOptions::variable`] (`--var`): a name (`raw`),
//! or the end of its path (`Fluorescence/raw`, `/units`). A file with one candidate needs none.
//!
//! Writing (`neuroforge export X --out FILE.nwb`): spike times as the `Units` table; binned
//! counts and traces as the `TimeSeries` `processing/neuroforge/activity` (frames x neurons)
//! with the table `processing/neuroforge/neurons` of neuron ids; numeric covariates as
//! `TimeSeries` in `processing/behavior/BehavioralTimeSeries`, text covariates as the table
//! `processing/neuroforge/labels`; point tables (MARBLE embeddings) as the table
//! `processing/neuroforge/points`. pynwb reads all of it and its schema validator accepts it
//! (scripts/check_nwb.py, run by `cargo xtask interop`).

use std::path::Path;

use ndarray::Array2;
use rust_hdf5::format::messages::datatype::DatatypeMessage;
use rust_hdf5::{H5Dataset, H5File, H5Group};

use crate::error::{IoError, Result};
use crate::guard::guarded;
use crate::import::ImportOptions;
use crate::points::PointTable;
use crate::recording::{
    Activity, BinnedActivity, Covariate, CovariateValues, Provenance, Recording, SpikeTrains,
    TraceActivity,
};

/// The NWB schema version our files declare.
const NWB_VERSION: &str = "2.8.0";

/// Where our exports put the activity of binned and trace recordings.
const ACTIVITY_PATH: &str = "/processing/neuroforge/activity";
/// The table of neuron ids beside it.
const NEURONS_PATH: &str = "/processing/neuroforge/neurons";

/// One object of the file with its NWB type.
#[derive(Debug, Clone)]
struct Typed {
    /// Absolute path, e.g. `/processing/ophys/Fluorescence/raw`.
    path: String,
    /// `neurodata_type` attribute.
    kind: String,
}

/// Series types that hold neural activity; every other `*Series` with `data` is behaviour.
const ACTIVITY_TYPES: [&str; 2] = ["RoiResponseSeries", "Units"];

/// Series types that are neither activity nor behaviour we can read (raw voltages, images).
const SKIPPED_TYPES: [&str; 4] = [
    "ElectricalSeries",
    "ImageSeries",
    "TwoPhotonSeries",
    "OnePhotonSeries",
];

fn hdf5_error(path: &Path, what: &str, e: impl std::fmt::Display) -> IoError {
    IoError::invalid(
        path,
        format!("{what}: {}", crate::guard::one_line(&e.to_string())),
    )
}

/// Open an NWB file for reading, refusing HDF5 files that are not NWB.
fn open(path: &Path) -> Result<H5File> {
    if let Err(source) = std::fs::metadata(path) {
        return Err(IoError::Read {
            path: path.to_path_buf(),
            source,
        });
    }
    let file = guarded("HDF5 file", || {
        H5File::options()
            .no_locking()
            .open(path)
            .map_err(|e| format!("not a readable HDF5 file ({e})"))
    })
    .map_err(|p| IoError::invalid(path, crate::guard::one_line(&p)))?;
    match file.attr_string("neurodata_type") {
        Ok(t) if t == "NWBFile" => Ok(file),
        _ => Err(IoError::invalid(
            path,
            "an HDF5 file, but not NWB (its root has no neurodata_type NWBFile)",
        )),
    }
}

/// Every group of the file carrying a `neurodata_type`, depth first.
fn typed_groups(path: &Path, file: &H5File) -> Result<Vec<Typed>> {
    fn walk(group: &H5Group, at: &str, out: &mut Vec<Typed>, depth: usize) -> Result<(), String> {
        if depth > 32 {
            return Err("groups nested more than 32 deep".into());
        }
        let names = group.group_names().map_err(|e| e.to_string())?;
        for name in names {
            let child = group.group(&name).map_err(|e| e.to_string())?;
            let child_path = format!("{at}/{name}");
            if let Ok(kind) = child.attr_string("neurodata_type") {
                out.push(Typed {
                    path: child_path.clone(),
                    kind,
                });
            }
            walk(&child, &child_path, out, depth + 1)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    guarded("NWB group tree", || {
        walk(&file.root_group(), "", &mut out, 0)
    })
    .map_err(|p| IoError::invalid(path, format!("cannot list the file's groups: {p}")))?;
    Ok(out)
}

fn has_dataset(file: &H5File, at: &str) -> bool {
    file.dataset(at).is_ok()
}

/// A dataset's values as f64, whatever its numeric type.
fn read_f64(ds: &H5Dataset) -> std::result::Result<Vec<f64>, String> {
    match ds.datatype().map_err(|e| e.to_string())? {
        DatatypeMessage::FloatingPoint { .. } => {
            ds.read_numeric_as::<f64>().map_err(|e| e.to_string())
        }
        DatatypeMessage::FixedPoint { signed: true, .. } => Ok(ds
            .read_numeric_as::<i64>()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v as f64)
            .collect()),
        DatatypeMessage::FixedPoint { signed: false, .. } => Ok(ds
            .read_numeric_as::<u64>()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| v as f64)
            .collect()),
        other => Err(format!("not numeric (HDF5 type {})", type_name(&other))),
    }
}

fn type_name(t: &DatatypeMessage) -> &'static str {
    match t {
        DatatypeMessage::FixedPoint { .. } => "integer",
        DatatypeMessage::FloatingPoint { .. } => "float",
        DatatypeMessage::FixedString { .. } | DatatypeMessage::VarLenString { .. } => "string",
        DatatypeMessage::Compound { .. } => "compound",
        _ => "other",
    }
}

fn is_integer(ds: &H5Dataset) -> bool {
    matches!(ds.datatype(), Ok(DatatypeMessage::FixedPoint { .. }))
}

/// A numeric dataset attribute, if present and readable.
fn attr_f64(ds: &H5Dataset, name: &str) -> Option<f64> {
    let attr = ds.attr(name).ok()?;
    attr.read_numeric::<f64>()
        .ok()
        .or_else(|| attr.read_numeric::<f32>().ok().map(f64::from))
}

fn attr_text(ds: &H5Dataset, name: &str) -> Option<String> {
    ds.attr(name).ok()?.read_string().ok()
}

/// Whether `wanted` names `path`: equal, or the end of it after a `/`.
fn names(path: &str, wanted: &str) -> bool {
    let wanted = wanted.trim_end_matches('/');
    let wanted_rel = wanted.trim_start_matches('/');
    path == wanted
        || path.trim_start_matches('/') == wanted_rel
        || path.ends_with(&format!("/{wanted_rel}"))
}

/// The one object of `candidates` that `wanted` names, or the only candidate.
fn choose<'a>(
    path: &Path,
    candidates: &'a [Typed],
    wanted: Option<&str>,
    what: &str,
    flag: &str,
) -> Result<&'a Typed> {
    let listing = || {
        candidates
            .iter()
            .map(|t| format!("{} ({})", t.path, t.kind))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if candidates.is_empty() {
        let asked = wanted.map_or_else(String::new, |w| format!(" (asked for '{w}' by {flag})"));
        return Err(IoError::invalid(path, format!("holds no {what}{asked}")));
    }
    let matching: Vec<&Typed> = match wanted {
        Some(w) => candidates.iter().filter(|t| names(&t.path, w)).collect(),
        None => candidates.iter().collect(),
    };
    match (matching.as_slice(), wanted) {
        ([only], _) => Ok(only),
        ([], Some(w)) => Err(IoError::invalid(
            path,
            format!("no {what} named '{w}'; the file holds: {}", listing()),
        )),
        (_, Some(w)) => Err(IoError::invalid(
            path,
            format!(
                "'{w}' names several {what}: {}; give more of the path",
                matching
                    .iter()
                    .map(|t| t.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        (_, None) => Err(IoError::invalid(
            path,
            format!(
                "holds several {what}: {}; choose one with {flag}",
                listing()
            ),
        )),
    }
}

/// The timing of a series: its first time and frame rate (regular sampling), or its
/// timestamps.
#[derive(Debug, Clone)]
enum Timing {
    Regular { start_s: f64, rate_hz: f64 },
    Stamps(Vec<f64>),
}

impl Timing {
    fn time(&self, i: usize) -> f64 {
        match self {
            Self::Regular { start_s, rate_hz } => start_s + i as f64 / rate_hz,
            Self::Stamps(t) => t.get(i).copied().unwrap_or(f64::NAN),
        }
    }
}

/// A series' `data` (rows = time points) and timing.
struct Series {
    values: Vec<f64>,
    rows: usize,
    columns: usize,
    integer: bool,
    timing: Timing,
    unit: Option<String>,
}

fn read_series(path: &Path, file: &H5File, at: &str) -> Result<Series> {
    let invalid = |p: String| IoError::invalid(path, format!("{at}: {p}"));
    let data = file
        .dataset(&format!("{at}/data"))
        .map_err(|e| invalid(format!("no data dataset ({e})")))?;
    let shape = data.shape();
    let (rows, columns) = match shape.as_slice() {
        [r] => (*r, 1),
        [r, c] => (*r, *c),
        other => {
            return Err(invalid(format!(
                "data has {} dimensions; a series of one or more channels has 1 or 2",
                other.len()
            )));
        }
    };
    let integer = is_integer(&data);
    let mut values =
        guarded("NWB dataset", || read_f64(&data)).map_err(|p| invalid(format!("data: {p}")))?;
    if values.len() != rows * columns {
        return Err(invalid(format!(
            "data holds {} values for shape {rows}x{columns}",
            values.len()
        )));
    }
    let conversion = attr_f64(&data, "conversion").unwrap_or(1.0);
    let offset = attr_f64(&data, "offset").unwrap_or(0.0);
    let scaled = conversion != 1.0 || offset != 0.0;
    if scaled {
        for v in &mut values {
            *v = *v * conversion + offset;
        }
    }
    let timing = if let Ok(start) = file.dataset(&format!("{at}/starting_time")) {
        let start_s = guarded("NWB dataset", || read_f64(&start))
            .map_err(|p| invalid(format!("starting_time: {p}")))?
            .first()
            .copied()
            .unwrap_or(0.0);
        let rate_hz = attr_f64(&start, "rate")
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| invalid("starting_time has no positive rate attribute".into()))?;
        Timing::Regular { start_s, rate_hz }
    } else if let Ok(stamps) = file.dataset(&format!("{at}/timestamps")) {
        let t = guarded("NWB dataset", || read_f64(&stamps))
            .map_err(|p| invalid(format!("timestamps: {p}")))?;
        if t.len() != rows {
            return Err(invalid(format!(
                "{} timestamps for {rows} rows of data",
                t.len()
            )));
        }
        if t.windows(2).any(|w| w[1] <= w[0] || w[1].is_nan()) || t.iter().any(|x| !x.is_finite()) {
            return Err(invalid("timestamps are not finite and increasing".into()));
        }
        Timing::Stamps(t)
    } else {
        return Err(invalid(
            "neither starting_time (with rate) nor timestamps: the series has no time base".into(),
        ));
    };
    Ok(Series {
        values,
        rows,
        columns,
        integer: integer && !scaled,
        timing,
        unit: attr_text(&data, "unit"),
    })
}

/// The frame rate of regularly spaced timestamps (within 1% of their median spacing).
fn regular_rate(stamps: &[f64]) -> Option<f64> {
    if stamps.len() < 2 {
        return None;
    }
    let mut d: Vec<f64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    let median = d[d.len() / 2];
    let regular = d.iter().all(|x| (x - median).abs() <= 0.01 * median);
    regular.then(|| (stamps.len() - 1) as f64 / (stamps[stamps.len() - 1] - stamps[0]))
}

/// Import an NWB file (see the module documentation). The HDF5 layer is not hardened against
/// every corrupt file, so a panic inside it becomes the error a corrupt file deserves.
pub(crate) fn import_nwb(path: &Path, options: &ImportOptions) -> Result<Recording> {
    guarded("NWB file", || Ok(import_nwb_unguarded(path, options)))
        .map_err(|p| IoError::invalid(path, p))?
}

fn import_nwb_unguarded(path: &Path, options: &ImportOptions) -> Result<Recording> {
    let file = open(path)?;
    let typed = typed_groups(path, &file)?;
    let mut candidates: Vec<Typed> = typed
        .iter()
        .filter(|t| {
            (t.kind == "Units" && has_dataset(&file, &format!("{}/spike_times", t.path)))
                || (ACTIVITY_TYPES.contains(&t.kind.as_str())
                    && has_dataset(&file, &format!("{}/data", t.path)))
                || t.path == ACTIVITY_PATH
        })
        .cloned()
        .collect();
    candidates.dedup_by(|a, b| a.path == b.path);
    let chosen = choose(
        path,
        &candidates,
        options.variable.as_deref(),
        "neural data (a Units table or a RoiResponseSeries)",
        "--var",
    )?
    .clone();
    let mut steps = Vec::new();
    // `times`: the time of each bin or frame, in the file's time base, for the behaviour.
    let (ids, activity, times) = if chosen.kind == "Units" {
        read_units(path, &file, &chosen.path, options, &mut steps)?
    } else {
        read_activity_series(path, &file, &chosen, options, &mut steps)?
    };
    let series_quantity = (chosen.kind != "Units" && matches!(activity, Activity::Traces(_)))
        .then(|| series_quantity(&file, &chosen.path));
    let mut covariates = Vec::new();
    if !options.behaviour.is_empty() {
        let Some(times) = times else {
            return Err(IoError::Usage(format!(
                "--behaviour needs bins or frames, and {} holds spike times: pass --bin-ms",
                path.display()
            )));
        };
        let behaviour: Vec<Typed> = typed
            .iter()
            .filter(|t| {
                t.kind.ends_with("Series")
                    && !ACTIVITY_TYPES.contains(&t.kind.as_str())
                    && !SKIPPED_TYPES.contains(&t.kind.as_str())
                    && t.path != ACTIVITY_PATH
                    && has_dataset(&file, &format!("{}/data", t.path))
            })
            .cloned()
            .collect();
        for wanted in &options.behaviour {
            let series = choose(
                path,
                &behaviour,
                Some(wanted),
                "behaviour series",
                "--behaviour",
            )?;
            let added = behaviour_covariates(path, &file, series, &times)?;
            steps.push(format!(
                "covariates {} from {} ({}), interpolated linearly onto the {} time points",
                added
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                series.path,
                series.kind,
                times.len()
            ));
            covariates.extend(added);
        }
    }
    let (quantity, units) = match &series_quantity {
        Some((q, u)) => (Some(q.clone()), u.clone()),
        None => (None, None),
    };
    let provenance = Provenance {
        source_file: Some(path.display().to_string()),
        source_format: Some("nwb".into()),
        variable: Some(chosen.path.clone()),
        layout: None,
        layout_assumed: false,
        steps,
        written_by: Some(concat!("neuroforge-io ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: None,
        quantity,
        units,
    };
    Recording::new(ids, activity, covariates, provenance).map_err(|e| e.at(path))
}

fn read_units(
    path: &Path,
    file: &H5File,
    at: &str,
    options: &ImportOptions,
    steps: &mut Vec<String>,
) -> Result<(Vec<String>, Activity, Option<Vec<f64>>)> {
    let invalid = |p: String| IoError::invalid(path, format!("{at}: {p}"));
    let read = |name: &str| -> Result<Vec<f64>> {
        let ds = file
            .dataset(&format!("{at}/{name}"))
            .map_err(|e| invalid(format!("no {name} ({e})")))?;
        guarded("NWB dataset", || read_f64(&ds)).map_err(|p| invalid(format!("{name}: {p}")))
    };
    let spikes = read("spike_times")?;
    let ends = read("spike_times_index")?;
    let units = ends.len();
    let ids: Vec<String> = match file.dataset(&format!("{at}/id")) {
        Ok(ds) => guarded("NWB dataset", || read_f64(&ds))
            .map_err(|p| invalid(format!("id: {p}")))?
            .iter()
            .map(|v| format!("{v}"))
            .collect(),
        Err(_) => (0..units).map(|i| i.to_string()).collect(),
    };
    if ids.len() != units {
        return Err(invalid(format!(
            "{} ids for {units} units (spike_times_index)",
            ids.len()
        )));
    }
    let mut trains = Vec::with_capacity(units);
    let mut start = 0usize;
    for (unit, &end) in ends.iter().enumerate() {
        let end_index = end as usize;
        if !(end.fract() == 0.0 && end >= 0.0) || end_index < start || end_index > spikes.len() {
            return Err(invalid(format!(
                "spike_times_index entry {unit} is {end}: the index must rise to the {} spike \
                 times",
                spikes.len()
            )));
        }
        let mut t = spikes[start..end_index].to_vec();
        if t.iter().any(|x| !x.is_finite()) {
            return Err(invalid(format!(
                "unit {} has a non-finite spike time",
                ids[unit]
            )));
        }
        t.sort_by(f64::total_cmp);
        trains.push(t);
        start = end_index;
    }
    if start != spikes.len() {
        return Err(invalid(format!(
            "spike_times_index ends at {start}, but spike_times holds {} values",
            spikes.len()
        )));
    }
    let label_column = ["quality", "KSLabel"]
        .into_iter()
        .find(|c| has_dataset(file, &format!("{at}/{c}")));
    let mut keep: Vec<bool> = vec![true; units];
    match (options.all_clusters, label_column) {
        (false, Some(column)) => {
            let labels = file
                .dataset(&format!("{at}/{column}"))
                .map_err(|e| invalid(e.to_string()))?
                .read_strings()
                .map_err(|e| invalid(format!("{column}: {e}")))?;
            if labels.len() != units {
                return Err(invalid(format!(
                    "{column} has {} labels for {units} units",
                    labels.len()
                )));
            }
            keep = labels.iter().map(|l| l.trim() == "good").collect();
            let kept = keep.iter().filter(|&&k| k).count();
            if kept == 0 {
                return Err(invalid(format!(
                    "labels none of the {units} units 'good' in its {column} column (pass \
                     --all-clusters to keep every unit)"
                )));
            }
            steps.push(format!(
                "kept the {kept} of {units} units labelled good in the {column} column"
            ));
        }
        (true, Some(column)) => {
            steps.push(format!(
                "kept all {units} units whatever their {column} label"
            ));
        }
        (_, None) => steps.push(format!("kept all {units} units (no quality column)")),
    }
    let (ids, times_s): (Vec<String>, Vec<Vec<f64>>) = ids
        .into_iter()
        .zip(trains)
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(pair, _)| pair)
        .unzip();
    let first = times_s
        .iter()
        .filter_map(|t| t.first())
        .copied()
        .fold(0.0f64, f64::min);
    let last = times_s
        .iter()
        .filter_map(|t| t.last())
        .copied()
        .fold(first, f64::max);
    let trains = SpikeTrains {
        times_s,
        t_start_s: first,
        t_stop_s: last,
    };
    match options.bin_ms {
        Some(ms) => {
            steps.push(format!("binned at {ms} ms from t = {first} s"));
            let width = ms / 1000.0;
            let binned = trains.bin(width).map_err(|e| e.at(path))?;
            // Behaviour is read at the centre of each bin.
            let centres = (0..binned.counts.ncols())
                .map(|i| first + (i as f64 + 0.5) * width)
                .collect();
            Ok((ids, Activity::Binned(binned), Some(centres)))
        }
        None => Ok((ids, Activity::SpikeTimes(trains), None)),
    }
}

fn read_activity_series(
    path: &Path,
    file: &H5File,
    chosen: &Typed,
    options: &ImportOptions,
    steps: &mut Vec<String>,
) -> Result<(Vec<String>, Activity, Option<Vec<f64>>)> {
    let at = chosen.path.as_str();
    let series = read_series(path, file, at)?;
    let rate = match &series.timing {
        Timing::Regular { rate_hz, start_s } => {
            if *start_s != 0.0 {
                steps.push(format!("the series starts at {start_s} s; frame times count from it"));
            }
            *rate_hz
        }
        Timing::Stamps(t) => regular_rate(t).ok_or_else(|| {
            IoError::invalid(
                path,
                format!("{at}: its timestamps are not evenly spaced (within 1%), which a binned or frame recording needs"),
            )
        })?,
    };
    // Behaviour is read at the series' own sample times.
    let times = (0..series.rows).map(|i| series.timing.time(i)).collect();
    let rate = options.frame_rate_hz.unwrap_or(rate);
    let ids = neuron_ids(file, at, series.columns);
    // NWB stores time x channels; the recording is neurons x time.
    let column_major = |f: &dyn Fn(f64) -> f64| {
        Array2::from_shape_fn((series.columns, series.rows), |(n, t)| {
            f(series.values[t * series.columns + n])
        })
    };
    let binned = options.kind == Some(crate::recording::ActivityKind::Binned)
        || (options.kind.is_none() && series.integer);
    let activity =
        if binned {
            if let Some(bad) = series.values.iter().find(|v| {
                !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0 && **v <= u32::MAX as f64)
            }) {
                return Err(IoError::invalid(
                    path,
                    format!("{at}: binned counts must be non-negative whole numbers, found {bad}"),
                ));
            }
            steps.push(format!("counts per bin of {} ms (1 / rate)", 1000.0 / rate));
            Activity::Binned(BinnedActivity {
                counts: column_major(&|v| v).mapv(|v| v as u32),
                bin_width_s: Some(1.0 / rate),
            })
        } else {
            steps.push(format!(
                "traces ({}) at {rate} frames/s",
                series.unit.as_deref().unwrap_or("no unit given")
            ));
            Activity::Traces(TraceActivity {
                values: column_major(&|v| v).mapv(|v| v as f32),
                frame_rate_hz: Some(rate),
            })
        };
    Ok((ids, activity, Some(times)))
}

/// What the traces of the series at `at` measure, by its container (`DfOverF`,
/// `Fluorescence`), and the units its `data` declares.
fn series_quantity(file: &H5File, at: &str) -> (String, Option<String>) {
    let parent = at.rsplit_once('/').map_or("", |(p, _)| p);
    let container = parent.rsplit('/').next().unwrap_or("");
    let container_type = typed_group_kind(file, parent);
    let quantity = match container_type.as_deref().unwrap_or(container) {
        "DfOverF" => "dF/F",
        "Fluorescence" => "fluorescence",
        _ => "traces",
    };
    let units = file
        .dataset(&format!("{at}/data"))
        .ok()
        .and_then(|d| attr_text(&d, "unit"))
        .filter(|u| !u.trim().is_empty());
    (quantity.to_string(), units)
}

/// The `neurodata_type` of the group at `at`, if it has one.
fn typed_group_kind(file: &H5File, at: &str) -> Option<String> {
    group_for(file, at).ok()?.attr_string("neurodata_type").ok()
}

/// Neuron ids of the columns of the series at `at`: our own `neurons` table, the ROI indices
/// of a `RoiResponseSeries`, else 0, 1, ...
fn neuron_ids(file: &H5File, at: &str, columns: usize) -> Vec<String> {
    if at == ACTIVITY_PATH
        && let Ok(ds) = file.dataset(&format!("{NEURONS_PATH}/neuron_id"))
        && let Ok(ids) = ds.read_strings()
        && ids.len() == columns
    {
        return ids;
    }
    if let Ok(ds) = file.dataset(&format!("{at}/rois"))
        && let Ok(rows) = read_f64(&ds)
        && rows.len() == columns
    {
        return rows.iter().map(|r| format!("{r}")).collect();
    }
    crate::recording::default_neuron_ids(columns)
}

/// The covariates of one behaviour series, one per column, interpolated onto `times`.
fn behaviour_covariates(
    path: &Path,
    file: &H5File,
    series: &Typed,
    times: &[f64],
) -> Result<Vec<Covariate>> {
    let s = read_series(path, file, &series.path)?;
    let name = series.path.rsplit('/').next().unwrap_or("behaviour");
    let series_times: Vec<f64> = (0..s.rows).map(|i| s.timing.time(i)).collect();
    let mut out = Vec::with_capacity(s.columns);
    for c in 0..s.columns {
        let column: Vec<f64> = (0..s.rows).map(|r| s.values[r * s.columns + c]).collect();
        let values = times
            .iter()
            .map(|&t| interpolate(&series_times, &column, t))
            .collect();
        let covariate_name = if s.columns == 1 {
            name.to_string()
        } else {
            format!("{name}_{c}")
        };
        out.push(Covariate {
            name: covariate_name,
            values: CovariateValues::Float(values),
        });
    }
    Ok(out)
}

/// Linear interpolation of `(xs, ys)` at `x` (`xs` increasing); NaN outside `[xs[0], xs[n-1]]`.
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    if n == 0 || !(x >= xs[0] && x <= xs[n - 1]) {
        return f64::NAN;
    }
    let i = xs.partition_point(|&v| v <= x);
    if i == 0 {
        return ys[0];
    }
    if i >= n {
        return ys[n - 1];
    }
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    if x1 == x0 {
        y0
    } else {
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

// ----------------------------------------------------------------------------------------
// Writing
// ----------------------------------------------------------------------------------------

/// Objects written so far: each gets a distinct, reproducible `object_id`.
struct Writer {
    file: H5File,
    seed: u64,
    objects: u64,
}

type WriteResult<T> = std::result::Result<T, rust_hdf5::Hdf5Error>;

impl Writer {
    fn object_id(&mut self) -> String {
        self.objects += 1;
        let a = fnv(self.seed ^ self.objects.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let b = fnv(a ^ 0x5851_f42d_4c95_7f2d);
        // A version-4-shaped UUID (variant 10xx), derived from the content and the position.
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn tag_group(&mut self, g: &H5Group, kind: &str, description: Option<&str>) -> WriteResult<()> {
        g.set_attr_string("namespace", namespace_of(kind))?;
        g.set_attr_string("neurodata_type", kind)?;
        let id = self.object_id();
        g.set_attr_string("object_id", &id)?;
        if let Some(d) = description {
            g.set_attr_string("description", d)?;
        }
        Ok(())
    }

    fn tag_dataset(
        &mut self,
        d: &H5Dataset,
        kind: &str,
        description: Option<&str>,
    ) -> WriteResult<()> {
        let id = self.object_id();
        let mut attrs = vec![
            ("namespace", namespace_of(kind).to_string()),
            ("neurodata_type", kind.to_string()),
            ("object_id", id),
        ];
        if let Some(text) = description {
            attrs.push(("description", text.to_string()));
        }
        for (k, v) in attrs {
            d.new_attr::<u8>().shape(()).create(k)?.write_string(&v)?;
        }
        Ok(())
    }

    /// A `DynamicTable` (or subtype `kind`) at `group` with `rows` ids and the given columns,
    /// each written by its closure.
    fn table(
        &mut self,
        group: &H5Group,
        kind: &str,
        description: &str,
        rows: usize,
        columns: &[Column<'_>],
    ) -> WriteResult<()> {
        self.tag_group(group, kind, Some(description))?;
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        group.set_attr_string_array("colnames", &names)?;
        let ids: Vec<i64> = (0..rows as i64).collect();
        let id = vector(group, "id", &ids)?;
        self.tag_dataset(&id, "ElementIdentifiers", None)?;
        for column in columns {
            let ds = (column.write)(group, &column.name)?;
            self.tag_dataset(&ds, "VectorData", Some(&column.description))?;
        }
        Ok(())
    }

    /// A `TimeSeries` group with `data` (time x channels) and a regular time base.
    fn time_series<T: rust_hdf5::types::H5Type>(
        &mut self,
        group: &H5Group,
        spec: SeriesSpec<'_, T>,
    ) -> WriteResult<()> {
        let SeriesSpec {
            description,
            comments,
            shape,
            data,
            unit,
            rate_hz,
        } = spec;
        self.tag_group(group, "TimeSeries", Some(description))?;
        group.set_attr_string("comments", comments)?;
        let ds = if shape[1] == 1 {
            group.new_dataset::<T>().shape([shape[0]]).create("data")?
        } else {
            group.new_dataset::<T>().shape(shape).create("data")?
        };
        ds.write_raw(data)?;
        ds.new_attr::<u8>()
            .shape(())
            .create("unit")?
            .write_string(unit)?;
        for (k, v) in [
            ("conversion", 1.0f32),
            ("offset", 0.0),
            ("resolution", -1.0),
        ] {
            ds.new_attr::<f32>()
                .shape(())
                .create(k)?
                .write_numeric(&v)?;
        }
        let start = group
            .new_dataset::<f64>()
            .scalar()
            .create("starting_time")?;
        start.write_raw(&[0.0f64])?;
        start
            .new_attr::<f64>()
            .shape(())
            .create("rate")?
            .write_numeric(&rate_hz)?;
        start
            .new_attr::<u8>()
            .shape(())
            .create("unit")?
            .write_string("seconds")?;
        Ok(())
    }
}

/// Writes one column of a table into a group, under the given name.
type ColumnWriter<'a> = Box<dyn Fn(&H5Group, &str) -> WriteResult<H5Dataset> + 'a>;

/// A column of a `DynamicTable`: its name, description and writer.
struct Column<'a> {
    name: String,
    description: String,
    write: ColumnWriter<'a>,
}

impl<'a> Column<'a> {
    fn new(
        name: &str,
        description: &str,
        write: impl Fn(&H5Group, &str) -> WriteResult<H5Dataset> + 'a,
    ) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            write: Box::new(write),
        }
    }
}

/// A `TimeSeries` to write: `data` is time x channels, row-major, sampled at `rate_hz` from
/// t = 0.
struct SeriesSpec<'a, T> {
    description: &'a str,
    comments: &'a str,
    shape: [usize; 2],
    data: &'a [T],
    unit: &'a str,
    rate_hz: f64,
}

fn namespace_of(kind: &str) -> &'static str {
    // The table types live in hdmf's common namespace; everything else in NWB's core.
    match kind {
        "DynamicTable" | "VectorData" | "VectorIndex" | "ElementIdentifiers" => "hdmf-common",
        _ => "core",
    }
}

/// FNV-1a of the 8 bytes of `x`.
fn fnv(x: u64) -> u64 {
    fnv_bytes(&x.to_le_bytes())
}

/// FNV-1a of `bytes`.
fn fnv_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A 1-D dataset holding `values`.
fn vector<T: rust_hdf5::types::H5Type>(
    g: &H5Group,
    name: &str,
    values: &[T],
) -> WriteResult<H5Dataset> {
    let ds = g.new_dataset::<T>().shape([values.len()]).create(name)?;
    ds.write_raw(values)?;
    Ok(ds)
}

/// A scalar UTF-8 string dataset (what NWB's text fields are).
fn scalar_text(g: &H5Group, name: &str, value: &str) -> WriteResult<H5Dataset> {
    let ds = g
        .new_dataset::<u8>()
        .scalar()
        .datatype(DatatypeMessage::fixed_string_utf8(value.len().max(1) as u32))
        .create(name)?;
    let mut bytes = value.as_bytes().to_vec();
    if bytes.is_empty() {
        bytes.push(0);
    }
    ds.write_raw_bytes(&bytes)?;
    Ok(ds)
}

/// UTC date and time of `secs` since the Unix epoch, ISO 8601.
fn iso_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The NWB file skeleton every file needs, with a processing module `neuroforge`.
fn skeleton(file: H5File, seed: u64, description: &str) -> WriteResult<Writer> {
    let mut w = Writer {
        file,
        seed,
        objects: 0,
    };
    let root = w.file.root_group();
    w.tag_group(&root, "NWBFile", None)?;
    w.file.set_attr_string("nwb_version", NWB_VERSION)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let created = iso_utc(now);
    w.file
        .write_vlen_strings("file_create_date", &[created.as_str()])?;
    scalar_text(&root, "identifier", &format!("neuroforge-{seed:016x}"))?;
    scalar_text(&root, "session_description", description)?;
    // NWB requires a session start; an export does not know the recording's, so it is the
    // time reference of the data (t = 0) and says so in the description.
    scalar_text(&root, "session_start_time", "1970-01-01T00:00:00+00:00")?;
    scalar_text(
        &root,
        "timestamps_reference_time",
        "1970-01-01T00:00:00+00:00",
    )?;
    for g in ["acquisition", "analysis", "general"] {
        w.file.create_group(g)?;
    }
    let stimulus = w.file.create_group("stimulus")?;
    stimulus.create_group("presentation")?;
    stimulus.create_group("templates")?;
    let processing = w.file.create_group("processing")?;
    let module = processing.create_group("neuroforge")?;
    w.tag_group(&module, "ProcessingModule", Some("written by neuroforge"))?;
    Ok(w)
}

/// Build an NWB file at a temporary path through `build`, then copy it into `path` atomically.
fn write_nwb_file(path: &Path, build: impl FnOnce(H5File) -> WriteResult<()>) -> Result<()> {
    let scratch = tempfile::tempdir().map_err(|source| IoError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let built = scratch.path().join("out.nwb");
    let file = H5File::options()
        .no_locking()
        .create(&built)
        .map_err(|e| hdf5_error(path, "cannot write", e))?;
    build(file).map_err(|e| hdf5_error(path, "cannot write", e))?;
    let bytes = crate::import::read_file(&built)?;
    crate::atomic::write_atomically(path, |out| {
        use std::io::Write;
        out.write_all(&bytes).map_err(|source| IoError::Write {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Write `recording` as an NWB file at `path`, atomically (see the module documentation).
pub fn write_nwb(recording: &Recording, path: &Path) -> Result<()> {
    let provenance = serde_json::to_string(recording.provenance())
        .map_err(|e| IoError::Recording(e.to_string()))?;
    let ids = recording.neuron_ids();
    let mut seed_text = provenance.clone();
    seed_text.push_str(&ids.join(","));
    let seed = fnv_bytes(seed_text.as_bytes());
    let description = format!(
        "{} exported by neuroforge {}; times are seconds from the start of the data",
        recording.activity().kind().name(),
        env!("CARGO_PKG_VERSION")
    );
    write_nwb_file(path, |file| {
        let mut w = skeleton(file, seed, &description)?;
        let (rate, frames) = match recording.activity() {
            Activity::SpikeTimes(trains) => {
                write_units(&mut w, ids, trains, &provenance)?;
                (None, 0)
            }
            Activity::Binned(b) => {
                let rate = b.bin_width_s.map_or(1.0, |s| 1.0 / s);
                let comments = with_unknown_rate(&provenance, b.bin_width_s.is_none(), "bin width");
                let data: Vec<u32> = b.counts.t().iter().copied().collect();
                let module = group_for(&w.file, "/processing/neuroforge")?;
                let series = module.create_group("activity")?;
                w.time_series(
                    &series,
                    SeriesSpec {
                        description: "spike counts per bin, one column per neuron (see the neurons table); row i counts \
                     the spikes of [i w, (i + 1) w), w = 1 / rate",
                        comments: &comments,
                        shape: [b.counts.ncols(), b.counts.nrows()],
                        data: &data,
                        unit: "spikes per bin",
                        rate_hz: rate,
                    },
                )?;
                write_neuron_table(&mut w, &module, ids)?;
                (Some(rate), b.counts.ncols())
            }
            Activity::Traces(t) => {
                let rate = t.frame_rate_hz.unwrap_or(1.0);
                let (quantity, units) = recording.quantity();
                let description =
                    format!("{quantity} per frame, one column per neuron (see the neurons table)");
                let comments =
                    with_unknown_rate(&provenance, t.frame_rate_hz.is_none(), "frame rate");
                let data: Vec<f32> = t.values.t().iter().copied().collect();
                let module = group_for(&w.file, "/processing/neuroforge")?;
                let series = module.create_group("activity")?;
                w.time_series(
                    &series,
                    SeriesSpec {
                        description: &description,
                        comments: &comments,
                        shape: [t.values.ncols(), t.values.nrows()],
                        data: &data,
                        unit: &units,
                        rate_hz: rate,
                    },
                )?;
                write_neuron_table(&mut w, &module, ids)?;
                (Some(rate), t.values.ncols())
            }
        };
        if let Some(rate) = rate {
            write_covariates(&mut w, recording.covariates(), rate, frames)?;
        }
        w.file.close()
    })
}

fn with_unknown_rate(provenance: &str, unknown: bool, what: &str) -> String {
    if unknown {
        format!(
            "{what} unknown: the rate 1.0 counts time in bins or frames; provenance {provenance}"
        )
    } else {
        format!("provenance {provenance}")
    }
}

fn group_for(file: &H5File, at: &str) -> WriteResult<H5Group> {
    let mut group = file.root_group();
    for part in at.split('/').filter(|p| !p.is_empty()) {
        group = group.group(part)?;
    }
    Ok(group)
}

fn write_neuron_table(w: &mut Writer, module: &H5Group, ids: &[String]) -> WriteResult<()> {
    let table = module.create_group("neurons")?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    w.table(
        &table,
        "DynamicTable",
        "the neuron of each column of the activity series",
        ids.len(),
        &[Column::new(
            "neuron_id",
            "neuron id in the source recording",
            |g: &H5Group, name: &str| g.write_vlen_strings(name, &refs),
        )],
    )
}

fn write_units(
    w: &mut Writer,
    ids: &[String],
    trains: &SpikeTrains,
    provenance: &str,
) -> WriteResult<()> {
    let units = w.file.create_group("units")?;
    w.tag_group(
        &units,
        "Units",
        Some(&format!("spike times; provenance {provenance}")),
    )?;
    let integer_ids: Option<Vec<i64>> = ids.iter().map(|s| s.parse::<i64>().ok()).collect();
    let mut colnames = vec!["spike_times"];
    if integer_ids.is_none() {
        colnames.push("neuron_id");
    }
    units.set_attr_string_array("colnames", &colnames)?;
    let id_values = integer_ids.unwrap_or_else(|| (0..ids.len() as i64).collect());
    let id = vector(&units, "id", &id_values)?;
    w.tag_dataset(&id, "ElementIdentifiers", None)?;
    let all: Vec<f64> = trains.times_s.iter().flatten().copied().collect();
    let mut ends = Vec::with_capacity(ids.len());
    let mut end = 0u64;
    for t in &trains.times_s {
        end += t.len() as u64;
        ends.push(end);
    }
    let times = vector(&units, "spike_times", &all)?;
    w.tag_dataset(
        &times,
        "VectorData",
        Some("the spike times for each unit in seconds"),
    )?;
    let index = vector(&units, "spike_times_index", &ends)?;
    w.tag_dataset(
        &index,
        "VectorIndex",
        Some("Index for VectorData 'spike_times'"),
    )?;
    index
        .new_attr::<u64>()
        .shape(())
        .create("target")?
        .write_object_references(&["/units/spike_times"])?;
    if colnames.len() > 1 {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let ds = units.write_vlen_strings("neuron_id", &refs)?;
        w.tag_dataset(&ds, "VectorData", Some("neuron id in the source recording"))?;
    }
    Ok(())
}

fn write_covariates(
    w: &mut Writer,
    covariates: &[Covariate],
    rate: f64,
    frames: usize,
) -> WriteResult<()> {
    let numeric: Vec<&Covariate> = covariates
        .iter()
        .filter(|c| !matches!(c.values, CovariateValues::Text(_)))
        .collect();
    if !numeric.is_empty() {
        let processing = group_for(&w.file, "/processing")?;
        let module = processing.create_group("behavior")?;
        w.tag_group(
            &module,
            "ProcessingModule",
            Some("covariates of the recording"),
        )?;
        let container = module.create_group("BehavioralTimeSeries")?;
        w.tag_group(&container, "BehavioralTimeSeries", None)?;
        for c in numeric {
            let values: Vec<f64> = match &c.values {
                CovariateValues::Float(v) => v.clone(),
                CovariateValues::Int(v) => v.iter().map(|&x| x as f64).collect(),
                CovariateValues::Text(_) => continue,
            };
            let series = container.create_group(&c.name)?;
            w.time_series(
                &series,
                SeriesSpec {
                    description: "covariate, one value per bin or frame of the activity",
                    comments: "no comments",
                    shape: [frames, 1],
                    data: &values,
                    unit: "a.u.",
                    rate_hz: rate,
                },
            )?;
        }
    }
    let text: Vec<(&str, &Vec<String>)> = covariates
        .iter()
        .filter_map(|c| match &c.values {
            CovariateValues::Text(v) => Some((c.name.as_str(), v)),
            _ => None,
        })
        .collect();
    if !text.is_empty() {
        let module = group_for(&w.file, "/processing/neuroforge")?;
        let table = module.create_group("labels")?;
        let columns: Vec<Column<'_>> = text
            .iter()
            .map(|(name, values)| {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                Column::new(
                    name,
                    "text covariate, one row per bin or frame",
                    move |g: &H5Group, n: &str| g.write_vlen_strings(n, &refs),
                )
            })
            .collect();
        w.table(
            &table,
            "DynamicTable",
            "text covariates, one row per bin or frame of the activity",
            frames,
            &columns,
        )?;
    }
    Ok(())
}

/// Write a point table (e.g. a MARBLE embedding) as an NWB file at `path`, atomically: the
/// table `processing/neuroforge/points` with a `condition` column, `trajectory` when present,
/// and one 2-D column per block (`z`: rows x dimensions).
pub fn write_points_nwb(table: &PointTable, path: &Path, description: &str) -> Result<()> {
    let mut seed_text = table.condition.join(",");
    for (prefix, block) in &table.blocks {
        seed_text.push_str(prefix);
        seed_text.push_str(&format!("{:?}", block.shape()));
    }
    let seed = fnv_bytes(seed_text.as_bytes());
    let rows = table.rows();
    write_nwb_file(path, |file| {
        let mut w = skeleton(file, seed, description)?;
        let module = group_for(&w.file, "/processing/neuroforge")?;
        let group = module.create_group("points")?;
        let conditions: Vec<&str> = table.condition.iter().map(String::as_str).collect();
        let mut columns = vec![Column::new(
            "condition",
            "condition of each point",
            move |g: &H5Group, n: &str| g.write_vlen_strings(n, &conditions),
        )];
        if let Some(t) = &table.trajectory {
            columns.push(Column::new(
                "trajectory",
                "trajectory of each point within its condition",
                move |g: &H5Group, n: &str| vector(g, n, t),
            ));
        }
        for (prefix, block) in &table.blocks {
            let values: Vec<f64> = block.iter().copied().collect();
            let shape = [block.nrows(), block.ncols()];
            columns.push(Column::new(
                prefix,
                &format!(
                    "block {prefix}: one row per point, {} components",
                    block.ncols()
                ),
                move |g: &H5Group, n: &str| {
                    let ds = g.new_dataset::<f64>().shape(shape).create(n)?;
                    ds.write_raw(&values)?;
                    Ok(ds)
                },
            ));
        }
        w.table(
            &group,
            "DynamicTable",
            "points written by neuroforge",
            rows,
            &columns,
        )?;
        w.file.close()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_known_instants() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00+00:00");
        // `date -u -d @1796553600 -Iseconds` gives 2026-12-06T10:40:00+00:00.
        assert_eq!(iso_utc(1_796_553_600), "2026-12-06T10:40:00+00:00");
        // 2000-02-29 (a leap day of a century leap year): 951782400.
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00+00:00");
    }

    #[test]
    fn interpolation_is_linear_inside_and_missing_outside() {
        let xs = [0.0, 1.0, 3.0];
        let ys = [0.0, 2.0, 6.0];
        assert_eq!(interpolate(&xs, &ys, 0.5), 1.0);
        assert_eq!(interpolate(&xs, &ys, 2.0), 4.0);
        assert_eq!(interpolate(&xs, &ys, 3.0), 6.0);
        assert_eq!(interpolate(&xs, &ys, 0.0), 0.0);
        assert!(interpolate(&xs, &ys, -0.1).is_nan());
        assert!(interpolate(&xs, &ys, 3.1).is_nan());
    }

    #[test]
    fn names_match_whole_path_components_only() {
        assert!(names("/processing/ophys/Fluorescence/raw", "raw"));
        assert!(names(
            "/processing/ophys/Fluorescence/raw",
            "Fluorescence/raw"
        ));
        assert!(names("/units", "/units"));
        assert!(names("/units", "units"));
        assert!(!names("/processing/ophys/Fluorescence/raw", "aw"));
    }

    #[test]
    fn regular_rate_needs_even_spacing() {
        let t: Vec<f64> = (0..11).map(|i| i as f64 * 0.02).collect();
        assert!((regular_rate(&t).unwrap() - 50.0).abs() < 1e-9);
        let mut jittered = t.clone();
        jittered[5] += 0.005;
        assert!(regular_rate(&jittered).is_none());
    }
}
