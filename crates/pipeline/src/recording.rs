//! Between recordings and the arrays the models see: samples laid end to end and back, the
//! covariate that marks them, and the provenance of what a run writes.

use std::path::Path;

use ndarray::{Array2, Array3};
use neuroforge_io::{Covariate, CovariateValues, Provenance};

/// The `sample` covariate of `count` samples of `bins` bins written one after another: the
/// sample index of every bin.
pub fn samples_covariate(count: usize, bins: usize) -> Covariate {
    Covariate {
        name: "sample".into(),
        values: CovariateValues::Int((0..count * bins).map(|i| (i / bins) as i64).collect()),
    }
}

/// Samples x neurons x bins to neurons x (samples * bins), samples one after the other.
pub fn concatenate<T: Copy + Default>(x: &Array3<T>) -> Array2<T> {
    let (count, neurons, bins) = x.dim();
    let mut out = Array2::<T>::default((neurons, count * bins));
    for (k, sample) in x.outer_iter().enumerate() {
        out.slice_mut(ndarray::s![.., k * bins..(k + 1) * bins])
            .assign(&sample);
    }
    out
}

/// The provenance of a recording written from the run in `run_dir` by `steps`.
pub fn run_provenance(run_dir: &Path, steps: Vec<String>) -> Provenance {
    Provenance {
        source_file: Some(run_dir.display().to_string()),
        source_format: Some("neuroforge run".into()),
        steps,
        written_by: Some(concat!("neuroforge ", env!("CARGO_PKG_VERSION")).into()),
        ..Provenance::default()
    }
}

/// The data file a resumed run trains on: `given` (`--data`) when set, else the file the run's
/// manifest names.
pub fn resume_data_path(
    run_dir: &Path,
    manifest: &neuroforge_train::Manifest,
    given: Option<&Path>,
) -> Result<std::path::PathBuf, crate::PipelineError> {
    match (given, &manifest.data) {
        (Some(path), _) => Ok(path.to_path_buf()),
        (None, Some(description)) => Ok(std::path::PathBuf::from(&description.path)),
        (None, None) => Err(crate::PipelineError::Usage(format!(
            "{}: the manifest names no data file: pass --data",
            run_dir.display()
        ))),
    }
}
