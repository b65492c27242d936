//! MARBLE's unsupervised contrastive training (Gosztolai et al. 2025; METHODS.md section 3,
//! step 7): for each anchor node a positive (one random-walk step: a uniformly chosen graph
//! neighbour) and a negative (a uniformly drawn node of any condition), with
//!
//! ```text
//! L = -mean log sigmoid(z . z+) - mean log sigmoid(-z . z-).
//! ```
//!
//! Defaults follow the reference: 100 epochs, batch 64, SGD lr 0.01 momentum 0.9, learning
//! rate reduced tenfold after 10 epochs without improvement (PyTorch's `ReduceLROnPlateau`
//! defaults), and the model with the lowest validation loss kept. Every draw of epoch `e`
//! comes from ChaCha8 seeded with the run's seed on stream `e`.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig, momentum::MomentumConfig,
};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView2};
use neuroforge_manifold::features::{DiffusionFeatures, FeatureConfig, diffusion_features};
use neuroforge_manifold::sampling::furthest_point_sampling;
use neuroforge_manifold::{CsrMatrix, Geometry, GeometryConfig};
use neuroforge_models::{Marble, MarbleConfig, MarbleInput};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    load_module, load_optimizer, save_module, save_optimizer, with_stable_param_ids,
};
use crate::error::{Result, TrainError};
use crate::rundir::{DataDescription, Manifest, ModelKind, RunContext, RunDir, RunStatus};
use crate::session::{
    CheckpointPolicy, SessionObserver, StepLosses, StopHandle, Trainer, run_session,
};
use crate::spikegan::{iteration_rng, to_f64};

/// The optimiser of the contrastive training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MarbleOptimizer {
    /// SGD with (PyTorch-style, undampened) momentum.
    Sgd {
        /// Learning rate (reference 0.01).
        learning_rate: f64,
        /// Momentum (reference 0.9).
        momentum: f64,
    },
    /// Adam with PyTorch's betas (0.9, 0.999).
    Adam {
        /// Learning rate.
        learning_rate: f64,
    },
}

impl Default for MarbleOptimizer {
    fn default() -> Self {
        Self::Sgd {
            learning_rate: 0.01,
            momentum: 0.9,
        }
    }
}

impl MarbleOptimizer {
    fn learning_rate(&self) -> f64 {
        match *self {
            Self::Sgd { learning_rate, .. } | Self::Adam { learning_rate } => learning_rate,
        }
    }

    fn init(&self) -> ModuleOptimizer {
        match *self {
            Self::Sgd { momentum, .. } => SgdConfig::new()
                .with_momentum(Some(MomentumConfig {
                    momentum,
                    dampening: 0.0,
                    nesterov: false,
                }))
                .init(),
            Self::Adam { .. } => AdamConfig::new().with_epsilon(1e-8).init(),
        }
    }
}

/// Settings of the contrastive training; defaults are the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContrastiveConfig {
    /// Passes over the training nodes (default 100).
    pub epochs: usize,
    /// Anchor nodes per batch (default 64).
    pub batch_size: usize,
    /// The optimiser (default SGD lr 0.01, momentum 0.9).
    pub optimizer: MarbleOptimizer,
    /// Fraction of nodes held out to choose the best model (default 0.1).
    pub validation_fraction: f64,
    /// Epochs without a better validation loss before the learning rate drops (default 10).
    pub plateau_patience: usize,
    /// Factor applied to the learning rate on a plateau (default 0.1).
    pub plateau_factor: f64,
    /// Stop early after this many epochs without improvement (default 0: never).
    pub early_stop_patience: usize,
    /// Write a checkpoint (weights, optimiser, schedule) every this many epochs, so an
    /// interrupted run resumes from there (default 10); one is also written at every new
    /// lowest validation loss (the run's best, always kept), after the last epoch and on
    /// Ctrl-C.
    pub checkpoint_every: u64,
    /// Newest checkpoints kept besides the best and the untrained one (default 1).
    pub keep_checkpoints: usize,
}

impl Default for ContrastiveConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 64,
            optimizer: MarbleOptimizer::default(),
            validation_fraction: 0.1,
            plateau_patience: 10,
            plateau_factor: 0.1,
            early_stop_patience: 0,
            checkpoint_every: 10,
            keep_checkpoints: 1,
        }
    }
}

impl ContrastiveConfig {
    fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(TrainError::Config(what.to_string()));
        if self.epochs == 0 {
            return bad("training.epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("training.batch_size must be at least 1");
        }
        if !(self.optimizer.learning_rate() > 0.0 && self.optimizer.learning_rate().is_finite()) {
            return bad("training.optimizer.learning_rate must be a positive number");
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return bad("training.validation_fraction must lie in [0, 0.9)");
        }
        if !(self.plateau_factor > 0.0 && self.plateau_factor <= 1.0) {
            return bad("training.plateau_factor must lie in (0, 1]");
        }
        if self.checkpoint_every == 0 {
            return bad("training.checkpoint_every must be at least 1");
        }
        Ok(())
    }
}

/// The whole configuration of a MARBLE run, as written to `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MarbleRunConfig {
    /// The seed of the weights, the validation split and every draw.
    pub seed: u64,
    /// The geometry of each condition's point cloud.
    pub geometry: GeometryConfig,
    /// The precomputed features.
    pub features: FeatureConfig,
    /// The network.
    pub model: MarbleConfig,
    /// The training.
    pub training: ContrastiveConfig,
    /// Thin each condition by furthest point sampling to this spacing, as a fraction of its
    /// extent (default 0: keep every point; MARBLE's examples use about 0.01-0.05).
    pub subsample_spacing: f64,
}

impl MarbleRunConfig {
    /// Refuses settings that read but cannot run (the message names the key).
    /// (`subsample_spacing` is checked where it is used, by the furthest point sampling.)
    pub fn check(&self) -> Result<()> {
        self.training.check()
    }
}

/// One condition's data: states (n x d) and the vectors at them (n x d, e.g. the time
/// differences of the states).
#[derive(Debug, Clone, Copy)]
pub struct ConditionData<'a> {
    /// Positions of the points.
    pub states: ArrayView2<'a, f64>,
    /// The vector field at each point (the signal that is diffused and filtered).
    pub vectors: ArrayView2<'a, f64>,
}

/// Every condition's nodes side by side: features, neighbours, condition labels.
#[derive(Debug, Clone)]
pub struct MarbleData {
    /// `[node][term][channel]`, float32.
    pub features: Vec<f32>,
    /// `[node][component]`, float32: each node's state, when the network is fed positions
    /// (`model.include_positions`); empty otherwise.
    pub positions: Vec<f32>,
    /// What the network is fed.
    pub input: MarbleInput,
    /// Block-diagonal adjacency over all conditions (no edges between conditions).
    pub adjacency: CsrMatrix,
    /// Condition of each node.
    pub condition: Vec<u32>,
    /// First node of each condition, plus the total at the end.
    pub offsets: Vec<usize>,
    /// Per condition, the rows of its input that became nodes (all of them unless
    /// subsampled), in node order.
    pub kept: Vec<Vec<usize>>,
}

impl MarbleData {
    /// Builds each condition's geometry and features and stacks them.
    pub fn prepare(conditions: &[ConditionData<'_>], config: &MarbleRunConfig) -> Result<Self> {
        if conditions.is_empty() {
            return Err(TrainError::Data("no conditions given".into()));
        }
        let mut features = Vec::new();
        let mut positions = Vec::new();
        let mut rows: Vec<Vec<(u32, f64)>> = Vec::new();
        let mut condition = Vec::new();
        let mut offsets = vec![0];
        let mut first: Option<DiffusionFeatures> = None;
        let mut kept_rows = Vec::new();
        for (c, data) in conditions.iter().enumerate() {
            if data.states.dim() != data.vectors.dim() {
                return Err(TrainError::Data(format!(
                    "condition {c}: states are {:?} but vectors {:?}",
                    data.states.dim(),
                    data.vectors.dim()
                )));
            }
            let mut kept = furthest_point_sampling(data.states, config.subsample_spacing, 0)
                .map_err(|e| TrainError::Data(format!("condition {c}: {e}")))?;
            kept.sort_unstable();
            let states = data.states.select(ndarray::Axis(0), &kept);
            let vectors = data.vectors.select(ndarray::Axis(0), &kept);
            let geometry = Geometry::build(states.view(), config.geometry)
                .map_err(|e| TrainError::Data(format!("condition {c}: {e}")))?;
            let f = diffusion_features(&geometry, vectors.view(), config.features)
                .map_err(|e| TrainError::Data(format!("condition {c}: {e}")))?;
            kept_rows.push(kept);
            if let Some(reference) = &first
                && (reference.channels != f.channels
                    || reference.terms != f.terms
                    || reference.quadrature != f.quadrature)
            {
                return Err(TrainError::Data(format!(
                    "condition {c} yields {} channels x {} terms but condition 0 {} x {}: all \
                     conditions need the same dimension, and a normalised Laplacian (the \
                     default random-walk one) so they share one diffusion quadrature",
                    f.channels, f.terms, reference.channels, reference.terms
                )));
            }
            let base = *offsets.last().unwrap_or(&0) as u32;
            for i in 0..geometry.graph.nodes() {
                rows.push(
                    geometry
                        .graph
                        .neighbours(i)
                        .iter()
                        .map(|&j| (j + base, 1.0))
                        .collect(),
                );
                condition.push(c as u32);
            }
            features.extend_from_slice(&f.values);
            if config.model.include_positions {
                positions.extend(states.iter().map(|&v| v as f32));
            }
            offsets.push(offsets.last().unwrap_or(&0) + geometry.graph.nodes());
            if first.is_none() {
                first = Some(f);
            }
        }
        let Some(first) = first else {
            return Err(TrainError::Data("no conditions given".into()));
        };
        let (lambdas, weights) = match &first.quadrature {
            Some(q) => (q.lambdas.clone(), q.weights.clone()),
            None => (Vec::new(), Vec::new()),
        };
        let total = condition.len();
        let position_channels = if config.model.include_positions {
            conditions[0].states.ncols()
        } else {
            0
        };
        Ok(Self {
            features,
            positions,
            input: MarbleInput {
                channels: first.channels,
                terms: first.terms,
                lambdas,
                weights,
                t_max: config.features.t_max,
                signal_channels: conditions[0].vectors.ncols(),
                position_channels,
            },
            adjacency: CsrMatrix::from_rows(total, rows),
            condition,
            offsets,
            kept: kept_rows,
        })
    }

    /// Number of nodes over all conditions.
    pub fn nodes(&self) -> usize {
        self.condition.len()
    }

    /// The network input of `nodes` as a `[B, terms, channels + position_channels]` tensor
    /// (the node's position repeated after the features of every term).
    pub fn batch(&self, nodes: &[usize], device: &Device) -> Tensor<3> {
        let (terms, channels) = (self.input.terms, self.input.channels);
        let p = self.input.position_channels;
        let block = terms * channels;
        let mut values = Vec::with_capacity(nodes.len() * terms * (channels + p));
        for &i in nodes {
            if p == 0 {
                values.extend_from_slice(&self.features[i * block..(i + 1) * block]);
                continue;
            }
            let position = &self.positions[i * p..(i + 1) * p];
            for term in self.features[i * block..(i + 1) * block].chunks_exact(channels) {
                values.extend_from_slice(term);
                values.extend_from_slice(position);
            }
        }
        Tensor::from_data(
            TensorData::new(values, [nodes.len(), terms, channels + p]),
            device,
        )
    }
}

/// One line of `metrics.jsonl`: an epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLine {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss (fixed draws, inference-mode batch norm).
    pub validation_loss: f64,
    /// Learning rate used in this epoch.
    pub learning_rate: f64,
    /// The diffusion time after the epoch.
    pub diffusion_time: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// What [`train_contrastive`] produced.
pub struct MarbleOutcome {
    /// The network with the lowest validation loss.
    pub model: Marble,
    /// The epoch it comes from.
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_validation_loss: f64,
    /// Every epoch's figures.
    pub history: Vec<EpochLine>,
}

/// What a MARBLE run in a run directory reached (the best checkpoint's figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarbleSummary {
    /// The epoch of the best checkpoint.
    pub best_epoch: u64,
    /// Its validation loss.
    pub best_validation_loss: f64,
    /// Its learnt diffusion time.
    pub diffusion_time: f64,
    /// Epochs trained so far.
    pub epochs: u64,
    /// Nodes over all conditions.
    pub nodes: usize,
    /// Conditions.
    pub conditions: usize,
}

/// The contrastive loss of anchors with drawn positives and negatives.
fn contrastive_loss(
    model: &Marble,
    data: &MarbleData,
    anchors: &[usize],
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Tensor<1> {
    let n = data.nodes();
    let mut nodes = anchors.to_vec();
    for &a in anchors {
        let neighbours = data.adjacency.row(a).0;
        let positive = if neighbours.is_empty() {
            a
        } else {
            neighbours[rng.random_range(0..neighbours.len())] as usize
        };
        nodes.push(positive);
    }
    nodes.extend((0..anchors.len()).map(|_| rng.random_range(0..n)));
    let z = model.forward(data.batch(&nodes, device));
    let b = anchors.len();
    let anchor = z.clone().narrow(0, 0, b);
    let positive = z.clone().narrow(0, b, b);
    let negative = z.narrow(0, 2 * b, b);
    let pos = (anchor.clone() * positive).sum_dim(1);
    let neg = (anchor * negative).sum_dim(1);
    (log_sigmoid(pos).mean() + log_sigmoid(neg.neg()).mean()).neg()
}

/// Losses of one epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochLosses {
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub validation_loss: f64,
}

impl StepLosses for EpochLosses {
    fn accumulate(&mut self, other: &Self, weight: f64) {
        self.train_loss += weight * other.train_loss;
        self.validation_loss += weight * other.validation_loss;
    }
}

/// What a MARBLE checkpoint holds besides the weights and the optimiser: the schedule's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MarbleState {
    epoch: u64,
    learning_rate: f64,
    best_validation_loss: Option<f64>,
    best_epoch: Option<u64>,
    since_best: usize,
    stopped_early: bool,
    nodes: usize,
}

/// A MARBLE network with its optimiser and schedule (learning rate on plateaus, early stop),
/// on an autodiff device: one [`Trainer`] step is one epoch.
pub struct MarbleTrainer {
    config: MarbleRunConfig,
    device: Device,
    model: Marble,
    optim: ModuleOptimizer,
    epoch: u64,
    learning_rate: f64,
    /// Training nodes, in the order of the latest epoch's shuffle.
    train: Vec<usize>,
    /// Validation nodes (the training nodes when none are held out).
    validation: Vec<usize>,
    best: Option<(f64, u64)>,
    since_best: usize,
    stopped_early: bool,
    improved: bool,
    last_line: Option<EpochLine>,
    nodes: usize,
    /// What the network is fed (written beside its weights, for embedding later).
    input: MarbleInput,
}

const MODEL_FILE: &str = "marble.bpk";
const OPTIM_FILE: &str = "marble-optimizer.bpk";
const INPUT_FILE: &str = "marble-input.json";
const STATE_FILE: &str = "marble-state.json";

impl MarbleTrainer {
    /// A fresh network for `config` and `data` on `device` (autodiff is enabled on it here),
    /// with the validation split drawn from the seed.
    pub fn new(config: MarbleRunConfig, data: &MarbleData, device: &Device) -> Result<Self> {
        config.training.check()?;
        let device = device.clone().autodiff();
        let model = with_stable_param_ids(
            Marble::new(&config.model, &data.input, config.seed, &device)?,
            MODEL_FILE,
        );
        let optim = config.training.optimizer.init();
        let mut order: Vec<usize> = (0..data.nodes()).collect();
        order.shuffle(&mut iteration_rng(config.seed, u64::MAX));
        let held = ((data.nodes() as f64) * config.training.validation_fraction).round() as usize;
        let (validation, train) = order.split_at(held);
        if train.len() < 2 {
            return Err(TrainError::Data(format!(
                "{} nodes leave too few for training after the validation split",
                data.nodes()
            )));
        }
        let validation = if validation.is_empty() {
            train.to_vec()
        } else {
            validation.to_vec()
        };
        Ok(Self {
            learning_rate: config.training.optimizer.learning_rate(),
            train: train.to_vec(),
            validation,
            config,
            device,
            model,
            optim,
            epoch: 0,
            best: None,
            since_best: 0,
            stopped_early: false,
            improved: false,
            last_line: None,
            nodes: data.nodes(),
            input: data.input.clone(),
        })
    }

    /// The state of a checkpoint directory written by [`Trainer::save_into`], on the same
    /// data: it continues exactly as the uninterrupted training would (same backend).
    pub fn from_checkpoint(
        config: MarbleRunConfig,
        data: &MarbleData,
        checkpoint: &Path,
        device: &Device,
    ) -> Result<Self> {
        let mut trainer = Self::new(config, data, device)?;
        let state_path = checkpoint.join(STATE_FILE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::Checkpoint {
            path: state_path.clone(),
            message: e.to_string(),
        })?;
        let state: MarbleState =
            serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
                path: state_path.clone(),
                message: e.to_string(),
            })?;
        if state.nodes != data.nodes() {
            return Err(TrainError::Checkpoint {
                path: state_path,
                message: format!(
                    "was trained on {} nodes, but the data now gives {}: resume on the run's own \
                     data and settings",
                    state.nodes,
                    data.nodes()
                ),
            });
        }
        // Each epoch shuffles the previous epoch's order: replay the shuffles.
        for epoch in 1..=state.epoch {
            trainer
                .train
                .shuffle(&mut iteration_rng(trainer.config.seed, epoch));
        }
        trainer.model = load_module(checkpoint, MODEL_FILE, trainer.model)?;
        let fresh = trainer.config.training.optimizer.init();
        trainer.optim = load_optimizer(checkpoint, OPTIM_FILE, fresh)?;
        trainer.epoch = state.epoch;
        trainer.learning_rate = state.learning_rate;
        trainer.best = state.best_validation_loss.zip(state.best_epoch);
        trainer.since_best = state.since_best;
        trainer.stopped_early = state.stopped_early;
        Ok(trainer)
    }

    /// The network as trained so far (on the autodiff device).
    pub fn model(&self) -> &Marble {
        &self.model
    }

    /// A copy of the network as trained so far that shares nothing with the trainer's: burn's
    /// module clone shares batch norm's running statistics, which later epochs keep updating.
    pub fn detached_model(&self) -> Result<Marble> {
        let fresh = Marble::new(
            &self.config.model,
            &self.input,
            self.config.seed,
            &self.device,
        )?;
        fresh
            .try_load_record(self.model.clone().into_record())
            .map_err(|e| TrainError::Data(format!("cannot copy the network: {e}")))
    }

    /// Whether the latest epoch reached the lowest validation loss so far.
    pub fn improved(&self) -> bool {
        self.improved
    }

    /// The latest epoch's figures.
    pub fn last_line(&self) -> Option<&EpochLine> {
        self.last_line.as_ref()
    }

    /// The lowest validation loss so far and its epoch.
    pub fn best(&self) -> Option<(f64, u64)> {
        self.best
    }
}

impl Trainer for MarbleTrainer {
    type Data = MarbleData;
    type Losses = EpochLosses;
    type Line = EpochLine;

    fn iteration(&self) -> u64 {
        self.epoch
    }

    fn total_iterations(&self) -> u64 {
        self.config.training.epochs as u64
    }

    fn log_every(&self) -> u64 {
        1
    }

    fn checkpoint_policy(&self) -> CheckpointPolicy {
        CheckpointPolicy {
            every: self.config.training.checkpoint_every,
            keep_last: self.config.training.keep_checkpoints,
            keep_best: true,
        }
    }

    fn step(&mut self, data: &MarbleData) -> Result<EpochLosses> {
        if data.nodes() != self.nodes {
            return Err(TrainError::Data(format!(
                "the trainer was built for {} nodes, the data has {}",
                self.nodes,
                data.nodes()
            )));
        }
        let training = &self.config.training;
        let epoch = self.epoch + 1;
        let clock = Instant::now();
        let mut rng = iteration_rng(self.config.seed, epoch);
        self.train.shuffle(&mut rng);
        let mut total = 0.0;
        let mut batches = 0usize;
        for anchors in self.train.chunks(training.batch_size) {
            if anchors.len() < 2 {
                continue; // batch norm needs two samples
            }
            let loss = contrastive_loss(&self.model, data, anchors, &mut rng, &self.device);
            let value = to_f64(loss.clone().detach());
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    iteration: epoch,
                    what: format!("contrastive loss = {value} (epoch {epoch})"),
                });
            }
            total += value;
            batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self
                .optim
                .step(self.learning_rate, self.model.clone(), grads);
        }
        let validation_loss =
            validation_loss(&self.model, data, &self.validation, self.config.seed);
        let line = EpochLine {
            epoch: epoch as usize,
            train_loss: total / batches.max(1) as f64,
            validation_loss,
            learning_rate: self.learning_rate,
            diffusion_time: self.model.diffusion_time(),
            seconds: clock.elapsed().as_secs_f64(),
        };
        self.improved = self.best.is_none_or(|(loss, _)| validation_loss < loss);
        if self.improved {
            self.best = Some((validation_loss, epoch));
            self.since_best = 0;
        } else {
            self.since_best += 1;
            if self
                .since_best
                .is_multiple_of(training.plateau_patience.max(1))
            {
                self.learning_rate *= training.plateau_factor;
            }
            if training.early_stop_patience > 0 && self.since_best >= training.early_stop_patience {
                self.stopped_early = true;
            }
        }
        self.epoch = epoch;
        let losses = EpochLosses {
            train_loss: line.train_loss,
            validation_loss,
        };
        self.last_line = Some(line);
        Ok(losses)
    }

    fn metrics_line(
        &mut self,
        _data: &MarbleData,
        iteration: u64,
        _averaged: EpochLosses,
        _iterations_per_s: f64,
    ) -> Result<EpochLine> {
        // One line per epoch: the epoch's own figures.
        let line = self.last_line.clone().ok_or_else(|| {
            TrainError::Data(format!("no epoch figures to log at epoch {iteration}"))
        })?;
        tracing::debug!(
            epoch = line.epoch,
            train = line.train_loss,
            validation = line.validation_loss,
            "epoch"
        );
        Ok(line)
    }

    fn score(line: &EpochLine) -> Option<f64> {
        Some(line.validation_loss)
    }

    fn finished_early(&self) -> bool {
        self.stopped_early
    }

    fn save_into(&self, dir: &Path) -> Result<()> {
        save_module(dir, MODEL_FILE, &self.model)?;
        save_optimizer(dir, OPTIM_FILE, &self.optim)?;
        write_json(&dir.join(INPUT_FILE), &self.input)?;
        let state = MarbleState {
            epoch: self.epoch,
            learning_rate: self.learning_rate,
            best_validation_loss: self.best.map(|b| b.0),
            best_epoch: self.best.map(|b| b.1),
            since_best: self.since_best,
            stopped_early: self.stopped_early,
            nodes: self.nodes,
        };
        write_json(&dir.join(STATE_FILE), &state)
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| TrainError::file(path, e))?;
    std::fs::write(path, text).map_err(|e| TrainError::file(path, e))
}

/// Trains a MARBLE network on `data` in memory (no run directory); `on_epoch` sees each
/// epoch's line. The same steps as a run's ([`start_marble`]), so the same seed gives the same
/// network.
pub fn train_contrastive(
    config: &MarbleRunConfig,
    data: &MarbleData,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochLine),
) -> Result<MarbleOutcome> {
    let mut trainer = MarbleTrainer::new(config.clone(), data, device)?;
    let mut best_model = None;
    let mut history = Vec::new();
    while trainer.iteration() < trainer.total_iterations() && !trainer.finished_early() {
        trainer.step(data)?;
        if let Some(line) = trainer.last_line() {
            on_epoch(line);
            history.push(line.clone());
        }
        if trainer.improved() {
            best_model = Some(trainer.detached_model()?);
        }
    }
    let (Some((best_validation_loss, best_epoch)), Some(model)) = (trainer.best(), best_model)
    else {
        return Err(TrainError::Data("no epoch ran".into()));
    };
    Ok(MarbleOutcome {
        model,
        best_epoch: best_epoch as usize,
        best_validation_loss,
        history,
    })
}

/// The loss on the validation nodes with draws fixed by the seed and batch norm in inference
/// mode.
fn validation_loss(model: &Marble, data: &MarbleData, nodes: &[usize], seed: u64) -> f64 {
    let inference = model.valid();
    let device = inference.t.device();
    let mut rng = iteration_rng(seed, u64::MAX - 1);
    let mut total = 0.0;
    let mut count = 0usize;
    for chunk in nodes.chunks(1024) {
        let loss = contrastive_loss(&inference, data, chunk, &mut rng, &device);
        total += to_f64(loss) * chunk.len() as f64;
        count += chunk.len();
    }
    total / count.max(1) as f64
}

/// Embeddings of every node (n x out_channels) with batch norm in inference mode.
pub fn embed(model: &Marble, data: &MarbleData) -> Array2<f64> {
    let inference = model.valid();
    let device = inference.t.device();
    let n = data.nodes();
    let nodes: Vec<usize> = (0..n).collect();
    let mut out: Vec<f64> = Vec::new();
    let mut width = 0;
    for chunk in nodes.chunks(4096) {
        let z = inference.forward(data.batch(chunk, &device));
        width = z.dims()[1];
        let values: Vec<f32> = z.into_data().try_to_vec::<f32>().unwrap_or_default();
        out.extend(values.into_iter().map(f64::from));
    }
    Array2::from_shape_vec((n, width), out).unwrap_or_else(|_| Array2::zeros((n, width)))
}

/// Start a new MARBLE run in `run`: write config and manifest (with the data it trains on)
/// and the untrained checkpoint, then train by the shared session loop: a checkpoint every
/// `training.checkpoint_every` epochs and at every new lowest validation loss, which is kept
/// as the run's best (what [`load_marble`] loads).
#[allow(clippy::too_many_arguments)]
pub fn start_marble(
    run: &RunDir,
    config: MarbleRunConfig,
    data: &MarbleData,
    description: Option<DataDescription>,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<MarbleTrainer>,
    stop: &StopHandle,
) -> Result<MarbleSummary> {
    let mut trainer = MarbleTrainer::new(config.clone(), data, device)?;
    run.write_config(&config)?;
    let manifest = Manifest {
        model: ModelKind::Marble,
        seed: config.seed,
        context: context.clone(),
        data: description,
        more_data: Vec::new(),
        config: serde_json::to_value(&config).map_err(|e| TrainError::Config(e.to_string()))?,
        sessions: Vec::new(),
        status: RunStatus::Created,
        results: serde_json::Map::new(),
        best_checkpoint: None,
        checkpoint_checksums: Default::default(),
    };
    run.write_manifest(&manifest)?;
    run.write_checkpoint(0, config.training.keep_checkpoints, None, |dir| {
        trainer.save_into(dir)
    })?;
    train_marble(run, &mut trainer, data, context, device, observer, stop)
}

/// Continue the MARBLE run in `run` from its newest checkpoint, on the same data (rebuilt by
/// the caller with the run's settings); `epochs` raises (or lowers) the run's total.
#[allow(clippy::too_many_arguments)]
pub fn resume_marble(
    run: &RunDir,
    data: &MarbleData,
    epochs: Option<u64>,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<MarbleTrainer>,
    stop: &StopHandle,
) -> Result<MarbleSummary> {
    let mut config: MarbleRunConfig = run.read_config()?;
    let configured = config.training.epochs as u64;
    let (epoch, checkpoint) = run.latest_checkpoint()?;
    let total = run.resumed_length(configured, epochs, epoch, "epoch")?;
    config.training.epochs = usize::try_from(total).map_err(|_| {
        TrainError::Config(format!(
            "{total} epochs are more than this machine can count"
        ))
    })?;
    let mut trainer = MarbleTrainer::from_checkpoint(config.clone(), data, &checkpoint, device)?;
    run.record_resumed_length(&config, configured, epochs)?;
    run.truncate_metrics_after(epoch)?;
    tracing::info!(epoch, checkpoint = %checkpoint.display(), "resuming MARBLE");
    train_marble(run, &mut trainer, data, context, device, observer, stop)
}

fn train_marble(
    run: &RunDir,
    trainer: &mut MarbleTrainer,
    data: &MarbleData,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<MarbleTrainer>,
    stop: &StopHandle,
) -> Result<MarbleSummary> {
    tracing::info!(
        start = trainer.iteration(),
        total = trainer.total_iterations(),
        nodes = data.nodes(),
        "training MARBLE"
    );
    run_session(run, trainer, data, context, observer, stop)?;
    // The run's result is its best checkpoint.
    let (best_epoch, _) = run.best_checkpoint()?;
    let (_, model) = load_marble(run.path(), device)?;
    let best_validation_loss = run
        .read_manifest()?
        .best_checkpoint
        .map_or(f64::NAN, |b| b.score);
    let summary = MarbleSummary {
        best_epoch,
        best_validation_loss,
        diffusion_time: model.diffusion_time(),
        epochs: trainer.iteration(),
        nodes: data.nodes(),
        conditions: data.offsets.len().saturating_sub(1),
    };
    let mut manifest = run.read_manifest()?;
    manifest
        .results
        .insert("best_epoch".into(), best_epoch.into());
    manifest
        .results
        .insert("best_validation_loss".into(), best_validation_loss.into());
    manifest
        .results
        .insert("diffusion_time".into(), summary.diffusion_time.into());
    manifest
        .results
        .insert("nodes".into(), summary.nodes.into());
    manifest
        .results
        .insert("conditions".into(), summary.conditions.into());
    run.write_manifest(&manifest)?;
    Ok(summary)
}

/// The trained MARBLE network of a run directory (its best checkpoint), on `device` (no
/// autodiff), with the input description it expects.
pub fn load_marble(dir: &Path, device: &Device) -> Result<(MarbleRunConfig, Marble)> {
    let run = RunDir::open(dir)?;
    let config: MarbleRunConfig = run.read_config()?;
    let (_, checkpoint) = run.best_checkpoint()?;
    let input_path = checkpoint.join(INPUT_FILE);
    let text = std::fs::read_to_string(&input_path).map_err(|e| TrainError::Checkpoint {
        path: input_path.clone(),
        message: e.to_string(),
    })?;
    let input: MarbleInput = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: input_path.clone(),
        message: e.to_string(),
    })?;
    let fresh = Marble::new(&config.model, &input, config.seed, device)?;
    let model = load_module(&checkpoint, MODEL_FILE, fresh)?;
    Ok((config, model))
}
