//! CycleGAN training for pre -> post learning activity (Zhu et al. 2017, as used by Li,
//! Amvrosiadis, Rochefort & Onken 2021; METHODS.md section 2).
//!
//! Per iteration, with a pre batch `x` and an independent post batch `y`:
//! - generators (G: pre -> post, F: post -> pre), the least-squares GAN loss
//!   `mean (D_post(G x) - 1)^2 + mean (D_pre(F y) - 1)^2`, plus
//!   `cycle (|F(G x) - x| + |G(F y) - y|)` and `identity (|G y - y| + |F x - x|)` (means of
//!   absolute values; weights 10 and 5);
//! - discriminators, on the generators' outputs as constants:
//!   `0.5 [mean (D_post(y) - 1)^2 + mean D_post(G x)^2]` plus the same for `D_pre` on `x` and
//!   `F y`.
//!
//! Adam lr 2e-4, betas (0.5, 0.9) for both groups. Every draw of iteration `i` (the two batches)
//! comes from ChaCha8 on stream `i` of the run's seed, so a resumed run repeats the
//! uninterrupted one exactly (same backend).

pub mod preprocessing;

use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array3;
use neuroforge_models::{CycleGanConfig, CycleGenerator, PatchDiscriminator};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use self::preprocessing::{
    CalciumPipelineConfig, Condition, CycleData, CyclePreprocessing, PipelineInput, SignalWindows,
};
use crate::checkpoint::{
    load_module, load_optimizer, save_module, save_optimizer, with_stable_param_ids,
};
use crate::error::{Result, TrainError};
use crate::rundir::{DataDescription, Manifest, ModelKind, RunContext, RunDir, RunStatus};
use crate::session::{
    CheckpointPolicy, SessionObserver, StepLosses, StopHandle, Trainer, run_session,
};
use crate::spikegan::{iteration_rng, to_f64};

/// CycleGAN optimisation settings. Defaults are the published ones where there are any (losses,
/// weights, Adam); the schedule is sized for this project's synthetic experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CycleTrainingConfig {
    /// Iterations (one generator and one discriminator update each). Default 3000.
    pub iterations: u64,
    /// Samples per batch of each condition. Default 16.
    pub batch_size: usize,
    /// Adam learning rate of all four networks. Default 2e-4.
    pub learning_rate: f64,
    /// Adam beta1. Default 0.5.
    pub beta1: f64,
    /// Adam beta2. Default 0.9.
    pub beta2: f64,
    /// Adam epsilon. Default 1e-8.
    pub epsilon: f64,
    /// Weight of the cycle-consistency L1 loss. Default 10.
    pub cycle_weight: f64,
    /// Weight of the identity L1 loss. Default 5.
    pub identity_weight: f64,
    /// Log losses every this many iterations. Default 100.
    pub log_every: u64,
    /// Checkpoint every this many iterations (and after the last). Default 500.
    pub checkpoint_every: u64,
    /// Checkpoints kept. Default 3.
    pub keep_checkpoints: usize,
    /// Stop when a loss exceeds this (non-finite losses always stop). Default 1e6.
    pub divergence_limit: f64,
    /// Standard deviation of the Gaussian "instance noise" added to every discriminator input,
    /// real and translated alike, in model units (the normalised signal). It hides what a
    /// deterministic generator cannot imitate, such as the lattice of whole spike counts, so
    /// the discriminators judge the smoothed distributions (Sønderby et al. 2017, Arjovsky and
    /// Bottou 2017). The generators never see it. Default unset: 1 for binned counts (measured
    /// in docs/RESULTS.md, cyclegan-counts), 0 (off) for calcium imaging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_noise: Option<f64>,
}

impl Default for CycleTrainingConfig {
    fn default() -> Self {
        Self {
            iterations: 3000,
            batch_size: 16,
            learning_rate: 2e-4,
            beta1: 0.5,
            beta2: 0.9,
            epsilon: 1e-8,
            cycle_weight: 10.0,
            identity_weight: 5.0,
            log_every: 100,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            divergence_limit: 1e6,
            instance_noise: None,
        }
    }
}

impl CycleTrainingConfig {
    /// Refuse settings that cannot train.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.into()));
        if self.batch_size == 0 || self.log_every == 0 || self.checkpoint_every == 0 {
            return bad("batch size, log interval and checkpoint interval must be at least 1");
        }
        if self.keep_checkpoints == 0 {
            return bad("at least one checkpoint must be kept");
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.learning_rate) || !positive(self.epsilon) {
            return bad("the learning rate and epsilon must be positive");
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return bad("Adam's betas must be in [0, 1)");
        }
        let weight = |v: f64| v.is_finite() && v >= 0.0;
        if !weight(self.cycle_weight) || !weight(self.identity_weight) {
            return bad("the cycle and identity weights must be >= 0");
        }
        if !self.instance_noise.is_none_or(weight) {
            return bad("the instance noise must be a finite standard deviation >= 0");
        }
        Ok(())
    }

    fn adam(&self) -> ModuleOptimizer {
        AdamConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.epsilon as f32)
            .init()
    }
}

/// The whole configuration of a CycleGAN run, as written to `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleGanRunConfig {
    /// The seed of the weights, of the random neuron order and of every batch.
    pub seed: u64,
    /// The calcium pipeline.
    #[serde(default)]
    pub pipeline: CalciumPipelineConfig,
    /// The networks (`neurons` and `bins` are set from the data and the window).
    #[serde(default)]
    pub model: CycleGanConfig,
    /// The optimisation.
    #[serde(default)]
    pub training: CycleTrainingConfig,
}

impl CycleGanRunConfig {
    /// The instance noise this run trains with: the configured one, else 1 for binned counts
    /// and 0 for calcium imaging ([`CycleTrainingConfig::instance_noise`]).
    pub fn instance_noise(&self) -> f64 {
        self.training
            .instance_noise
            .unwrap_or(match self.pipeline.input {
                PipelineInput::Counts => 1.0,
                PipelineInput::Calcium => 0.0,
            })
    }
}

/// The two generators, one module for one optimiser.
#[derive(Module, Debug)]
pub struct CycleGenerators {
    /// G: pre -> post.
    pub to_post: CycleGenerator,
    /// F: post -> pre.
    pub to_pre: CycleGenerator,
}

impl CycleGenerators {
    /// The generator that maps a `from` sample to the other condition.
    pub fn from_condition(&self, from: Condition) -> &CycleGenerator {
        match from {
            Condition::Pre => &self.to_post,
            Condition::Post => &self.to_pre,
        }
    }
}

/// The two discriminators, one module for one optimiser.
#[derive(Module, Debug)]
pub struct CycleDiscriminators {
    /// D_post: real post samples against G's output.
    pub post: PatchDiscriminator,
    /// D_pre: real pre samples against F's output.
    pub pre: PatchDiscriminator,
}

impl CycleDiscriminators {
    /// The discriminator that judges samples of `condition`.
    pub fn of(&self, condition: Condition) -> &PatchDiscriminator {
        match condition {
            Condition::Pre => &self.pre,
            Condition::Post => &self.post,
        }
    }
}

/// Losses of one iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleLosses {
    /// The generators' whole loss.
    pub generator_loss: f64,
    /// Its least-squares adversarial part (both directions).
    pub adversarial: f64,
    /// Cycle-consistency L1 (both directions, before the weight).
    pub cycle: f64,
    /// Identity L1 (both directions, before the weight).
    pub identity: f64,
    /// The discriminators' loss (both).
    pub discriminator_loss: f64,
}

impl CycleLosses {
    fn add(&mut self, other: &Self, weight: f64) {
        self.generator_loss += weight * other.generator_loss;
        self.adversarial += weight * other.adversarial;
        self.cycle += weight * other.cycle;
        self.identity += weight * other.identity;
        self.discriminator_loss += weight * other.discriminator_loss;
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleMetricsLine {
    /// The iteration the line was logged after.
    pub iteration: u64,
    /// Losses averaged since the previous line.
    #[serde(flatten)]
    pub losses: CycleLosses,
    /// Iterations per second since the previous line.
    pub iterations_per_s: f64,
}

const GENERATORS_FILE: &str = "generators.bpk";
const DISCRIMINATORS_FILE: &str = "discriminators.bpk";
const GENERATORS_OPTIM_FILE: &str = "generators-adam.bpk";
const DISCRIMINATORS_OPTIM_FILE: &str = "discriminators-adam.bpk";
/// The fitted pipeline, next to `config.toml` in the run directory.
pub const PREPROCESSING_FILE: &str = "preprocessing.json";

fn weight_seeds(seed: u64) -> [u64; 4] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    [rng.random(), rng.random(), rng.random(), rng.random()]
}

/// Fresh networks for `config` on `device`.
pub fn cycle_networks(
    config: &CycleGanConfig,
    seed: u64,
    device: &Device,
) -> Result<(CycleGenerators, CycleDiscriminators)> {
    let [g, f, dp, dq] = weight_seeds(seed);
    Ok((
        CycleGenerators {
            to_post: CycleGenerator::new(config, g, device)?,
            to_pre: CycleGenerator::new(config, f, device)?,
        },
        CycleDiscriminators {
            post: PatchDiscriminator::new(config, dp, device)?,
            pre: PatchDiscriminator::new(config, dq, device)?,
        },
    ))
}

fn squared_distance_to(scores: Tensor<4>, target: f64) -> Tensor<1> {
    scores.sub_scalar(target).powi_scalar(2).mean()
}

fn l1(a: Tensor<3>, b: Tensor<3>) -> Tensor<1> {
    (a - b).abs().mean()
}

/// The four CycleGAN networks and their two optimisers, on an autodiff device.
pub struct CycleGanTrainer {
    config: CycleGanRunConfig,
    device: Device,
    generators: CycleGenerators,
    discriminators: CycleDiscriminators,
    generators_optim: ModuleOptimizer,
    discriminators_optim: ModuleOptimizer,
    iteration: u64,
}

impl CycleGanTrainer {
    /// Fresh networks for `config` on `device` (autodiff is enabled on it here).
    pub fn new(config: CycleGanRunConfig, device: &Device) -> Result<Self> {
        config.training.check()?;
        let device = device.clone().autodiff();
        let (generators, discriminators) = cycle_networks(&config.model, config.seed, &device)?;
        let generators = with_stable_param_ids(generators, GENERATORS_FILE);
        let discriminators = with_stable_param_ids(discriminators, DISCRIMINATORS_FILE);
        Ok(Self {
            generators_optim: config.training.adam(),
            discriminators_optim: config.training.adam(),
            config,
            device,
            generators,
            discriminators,
            iteration: 0,
        })
    }

    /// The networks and optimiser states of a checkpoint directory, after `iteration`.
    pub fn from_checkpoint(
        config: CycleGanRunConfig,
        checkpoint: &Path,
        iteration: u64,
        device: &Device,
    ) -> Result<Self> {
        let mut trainer = Self::new(config, device)?;
        let (generators, discriminators) = load_networks(
            checkpoint,
            trainer.generators.clone(),
            trainer.discriminators.clone(),
        )?;
        trainer.generators = generators;
        trainer.discriminators = discriminators;
        let adam = || trainer.config.training.adam();
        trainer.generators_optim = load_optimizer(checkpoint, GENERATORS_OPTIM_FILE, adam())?;
        trainer.discriminators_optim =
            load_optimizer(checkpoint, DISCRIMINATORS_OPTIM_FILE, adam())?;
        trainer.iteration = iteration;
        Ok(trainer)
    }

    /// Iterations completed.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The generators (on the autodiff device).
    pub fn generators(&self) -> &CycleGenerators {
        &self.generators
    }

    /// The discriminators (on the autodiff device).
    pub fn discriminators(&self) -> &CycleDiscriminators {
        &self.discriminators
    }

    fn batch(&self, windows: &SignalWindows, indices: &[usize]) -> Tensor<3> {
        let mut values = Vec::new();
        windows.gather_into(indices, &mut values);
        Tensor::from_data(
            TensorData::new(values, [indices.len(), windows.neurons(), windows.window()]),
            &self.device,
        )
    }

    fn check_finite(&self, iteration: u64, what: &str, value: f64) -> Result<()> {
        if value.is_finite() && value.abs() <= self.config.training.divergence_limit {
            Ok(())
        } else {
            Err(TrainError::Diverged {
                iteration,
                what: format!("{what} = {value}"),
            })
        }
    }

    /// One iteration: a generator update, then a discriminator update.
    pub fn step(&mut self, pre: &SignalWindows, post: &SignalWindows) -> Result<CycleLosses> {
        let model = &self.config.model;
        for w in [pre, post] {
            if w.neurons() != model.neurons || w.window() != model.bins || w.is_empty() {
                return Err(TrainError::Data(format!(
                    "{} windows of {} x {}, the model expects {} x {}",
                    w.len(),
                    w.neurons(),
                    w.window(),
                    model.neurons,
                    model.bins
                )));
            }
        }
        let next = self.iteration + 1;
        let mut rng = iteration_rng(self.config.seed, next);
        let batch = self.config.training.batch_size;
        let draw = |rng: &mut ChaCha8Rng, n: usize| -> Vec<usize> {
            (0..batch).map(|_| rng.random_range(0..n)).collect()
        };
        let x = self.batch(pre, &draw(&mut rng, pre.len()));
        let y = self.batch(post, &draw(&mut rng, post.len()));
        let t = &self.config.training;
        let (lr, cycle_w, identity_w) = (t.learning_rate, t.cycle_weight, t.identity_weight);

        let gens = &self.generators;
        let fake_post = gens.to_post.forward(x.clone());
        let fake_pre = gens.to_pre.forward(y.clone());
        let sigma = self.config.instance_noise();
        let device = self.device.clone();
        // Instance noise: drawn only when on, so runs without it keep their random stream.
        let mut noisy = |t: Tensor<3>| -> Tensor<3> {
            if sigma <= 0.0 {
                return t;
            }
            let shape = t.dims();
            let noise: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|_| sigma as f32 * rng.sample::<f32, _>(StandardNormal))
                .collect();
            t + Tensor::from_data(TensorData::new(noise, shape), &device)
        };
        let adversarial = squared_distance_to(
            self.discriminators.post.forward(noisy(fake_post.clone())),
            1.0,
        ) + squared_distance_to(
            self.discriminators.pre.forward(noisy(fake_pre.clone())),
            1.0,
        );
        let cycle = l1(gens.to_pre.forward(fake_post.clone()), x.clone())
            + l1(gens.to_post.forward(fake_pre.clone()), y.clone());
        let identity = l1(gens.to_post.forward(y.clone()), y.clone())
            + l1(gens.to_pre.forward(x.clone()), x.clone());
        let g_loss = adversarial.clone()
            + cycle.clone().mul_scalar(cycle_w)
            + identity.clone().mul_scalar(identity_w);
        let mut losses = CycleLosses {
            generator_loss: to_f64(g_loss.clone().detach()),
            adversarial: to_f64(adversarial.detach()),
            cycle: to_f64(cycle.detach()),
            identity: to_f64(identity.detach()),
            discriminator_loss: 0.0,
        };
        self.check_finite(next, "generator loss", losses.generator_loss)?;
        let grads = GradientsParams::from_grads(g_loss.backward(), &self.generators);
        self.generators = self
            .generators_optim
            .step(lr, self.generators.clone(), grads);

        let (fake_post, fake_pre) = (fake_post.detach(), fake_pre.detach());
        let d = &self.discriminators;
        let d_loss = (squared_distance_to(d.post.forward(noisy(y)), 1.0)
            + squared_distance_to(d.post.forward(noisy(fake_post)), 0.0)
            + squared_distance_to(d.pre.forward(noisy(x)), 1.0)
            + squared_distance_to(d.pre.forward(noisy(fake_pre)), 0.0))
        .mul_scalar(0.5);
        losses.discriminator_loss = to_f64(d_loss.clone().detach());
        self.check_finite(next, "discriminator loss", losses.discriminator_loss)?;
        let grads = GradientsParams::from_grads(d_loss.backward(), &self.discriminators);
        self.discriminators =
            self.discriminators_optim
                .step(lr, self.discriminators.clone(), grads);
        self.iteration = next;
        Ok(losses)
    }

    /// Write the networks and optimiser states into `dir`.
    pub fn save_into(&self, dir: &Path) -> Result<()> {
        save_module(dir, GENERATORS_FILE, &self.generators)?;
        save_module(dir, DISCRIMINATORS_FILE, &self.discriminators)?;
        save_optimizer(dir, GENERATORS_OPTIM_FILE, &self.generators_optim)?;
        save_optimizer(dir, DISCRIMINATORS_OPTIM_FILE, &self.discriminators_optim)
    }
}

fn load_networks(
    checkpoint: &Path,
    generators: CycleGenerators,
    discriminators: CycleDiscriminators,
) -> Result<(CycleGenerators, CycleDiscriminators)> {
    Ok((
        load_module(checkpoint, GENERATORS_FILE, generators)?,
        load_module(checkpoint, DISCRIMINATORS_FILE, discriminators)?,
    ))
}

/// A trained CycleGAN run: its configuration, fitted pipeline and networks.
pub struct TrainedCycleGan {
    /// The run configuration.
    pub config: CycleGanRunConfig,
    /// The fitted pipeline.
    pub preprocessing: CyclePreprocessing,
    /// G and F.
    pub generators: CycleGenerators,
    /// D_post and D_pre.
    pub discriminators: CycleDiscriminators,
}

/// The networks of a run directory's newest checkpoint on `device` (no autodiff is enabled;
/// pass an autodiff device for [`attributions`]).
pub fn load_cyclegan(run: &RunDir, device: &Device) -> Result<TrainedCycleGan> {
    let config: CycleGanRunConfig = run.read_config()?;
    let path = run.path().join(PREPROCESSING_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::file(&path, e))?;
    let preprocessing: CyclePreprocessing =
        serde_json::from_str(&text).map_err(|e| TrainError::file(&path, e))?;
    let (_, checkpoint) = run.latest_checkpoint()?;
    let (generators, discriminators) = cycle_networks(&config.model, 0, device)?;
    let (generators, discriminators) = load_networks(&checkpoint, generators, discriminators)?;
    Ok(TrainedCycleGan {
        config,
        preprocessing,
        generators,
        discriminators,
    })
}

/// Translate samples `[S, N, T]` (model order, normalised as `from`) with the generator that
/// maps `from` to the other condition, in batches.
pub fn translate_windows(
    generators: &CycleGenerators,
    from: Condition,
    samples: &Array3<f32>,
    device: &Device,
) -> Result<Array3<f32>> {
    let (s, n, t) = samples.dim();
    let generator = generators.from_condition(from);
    let flat: Vec<f32> = samples.iter().copied().collect();
    let mut out = Vec::with_capacity(flat.len());
    for chunk in flat.chunks(64 * n * t) {
        let b = chunk.len() / (n * t);
        let x = Tensor::<3>::from_data(TensorData::new(chunk.to_vec(), [b, n, t]), device);
        out.extend(values(generator.forward(x))?);
    }
    shaped(out, (s, n, t))
}

/// A tensor's values as `f32`.
fn values<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>> {
    x.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Data(format!("reading a tensor: {e:?}")))
}

fn shaped(values: Vec<f32>, shape: (usize, usize, usize)) -> Result<Array3<f32>> {
    Array3::from_shape_vec(shape, values).map_err(|e| TrainError::Data(e.to_string()))
}

impl StepLosses for CycleLosses {
    fn accumulate(&mut self, other: &Self, weight: f64) {
        self.add(other, weight);
    }
}

impl Trainer for CycleGanTrainer {
    type Data = CycleData;
    type Losses = CycleLosses;
    type Line = CycleMetricsLine;

    fn iteration(&self) -> u64 {
        self.iteration
    }

    fn total_iterations(&self) -> u64 {
        self.config.training.iterations
    }

    fn log_every(&self) -> u64 {
        self.config.training.log_every
    }

    fn checkpoint_policy(&self) -> CheckpointPolicy {
        CheckpointPolicy {
            every: self.config.training.checkpoint_every,
            keep_last: self.config.training.keep_checkpoints,
            keep_best: false,
        }
    }

    fn step(&mut self, data: &CycleData) -> Result<CycleLosses> {
        CycleGanTrainer::step(self, &data.pre, &data.post)
    }

    fn metrics_line(
        &mut self,
        _data: &CycleData,
        iteration: u64,
        averaged: CycleLosses,
        iterations_per_s: f64,
    ) -> Result<CycleMetricsLine> {
        tracing::info!(
            iteration,
            generator = averaged.generator_loss,
            cycle = averaged.cycle,
            identity = averaged.identity,
            discriminator = averaged.discriminator_loss,
            "metrics"
        );
        Ok(CycleMetricsLine {
            iteration,
            losses: averaged,
            iterations_per_s,
        })
    }

    fn save_into(&self, dir: &Path) -> Result<()> {
        CycleGanTrainer::save_into(self, dir)
    }
}

/// Train until `config.training.iterations` (or until `stop` is raised), logging and
/// checkpointing into `run` by the shared session loop ([`run_session`]).
pub fn train_cyclegan(
    run: &RunDir,
    mut trainer: CycleGanTrainer,
    data: &CycleData,
    context: &RunContext,
    observer: &mut dyn SessionObserver<CycleGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<CycleMetricsLine>> {
    tracing::info!(
        start = trainer.iteration(),
        total = trainer.config.training.iterations,
        pre = data.pre.len(),
        post = data.post.len(),
        "training CycleGAN"
    );
    run_session(run, &mut trainer, data, context, observer, stop)
}

/// Start a new CycleGAN run in `run`: write the config, the fitted pipeline and the manifest
/// (with both data files), then train.
#[allow(clippy::too_many_arguments)]
pub fn start_cyclegan(
    run: &RunDir,
    mut config: CycleGanRunConfig,
    data: &CycleData,
    files: [DataDescription; 2],
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<CycleGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<CycleMetricsLine>> {
    config.model.neurons = data.pre.neurons();
    config.model.bins = data.pre.window();
    // The config file records the noise used, whatever later defaults become.
    config.training.instance_noise = Some(config.instance_noise());
    let trainer = CycleGanTrainer::new(config.clone(), device)?;
    run.write_config(&config)?;
    let text = serde_json::to_string_pretty(&data.preprocessing)
        .map_err(|e| TrainError::file(run.path().join(PREPROCESSING_FILE), e))?;
    run.write_text(PREPROCESSING_FILE, &text)?;
    let [pre_file, post_file] = files;
    let mut results = serde_json::Map::new();
    results.insert(
        "preprocessing_steps".into(),
        serde_json::to_value(&data.preprocessing.steps).unwrap_or_default(),
    );
    let manifest = Manifest {
        model: ModelKind::Cyclegan,
        seed: config.seed,
        context: context.clone(),
        data: Some(pre_file),
        more_data: vec![post_file],
        config: serde_json::to_value(&config).unwrap_or_default(),
        sessions: Vec::new(),
        status: RunStatus::Created,
        results,
        best_checkpoint: None,
        checkpoint_checksums: Default::default(),
    };
    run.write_manifest(&manifest)?;
    run.write_checkpoint(0, config.training.keep_checkpoints, None, |dir| {
        trainer.save_into(dir)
    })?;
    train_cyclegan(run, trainer, data, context, observer, stop)
}

/// Continue the CycleGAN run in `run` from its newest checkpoint, on the same data (rebuilt by
/// the caller with the run's pipeline).
pub fn resume_cyclegan(
    run: &RunDir,
    data: &CycleData,
    iterations: Option<u64>,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<CycleGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<CycleMetricsLine>> {
    let mut config: CycleGanRunConfig = run.read_config()?;
    let configured = config.training.iterations;
    let (iteration, checkpoint) = run.latest_checkpoint()?;
    config.training.iterations =
        run.resumed_length(configured, iterations, iteration, "iteration")?;
    let trainer = CycleGanTrainer::from_checkpoint(config.clone(), &checkpoint, iteration, device)?;
    run.record_resumed_length(&config, configured, iterations)?;
    run.truncate_metrics_after(iteration)?;
    tracing::info!(iteration, checkpoint = %checkpoint.display(), "resuming CycleGAN");
    train_cyclegan(run, trainer, data, context, observer, stop)
}
