//! # neuroforge-io
//!
//! The recording data model of neuroforge and its files.
//!
//! - [`Recording`]: population activity of identified neurons (binned counts, continuous
//!   traces or spike times), per-time-point covariates and provenance, with its invariants
//!   checked on construction.
//! - [`write_recording`] / [`read_recording`]: the on-disk form, Parquet or Arrow IPC, with the
//!   layout of docs/FORMAT.md, readable by pandas, polars and pyarrow without neuroforge.
//! - [`import()`]: MATLAB v5 MAT-files, NumPy NPY/NPZ, suite2p folders, Kilosort / phy
//!   folders, NWB files (feature `nwb`, on by default) and CSV/TSV spike times; [`export()`]:
//!   NPY, CSV and NWB.
//!
//! - [`points`]: point tables (states, vectors, embeddings by condition) for MARBLE.
//!
//! Every error names the file and the problem in one line; outputs are written to a temporary
//! file and renamed, so a failure never leaves a partial file.
//!
//! ```
//! use neuroforge_io::{Activity, BinnedActivity, Provenance, Recording, default_neuron_ids};
//! let counts = ndarray::array![[0u32, 1, 0], [1, 1, 0]];
//! let rec = Recording::new(
//!     default_neuron_ids(2),
//!     Activity::Binned(BinnedActivity { counts, bin_width_s: Some(0.02) }),
//!     vec![],
//!     Provenance::default(),
//! )?;
//! assert_eq!(rec.summary().mean_rate, Some(0.5));
//! # Ok::<(), neuroforge_io::IoError>(())
//! ```

pub mod array;
mod arrow_values;
mod atomic;
pub mod columnar;
mod error;
pub mod export;
mod guard;
pub mod import;
mod kilosort;
pub mod mat;
pub mod npy;
#[cfg(feature = "nwb")]
pub mod nwb;
mod pickle;
pub mod points;
mod recording;
pub mod tables;

pub use array::{Dtype, Layout, NumericArray, NumericData, Order};
pub use atomic::write_atomically;
pub use columnar::{Container, read_recording, write_recording};
pub use error::{IoError, Result};
pub use export::export;
pub use import::{ImportOptions, SourceFormat, TimeUnit, import};
pub use points::{PointTable, read_points, write_points};
pub use recording::{
    Activity, ActivityKind, BinnedActivity, Covariate, CovariateValues, Provenance, Recording,
    RecordingSummary, SpikeTrains, TraceActivity, default_neuron_ids,
};

/// Read a recording file (Parquet or Arrow IPC) or, for any other input, import it with
/// `options`: what `neuroforge inspect` and `export` accept.
pub fn open(path: &std::path::Path, options: &ImportOptions) -> Result<Recording> {
    if Container::from_path(path).is_ok() {
        read_recording(path)
    } else {
        import(path, options)
    }
}
