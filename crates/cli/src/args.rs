//! Flags shared by several commands: how to read an input that is not already a recording
//! file, the device, and a run directory with its device.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;
use neuroforge_io::{ActivityKind, ImportOptions, Layout, Recording, SourceFormat, TimeUnit};
use neuroforge_train::RunContext;

use crate::device;
use crate::error::CliError;
use crate::progress::with_spinner;

/// How to read an input that is not already a recording file.
#[derive(Debug, Default, Args)]
pub struct ImportFlags {
    /// Input format (default: from the extension; a folder holding spike_times.npy is a
    /// Kilosort / phy output, any other folder suite2p).
    #[arg(long, value_name = "mat|npy|npz|suite2p|kilosort|nwb|csv")]
    format: Option<SourceFormat>,
    /// MAT variable, NPZ array, suite2p array (F, Fneu, spks) or NWB series (units, or a
    /// series name such as a RoiResponseSeries') to read.
    #[arg(long = "var", value_name = "NAME")]
    variable: Option<String>,
    /// Which axis is time (default: time-by-neurons for MAT/CSV, neurons-by-time for NPY/NPZ).
    #[arg(long, value_name = "time-by-neurons|neurons-by-time")]
    layout: Option<Layout>,
    /// Binned counts or continuous traces (default: from the dtype and values).
    #[arg(long, value_parser = parse_kind, value_name = "binned|traces")]
    kind: Option<ActivityKind>,
    /// Bin width in milliseconds (binned data; bins CSV spike times).
    #[arg(long = "bin-ms", value_name = "MS")]
    pub bin_ms: Option<f64>,
    /// Frame rate in Hz (traces).
    #[arg(long = "frame-rate", value_name = "HZ")]
    frame_rate: Option<f64>,
    /// suite2p: keep every ROI, not only those iscell.npy marks as cells.
    #[arg(long = "all-rois")]
    all_rois: bool,
    /// suite2p: neuropil coefficient c of F - c Fneu when reading F [default: 0.7, suite2p's; 0
    /// imports F as it is].
    #[arg(long = "neuropil", value_name = "C")]
    neuropil: Option<f64>,
    /// A table of covariates (behaviour, trial, ...; CSV, TSV or Parquet), one row per bin or
    /// frame, to attach.
    #[arg(long, value_name = "FILE")]
    covariates: Option<PathBuf>,
    /// MAT / NPZ: an array of the same file to attach as covariates (one value per bin or
    /// frame; time x k gives NAME_0..); repeat for several.
    #[arg(long = "covariate-var", value_name = "NAME")]
    covariate_vars: Vec<String>,
    /// Kilosort / phy and NWB Units: keep every cluster, not only those labelled good.
    #[arg(long = "all-clusters")]
    all_clusters: bool,
    /// NWB: a behaviour series of the same file (e.g. xy or Position/xy) to attach as
    /// covariates, interpolated onto the bins or frames; repeat for several.
    #[arg(long = "behaviour", alias = "behavior", value_name = "SERIES")]
    behaviour: Vec<String>,
    /// iscell.npy selecting the neurons (rows) of an NPY/NPZ array.
    #[arg(long, value_name = "FILE")]
    iscell: Option<PathBuf>,
    /// CSV: the unit (neuron id) column.
    #[arg(long = "unit-col", value_name = "NAME")]
    unit_col: Option<String>,
    /// CSV: the spike-time column.
    #[arg(long = "time-col", value_name = "NAME")]
    time_col: Option<String>,
    /// CSV: the unit of the time column.
    #[arg(long = "time-unit", value_parser = parse_time_unit, value_name = "s|ms")]
    time_unit: Option<TimeUnit>,
}

fn parse_kind(s: &str) -> Result<ActivityKind, String> {
    match s {
        "binned" => Ok(ActivityKind::Binned),
        "traces" => Ok(ActivityKind::Traces),
        other => Err(format!("unknown kind '{other}': use binned or traces")),
    }
}

fn parse_time_unit(s: &str) -> Result<TimeUnit, String> {
    match s {
        "s" => Ok(TimeUnit::S),
        "ms" => Ok(TimeUnit::Ms),
        other => Err(format!("unknown time unit '{other}': use s or ms")),
    }
}

impl ImportFlags {
    /// The flags as the io crate's import options.
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            format: self.format,
            variable: self.variable.clone(),
            layout: self.layout,
            kind: self.kind,
            bin_ms: self.bin_ms,
            frame_rate_hz: self.frame_rate,
            all_rois: self.all_rois,
            all_clusters: self.all_clusters,
            behaviour: self.behaviour.clone(),
            covariates: self.covariates.clone(),
            covariate_vars: self.covariate_vars.clone(),
            neuropil_coefficient: self.neuropil,
            iscell: self.iscell.clone(),
            unit_column: self.unit_col.clone(),
            time_column: self.time_col.clone(),
            time_unit: self.time_unit,
        }
    }

    /// Reads `file` (a recording file or any input `import` accepts) with a spinner.
    pub fn open(&self, file: &Path) -> neuroforge_io::Result<Recording> {
        let options = self.options();
        with_spinner(format!("reading {}", file.display()), || {
            neuroforge_io::open(file, &options)
        })
    }
}

/// The device a command runs on.
#[derive(Debug, Default, Args)]
pub struct DeviceArg {
    /// Device: flex, ndarray, tch, tch-cuda:N or cuda:N [default: BURN_DEVICE, else flex].
    #[arg(long)]
    device: Option<String>,
}

impl DeviceArg {
    /// The device asked for (`--device`, else `BURN_DEVICE`, else the first compiled backend).
    pub fn select(&self) -> Result<Device, CliError> {
        Ok(device::select_device(self.device.as_deref())?.0)
    }

    /// The device, and the context a training run's manifest records about it.
    pub fn with_context(&self) -> Result<(Device, RunContext), CliError> {
        let (device, name) = device::select_device(self.device.as_deref())?;
        Ok((device, device::run_context(&name)))
    }
}

/// A run directory and the device its model runs on.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run directory (manifest, config, metrics, checkpoints; `train` creates it).
    #[arg(long = "run-dir")]
    pub run_dir: PathBuf,
    #[command(flatten)]
    pub device: DeviceArg,
}
