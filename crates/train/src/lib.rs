//! # neuroforge-train
//!
//! Training loops for the models of `neuroforge-models`, with everything a run needs to be
//! inspected, resumed and reproduced.
//!
//! - [`spikegan`]: Spike-GAN by WGAN-GP with the exact gradient penalty (paper settings by
//!   default), the held-out check for critic overfitting, divergence stop;
//! - [`cyclegan`]: CycleGAN between pre- and post-learning activity (least-squares GAN,
//!   cycle and identity losses) and translation, over the calcium pipeline of
//!   [`cyclegan::preprocessing`] (its attribution maps are in `neuroforge-explain`);
//! - [`marble`]: MARBLE's contrastive training (neighbour positives, random negatives),
//!   best model by validation loss;
//! - [`session`]: the one training session loop all three trainers run through (metrics log,
//!   checkpoint rules, stop on request, the manifest's session record);
//! - [`rundir`]: run directories (manifest, resolved config, metrics log, atomic checkpoints
//!   with the last K kept, the writer lock);
//! - [`integrity`]: checkpoint checksums, verified whenever a checkpoint is loaded;
//! - [`data`]: binary sample windows cut from a recording and their training / held-out split;
//! - [`sample`]: spike trains drawn from a trained generator.
//!
//! Determinism: the weights and every draw of iteration `i` derive from the run's seed alone
//! (ChaCha8, stream `i`), so a resumed run repeats the uninterrupted one on the same backend.
//! Like the models, this crate names no execution backend: the caller's [`burn::tensor::Device`]
//! decides.

mod adam;
mod checkpoint;
pub mod cyclegan;
pub mod data;
mod error;
pub mod integrity;
pub mod marble;
pub mod monitor;
pub mod rundir;
pub mod sample;
pub mod session;
pub mod spikegan;

pub use cyclegan::preprocessing::{
    CalciumPipelineConfig, Condition, CycleData, CyclePreprocessing, ModelSignal, NeuronSorting,
    NormalisationKind, PipelineInput, SignalTransform, SignalWindows, align_neurons,
    calcium_from_spikes, process_condition,
};
pub use cyclegan::{
    CycleDiscriminators, CycleGanRunConfig, CycleGanTrainer, CycleGenerators, CycleLosses,
    CycleMetricsLine, CycleTrainingConfig, TrainedCycleGan, load_cyclegan, resume_cyclegan,
    start_cyclegan, train_cyclegan, translate_windows,
};
pub use data::{DataConfig, SampleWindows, SplitSamples, split_samples};
pub use error::{Result, TrainError};
pub use integrity::CheckpointState;
pub use marble::{
    ConditionData, ContrastiveConfig, EpochLine, EpochLosses, MarbleData, MarbleOptimizer,
    MarbleOutcome, MarbleRunConfig, MarbleSummary, MarbleTrainer, embed, load_marble,
    resume_marble, start_marble, train_contrastive,
};
pub use monitor::{Moments, SampleErrors};
pub use rundir::{
    BestCheckpoint, DataDescription, Manifest, ModelKind, RunCheck, RunContext, RunDir, RunStatus,
    Session, record_abrupt_end,
};
pub use sample::sample_spikes;
pub use session::{
    CheckpointPolicy, SessionObserver, Silent, StepLosses, StopHandle, Trainer, run_session,
};
pub use spikegan::{
    CriticInput, IterationLosses, LearningRateSchedule, MetricsLine, SpikeGanRunConfig,
    SpikeGanTrainer, TrainingRecipe, WganConfig, load_trained, resume_spikegan, start_spikegan,
    train_spikegan,
};
