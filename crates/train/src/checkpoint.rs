//! The files of a checkpoint directory: one module or optimiser state per file, saved and
//! loaded the same way by every trainer, with errors that name the file.

use std::path::Path;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;

use crate::error::{Result, TrainError};

/// Write the weights of `module` to `dir/name`.
pub(crate) fn save_module<M: Module>(dir: &Path, name: &str, module: &M) -> Result<()> {
    let path = dir.join(name);
    module
        .clone()
        .into_record()
        .save(&path)
        .map_err(|e| TrainError::file(&path, e.to_string()))
}

/// Write an optimiser's state to `dir/name`.
pub(crate) fn save_optimizer(dir: &Path, name: &str, optim: &ModuleOptimizer) -> Result<()> {
    let path = dir.join(name);
    optim
        .save(&path)
        .map_err(|e| TrainError::file(&path, e.to_string()))
}

/// `fresh` (built from the run's configuration, on the device it should live on) with the
/// weights of `checkpoint/name`.
pub(crate) fn load_module<M: Module>(checkpoint: &Path, name: &str, fresh: M) -> Result<M> {
    let path = checkpoint.join(name);
    let record = ModuleRecord::load(&path).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fresh
        .try_load_record(record)
        .map_err(|e| TrainError::Checkpoint {
            path,
            message: format!("does not fit the run's model configuration: {e}"),
        })
}

/// `fresh` with the optimiser state of `checkpoint/name`.
pub(crate) fn load_optimizer(
    checkpoint: &Path,
    name: &str,
    fresh: ModuleOptimizer,
) -> Result<ModuleOptimizer> {
    let path = checkpoint.join(name);
    fresh.load(&path).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })
}
