//! Importing recordings from the array and table files labs have: MATLAB v5 MAT-files,
//! NumPy NPY/NPZ, suite2p output folders, Kilosort / phy output folders, NWB files and CSV spike
//! times.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::array::{Dtype, Layout, NumericArray, NumericData};
use crate::error::{IoError, Result};
use crate::recording::{
    Activity, ActivityKind, BinnedActivity, Covariate, CovariateValues, Provenance, Recording,
    TraceActivity, default_neuron_ids,
};
use crate::{mat, npy};

/// Format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// MATLAB level-5 MAT-file (`.mat`).
    Mat,
    /// NumPy array (`.npy`).
    Npy,
    /// NumPy archive of arrays (`.npz`).
    Npz,
    /// A suite2p output folder (`plane0/` with `F.npy`, `spks.npy`, `iscell.npy`, ...).
    Suite2p,
    /// CSV of spike times, one spike per row (`unit`, `time`).
    Csv,
    /// A Kilosort / phy output folder (`spike_times.npy`, `spike_clusters.npy`, `params.py`,
    /// `cluster_group.tsv` or `cluster_KSLabel.tsv`).
    Kilosort,
    /// An NWB 2.x file (`.nwb`, HDF5): a `Units` table or a `RoiResponseSeries`, with
    /// behaviour series as covariates. Needs the io crate's `nwb` feature (on by default).
    Nwb,
}

impl SourceFormat {
    /// The name used on the command line and in provenance.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mat => "mat",
            Self::Npy => "npy",
            Self::Npz => "npz",
            Self::Suite2p => "suite2p",
            Self::Csv => "csv",
            Self::Kilosort => "kilosort",
            Self::Nwb => "nwb",
        }
    }

    /// The format of `path`: a folder holding `spike_times.npy` is a Kilosort / phy output,
    /// any other folder a suite2p one; files go by extension.
    pub fn detect(path: &Path) -> Result<Self> {
        if path.is_dir() {
            if crate::kilosort::is_kilosort_folder(path) {
                return Ok(Self::Kilosort);
            }
            return Ok(Self::Suite2p);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("mat") => Ok(Self::Mat),
            Some("npy") => Ok(Self::Npy),
            Some("npz") => Ok(Self::Npz),
            Some("csv" | "tsv") => Ok(Self::Csv),
            Some("nwb") => Ok(Self::Nwb),
            _ => Err(IoError::invalid(
                path,
                "cannot tell the format from the extension: pass --format \
                 mat|npy|npz|suite2p|kilosort|nwb|csv",
            )),
        }
    }

    /// The axis layout assumed when none is given: time-by-neurons for MAT and CSV (MATLAB's
    /// habit), neurons-by-time for NumPy and suite2p arrays.
    pub fn default_layout(self) -> Layout {
        match self {
            Self::Mat | Self::Csv => Layout::TimeByNeurons,
            Self::Npy | Self::Npz | Self::Suite2p | Self::Kilosort => Layout::NeuronsByTime,
            // NWB stores time x channels, and its reader knows it.
            Self::Nwb => Layout::TimeByNeurons,
        }
    }
}

impl std::str::FromStr for SourceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mat" => Ok(Self::Mat),
            "npy" => Ok(Self::Npy),
            "npz" => Ok(Self::Npz),
            "suite2p" => Ok(Self::Suite2p),
            "csv" => Ok(Self::Csv),
            "kilosort" | "phy" => Ok(Self::Kilosort),
            "nwb" => Ok(Self::Nwb),
            other => Err(format!(
                "unknown format '{other}': use mat, npy, npz, suite2p, kilosort, nwb or csv"
            )),
        }
    }
}

/// Unit of the times in a spike-time table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Seconds (default).
    #[default]
    S,
    /// Milliseconds.
    Ms,
}

impl TimeUnit {
    /// Seconds per unit.
    pub fn seconds(self) -> f64 {
        match self {
            Self::S => 1.0,
            Self::Ms => 1e-3,
        }
    }
}

/// How to read an input file. Every field is optional; the defaults are documented per field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// Input format. Default: from the extension; a directory is a suite2p folder.
    pub format: Option<SourceFormat>,
    /// MAT variable, NPZ array, suite2p array (`F`, `Fneu`, `spks`) or NWB series (`units`,
    /// a series name or the end of its path) to read. Default: the file's only numeric array
    /// (suite2p: `F`; NWB: its only Units table or RoiResponseSeries); several without a
    /// choice is an error.
    pub variable: Option<String>,
    /// Which axis of the array is time. Default: [`SourceFormat::default_layout`].
    pub layout: Option<Layout>,
    /// Binned counts or continuous traces. Default: `binned` for integer and boolean arrays and
    /// for float arrays whose values are all non-negative whole numbers, `traces` otherwise;
    /// `binned` when `bin_ms` is given, `traces` when `frame_rate_hz` is given.
    pub kind: Option<ActivityKind>,
    /// Bin width in milliseconds (binned data; for CSV spike times it bins the spikes).
    /// Default: unknown for arrays, no binning for CSV.
    pub bin_ms: Option<f64>,
    /// Frame rate in Hz (traces). Default: unknown.
    pub frame_rate_hz: Option<f64>,
    /// suite2p: keep every ROI instead of those `iscell.npy` marks as cells. Default: false.
    pub all_rois: bool,
    /// suite2p: the neuropil coefficient `c` of `F - c Fneu`, applied when reading `F`.
    /// Default: 0.7 (suite2p's); 0 imports F as it is.
    pub neuropil_coefficient: Option<f64>,
    /// A table of covariates (behaviour, trial, condition): CSV, TSV or Parquet, one row per
    /// bin or frame of the imported activity, one column per covariate (a `time_s` column is
    /// skipped). Default: none.
    pub covariates: Option<PathBuf>,
    /// MAT / NPZ: arrays of the same file to attach as covariates (one value per time point;
    /// a time x k or k x time array gives `NAME_0` ... `NAME_{k-1}`). Default: none.
    pub covariate_vars: Vec<String>,
    /// Kilosort / phy: keep every cluster instead of those labelled `good` (in
    /// `cluster_group.tsv`, else `cluster_KSLabel.tsv`); NWB: every unit instead of those
    /// labelled `good` in the Units table's `quality` (or `KSLabel`) column. Default: false.
    pub all_clusters: bool,
    /// NWB: behaviour series (`SpatialSeries`, `TimeSeries`, ...) of the same file to attach
    /// as covariates, each named by its name or the end of its path (`xy`, `Position/xy`);
    /// each column becomes a covariate (`xy_0`, `xy_1`), interpolated linearly onto the bin
    /// centres or frame times. Default: none.
    pub behaviour: Vec<String>,
    /// An `iscell.npy` whose first column selects neurons (rows where it is > 0.5) of an NPY or
    /// NPZ array. Default: none (suite2p folders use their own `iscell.npy`).
    pub iscell: Option<PathBuf>,
    /// CSV: column holding the unit (neuron) id. Default: the first of `unit`, `neuron`,
    /// `cluster`, `cell`, `unit_id`, `neuron_id`, `id` present.
    pub unit_column: Option<String>,
    /// CSV: column holding the spike time. Default: the first of `time_s`, `time`, `t`,
    /// `spike_time`, `times`, `time_ms` present (`time_ms` implies milliseconds).
    pub time_column: Option<String>,
    /// CSV: unit of the time column. Default: seconds (milliseconds for `time_ms`).
    pub time_unit: Option<TimeUnit>,
}

impl ImportOptions {
    /// Refuse contradictory or out-of-range settings before any file is read.
    pub fn check(&self) -> Result<()> {
        if let Some(ms) = self.bin_ms
            && !(ms.is_finite() && ms > 0.0)
        {
            return Err(IoError::Usage(format!(
                "--bin-ms must be a positive number, got {ms}"
            )));
        }
        if let Some(hz) = self.frame_rate_hz
            && !(hz.is_finite() && hz > 0.0)
        {
            return Err(IoError::Usage(format!(
                "--frame-rate must be a positive number, got {hz}"
            )));
        }
        if let Some(c) = self.neuropil_coefficient
            && !(c.is_finite() && c >= 0.0)
        {
            return Err(IoError::Usage(format!(
                "--neuropil must be a number of at least 0, got {c}"
            )));
        }
        if self.bin_ms.is_some() && self.frame_rate_hz.is_some() {
            return Err(IoError::Usage(
                "--bin-ms (binned data) and --frame-rate (traces) exclude each other".into(),
            ));
        }
        match (self.kind, self.bin_ms, self.frame_rate_hz) {
            (Some(ActivityKind::Traces), Some(_), _) => Err(IoError::Usage(
                "--bin-ms applies to binned data, not --kind traces (use --frame-rate)".into(),
            )),
            (Some(ActivityKind::Binned), _, Some(_)) => Err(IoError::Usage(
                "--frame-rate applies to traces, not --kind binned (use --bin-ms)".into(),
            )),
            (Some(ActivityKind::SpikeTimes), _, _) => Err(IoError::Usage(
                "--kind spike_times is not an array kind: spike times come from CSV files".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Import `path` into a recording, with the covariates of `options.covariate_vars` (arrays of
/// the same file) and of `options.covariates` (a second file) attached.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Recording> {
    let mut recording = import_source(path, options)?;
    if !options.covariate_vars.is_empty() {
        let points = time_points_for(&recording, path, "--covariate-var")?;
        let added = array_covariates(path, options, points)?;
        recording = attach_covariates(recording, path, added)?;
    }
    if let Some(table) = &options.covariates {
        let points = time_points_for(&recording, path, "--covariates")?;
        let added = crate::tables::read_covariate_table(table)?;
        let rows = added.first().map_or(0, |c| c.values.len());
        if rows != points {
            return Err(IoError::invalid(
                table,
                format!(
                    "holds {rows} rows, but {} has {points} time points: the covariate table \
                     needs one row per bin or frame",
                    path.display()
                ),
            ));
        }
        recording = attach_covariates(recording, table, added)?;
    }
    Ok(recording)
}

/// The number of bins or frames of `recording` (imported from `source`), which `flag` needs.
fn time_points_for(recording: &Recording, source: &Path, flag: &str) -> Result<usize> {
    recording.activity().time_points().ok_or_else(|| {
        IoError::Usage(format!(
            "{flag} needs bins or frames, and {} holds spike times: pass --bin-ms",
            source.display()
        ))
    })
}

/// `recording` with the covariates `added` (one value per time point, read from `from`).
fn attach_covariates(
    recording: Recording,
    from: &Path,
    added: Vec<Covariate>,
) -> Result<Recording> {
    let names: Vec<String> = added.iter().map(|c| c.name.clone()).collect();
    let (ids, activity, mut covariates, mut provenance) = recording.into_parts();
    covariates.extend(added);
    provenance.steps.push(format!(
        "covariates {} from {}",
        names.join(", "),
        from.display()
    ));
    Recording::new(ids, activity, covariates, provenance).map_err(|e| e.at(from))
}

/// The arrays `options.covariate_vars` of the MAT or NPZ file `path` as covariates of `points`
/// time points: a vector of that length, or a matrix with one axis of that length (each line
/// along the other axis a covariate, `NAME_j`).
fn array_covariates(path: &Path, options: &ImportOptions, points: usize) -> Result<Vec<Covariate>> {
    let format = match options.format {
        Some(f) => f,
        None => SourceFormat::detect(path)?,
    };
    let bytes = read_file(path)?;
    let arrays: Vec<(String, Result<NumericArray, String>)> = match format {
        SourceFormat::Mat => mat::parse(&bytes)
            .map_err(|p| IoError::invalid(path, p))?
            .into_iter()
            .map(|v| (v.name, v.content))
            .collect(),
        SourceFormat::Npz => npy::parse_npz(&bytes).map_err(|p| IoError::invalid(path, p))?,
        other => {
            return Err(IoError::Usage(format!(
                "--covariate-var names arrays of a MAT or NPZ file, and {} is {}{}",
                path.display(),
                other.name(),
                if other == SourceFormat::Nwb {
                    ": use --behaviour for NWB series"
                } else {
                    ": attach a table with --covariates FILE.csv"
                }
            )));
        }
    };
    let mut out = Vec::new();
    for wanted in &options.covariate_vars {
        if options.variable.as_deref() == Some(wanted.as_str()) {
            return Err(IoError::Usage(format!(
                "--covariate-var {wanted} is the activity itself (--var)"
            )));
        }
        let Some((_, content)) = arrays.iter().find(|(n, _)| n == wanted) else {
            let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
            return Err(IoError::invalid(
                path,
                format!("no array '{wanted}'; the file holds: {}", names.join(", ")),
            ));
        };
        let array = content
            .as_ref()
            .map_err(|p| IoError::invalid(path, format!("{wanted}: {p}")))?;
        out.extend(covariates_of_array(path, wanted, array, points)?);
    }
    Ok(out)
}

/// The covariates held by `array` (named `name`) for `points` time points.
fn covariates_of_array(
    path: &Path,
    name: &str,
    array: &NumericArray,
    points: usize,
) -> Result<Vec<Covariate>> {
    let (rows, cols) = array
        .matrix_dims()
        .map_err(|p| IoError::invalid(path, format!("{name}: {p}")))?;
    // Time along the rows (time x k, MATLAB's habit, or a vector) or along the columns.
    let (count, time_on_rows) = if array.shape.len() == 1 && cols == points {
        (1, false)
    } else if rows == points {
        (cols, true)
    } else if cols == points {
        (rows, false)
    } else {
        return Err(IoError::invalid(
            path,
            format!(
                "{name} has shape {}, but the recording has {points} time points: a covariate \
                 array needs one axis of that length",
                array.shape_text()
            ),
        ));
    };
    let integral = array.dtype().is_integral();
    let mut out = Vec::with_capacity(count);
    for j in 0..count {
        let values: Vec<f64> = (0..points)
            .map(|t| {
                let (row, col) = if time_on_rows { (t, j) } else { (j, t) };
                array
                    .data
                    .get_f64(array.flat_index(rows, cols, row, col))
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let values = if integral {
            CovariateValues::Int(values.iter().map(|&v| v as i64).collect())
        } else {
            CovariateValues::Float(values)
        };
        out.push(Covariate {
            name: if count == 1 {
                name.to_string()
            } else {
                format!("{name}_{j}")
            },
            values,
        });
    }
    Ok(out)
}

/// Import `path` into a recording, by its format.
fn import_source(path: &Path, options: &ImportOptions) -> Result<Recording> {
    options.check()?;
    let format = match options.format {
        Some(f) => f,
        None => SourceFormat::detect(path)?,
    };
    tracing::info!(path = %path.display(), format = format.name(), "importing");
    if !options.behaviour.is_empty() && format != SourceFormat::Nwb {
        return Err(IoError::Usage(format!(
            "--behaviour names series of an NWB file, and {} is {}: attach other covariates \
             with --covariates FILE.csv",
            path.display(),
            format.name()
        )));
    }
    match format {
        SourceFormat::Mat => {
            let bytes = read_file(path)?;
            let vars = mat::parse(&bytes).map_err(|p| IoError::invalid(path, p))?;
            let listing: Vec<(String, String, Result<NumericArray, String>)> = vars
                .into_iter()
                .map(|v| {
                    let desc = format!("{} {}", v.class, dims_text(&v.dims));
                    (v.name, desc, v.content)
                })
                .collect();
            let (name, array) =
                choose_array(path, listing, options.variable.as_deref(), "variable")?;
            array_to_recording(path, format, Some(name), array, None, options)
        }
        SourceFormat::Npy => {
            refuse_kilosort_array(path)?;
            let bytes = read_file(path)?;
            let array = npy::parse(&bytes).map_err(|p| IoError::invalid(path, p.to_string()))?;
            if let Some(var) = &options.variable {
                return Err(IoError::Usage(format!(
                    "--var {var} does not apply to a single NPY array ({})",
                    path.display()
                )));
            }
            array_to_recording(path, format, None, array, None, options)
        }
        SourceFormat::Npz => {
            let bytes = read_file(path)?;
            let arrays = npy::parse_npz(&bytes).map_err(|p| IoError::invalid(path, p))?;
            let listing = arrays
                .into_iter()
                .map(|(name, a)| {
                    let desc = match &a {
                        Ok(a) => format!("{} {}", a.dtype().name(), a.shape_text()),
                        Err(_) => "unsupported".to_string(),
                    };
                    (name, desc, a)
                })
                .collect();
            let (name, array) = choose_array(path, listing, options.variable.as_deref(), "array")?;
            array_to_recording(path, format, Some(name), array, None, options)
        }
        SourceFormat::Suite2p => import_suite2p(path, options),
        SourceFormat::Csv => import_csv(path, options),
        SourceFormat::Kilosort => {
            if !crate::kilosort::is_kilosort_folder(path) {
                return Err(IoError::invalid(
                    path,
                    "a Kilosort / phy import needs the output folder (holding spike_times.npy, \
                     spike_clusters.npy and params.py)",
                ));
            }
            crate::kilosort::import_kilosort(path, options)
        }
        #[cfg(feature = "nwb")]
        SourceFormat::Nwb => crate::nwb::import_nwb(path, options),
        #[cfg(not(feature = "nwb"))]
        SourceFormat::Nwb => Err(IoError::invalid(
            path,
            "NWB support is not compiled in (build neuroforge-io with its nwb feature)",
        )),
    }
}

/// Refuse one per-spike array of a Kilosort / phy folder (`spike_times.npy`, ...): read alone
/// it would become thousands of "neurons" of one bin.
fn refuse_kilosort_array(path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if crate::kilosort::PER_SPIKE_ARRAYS.contains(&name) {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return Err(IoError::invalid(
            path,
            format!(
                "is a per-spike array of a Kilosort / phy output (one value per spike, not \
                 activity): import the folder ({}) to get spike times per cluster",
                folder.display()
            ),
        ));
    }
    Ok(())
}

fn import_csv(path: &Path, options: &ImportOptions) -> Result<Recording> {
    crate::tables::import_spike_csv(path, options)
}

/// Read a whole file, naming it on failure.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Pick the array named `wanted`, or the only importable one.
fn choose_array(
    path: &Path,
    listing: Vec<(String, String, Result<NumericArray, String>)>,
    wanted: Option<&str>,
    what: &str,
) -> Result<(String, NumericArray)> {
    let described = || {
        listing
            .iter()
            .map(|(n, d, _)| format!("{n} ({d})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(wanted) = wanted {
        let Some(index) = listing.iter().position(|(n, _, _)| n == wanted) else {
            return Err(IoError::invalid(
                path,
                format!("no {what} '{wanted}'; the file holds: {}", described()),
            ));
        };
        let (name, _, content) = listing
            .into_iter()
            .nth(index)
            .ok_or_else(|| IoError::invalid(path, format!("no {what} '{wanted}'")))?;
        return content
            .map(|a| (name, a))
            .map_err(|p| IoError::invalid(path, p));
    }
    let importable: Vec<usize> = listing
        .iter()
        .enumerate()
        .filter(|(_, (_, _, c))| c.is_ok())
        .map(|(i, _)| i)
        .collect();
    match importable.as_slice() {
        [] if listing.is_empty() => {
            Err(IoError::invalid(path, format!("the file holds no {what}s")))
        }
        // Say why each one cannot be imported: with a single variable that is the whole
        // answer, and a user should not need --var to learn it.
        [] => Err(IoError::invalid(
            path,
            format!(
                "no {what} can be imported: {}",
                listing
                    .iter()
                    .map(|(n, d, c)| match c {
                        Err(problem) => format!("{n} ({d}): {problem}"),
                        Ok(_) => format!("{n} ({d})"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
        [only] => {
            let only = *only;
            let (name, _, content) = listing
                .into_iter()
                .nth(only)
                .ok_or_else(|| IoError::invalid(path, "internal: array listing changed"))?;
            content
                .map(|a| (name, a))
                .map_err(|p| IoError::invalid(path, p))
        }
        _ => Err(IoError::invalid(
            path,
            format!(
                "the file holds several {what}s: {}; choose one with --var",
                described()
            ),
        )),
    }
}

/// Whether every value of `data` is a non-negative whole number (so binned by default).
fn all_whole_non_negative(data: &NumericData) -> bool {
    match data {
        NumericData::F32(v) => v
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0),
        NumericData::F64(v) => v
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0 && x.fract() == 0.0),
        _ => true,
    }
}

/// Turn a decoded array into a recording following `options`; `row_ids` overrides the default
/// neuron ids (suite2p ROI indices).
fn array_to_recording(
    path: &Path,
    format: SourceFormat,
    variable: Option<String>,
    array: NumericArray,
    row_ids: Option<Vec<String>>,
    options: &ImportOptions,
) -> Result<Recording> {
    let layout_assumed = options.layout.is_none();
    let layout = options.layout.unwrap_or_else(|| format.default_layout());
    let mut steps = Vec::new();
    let kind = match (options.kind, options.bin_ms, options.frame_rate_hz) {
        (Some(k), _, _) => k,
        (None, Some(_), _) => ActivityKind::Binned,
        (None, None, Some(_)) => ActivityKind::Traces,
        (None, None, None) => {
            let dtype = array.dtype();
            if dtype.is_integral() {
                ActivityKind::Binned
            } else if all_whole_non_negative(&array.data) {
                steps.push(format!(
                    "kind inferred as binned: the {} values are all non-negative whole numbers",
                    dtype.name()
                ));
                ActivityKind::Binned
            } else {
                ActivityKind::Traces
            }
        }
    };
    let in_file = |p: String| IoError::invalid(path, p);
    let activity = match kind {
        ActivityKind::Binned => Activity::Binned(BinnedActivity {
            counts: array.to_counts(layout).map_err(in_file)?,
            bin_width_s: options.bin_ms.map(|ms| ms / 1000.0),
        }),
        _ => Activity::Traces(TraceActivity {
            values: array.to_traces(layout).map_err(in_file)?,
            frame_rate_hz: options.frame_rate_hz,
        }),
    };
    if array.dtype() == Dtype::F64 && kind == ActivityKind::Traces {
        steps.push("float64 values stored as float32".into());
    }
    let neurons = activity.neurons();
    let mut ids = row_ids.unwrap_or_else(|| default_neuron_ids(neurons));
    if ids.len() != neurons {
        return Err(IoError::invalid(
            path,
            format!(
                "the array has {neurons} neurons under layout {} but {} rows were selected; \
                 check --layout",
                layout.name(),
                ids.len()
            ),
        ));
    }
    let mut activity = activity;
    if let Some(iscell_path) = &options.iscell {
        let keep = read_iscell(iscell_path, path, neurons)?;
        steps.push(format!(
            "kept {} of {neurons} neurons marked as cells in {}",
            keep.len(),
            iscell_path.display()
        ));
        activity = select_rows(activity, &keep);
        ids = keep.iter().map(|&i| ids[i].clone()).collect();
    }
    let provenance = Provenance {
        source_file: Some(path.display().to_string()),
        source_format: Some(format.name().into()),
        variable,
        layout: Some(layout.name().into()),
        layout_assumed,
        steps,
        written_by: Some(concat!("neuroforge-io ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: None,
        quantity: None,
        units: None,
    };
    Recording::new(ids, activity, vec![], provenance).map_err(|e| e.at(path))
}

/// Rows of a suite2p / CellPose style `iscell.npy` (first column > 0.5) to keep; `expected` is
/// the number of neurons of `activity_path` they must describe.
fn read_iscell(path: &Path, activity_path: &Path, expected: usize) -> Result<Vec<usize>> {
    let bytes = read_file(path)?;
    let a = npy::parse(&bytes).map_err(|p| IoError::invalid(path, p.to_string()))?;
    let rows = match a.shape.as_slice() {
        [n] | [n, _] => *n,
        _ => {
            return Err(IoError::invalid(
                path,
                format!(
                    "iscell must have shape (n,) or (n, 2), got {}",
                    a.shape_text()
                ),
            ));
        }
    };
    if rows != expected {
        // Either file can be the odd one out (a Fneu.npy from another run, a wrong --iscell):
        // name both.
        return Err(IoError::invalid(
            activity_path,
            format!(
                "holds {expected} ROIs, but {} describes {rows}: the two must come from the \
                 same suite2p run",
                path.display()
            ),
        ));
    }
    let cols = if a.shape.len() == 2 { a.shape[1] } else { 1 };
    let keep: Vec<usize> = (0..rows)
        .filter(|&r| {
            let i = match a.order {
                crate::array::Order::RowMajor => r * cols,
                crate::array::Order::ColumnMajor => r,
            };
            a.data.get_f64(i).is_some_and(|v| v > 0.5)
        })
        .collect();
    if keep.is_empty() {
        return Err(IoError::invalid(
            path,
            "iscell marks no ROI as a cell (pass --all-rois to keep every ROI)",
        ));
    }
    Ok(keep)
}

fn select_rows(activity: Activity, keep: &[usize]) -> Activity {
    match activity {
        Activity::Binned(b) => Activity::Binned(BinnedActivity {
            counts: b.counts.select(ndarray::Axis(0), keep),
            bin_width_s: b.bin_width_s,
        }),
        Activity::Traces(t) => Activity::Traces(TraceActivity {
            values: t.values.select(ndarray::Axis(0), keep),
            frame_rate_hz: t.frame_rate_hz,
        }),
        other => other,
    }
}

/// suite2p's own neuropil coefficient: the F it analyses is `F - 0.7 Fneu`.
pub const SUITE2P_NEUROPIL: f64 = 0.7;

/// The plane folder of a suite2p output: `dir` itself when it holds the arrays, else its only
/// `plane*` folder.
fn suite2p_plane(dir: &Path) -> Result<PathBuf> {
    if dir.join("F.npy").is_file() || dir.join("spks.npy").is_file() {
        return Ok(dir.to_path_buf());
    }
    let mut planes: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| IoError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("plane"))
                && p.join("F.npy").is_file()
        })
        .collect();
    planes.sort();
    match planes.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(IoError::invalid(
            dir,
            "holds no F.npy and no plane folder: import suite2p's output folder or one of its \
             plane folders (a Kilosort / phy folder needs spike_times.npy)",
        )),
        several => Err(IoError::invalid(
            dir,
            format!(
                "holds {} planes ({}): import one of them, e.g. {}",
                several.len(),
                several
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", "),
                several[0].display()
            ),
        )),
    }
}

/// What neuroforge takes from suite2p's `ops.npy` (a pickled dict of settings).
#[derive(Debug, Default)]
struct Suite2pOps {
    /// `fs`: the frame rate of one plane, in Hz.
    frame_rate_hz: Option<f64>,
    /// `nplanes`.
    planes: Option<u64>,
}

/// Read `ops.npy`: a pickled dict inside an object NPY.
fn read_ops(path: &Path) -> Result<Suite2pOps> {
    let bytes = read_file(path)?;
    let payload = npy::object_payload(&bytes).map_err(|p| IoError::invalid(path, p.to_string()))?;
    let value = crate::pickle::parse(payload).map_err(|p| IoError::invalid(path, p))?;
    let ops = value
        .first_dict()
        .ok_or_else(|| IoError::invalid(path, "holds no dict of settings"))?;
    let frame_rate_hz = match ops.get("fs") {
        None => None,
        Some(fs) => match fs.as_f64() {
            Some(hz) if hz.is_finite() && hz > 0.0 => Some(hz),
            _ => {
                return Err(IoError::invalid(
                    path,
                    format!("fs is {fs:?}, not a positive frame rate"),
                ));
            }
        },
    };
    let planes = ops
        .get("nplanes")
        .and_then(crate::pickle::PyValue::as_f64)
        .filter(|n| *n >= 1.0 && n.fract() == 0.0)
        .map(|n| n as u64);
    Ok(Suite2pOps {
        frame_rate_hz,
        planes,
    })
}

/// Import one array of a suite2p output (its folder or one plane folder): `F.npy` (default)
/// with suite2p's neuropil subtraction `F - c Fneu`, `Fneu.npy` or `spks.npy`, keeping the
/// ROIs `iscell.npy` marks as cells, at the frame rate `ops.npy` records; neuron ids are the
/// original ROI indices.
fn import_suite2p(dir: &Path, options: &ImportOptions) -> Result<Recording> {
    if !dir.is_dir() {
        return Err(IoError::invalid(
            dir,
            "a suite2p import needs its output folder or a plane folder (holding F.npy and \
             iscell.npy)",
        ));
    }
    let plane = suite2p_plane(dir)?;
    let name = options.variable.clone().unwrap_or_else(|| "F".into());
    if !matches!(name.as_str(), "F" | "Fneu" | "spks") {
        return Err(IoError::Usage(format!(
            "--var {name}: a suite2p import reads F, Fneu or spks"
        )));
    }
    let mut sub = options.clone();
    sub.kind = Some(options.kind.unwrap_or(ActivityKind::Traces));
    let iscell = plane.join("iscell.npy");
    sub.iscell = if options.all_rois {
        None
    } else if iscell.is_file() {
        Some(options.iscell.clone().unwrap_or(iscell))
    } else {
        return Err(IoError::invalid(
            &plane,
            "no iscell.npy in the suite2p folder (pass --all-rois to keep every ROI)",
        ));
    };
    let mut steps = Vec::new();
    let ops_path = plane.join("ops.npy");
    let ops = if ops_path.is_file() {
        match read_ops(&ops_path) {
            Ok(ops) => ops,
            // Only the frame rate comes from ops.npy: given on the command line, a damaged
            // ops.npy does not stop the import.
            Err(e) if options.frame_rate_hz.is_some() => {
                tracing::warn!("{e}; using --frame-rate");
                Suite2pOps::default()
            }
            Err(e) => return Err(e),
        }
    } else {
        Suite2pOps::default()
    };
    if sub.frame_rate_hz.is_none() {
        sub.frame_rate_hz = ops.frame_rate_hz;
        if let Some(hz) = ops.frame_rate_hz {
            steps.push(format!("frame rate {hz} Hz from ops.npy (fs)"));
        }
    }
    if let Some(planes) = ops.planes {
        let plane_name = plane
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        steps.push(format!(
            "{plane_name} of {planes} plane(s) (ops.npy nplanes)"
        ));
    }
    let read_array = |file: &str| -> Result<(PathBuf, NumericArray)> {
        let path = plane.join(format!("{file}.npy"));
        let bytes = read_file(&path)?;
        let array = npy::parse(&bytes).map_err(|p| IoError::invalid(&path, p.to_string()))?;
        Ok((path, array))
    };
    let (array_path, array) = read_array(&name)?;
    let mut rec = array_to_recording(
        &array_path,
        SourceFormat::Suite2p,
        Some(name.clone()),
        array,
        None,
        &sub,
    )?;
    let coefficient = options.neuropil_coefficient.unwrap_or(SUITE2P_NEUROPIL);
    if name == "F" && coefficient != 0.0 {
        if !plane.join("Fneu.npy").is_file() {
            return Err(IoError::invalid(
                &plane,
                format!(
                    "no Fneu.npy for the neuropil subtraction F - {coefficient} Fneu (pass \
                     --neuropil 0 to import F as it is)"
                ),
            ));
        }
        let (neuropil_path, neuropil) = read_array("Fneu")?;
        let neuropil = array_to_recording(
            &neuropil_path,
            SourceFormat::Suite2p,
            Some("Fneu".into()),
            neuropil,
            None,
            &sub,
        )?;
        rec = subtract_neuropil(rec, &neuropil, coefficient, &neuropil_path)?;
        steps.push(format!(
            "neuropil subtracted: F - {coefficient} Fneu (suite2p's coefficient is \
             {SUITE2P_NEUROPIL})"
        ));
    }
    let provenance = rec.provenance_mut();
    provenance.source_file = Some(dir.display().to_string());
    provenance.steps.extend(steps);
    if rec.activity().kind() == ActivityKind::Traces {
        let provenance = rec.provenance_mut();
        provenance.quantity = Some(
            match name.as_str() {
                "F" if coefficient != 0.0 => "fluorescence (neuropil subtracted)",
                "F" => "fluorescence",
                "Fneu" => "neuropil fluorescence",
                _ => "deconvolved activity (suite2p spks)",
            }
            .into(),
        );
        provenance.units = Some("a.u.".into());
    }
    Ok(rec)
}

/// `f - coefficient * neuropil`, two trace recordings of the same ROIs and frames.
fn subtract_neuropil(
    f: Recording,
    neuropil: &Recording,
    coefficient: f64,
    neuropil_path: &Path,
) -> Result<Recording> {
    let (ids, activity, covariates, provenance) = f.into_parts();
    let (Activity::Traces(mut traces), Activity::Traces(neu)) = (activity, neuropil.activity())
    else {
        return Err(IoError::Usage(
            "--neuropil applies to traces: import F with --kind traces, or pass --neuropil 0"
                .into(),
        ));
    };
    if traces.values.dim() != neu.values.dim() {
        let (n, t) = neu.values.dim();
        let (fn_, ft) = traces.values.dim();
        return Err(IoError::invalid(
            neuropil_path,
            format!(
                "holds {n} ROIs x {t} frames, but F.npy holds {fn_} x {ft}: both must come from \
                 the same suite2p run"
            ),
        ));
    }
    let c = coefficient as f32;
    traces.values.zip_mut_with(&neu.values, |v, &n| *v -= c * n);
    Recording::new(ids, Activity::Traces(traces), covariates, provenance)
        .map_err(|e| e.at(neuropil_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_checks_refuse_contradictions() {
        let o = ImportOptions {
            bin_ms: Some(-1.0),
            ..Default::default()
        };
        assert!(o.check().is_err());
        let o = ImportOptions {
            bin_ms: Some(20.0),
            frame_rate_hz: Some(30.0),
            ..Default::default()
        };
        assert!(o.check().is_err());
        let o = ImportOptions {
            kind: Some(ActivityKind::Traces),
            bin_ms: Some(20.0),
            ..Default::default()
        };
        assert!(o.check().is_err());
        assert!(ImportOptions::default().check().is_ok());
    }

    #[test]
    fn options_deserialise_from_toml_like_json_with_defaults() {
        let o: ImportOptions = serde_json::from_str(
            r#"{"format":"mat","variable":"data","layout":"time-by-neurons","bin_ms":20.0}"#,
        )
        .unwrap();
        assert_eq!(o.format, Some(SourceFormat::Mat));
        assert_eq!(o.layout, Some(Layout::TimeByNeurons));
        assert!(!o.all_rois);
        assert!(serde_json::from_str::<ImportOptions>(r#"{"varable":"x"}"#).is_err());
    }
}
