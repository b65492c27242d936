//! The files of a checkpoint directory: one module or optimiser state per file, saved and
//! loaded the same way by every trainer, with errors that name the file.
//!
//! Two identical runs write byte-identical checkpoints: parameters get ids derived from their
//! place in the network ([`with_stable_param_ids`]) instead of burn's random ones, the tensors
//! no optimiser steps (running statistics) are written with such ids too, and an optimiser's
//! per-parameter states are written in the order of their names instead of the order of a hash
//! map.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::{Bool, Int, Tensor};

use crate::error::{Result, TrainError};

/// `module` with parameter ids that depend only on `label` and each parameter's path, so that
/// a network built twice from the same configuration has the same ids (burn draws them at
/// random). Optimiser states are keyed by these ids and checkpoints store them, so they must
/// be set before an optimiser first steps the module.
pub(crate) fn with_stable_param_ids<M: Module>(module: M, label: &str) -> M {
    module.map(&mut StableParamIds {
        label: label.to_string(),
        path: Vec::new(),
    })
}

/// The id a parameter at `path` (its module path, dot-joined as in a record) of a network
/// labelled `label` gets: FNV-1a of both.
fn stable_id(label: &str, path: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes().chain([b'/']).chain(path.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The mapper behind [`with_stable_param_ids`].
struct StableParamIds {
    label: String,
    path: Vec<String>,
}

impl StableParamIds {
    fn next(&self) -> ParamId {
        ParamId::from(stable_id(&self.label, &self.path.join(".")))
    }
}

impl ModuleMapper for StableParamIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.id = self.next();
        param
    }

    fn map_int<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Int>>,
    ) -> Param<Tensor<D, Int>> {
        param.id = self.next();
        param
    }

    fn map_bool<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        param.id = self.next();
        param
    }
}

/// The stable ids of the float tensors of a module that no optimiser steps (running
/// statistics, whose ids burn draws at random and [`with_stable_param_ids`] cannot reach, and
/// every tensor of a module without gradients), by record path. Trainable parameters keep their
/// ids: the optimiser state is keyed by them.
struct UntrainedIds {
    label: String,
    path: Vec<String>,
    ids: HashMap<String, u64>,
}

impl ModuleVisitor for UntrainedIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.val().is_require_grad() {
            let path = self.path.join(".");
            self.ids.insert(path.clone(), stable_id(&self.label, &path));
        }
    }
}

/// Write a burnpack `bytes` to `path` with its tensors sorted by name when `sort` (burn writes
/// an optimiser's in the order of a randomly seeded hash map) and the ids of `ids` replaced.
fn write_canonical_pack(
    path: &Path,
    bytes: burn::tensor::Bytes,
    sort: bool,
    ids: &HashMap<String, u64>,
) -> Result<()> {
    let fail = |e: String| TrainError::file(path, e);
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = reader.into_tensors().map_err(|e| fail(e.to_string()))?;
    if sort {
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for tensor in &mut tensors {
        if let Some(id) = ids.get(&tensor.name) {
            tensor.param_id = Some(*id);
        }
    }
    let mut writer = burn_pack::Writer::new(tensors).auto_extension(false);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    writer.write_to_file(path).map_err(|e| fail(e.to_string()))
}

/// Write the weights of `module` to `dir/name` (the same bytes for the same weights: see the
/// module documentation).
pub(crate) fn save_module<M: Module>(dir: &Path, name: &str, module: &M) -> Result<()> {
    let path = dir.join(name);
    let mut untrained = UntrainedIds {
        label: name.to_string(),
        path: Vec::new(),
        ids: HashMap::new(),
    };
    module.visit(&mut untrained);
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::file(&path, e.to_string()))?;
    write_canonical_pack(&path, bytes, false, &untrained.ids)
}

/// Write an optimiser's state to `dir/name`, its tensors in the order of their names.
pub(crate) fn save_optimizer(dir: &Path, name: &str, optim: &ModuleOptimizer) -> Result<()> {
    let path = dir.join(name);
    let bytes = optim
        .into_bytes()
        .map_err(|e| TrainError::file(&path, e.to_string()))?;
    write_canonical_pack(&path, bytes, true, &HashMap::new())
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
