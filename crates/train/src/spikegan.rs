//! Spike-GAN training by WGAN-GP (Gulrajani et al. 2017) with the exact gradient penalty, as
//! published by Molano-Mazon et al. (ICLR 2018; METHODS.md section 1).
//!
//! Per generator iteration: `critic_steps` critic updates on
//! `D(G(z)) - D(x) + lambda (||grad D(x_hat)|| - 1)^2`, `x_hat = x + alpha (G(z) - x)`,
//! `alpha ~ U(0, 1)` per sample, then one generator update on `-D(G(z))`. The penalty's input
//! gradient comes from [`Critic::input_gradient`], written as tensor operations, so its weight
//! gradient under burn's first-order autodiff is exact.
//!
//! Every random draw of iteration `i` (batch indices, `z`, `alpha`) comes from ChaCha8 seeded
//! with the run's seed on stream `i`: an iteration's randomness does not depend on what ran
//! before it, which is what makes a resumed run repeat the uninterrupted one exactly.

use std::ops::Range;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use neuroforge_models::{Critic, Generator, SpikeGanConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::adam::FusedAdam;
use crate::checkpoint::{
    load_module, load_optimizer, save_module, save_optimizer, with_stable_param_ids,
};
use crate::data::{DataConfig, SampleWindows, SplitSamples};
use crate::error::{Result, TrainError};
use crate::monitor::{Moments, SampleErrors};
use crate::rundir::{DataDescription, Manifest, ModelKind, RunContext, RunDir, RunStatus};
use crate::sample::sample_spikes_with;
use crate::session::{
    CheckpointPolicy, SessionObserver, StepLosses, StopHandle, Trainer, run_session,
};

/// What the critic is shown of the generator's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CriticInput {
    /// The spike probabilities `p = G(z)` (the paper's; the data it is compared with are
    /// binary, so the generator is pushed to saturate its sigmoid).
    #[default]
    Probabilities,
    /// A Bernoulli sample `x = 1[p > u]`, binary like the data, with the straight-through
    /// gradient: the generator's loss is differentiated as if `x` were `p`
    /// (`x + p - detach(p)`).
    StraightThrough,
}

/// How the learning rates change over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LearningRateSchedule {
    /// The same rate at every iteration (the paper's).
    #[default]
    Constant,
    /// A half cosine from the full rate at the first iteration down to
    /// `final_learning_rate_fraction` of it at the last (`iterations`).
    Cosine,
}

/// WGAN-GP settings. Defaults are the paper's (METHODS.md section 1); [`TrainingRecipe`] names
/// the paper's and neuroforge's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WganConfig {
    /// Generator iterations. Default 300,000 (the authors' schedule).
    pub iterations: u64,
    /// Critic updates per generator update. Default 5.
    pub critic_steps: usize,
    /// Weight lambda of the gradient penalty. Default 10.
    pub gradient_penalty: f64,
    /// Adam learning rate of the generator, and of the critic unless `critic_learning_rate`
    /// is set. Default 1e-4.
    pub learning_rate: f64,
    /// Adam learning rate of the critic, when it differs from the generator's (a two
    /// time-scale update rule). Default: none (the generator's).
    pub critic_learning_rate: Option<f64>,
    /// How both learning rates change over the run. Default `constant`.
    pub schedule: LearningRateSchedule,
    /// Iterations over which both learning rates rise linearly from `1/warmup` of their value
    /// to all of it. Default 0 (none).
    pub warmup_iterations: u64,
    /// The fraction of the learning rates left at the last iteration of a `cosine` schedule.
    /// Default 0.
    pub final_learning_rate_fraction: f64,
    /// What the critic is shown of the generator's output. Default `probabilities` (the
    /// paper's).
    pub critic_input: CriticInput,
    /// Decay of an exponential moving average of the generator's weights, kept beside them
    /// and used for sampling when positive; early iterations fade out through a warm-up
    /// (`min(decay, (1 + i) / (10 + i))` at iteration `i`). Default 0 (no average).
    pub ema_decay: f64,
    /// Generated samples whose firing-rate and covariance errors against the training data
    /// are logged with each metrics line (0: none). Default 512.
    pub monitor_samples: usize,
    /// Adam beta1. Default 0.
    pub beta1: f64,
    /// Adam beta2. Default 0.9.
    pub beta2: f64,
    /// Adam epsilon. Default 1e-8 (TensorFlow's and PyTorch's; burn's own default is 1e-5).
    pub epsilon: f64,
    /// Samples per batch. Default 64.
    pub batch_size: usize,
    /// On the CPU backends that run tensor operations on the calling thread (flex, ndarray),
    /// each batch is cut into this many nearly equal parts (at most `batch_size`), each
    /// differentiated on its own copy of the network, side by side on the threads of the
    /// current rayon pool, and the parts' gradients are summed in order: the gradient of the
    /// whole batch, rounded the same way on any number of threads. This is what lets one run
    /// use a second core beyond the convolutions. On libtorch and GPUs the batch is one part
    /// (their own threads split each operation). Default 2.
    pub batch_parts: usize,
    /// Log losses (averaged since the last log) and the held-out check every this many
    /// iterations. Default 100.
    pub log_every: u64,
    /// Write a checkpoint every this many iterations (and after the last). Default 1000.
    pub checkpoint_every: u64,
    /// Checkpoints kept (older ones are deleted). Default 3.
    pub keep_checkpoints: usize,
    /// Held-out samples scored at each log to watch the critic overfit (at most). Default 1024.
    pub heldout_samples: usize,
    /// Stop when the absolute critic loss exceeds this (non-finite losses always stop).
    /// Default 1e6.
    pub divergence_limit: f64,
}

impl Default for WganConfig {
    fn default() -> Self {
        Self {
            iterations: 300_000,
            critic_steps: 5,
            gradient_penalty: 10.0,
            learning_rate: 1e-4,
            critic_learning_rate: None,
            schedule: LearningRateSchedule::Constant,
            warmup_iterations: 0,
            final_learning_rate_fraction: 0.0,
            critic_input: CriticInput::Probabilities,
            ema_decay: 0.0,
            monitor_samples: 512,
            beta1: 0.0,
            beta2: 0.9,
            epsilon: 1e-8,
            batch_size: 64,
            batch_parts: 2,
            log_every: 100,
            checkpoint_every: 1000,
            keep_checkpoints: 3,
            heldout_samples: 1024,
            divergence_limit: 1e6,
        }
    }
}

impl WganConfig {
    /// Refuse settings that cannot train.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.critic_steps == 0 || self.batch_size == 0 || self.batch_parts == 0 {
            return bad("critic_steps, batch_size and batch_parts must be at least 1".into());
        }
        if self.log_every == 0 || self.checkpoint_every == 0 || self.keep_checkpoints == 0 {
            return bad(
                "log_every, checkpoint_every and keep_checkpoints must be at least 1".into(),
            );
        }
        for (name, value) in [
            ("learning_rate", self.learning_rate),
            (
                "critic_learning_rate",
                self.critic_learning_rate.unwrap_or(self.learning_rate),
            ),
            ("epsilon", self.epsilon),
            ("divergence_limit", self.divergence_limit),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(format!("{name} must be positive (got {value})"));
            }
        }
        if !(self.gradient_penalty.is_finite() && self.gradient_penalty >= 0.0) {
            return bad(format!(
                "gradient_penalty must be non-negative (got {})",
                self.gradient_penalty
            ));
        }
        for (name, value) in [
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("ema_decay", self.ema_decay),
        ] {
            if !(value.is_finite() && (0.0..1.0).contains(&value)) {
                return bad(format!("{name} must be in [0, 1) (got {value})"));
            }
        }
        if !(self.final_learning_rate_fraction.is_finite()
            && (0.0..=1.0).contains(&self.final_learning_rate_fraction))
        {
            return bad(format!(
                "final_learning_rate_fraction must be in [0, 1] (got {})",
                self.final_learning_rate_fraction
            ));
        }
        Ok(())
    }

    /// The factor both learning rates are multiplied by at generator iteration `iteration`
    /// (counted from 1): the warm-up's times the schedule's.
    pub fn learning_rate_factor(&self, iteration: u64) -> f64 {
        let warmup = if self.warmup_iterations > 0 {
            (iteration as f64 / self.warmup_iterations as f64).min(1.0)
        } else {
            1.0
        };
        let schedule = match self.schedule {
            LearningRateSchedule::Constant => 1.0,
            LearningRateSchedule::Cosine => {
                let span = self.iterations.saturating_sub(1).max(1) as f64;
                let progress = (iteration.saturating_sub(1) as f64 / span).min(1.0);
                let floor = self.final_learning_rate_fraction;
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        };
        warmup * schedule
    }

    /// The generator's and the critic's learning rates at generator iteration `iteration`.
    pub fn learning_rates(&self, iteration: u64) -> (f64, f64) {
        let factor = self.learning_rate_factor(iteration);
        (
            self.learning_rate * factor,
            self.critic_learning_rate.unwrap_or(self.learning_rate) * factor,
        )
    }

    /// The decay of the generator's weight average after iteration `iteration`, with its
    /// warm-up.
    pub fn ema_decay_at(&self, iteration: u64) -> f64 {
        let i = iteration as f64;
        self.ema_decay.min((1.0 + i) / (10.0 + i))
    }

    /// Adam with these betas and epsilon; one pass per update on libtorch
    /// (`neuroforge_kernels::adam_step`), burn's operations elsewhere (the same values to the last
    /// bit of a step).
    fn adam(&self) -> ModuleOptimizer {
        FusedAdam::module_optimizer(self.beta1 as f32, self.beta2 as f32, self.epsilon as f32)
    }
}

/// A named set of training settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingRecipe {
    /// neuroforge's recipe (docs/TRAINING.md): the critic is shown binary samples with a
    /// straight-through gradient; one critic step per generator step with a critic learning
    /// rate 4x the generator's (a two time-scale update rule: 4e-3 and 1e-3), both with a
    /// cosine decay to zero over the run; the generator's weights averaged (decay 0.999, with
    /// warm-up) for sampling. The paper's model, loss, penalty and batch are unchanged.
    #[default]
    Fast,
    /// The paper's schedule exactly: probabilities to the critic, Adam at a constant 1e-4,
    /// no average, 300,000 iterations.
    Paper,
}

impl TrainingRecipe {
    /// The name used in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TrainingRecipe::Fast => "fast",
            TrainingRecipe::Paper => "paper",
        }
    }

    /// Parses a recipe name (`fast`, `paper`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fast" => Some(TrainingRecipe::Fast),
            "paper" => Some(TrainingRecipe::Paper),
            _ => None,
        }
    }

    /// The training settings of the recipe (a run of `iterations` generator iterations for
    /// `fast`, whose schedule spans the run; the paper's 300,000 for `paper`).
    pub fn settings(self, iterations: Option<u64>) -> WganConfig {
        let paper = WganConfig::default();
        match self {
            TrainingRecipe::Paper => WganConfig {
                iterations: iterations.unwrap_or(paper.iterations),
                ..paper
            },
            TrainingRecipe::Fast => WganConfig {
                iterations: iterations.unwrap_or(FAST_RECIPE_ITERATIONS),
                critic_steps: 1,
                learning_rate: 1e-3,
                critic_learning_rate: Some(4e-3),
                schedule: LearningRateSchedule::Cosine,
                critic_input: CriticInput::StraightThrough,
                ema_decay: 0.999,
                ..paper
            },
        }
    }
}

/// Generator iterations of the `fast` recipe when the run does not say.
pub const FAST_RECIPE_ITERATIONS: u64 = 24_000;

/// The whole configuration of a Spike-GAN run, as written to `config.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeGanRunConfig {
    /// The seed of the weights and of every draw during training.
    pub seed: u64,
    /// The named recipe the `[training]` settings started from (a record: `[training]` holds
    /// what ran, including any key set by hand).
    #[serde(default)]
    pub recipe: Option<TrainingRecipe>,
    /// The named model preset the `[model]` settings started from (a record, as `recipe`).
    #[serde(default)]
    pub model_preset: Option<neuroforge_models::ModelPreset>,
    /// How samples are cut from the data.
    #[serde(default)]
    pub data: DataConfig,
    /// The networks.
    pub model: SpikeGanConfig,
    /// The optimisation.
    #[serde(default)]
    pub training: WganConfig,
}

/// Seed of the generator's initial weights for a run seed (the critic's is the next one).
fn weight_seeds(seed: u64) -> (u64, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    (rng.random(), rng.random())
}

/// The random source of generator iteration `iteration` of a run with `seed` (stream
/// `iteration`; stream `u64::MAX` is kept for the initial weights).
pub fn iteration_rng(seed: u64, iteration: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(iteration);
    rng
}

/// Losses of one generator iteration (critic figures averaged over its critic steps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationLosses {
    /// Critic loss `D(fake) - D(real) + lambda * penalty`.
    pub critic_loss: f64,
    /// The critic's Wasserstein estimate `D(real) - D(fake)` on training batches.
    pub wasserstein: f64,
    /// The gradient penalty `(||grad D|| - 1)^2`, before the weight lambda.
    pub gradient_penalty: f64,
    /// Generator loss `-D(G(z))`.
    pub generator_loss: f64,
}

impl IterationLosses {
    fn add(&mut self, other: &Self, weight: f64) {
        self.critic_loss += weight * other.critic_loss;
        self.wasserstein += weight * other.wasserstein;
        self.gradient_penalty += weight * other.gradient_penalty;
        self.generator_loss += weight * other.generator_loss;
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsLine {
    /// The generator iteration the line was logged after.
    pub iteration: u64,
    /// Losses averaged over the iterations since the previous line.
    #[serde(flatten)]
    pub losses: IterationLosses,
    /// `mean D(train samples) - mean D(generated)`, on as many training samples as held-out.
    pub wasserstein_train_subset: f64,
    /// `mean D(held-out samples) - mean D(generated)`: well below the training figure means
    /// the critic has started to memorise the training set.
    pub wasserstein_heldout: Option<f64>,
    /// Generator iterations per second since the previous line.
    pub iterations_per_s: f64,
    /// Firing-rate and covariance errors of fresh samples of the generator (its weight
    /// average when the run keeps one) against the training data, when `monitor_samples` is
    /// positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_errors: Option<SampleErrors>,
    /// The generator's learning rate at the line's iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
}

/// A Spike-GAN generator and critic with their optimisers, on an autodiff device.
pub struct SpikeGanTrainer {
    config: SpikeGanRunConfig,
    device: Device,
    generator: Generator,
    critic: Critic,
    generator_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    /// The moving average of the generator's weights (without autodiff), when the run keeps
    /// one.
    average: Option<Generator>,
    iteration: u64,
    /// The training data's moments, for the sample errors of the metrics lines (computed at
    /// the first line that needs them).
    monitor_reference: Option<Moments>,
    /// Whether the batch's parts run side by side on the rayon pool's threads (CPU backends
    /// other than libtorch, whose own threads would compete with them).
    parts_side_by_side: bool,
}

const GENERATOR_FILE: &str = "generator.bpk";
const AVERAGE_FILE: &str = "generator-average.bpk";
const CRITIC_FILE: &str = "critic.bpk";
const GENERATOR_OPTIM_FILE: &str = "generator-adam.bpk";
const CRITIC_OPTIM_FILE: &str = "critic-adam.bpk";

/// A one-element tensor's value.
pub(crate) fn to_f64(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

impl SpikeGanTrainer {
    /// Fresh networks for `config` on `device` (autodiff is enabled on it here).
    pub fn new(config: SpikeGanRunConfig, device: &Device) -> Result<Self> {
        config.training.check()?;
        let device = device.clone().autodiff();
        let parts_side_by_side = parts_side_by_side_on(&device);
        let (generator_seed, critic_seed) = weight_seeds(config.seed);
        let generator = Generator::new(&config.model, generator_seed, &device)?;
        let generator = with_stable_param_ids(generator, GENERATOR_FILE);
        let critic = with_stable_param_ids(
            Critic::new(&config.model, critic_seed, &device)?,
            CRITIC_FILE,
        );
        let average = (config.training.ema_decay > 0.0).then(|| generator.valid());
        Ok(Self {
            generator_optim: config.training.adam(),
            critic_optim: config.training.adam(),
            config,
            device,
            generator,
            critic,
            average,
            iteration: 0,
            monitor_reference: None,
            parts_side_by_side,
        })
    }

    /// The networks and optimiser states of a checkpoint directory, after `iteration`.
    pub fn from_checkpoint(
        config: SpikeGanRunConfig,
        checkpoint: &Path,
        iteration: u64,
        device: &Device,
    ) -> Result<Self> {
        let mut trainer = Self::new(config, device)?;
        let (generator, critic) = load_networks(
            checkpoint,
            trainer.generator.clone(),
            trainer.critic.clone(),
        )?;
        trainer.generator = generator;
        trainer.critic = critic;
        let adam = || trainer.config.training.adam();
        trainer.generator_optim = load_optimizer(checkpoint, GENERATOR_OPTIM_FILE, adam())?;
        trainer.critic_optim = load_optimizer(checkpoint, CRITIC_OPTIM_FILE, adam())?;
        if let Some(average) = trainer.average.take() {
            // A checkpoint without an average (the run turned it on when resumed) starts it
            // from the current weights.
            trainer.average = Some(if checkpoint.join(AVERAGE_FILE).exists() {
                load_module(checkpoint, AVERAGE_FILE, average)?
            } else {
                trainer.generator.valid()
            });
        }
        trainer.iteration = iteration;
        Ok(trainer)
    }

    /// Whether the parts of each batch (`training.batch_parts`) run side by side on the
    /// current rayon pool's threads: on flex and ndarray, not on libtorch or GPUs.
    pub fn parts_side_by_side(&self) -> bool {
        self.parts_side_by_side
    }

    /// Generator iterations completed.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The run configuration.
    pub fn config(&self) -> &SpikeGanRunConfig {
        &self.config
    }

    /// The generator (on the autodiff device).
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The critic (on the autodiff device).
    pub fn critic(&self) -> &Critic {
        &self.critic
    }

    /// The moving average of the generator's weights, when the run keeps one.
    pub fn average(&self) -> Option<&Generator> {
        self.average.as_ref()
    }

    /// The generator samples are drawn from: the weight average when the run keeps one, else
    /// the generator itself (without autodiff).
    pub fn sampling_generator(&self) -> Generator {
        self.average
            .clone()
            .unwrap_or_else(|| self.generator.valid())
    }

    /// Uniform draws for a batch of samples (`batch x neurons x bins`, row-major), for
    /// Bernoulli samples of probabilities.
    fn uniform_values(&self, rng: &mut ChaCha8Rng, batch: usize) -> Vec<f32> {
        let (neurons, bins) = (self.config.model.neurons, self.config.model.bins);
        (0..batch * neurons * bins)
            .map(|_| rng.random::<f32>())
            .collect()
    }

    /// Standard normal latent draws for a batch (`batch x latent_dim`, row-major).
    fn noise_values(&self, rng: &mut ChaCha8Rng, batch: usize) -> Vec<f32> {
        let z = self.config.model.latent_dim;
        (0..batch * z)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    /// The rows `rows` of a row-major batch of values whose rows are shaped `row`, as a tensor
    /// `[rows, row...]` on the training device.
    fn rows_tensor<const R: usize, const D: usize>(
        &self,
        values: &[f32],
        rows: &Range<usize>,
        row: [usize; R],
    ) -> Tensor<D> {
        let width: usize = row.iter().product();
        let mut shape = vec![rows.len()];
        shape.extend_from_slice(&row);
        Tensor::from_data(
            TensorData::new(values[rows.start * width..rows.end * width].to_vec(), shape),
            &self.device,
        )
    }

    fn samples_tensor(&self, samples: &SampleWindows, indices: &[usize]) -> Tensor<3> {
        let mut values = Vec::new();
        samples.gather_into(indices, &mut values);
        Tensor::from_data(
            TensorData::new(values, [indices.len(), samples.neurons(), samples.window()]),
            &self.device,
        )
    }

    fn noise(&self, rng: &mut ChaCha8Rng, batch: usize) -> Tensor<2> {
        let values = self.noise_values(rng, batch);
        self.rows_tensor(&values, &(0..batch), [self.config.model.latent_dim])
    }

    /// One generator iteration: `critic_steps` critic updates, then one generator update.
    pub fn step(&mut self, train: &SampleWindows) -> Result<IterationLosses> {
        if train.neurons() != self.config.model.neurons || train.window() != self.config.model.bins
        {
            return Err(TrainError::Data(format!(
                "samples are {} x {}, the model expects {} x {}",
                train.neurons(),
                train.window(),
                self.config.model.neurons,
                self.config.model.bins
            )));
        }
        let next = self.iteration + 1;
        let mut rng = iteration_rng(self.config.seed, next);
        let batch = self.config.training.batch_size;
        let lambda = self.config.training.gradient_penalty;
        let (generator_lr, critic_lr) = self.config.training.learning_rates(next);
        let binary_input = self.config.training.critic_input == CriticInput::StraightThrough;
        let steps = self.config.training.critic_steps;
        let side_by_side = self.parts_side_by_side;
        // Where the parts cannot run side by side the whole batch is one part: the backend's
        // own threads split each operation, and smaller operations would only cost time.
        let parts = part_ranges(
            batch,
            if side_by_side {
                self.config.training.batch_parts
            } else {
                1
            },
        );
        let mut losses = IterationLosses::default();
        for _ in 0..steps {
            // The draws of the whole batch, in the order they always had, then cut into parts.
            let indices: Vec<usize> = (0..batch)
                .map(|_| rng.random_range(0..train.len()))
                .collect();
            let z = self.noise_values(&mut rng, batch);
            let alpha: Vec<f32> = (0..batch).map(|_| rng.random::<f32>()).collect();
            let u = binary_input.then(|| self.uniform_values(&mut rng, batch));
            // The generator is a constant of the critic's loss.
            let generator = self.generator.valid();
            let jobs: Vec<CriticPart> = parts
                .iter()
                .map(|rows| CriticPart {
                    critic: self.critic.clone().map(&mut FreshLeaves { tracked: true }),
                    generator: generator.clone(),
                    real: self.samples_tensor(train, &indices[rows.clone()]),
                    z: self.rows_tensor(&z, rows, [self.config.model.latent_dim]),
                    alpha: self.rows_tensor(&alpha, rows, [1, 1]),
                    u: u.as_ref().map(|u| {
                        self.rows_tensor(
                            u,
                            rows,
                            [self.config.model.neurons, self.config.model.bins],
                        )
                    }),
                })
                .collect();
            let done = run_parts(side_by_side, jobs, |part| part.run(batch, lambda));
            let mut step = IterationLosses::default();
            let mut part_grads = Vec::with_capacity(done.len());
            for (grads, part_losses) in done {
                step.add(&part_losses, 1.0);
                part_grads.push(grads);
            }
            losses.add(&step, 1.0 / steps as f64);
            self.check_finite(next, "critic loss", step.critic_loss)?;
            let grads = sum_gradients(&self.critic, part_grads);
            self.critic = self
                .critic_optim
                .step(critic_lr, self.critic.clone(), grads);
        }
        let z = self.noise_values(&mut rng, batch);
        let u = binary_input.then(|| self.uniform_values(&mut rng, batch));
        // The critic is a constant of the generator's loss.
        let critic = self.critic.clone().map(&mut FreshLeaves { tracked: false });
        let jobs: Vec<GeneratorPart> = parts
            .iter()
            .map(|rows| GeneratorPart {
                generator: self
                    .generator
                    .clone()
                    .map(&mut FreshLeaves { tracked: true }),
                critic: critic.clone(),
                z: self.rows_tensor(&z, rows, [self.config.model.latent_dim]),
                u: u.as_ref().map(|u| {
                    self.rows_tensor(u, rows, [self.config.model.neurons, self.config.model.bins])
                }),
            })
            .collect();
        let done = run_parts(side_by_side, jobs, |part| part.run(batch));
        let mut part_grads = Vec::with_capacity(done.len());
        for (grads, loss) in done {
            losses.generator_loss += loss;
            part_grads.push(grads);
        }
        self.check_finite(next, "generator loss", losses.generator_loss)?;
        let grads = sum_gradients(&self.generator, part_grads);
        self.generator = self
            .generator_optim
            .step(generator_lr, self.generator.clone(), grads);
        if let Some(average) = self.average.take() {
            let decay = self.config.training.ema_decay_at(next);
            self.average = Some(moving_average(average, &self.generator.valid(), decay));
        }
        self.iteration = next;
        Ok(losses)
    }

    /// Firing-rate and covariance errors of `monitor_samples` fresh binary samples of the
    /// sampling generator against `reference` (the training data's moments); `None` when the
    /// run monitors nothing. The draws come from the iteration's own stream, apart from the
    /// training draws, so monitoring does not change training.
    pub fn sample_errors(&self, reference: &Moments) -> Result<Option<SampleErrors>> {
        let count = self.config.training.monitor_samples;
        if count == 0 {
            return Ok(None);
        }
        let generator = self.sampling_generator();
        let mut rng = iteration_rng(self.config.seed, self.iteration);
        rng.set_word_pos(1 << 41);
        let (_, spikes) = sample_spikes_with(
            &generator,
            count,
            &mut rng,
            &self.device.clone().without_autodiff(),
        )?;
        let (neurons, bins) = (self.config.model.neurons, self.config.model.bins);
        let generated = Moments::of_samples(spikes.as_slice().unwrap_or_default(), neurons, bins);
        Ok(Some(SampleErrors::between(reference, &generated, count)))
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

    /// Mean critic scores of samples, in batches, without recording a graph.
    fn mean_score(&self, critic: &Critic, samples: &SampleWindows, indices: &[usize]) -> f64 {
        let mut total = 0.0;
        for chunk in indices.chunks(256) {
            let x = self.samples_tensor(samples, chunk).without_autodiff();
            total += to_f64(critic.forward(x).sum());
        }
        total / indices.len().max(1) as f64
    }

    /// The overfitting check: the critic's Wasserstein estimate on a subset of the training
    /// samples and on the held-out samples, against the same generated samples.
    pub fn heldout_check(&self, split: &SplitSamples) -> (f64, Option<f64>) {
        let count = self
            .config
            .training
            .heldout_samples
            .min(split.heldout.len().max(self.config.training.batch_size))
            .max(1);
        let mut rng = iteration_rng(self.config.seed, self.iteration);
        rng.set_word_pos(1 << 40);
        let critic = self.critic.valid();
        let generator = self.generator.valid();
        let mut fake_total = 0.0;
        let mut remaining = count;
        while remaining > 0 {
            let n = remaining.min(256);
            let z = self.noise(&mut rng, n).without_autodiff();
            fake_total += to_f64(critic.forward(generator.forward(z)).sum());
            remaining -= n;
        }
        let fake = fake_total / count as f64;
        let train_indices: Vec<usize> = (0..count)
            .map(|_| rng.random_range(0..split.train.len()))
            .collect();
        let train = self.mean_score(&critic, &split.train, &train_indices) - fake;
        let heldout = (!split.heldout.is_empty()).then(|| {
            let indices: Vec<usize> = (0..count.min(split.heldout.len())).collect();
            self.mean_score(&critic, &split.heldout, &indices) - fake
        });
        (train, heldout)
    }

    /// Write the networks, the weight average and the optimiser states into `dir`.
    pub fn save_into(&self, dir: &Path) -> Result<()> {
        save_module(dir, GENERATOR_FILE, &self.generator)?;
        if let Some(average) = &self.average {
            save_module(dir, AVERAGE_FILE, average)?;
        }
        save_module(dir, CRITIC_FILE, &self.critic)?;
        save_optimizer(dir, GENERATOR_OPTIM_FILE, &self.generator_optim)?;
        save_optimizer(dir, CRITIC_OPTIM_FILE, &self.critic_optim)
    }
}

/// Replace the weights of `generator` and `critic` (built from the run's configuration, on
/// the device they should live on) with those of a checkpoint directory.
fn load_networks(
    checkpoint: &Path,
    generator: Generator,
    critic: Critic,
) -> Result<(Generator, Critic)> {
    Ok((
        load_module(checkpoint, GENERATOR_FILE, generator)?,
        load_module(checkpoint, CRITIC_FILE, critic)?,
    ))
}

/// The trained networks of a run directory's newest checkpoint, on `device` (no autodiff).
/// The generator is the moving average of its weights when the checkpoint holds one (the
/// weights a run with `ema_decay > 0` samples from).
pub fn load_trained(
    run: &RunDir,
    device: &Device,
) -> Result<(SpikeGanRunConfig, Generator, Critic)> {
    let config: SpikeGanRunConfig = run.read_config()?;
    let (_, checkpoint) = run.latest_checkpoint()?;
    let generator = Generator::new(&config.model, 0, device)?;
    let critic = Critic::new(&config.model, 0, device)?;
    let (generator, critic) = if checkpoint.join(AVERAGE_FILE).exists() {
        (
            load_module(&checkpoint, AVERAGE_FILE, generator)?,
            load_module(&checkpoint, CRITIC_FILE, critic)?,
        )
    } else {
        load_networks(&checkpoint, generator, critic)?
    };
    Ok((config, generator, critic))
}

/// Bernoulli samples `1[p > u]` of probabilities `p` whose gradient with respect to `p` is
/// the identity's (`x + p - detach(p)`, the straight-through estimator).
pub fn straight_through<const D: usize>(p: Tensor<D>, u: Tensor<D>) -> Tensor<D> {
    let spikes = p.clone().detach().greater(u).float();
    p.clone() + (spikes - p.detach())
}

/// Whether the parts of a batch run side by side on `device`: on the CPU backends whose tensor
/// operations run on the calling thread (flex, ndarray), not on libtorch (its operations use
/// their own thread pool, which parts on rayon's threads would oversubscribe) nor on GPUs.
fn parts_side_by_side_on(device: &Device) -> bool {
    let inner = format!("{:?}", device.clone().inner().as_dispatch());
    inner.starts_with("Flex") || inner.starts_with("NdArray")
}

/// The rows of each of `parts` nearly equal, contiguous parts of a batch of `batch` (at most
/// `batch` parts, none empty).
fn part_ranges(batch: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, batch.max(1));
    (0..parts)
        .map(|p| p * batch / parts..(p + 1) * batch / parts)
        .collect()
}

/// Runs `work` on every job, side by side on the current rayon pool's threads or one after
/// another, and returns the results in the jobs' order either way.
fn run_parts<J, T, F>(side_by_side: bool, jobs: Vec<J>, work: F) -> Vec<T>
where
    J: Send,
    T: Send,
    F: Fn(J) -> T + Sync + Send,
{
    if side_by_side && jobs.len() > 1 && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        jobs.into_par_iter().map(work).collect()
    } else {
        jobs.into_iter().map(work).collect()
    }
}

/// A module copy whose float parameters are new autodiff leaves (same parameter ids), tracked
/// or constant. Each part of a batch differentiates its own copy, so the parts' autodiff
/// graphs share no node and run side by side.
struct FreshLeaves {
    tracked: bool,
}

impl ModuleMapper for FreshLeaves {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let tracked = self.tracked;
        param.map(|value| {
            if tracked {
                value.detach().require_grad()
            } else {
                value.set_require_grad(false)
            }
        })
    }
}

/// Sums the parts' gradients parameter by parameter, in the parts' order.
struct SumGradients {
    parts: Vec<GradientsParams>,
    total: GradientsParams,
}

impl ModuleVisitor for SumGradients {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let mut sum: Option<Tensor<D>> = None;
        for part in &mut self.parts {
            if let Some(grad) = part.remove::<D>(param.id) {
                sum = Some(match sum {
                    Some(sum) => sum + grad,
                    None => grad,
                });
            }
        }
        if let Some(sum) = sum {
            self.total.register(param.id, sum);
        }
    }
}

/// The gradient of the whole batch: the parts' gradients of `module`'s parameters, summed.
fn sum_gradients<M: Module>(module: &M, parts: Vec<GradientsParams>) -> GradientsParams {
    let mut sum = SumGradients {
        parts,
        total: GradientsParams::new(),
    };
    module.visit(&mut sum);
    sum.total
}

/// One part of a critic update's batch, with its own copy of the critic.
struct CriticPart {
    critic: Critic,
    /// The generator without autodiff.
    generator: Generator,
    real: Tensor<3>,
    z: Tensor<2>,
    alpha: Tensor<3>,
    /// Uniform draws for binary critic inputs.
    u: Option<Tensor<3>>,
}

impl CriticPart {
    /// The part's share of the critic loss of a batch of `batch` (its sums over its rows
    /// divided by `batch`), differentiated: its gradients and its share of the losses.
    fn run(self, batch: usize, lambda: f64) -> (GradientsParams, IterationLosses) {
        let rows = self.real.dims()[0];
        let mut fake = self.generator.forward(self.z.without_autodiff());
        if let Some(u) = self.u {
            fake = fake.greater(u.without_autodiff()).float();
        }
        let fake = fake.autodiff();
        let real = self.real;
        let interpolated = real.clone() + (fake.clone() - real.clone()) * self.alpha;
        // Real and generated samples through the critic in one batch.
        let scores = self.critic.forward(Tensor::cat(vec![real, fake], 0));
        let divisor = batch as f64;
        let real_score = scores.clone().narrow(0, 0, rows).sum().div_scalar(divisor);
        let fake_score = scores.narrow(0, rows, rows).sum().div_scalar(divisor);
        let penalty = self
            .critic
            .gradient_penalty(interpolated)
            .mul_scalar(rows as f64 / divisor);
        let loss = fake_score.clone() - real_score.clone() + penalty.clone().mul_scalar(lambda);
        let losses = IterationLosses {
            critic_loss: to_f64(loss.clone().detach()),
            wasserstein: to_f64((real_score - fake_score).detach()),
            gradient_penalty: to_f64(penalty.detach()),
            generator_loss: 0.0,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.critic);
        (grads, losses)
    }
}

/// One part of a generator update's batch, with its own copy of the generator.
struct GeneratorPart {
    generator: Generator,
    /// The critic with constant weights.
    critic: Critic,
    z: Tensor<2>,
    /// Uniform draws for binary critic inputs (straight-through).
    u: Option<Tensor<3>>,
}

impl GeneratorPart {
    /// The part's share of the generator loss `-mean D(G(z))` of a batch of `batch`,
    /// differentiated: its gradients and its share of the loss.
    fn run(self, batch: usize) -> (GradientsParams, f64) {
        let mut fake = self.generator.forward(self.z);
        if let Some(u) = self.u {
            // Binary in the forward pass, the identity's gradient in the backward pass.
            fake = straight_through(fake, u);
        }
        let loss = self
            .critic
            .forward(fake)
            .sum()
            .div_scalar(batch as f64)
            .neg();
        let value = to_f64(loss.clone().detach());
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        (grads, value)
    }
}

/// Collects a module's float parameters, flattened, in visiting order.
struct FlatParameters(Vec<Tensor<1>>);

impl ModuleVisitor for FlatParameters {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let count = value.shape().num_elements();
        self.0.push(value.reshape([count]));
    }
}

/// Replaces each float parameter `a` of a module by `decay a + (1 - decay) b`, `b` the
/// parameter in the same position of another module of the same structure.
struct TowardParameters {
    targets: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for TowardParameters {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(target) = self.targets.next() else {
            return param;
        };
        let decay = self.decay;
        param.map(|value| {
            let dims = value.dims();
            value.mul_scalar(decay) + target.reshape(dims).mul_scalar(1.0 - decay)
        })
    }
}

/// One step of the exponential moving average: `decay average + (1 - decay) current`, weight
/// by weight (both without autodiff, of the same configuration).
fn moving_average(average: Generator, current: &Generator, decay: f64) -> Generator {
    let mut flat = FlatParameters(Vec::new());
    current.visit(&mut flat);
    average.map(&mut TowardParameters {
        targets: flat.0.into_iter(),
        decay,
    })
}

impl StepLosses for IterationLosses {
    fn accumulate(&mut self, other: &Self, weight: f64) {
        self.add(other, weight);
    }
}

impl Trainer for SpikeGanTrainer {
    type Data = SplitSamples;
    type Losses = IterationLosses;
    type Line = MetricsLine;

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

    fn step(&mut self, data: &SplitSamples) -> Result<IterationLosses> {
        SpikeGanTrainer::step(self, &data.train)
    }

    fn metrics_line(
        &mut self,
        data: &SplitSamples,
        iteration: u64,
        averaged: IterationLosses,
        iterations_per_s: f64,
    ) -> Result<MetricsLine> {
        let (train_w, heldout_w) = self.heldout_check(data);
        if self.config.training.monitor_samples > 0 && self.monitor_reference.is_none() {
            self.monitor_reference = Some(Moments::of_windows(&data.train));
        }
        let sample_errors = match &self.monitor_reference {
            Some(reference) => self.sample_errors(reference)?,
            None => None,
        };
        tracing::info!(
            iteration,
            critic_loss = averaged.critic_loss,
            wasserstein = averaged.wasserstein,
            penalty = averaged.gradient_penalty,
            heldout = ?heldout_w,
            rate_error = ?sample_errors.map(|e| e.firing_rate_l1),
            covariance_error = ?sample_errors.map(|e| e.covariance_l1),
            "metrics"
        );
        Ok(MetricsLine {
            iteration,
            losses: averaged,
            wasserstein_train_subset: train_w,
            wasserstein_heldout: heldout_w,
            iterations_per_s,
            sample_errors,
            learning_rate: Some(self.config.training.learning_rates(iteration).0),
        })
    }

    fn save_into(&self, dir: &Path) -> Result<()> {
        SpikeGanTrainer::save_into(self, dir)
    }
}

/// Train until `config.training.iterations` (or until `stop` is raised), logging and
/// checkpointing into `run` by the shared session loop ([`run_session`]); the manifest records
/// the session. Returns the last logged metrics.
pub fn train_spikegan(
    run: &RunDir,
    mut trainer: SpikeGanTrainer,
    split: &SplitSamples,
    context: &RunContext,
    observer: &mut dyn SessionObserver<SpikeGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<MetricsLine>> {
    tracing::info!(
        start = trainer.iteration(),
        total = trainer.config.training.iterations,
        train = split.train.len(),
        heldout = split.heldout.len(),
        "training Spike-GAN"
    );
    run_session(run, &mut trainer, split, context, observer, stop)
}

/// Start a new Spike-GAN run in `run`: write config and manifest, then train.
#[allow(clippy::too_many_arguments)]
pub fn start_spikegan(
    run: &RunDir,
    config: SpikeGanRunConfig,
    split: &SplitSamples,
    data: Option<DataDescription>,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<SpikeGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<MetricsLine>> {
    let trainer = SpikeGanTrainer::new(config.clone(), device)?;
    run.write_config(&config)?;
    let manifest = Manifest {
        model: ModelKind::Spikegan,
        seed: config.seed,
        context: context.clone(),
        data,
        more_data: Vec::new(),
        config: serde_json::to_value(&config).unwrap_or_default(),
        sessions: Vec::new(),
        status: RunStatus::Created,
        results: serde_json::Map::new(),
        best_checkpoint: None,
        checkpoint_checksums: Default::default(),
    };
    run.write_manifest(&manifest)?;
    // The untrained networks are checkpoint 0: a baseline to sample from, and a run killed
    // before its first checkpoint can still be resumed.
    run.write_checkpoint(0, config.training.keep_checkpoints, None, |dir| {
        trainer.save_into(dir)
    })?;
    train_spikegan(run, trainer, split, context, observer, stop)
}

/// Continue the run in `run` from its newest checkpoint (metrics logged after it are dropped,
/// they are logged again).
pub fn resume_spikegan(
    run: &RunDir,
    split: &SplitSamples,
    iterations: Option<u64>,
    context: &RunContext,
    device: &Device,
    observer: &mut dyn SessionObserver<SpikeGanTrainer>,
    stop: &StopHandle,
) -> Result<Option<MetricsLine>> {
    let mut config: SpikeGanRunConfig = run.read_config()?;
    let configured = config.training.iterations;
    let (iteration, checkpoint) = run.latest_checkpoint()?;
    config.training.iterations =
        run.resumed_length(configured, iterations, iteration, "iteration")?;
    let trainer = SpikeGanTrainer::from_checkpoint(config.clone(), &checkpoint, iteration, device)?;
    run.record_resumed_length(&config, configured, iterations)?;
    run.truncate_metrics_after(iteration)?;
    tracing::info!(iteration, checkpoint = %checkpoint.display(), "resuming");
    train_spikegan(run, trainer, split, context, observer, stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cosine_schedule_and_warm_up_follow_their_closed_forms() {
        let config = WganConfig {
            iterations: 101,
            learning_rate: 1e-3,
            critic_learning_rate: Some(4e-3),
            schedule: LearningRateSchedule::Cosine,
            final_learning_rate_fraction: 0.1,
            ..WganConfig::default()
        };
        // Iteration i of n: f = 0.1 + 0.9 * (1 + cos(pi (i - 1) / (n - 1))) / 2.
        for (iteration, expected) in [
            (1, 1.0),
            (51, 0.55),
            (101, 0.1),
            (26, 0.1 + 0.9 * 0.8535533905932737),
        ] {
            let factor = config.learning_rate_factor(iteration);
            assert!((factor - expected).abs() < 1e-12, "{iteration}: {factor}");
            let (g, c) = config.learning_rates(iteration);
            assert!((g - 1e-3 * expected).abs() < 1e-15 && (c - 4e-3 * expected).abs() < 1e-15);
        }
        let warm = WganConfig {
            warmup_iterations: 10,
            ..WganConfig::default()
        };
        assert!((warm.learning_rate_factor(1) - 0.1).abs() < 1e-12);
        assert!((warm.learning_rate_factor(5) - 0.5).abs() < 1e-12);
        assert!((warm.learning_rate_factor(10) - 1.0).abs() < 1e-12);
        assert!((warm.learning_rate_factor(1000) - 1.0).abs() < 1e-12);
        assert_eq!(WganConfig::default().learning_rate_factor(77), 1.0);
    }

    #[test]
    fn straight_through_samples_are_binary_with_the_identity_gradient() {
        let device = Device::flex().autodiff();
        let p = Tensor::<1>::from_floats([0.2, 0.7, 0.5, 0.9], &device).require_grad();
        let u = Tensor::<1>::from_floats([0.5, 0.5, 0.6, 0.1], &device);
        let weights = Tensor::<1>::from_floats([1.0, -2.0, 3.0, 0.5], &device);
        let x = straight_through(p.clone(), u);
        let values = x.clone().into_data().convert::<f32>().try_to_vec::<f32>();
        assert_eq!(values.ok(), Some(vec![0.0, 1.0, 0.0, 1.0]));
        // d/dp sum(w x) = w, as for sum(w p).
        let grads = (x * weights).sum().backward();
        let grad = p
            .grad(&grads)
            .map(|g| g.into_data().convert::<f32>().try_to_vec::<f32>());
        assert_eq!(grad.and_then(|g| g.ok()), Some(vec![1.0, -2.0, 3.0, 0.5]));
    }

    #[test]
    fn the_average_decay_warms_up_to_its_setting() {
        let config = WganConfig {
            ema_decay: 0.999,
            ..WganConfig::default()
        };
        assert!((config.ema_decay_at(1) - 2.0 / 11.0).abs() < 1e-12);
        assert!((config.ema_decay_at(90) - 91.0 / 100.0).abs() < 1e-12);
        assert_eq!(config.ema_decay_at(100_000), 0.999);
    }

    #[test]
    fn recipes_differ_only_where_documented() {
        let paper = TrainingRecipe::Paper.settings(None);
        assert_eq!(paper, WganConfig::default());
        let fast = TrainingRecipe::Fast.settings(Some(1234));
        assert_eq!(fast.iterations, 1234);
        assert_eq!(
            WganConfig {
                iterations: paper.iterations,
                critic_steps: paper.critic_steps,
                learning_rate: paper.learning_rate,
                critic_learning_rate: paper.critic_learning_rate,
                schedule: paper.schedule,
                critic_input: paper.critic_input,
                ema_decay: paper.ema_decay,
                ..fast
            },
            paper
        );
        assert_eq!(fast.critic_input, CriticInput::StraightThrough);
        assert_eq!(fast.learning_rates(1), (1e-3, 4e-3));
        assert!(fast.check().is_ok() && paper.check().is_ok());
    }
}
