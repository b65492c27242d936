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

use crate::checkpoint::{load_module, save_module};
use crate::error::{Result, TrainError};
use crate::rundir::{Manifest, RunContext, RunDir, Session, unix_seconds};
use crate::wgan::{iteration_rng, to_f64};

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
        Ok(Self {
            features,
            input: MarbleInput {
                channels: first.channels,
                terms: first.terms,
                lambdas,
                weights,
                t_max: config.features.t_max,
                signal_channels: conditions[0].vectors.ncols(),
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

    /// The network input of `nodes` as a `[B, terms, channels]` tensor.
    pub fn batch(&self, nodes: &[usize], device: &Device) -> Tensor<3> {
        let block = self.input.terms * self.input.channels;
        let mut values = Vec::with_capacity(nodes.len() * block);
        for &i in nodes {
            values.extend_from_slice(&self.features[i * block..(i + 1) * block]);
        }
        Tensor::from_data(
            TensorData::new(values, [nodes.len(), self.input.terms, self.input.channels]),
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

/// What training produced.
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

/// Trains a MARBLE network on `data`; `on_epoch` sees each epoch's line.
pub fn train_contrastive(
    config: &MarbleRunConfig,
    data: &MarbleData,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochLine),
) -> Result<MarbleOutcome> {
    config.training.check()?;
    let device = device.clone().autodiff();
    let training = &config.training;
    let mut model = Marble::new(&config.model, &data.input, config.seed, &device)?;
    let mut optim = training.optimizer.init();
    // Validation split, fixed by the seed.
    let mut order: Vec<usize> = (0..data.nodes()).collect();
    order.shuffle(&mut iteration_rng(config.seed, u64::MAX));
    let held = ((data.nodes() as f64) * training.validation_fraction).round() as usize;
    let (validation, train) = order.split_at(held);
    if train.len() < 2 {
        return Err(TrainError::Data(format!(
            "{} nodes leave too few for training after the validation split",
            data.nodes()
        )));
    }
    let validation = if validation.is_empty() {
        train
    } else {
        validation
    };
    let mut train = train.to_vec();
    let mut learning_rate = training.optimizer.learning_rate();
    let mut best: Option<(f64, usize, Marble)> = None;
    let mut since_best = 0usize;
    let mut history = Vec::new();
    for epoch in 1..=training.epochs {
        let clock = Instant::now();
        let mut rng = iteration_rng(config.seed, epoch as u64);
        train.shuffle(&mut rng);
        let mut total = 0.0;
        let mut batches = 0usize;
        for anchors in train.chunks(training.batch_size) {
            if anchors.len() < 2 {
                continue; // batch norm needs two samples
            }
            let loss = contrastive_loss(&model, data, anchors, &mut rng, &device);
            let value = to_f64(loss.clone().detach());
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    iteration: epoch as u64,
                    what: format!("contrastive loss = {value} (epoch {epoch})"),
                });
            }
            total += value;
            batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(learning_rate, model, grads);
        }
        let validation_loss = validation_loss(&model, data, validation, config.seed);
        let line = EpochLine {
            epoch,
            train_loss: total / batches.max(1) as f64,
            validation_loss,
            learning_rate,
            diffusion_time: model.diffusion_time(),
            seconds: clock.elapsed().as_secs_f64(),
        };
        on_epoch(&line);
        history.push(line);
        let improved = best
            .as_ref()
            .is_none_or(|(loss, _, _)| validation_loss < *loss);
        if improved {
            best = Some((validation_loss, epoch, model.clone()));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best.is_multiple_of(training.plateau_patience.max(1)) {
                learning_rate *= training.plateau_factor;
            }
            if training.early_stop_patience > 0 && since_best >= training.early_stop_patience {
                break;
            }
        }
    }
    let Some((best_validation_loss, best_epoch, model)) = best else {
        return Err(TrainError::Data("no epoch ran".into()));
    };
    Ok(MarbleOutcome {
        model,
        best_epoch,
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

const MODEL_FILE: &str = "marble.bpk";
const INPUT_FILE: &str = "marble-input.json";

/// Writes `outcome`'s best model into a run directory: `config.toml`, `metrics.jsonl`,
/// `checkpoints/iter-<best epoch>/` (weights and the network input description) and the
/// manifest with the key results.
pub fn save_marble_run(
    run: &RunDir,
    config: &MarbleRunConfig,
    data: &MarbleData,
    outcome: &MarbleOutcome,
    context: RunContext,
    started_unix_s: f64,
) -> Result<()> {
    run.write_config(config)?;
    for line in &outcome.history {
        run.append_metrics(line)?;
    }
    let epoch = outcome.best_epoch as u64;
    let partial = run.begin_checkpoint(epoch)?;
    save_module(&partial, MODEL_FILE, &outcome.model)?;
    let input_path = partial.join(INPUT_FILE);
    let text = serde_json::to_string(&data.input).map_err(|e| TrainError::file(&input_path, e))?;
    std::fs::write(&input_path, text).map_err(|e| TrainError::file(&input_path, e))?;
    run.commit_checkpoint(&partial, epoch, 1)?;
    let mut results = serde_json::Map::new();
    results.insert("best_epoch".into(), outcome.best_epoch.into());
    results.insert(
        "best_validation_loss".into(),
        outcome.best_validation_loss.into(),
    );
    results.insert(
        "diffusion_time".into(),
        outcome.model.diffusion_time().into(),
    );
    results.insert("nodes".into(), data.nodes().into());
    results.insert("conditions".into(), (data.offsets.len() - 1).into());
    let ended = unix_seconds();
    let epochs = outcome.history.len() as u64;
    let manifest = Manifest {
        model: "marble".into(),
        seed: config.seed,
        context: context.clone(),
        data: None,
        more_data: Vec::new(),
        config: serde_json::to_value(config).map_err(|e| TrainError::Config(e.to_string()))?,
        sessions: vec![Session {
            command: context.command,
            device: context.device,
            git_commit: context.git_commit.clone(),
            start_iteration: 0,
            end_iteration: epochs,
            started_unix_s,
            ended_unix_s: Some(ended),
            iterations_per_s: Some(epochs as f64 / (ended - started_unix_s).max(1e-9)),
        }],
        status: "finished".into(),
        results,
    };
    run.write_manifest(&manifest)
}

/// The trained MARBLE network of a run directory, on `device` (no autodiff), with the input
/// description it expects.
pub fn load_marble(dir: &Path, device: &Device) -> Result<(MarbleRunConfig, Marble)> {
    let run = RunDir::open(dir)?;
    let config: MarbleRunConfig = run.read_config()?;
    let (_, checkpoint) = run.latest_checkpoint()?;
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
