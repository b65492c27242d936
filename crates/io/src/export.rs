//! Exporting recordings to plain arrays and tables: NPY (binned counts or traces), CSV and NWB.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::array::{Layout, NumericData};
use crate::atomic::write_atomically;
use crate::error::{IoError, Result};
use crate::npy;
use crate::recording::{Activity, Recording};

/// Format of an export, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// NumPy `.npy`: one 2-D array.
    Npy,
    /// `.csv`: one row per time point and one column per neuron (spike times: one row per
    /// spike).
    Csv,
    /// `.nwb`: an NWB 2.x file pynwb reads (feature `nwb`).
    Nwb,
}

impl ExportFormat {
    /// The export format of `path`, from its extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("npy") => Ok(Self::Npy),
            Some("csv") => Ok(Self::Csv),
            Some("nwb") => Ok(Self::Nwb),
            _ => Err(IoError::invalid(
                path,
                "unknown export extension: use .npy, .csv or .nwb",
            )),
        }
    }
}

/// Write `recording` to `path` as NPY, CSV or NWB (by extension), atomically. `layout` orders
/// the NPY array's axes (default neurons-by-time, NumPy's habit); CSV is always one row per time
/// point, NWB one row per time point as NWB prescribes.
pub fn export(recording: &Recording, path: &Path, layout: Option<Layout>) -> Result<()> {
    let format = ExportFormat::from_path(path)?;
    let write_err = |e: std::io::Error| IoError::Write {
        path: path.to_path_buf(),
        source: e,
    };
    match format {
        ExportFormat::Npy => {
            let layout = layout.unwrap_or(Layout::NeuronsByTime);
            let (shape, data) = npy_array(recording, layout)?;
            write_atomically(path, |file| {
                let mut out = BufWriter::new(file);
                npy::write(&mut out, &shape, &data).map_err(write_err)?;
                out.flush().map_err(write_err)
            })
        }
        ExportFormat::Csv => {
            if layout.is_some() {
                return Err(IoError::Usage(
                    "--layout applies to NPY exports; CSV is one row per time point".into(),
                ));
            }
            write_csv_atomically(recording, path)
        }
        ExportFormat::Nwb => {
            if layout.is_some() {
                return Err(IoError::Usage(
                    "--layout applies to NPY exports; NWB is one row per time point".into(),
                ));
            }
            #[cfg(feature = "nwb")]
            return crate::nwb::write_nwb(recording, path);
            #[cfg(not(feature = "nwb"))]
            return Err(IoError::invalid(
                path,
                "NWB support is not compiled in (build neuroforge-io with its nwb feature)",
            ));
        }
    }
}

fn write_csv_atomically(recording: &Recording, path: &Path) -> Result<()> {
    write_atomically(path, |file| {
        let mut out = BufWriter::new(file);
        crate::tables::write_csv(recording, &mut out).map_err(|e| IoError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        out.flush().map_err(|e| IoError::Write {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// The shape and row-major elements of the recording's activity as a 2-D array; counts use
/// the narrowest unsigned type that holds them.
pub fn npy_array(recording: &Recording, layout: Layout) -> Result<(Vec<usize>, NumericData)> {
    fn ordered<T: Copy>(m: &ndarray::Array2<T>, layout: Layout) -> (Vec<usize>, Vec<T>) {
        match layout {
            Layout::NeuronsByTime => (vec![m.nrows(), m.ncols()], m.iter().copied().collect()),
            Layout::TimeByNeurons => (vec![m.ncols(), m.nrows()], m.t().iter().copied().collect()),
        }
    }
    match recording.activity() {
        Activity::Binned(b) => {
            let (shape, v) = ordered(&b.counts, layout);
            let max = v.iter().copied().max().unwrap_or(0);
            let data = if max <= u32::from(u8::MAX) {
                NumericData::U8(v.iter().map(|&c| c as u8).collect())
            } else if max <= u32::from(u16::MAX) {
                NumericData::U16(v.iter().map(|&c| c as u16).collect())
            } else {
                NumericData::U32(v)
            };
            Ok((shape, data))
        }
        Activity::Traces(t) => {
            let (shape, v) = ordered(&t.values, layout);
            Ok((shape, NumericData::F32(v)))
        }
        Activity::SpikeTimes(_) => Err(IoError::Usage(
            "spike times have no array form: export them to .csv, or import with --bin-ms to \
             get binned counts"
                .into(),
        )),
    }
}
