//! `neuroforge train spikegan`, `resume`, `sample` and `explain importance`: Spike-GAN runs
//! over recordings.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Array3};
use neuroforge_explain::{ImportanceConfig, importance_maps, packet_shape};
use neuroforge_io::{
    Activity, BinnedActivity, CovariateValues, Provenance, Recording, TraceActivity,
};
use neuroforge_models::{Architecture, ModelPreset, SpikeGanConfig};
use neuroforge_train::{
    DataConfig, DataDescription, MetricsLine, RunDir, SpikeGanRunConfig, SpikeGanTrainer,
    SplitSamples, TrainingRecipe, load_trained, resume_spikegan, sample_spikes, split_samples,
    start_spikegan,
};

use serde::{Deserialize, Serialize};

use crate::TrainingSession;
use crate::config::{Overrides, RunConfig, read_key, resolve, table_of};
use crate::error::PipelineError;
use crate::output::write_text;
use crate::recording::{concatenate, resume_data_path, run_provenance, samples_covariate};

/// Options of `neuroforge train spikegan` that override the configuration file.
#[derive(Debug, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SpikeGanFlags {
    /// A TOML file with `seed` and `[data]`, `[model]`, `[training]` tables (every key
    /// optional; docs/TRAINING.md lists them with their defaults).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub config: Option<PathBuf>,
    /// Seed of the weights and of every random draw [default: 0, or the config's].
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Training recipe the `[training]` settings start from: `fast` (neuroforge's: binary
    /// samples to the critic with a straight-through gradient, lr 1e-3 with a cosine decay,
    /// weight average for sampling) or `paper` (the published schedule) [default: fast, or
    /// the config's `recipe`].
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_recipe))]
    pub recipe: Option<TrainingRecipe>,
    /// Model the `[model]` settings start from: `paper` (the authors' widths and
    /// initialisation) or `half-width` (neuroforge's model before 2026-12-04) [default:
    /// paper, or the config's `model_preset`].
    #[cfg_attr(feature = "clap", arg(long = "model-preset", value_parser = parse_model_preset))]
    pub model_preset: Option<ModelPreset>,
    /// Generator iterations [default: 24000 with the fast recipe, 300000 with the paper's].
    #[cfg_attr(feature = "clap", arg(long))]
    pub iterations: Option<u64>,
    /// Bins per sample of a continuous recording [default: 32].
    #[cfg_attr(feature = "clap", arg(long))]
    pub window: Option<usize>,
    /// Bins between window starts [default: 1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub stride: Option<usize>,
    /// Fraction of the data held out to watch the critic overfit [default: 0.2; the paper's
    /// retina setting is 0, every window].
    #[cfg_attr(feature = "clap", arg(long = "holdout-fraction"))]
    pub holdout_fraction: Option<f64>,
    /// conv (the paper's) or dense (the fully connected comparison model) [default: conv].
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_architecture))]
    pub architecture: Option<Architecture>,
    /// Log every this many iterations [default: 100].
    #[cfg_attr(feature = "clap", arg(long = "log-every"))]
    pub log_every: Option<u64>,
    /// Checkpoint every this many iterations [default: 1000].
    #[cfg_attr(feature = "clap", arg(long = "checkpoint-every"))]
    pub checkpoint_every: Option<u64>,
}

/// Parse a `recipe` name as written on the command line (the error says which names exist).
pub fn parse_recipe(s: &str) -> Result<TrainingRecipe, String> {
    TrainingRecipe::from_name(s).ok_or_else(|| format!("unknown recipe '{s}': use fast or paper"))
}

/// Parse a `model_preset` name as written on the command line (the error says which names exist).
pub fn parse_model_preset(s: &str) -> Result<ModelPreset, String> {
    ModelPreset::from_name(s)
        .ok_or_else(|| format!("unknown model preset '{s}': use paper or half-width"))
}

/// Parse a `architecture` name as written on the command line (the error says which names exist).
pub fn parse_architecture(s: &str) -> Result<Architecture, String> {
    match s {
        "conv" => Ok(Architecture::Conv),
        "dense" => Ok(Architecture::Dense),
        other => Err(format!("unknown architecture '{other}': use conv or dense")),
    }
}

/// Binary spike words (neurons x bins) of a binned recording, and the sample length when the
/// recording is a set of independent samples (a `sample` covariate with runs of equal length).
fn binary_activity(
    path: &Path,
    recording: &Recording,
) -> Result<(Array2<u8>, Option<usize>), PipelineError> {
    let Activity::Binned(binned) = recording.activity() else {
        return Err(PipelineError::Unsuitable {
            path: path.to_path_buf(),
            message: format!(
                "Spike-GAN trains on binned spikes, but this recording holds {}: bin spike \
                 times with --bin-ms, or infer spikes from traces with `neuroforge preprocess \
                 --deconvolve --binarize 0.5`",
                recording.activity().kind().name()
            ),
        });
    };
    // Counts above 1 are kept as 2 so that the trainer can refuse them with its message.
    let data = binned.counts.mapv(|c| c.min(2) as u8);
    let sample_len = recording
        .covariates()
        .iter()
        .find(|c| c.name == "sample")
        .and_then(|c| match &c.values {
            CovariateValues::Int(values) => equal_runs(values),
            _ => None,
        });
    Ok((data, sample_len))
}

/// The common length of the runs of equal consecutive values, if all runs have one length and
/// each value occurs in one run only.
fn equal_runs(values: &[i64]) -> Option<usize> {
    let mut lengths = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut start = 0;
    for i in 1..=values.len() {
        if i == values.len() || values[i] != values[start] {
            if !seen.insert(values[start]) {
                return None;
            }
            lengths.push(i - start);
            start = i;
        }
    }
    let first = *lengths.first()?;
    lengths.iter().all(|&l| l == first).then_some(first)
}

fn data_description(path: &Path, recording: &Recording, split: &SplitSamples) -> DataDescription {
    let bin_width_s = match recording.activity() {
        Activity::Binned(b) => b.bin_width_s,
        _ => None,
    };
    DataDescription {
        path: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        neuron_ids: recording.neuron_ids().to_vec(),
        bin_width_s,
        train_samples: split.train.len(),
        heldout_samples: split.heldout.len(),
    }
}

/// What a recording fixes of a Spike-GAN run: its neurons, and the sample length when it is a
/// set of separate samples (a `sample` covariate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeGanShape {
    /// Neurons of the recording (the networks' channels).
    pub neurons: usize,
    /// Bins per sample of a recording of separate samples; `None` for a continuous one.
    pub sample_len: Option<usize>,
}

impl RunConfig for SpikeGanRunConfig {
    type DataShape = SpikeGanShape;
    const FROM_DATA: &'static [&'static str] = &["model.neurons", "model.bins"];

    /// The model preset's networks (`model_preset`, default `paper`) for the data's neurons
    /// and sample length (the window, or the samples' length), and the recipe's training
    /// settings (`recipe`, default `fast`); seed 0.
    fn defaults(layers: &toml::Table, shape: &SpikeGanShape) -> Result<toml::Table, String> {
        let preset: ModelPreset = read_key(layers, "model_preset")?.unwrap_or_default();
        let recipe: TrainingRecipe = read_key(layers, "recipe")?.unwrap_or_default();
        let window: Option<usize> = read_key(layers, "data.window")?;
        let bins = match (shape.sample_len, window) {
            (Some(len), None) => len,
            _ => window.unwrap_or(neuroforge_train::data::DEFAULT_WINDOW),
        };
        table_of(&SpikeGanRunConfig {
            seed: 0,
            recipe: Some(recipe),
            model_preset: Some(preset),
            data: DataConfig::default(),
            model: SpikeGanConfig::preset(preset, shape.neurons, bins),
            training: recipe.settings(None),
        })
    }

    fn check(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| e.to_string())?;
        self.training.check().map_err(|e| e.to_string())
    }
}

impl SpikeGanFlags {
    /// The flags as keys of the configuration file.
    pub fn overrides(&self) -> Overrides {
        let mut keys = Overrides::new();
        keys.set("seed", self.seed)
            .set("recipe", self.recipe)
            .set("model_preset", self.model_preset)
            .set("data.window", self.window)
            .set("data.stride", self.stride)
            .set("data.holdout_fraction", self.holdout_fraction)
            .set("model.architecture", self.architecture)
            .set("training.iterations", self.iterations)
            .set("training.log_every", self.log_every)
            .set("training.checkpoint_every", self.checkpoint_every);
        keys
    }
}

/// What a training session of Spike-GAN ended with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpikeGanTrained {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The last metrics line the session logged (none when nothing was left to train).
    pub last: Option<MetricsLine>,
}

impl std::fmt::Display for SpikeGanTrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&summary_line(&self.run_dir, self.last.clone()))
    }
}

fn summary_line(run: &Path, last: Option<MetricsLine>) -> String {
    match last {
        Some(line) => format!(
            "{}: {} iterations, critic Wasserstein estimate {:.4} (held-out {}), {:.1} \
             iterations/s{}",
            run.display(),
            line.iteration,
            line.losses.wasserstein,
            line.wasserstein_heldout
                .map_or("-".to_string(), |w| format!("{w:.4}")),
            line.iterations_per_s,
            line.sample_errors
                .map(|e| format!(
                    "; {} fresh samples: firing-rate error {:.4} (floor {:.4}), covariance \
                     error {:.4}",
                    e.samples, e.firing_rate_l1, e.firing_rate_floor, e.covariance_l1
                ))
                .unwrap_or_default()
        ),
        None => format!("{}: nothing left to train", run.display()),
    }
}

/// Train Spike-GAN on `recording` (read from `data_path`) into a new run directory
/// (`neuroforge train spikegan`).
pub fn train(
    data_path: &Path,
    recording: &Recording,
    run_dir: &Path,
    flags: &SpikeGanFlags,
    session: TrainingSession<'_, SpikeGanTrainer>,
) -> Result<SpikeGanTrained, PipelineError> {
    let (data, sample_len) = binary_activity(data_path, recording)?;
    let shape = SpikeGanShape {
        neurons: data.nrows(),
        sample_len,
    };
    let config: SpikeGanRunConfig = resolve(flags.config.as_deref(), &flags.overrides(), &shape)?;
    let split =
        split_samples(data, sample_len, &config.data).map_err(|e| PipelineError::Unsuitable {
            path: data_path.to_path_buf(),
            message: e.to_string(),
        })?;
    let run = RunDir::create(run_dir)?;
    let description = data_description(data_path, recording, &split);
    let stop = (session.stop)();
    let last = start_spikegan(
        &run,
        config,
        &split,
        Some(description),
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::SpikeGan,
        &crate::output::training_description("Spike-GAN", run_dir),
    )?;
    Ok(SpikeGanTrained {
        run_dir: run_dir.to_path_buf(),
        last,
    })
}

/// Continue a Spike-GAN run from its newest checkpoint (`neuroforge resume`), on the data file
/// the manifest names unless `data` is given; `iterations` changes the schedule's length.
pub fn resume(
    run_dir: &Path,
    data: Option<&Path>,
    iterations: Option<u64>,
    open: impl Fn(&Path) -> Result<Recording, PipelineError>,
    session: TrainingSession<'_, SpikeGanTrainer>,
) -> Result<SpikeGanTrained, PipelineError> {
    let run = RunDir::open_for_writing(run_dir)?;
    let manifest = run.read_manifest()?;
    let config: SpikeGanRunConfig = run.read_config()?;
    let data_path = resume_data_path(run_dir, &manifest, data)?;
    let recording = open(&data_path)?;
    let (data, sample_len) = binary_activity(&data_path, &recording)?;
    let split =
        split_samples(data, sample_len, &config.data).map_err(|e| PipelineError::Unsuitable {
            path: data_path.clone(),
            message: e.to_string(),
        })?;
    let stop = (session.stop)();
    let last = resume_spikegan(
        &run,
        &split,
        iterations,
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::SpikeGan,
        &crate::output::training_description("Spike-GAN", run_dir),
    )?;
    Ok(SpikeGanTrained {
        run_dir: run_dir.to_path_buf(),
        last,
    })
}

/// Options of `neuroforge sample`.
#[derive(Debug, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SampleFlags {
    /// Seed of the noise and of the Bernoulli draws.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Also write the generator's spike probabilities to this recording (traces, values in
    /// (0, 1)).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub probabilities: Option<PathBuf>,
}

fn neuron_ids(run: &RunDir, neurons: usize) -> Result<(Vec<String>, Option<f64>), PipelineError> {
    let manifest = run.read_manifest()?;
    Ok(match manifest.data {
        Some(d) if d.neuron_ids.len() == neurons => (d.neuron_ids, d.bin_width_s),
        _ => (neuroforge_io::default_neuron_ids(neurons), None),
    })
}

/// `neuroforge sample`.
pub fn sample(
    run_dir: &Path,
    count: usize,
    out: &Path,
    device: &Device,
    flags: &SampleFlags,
) -> Result<String, PipelineError> {
    if count == 0 {
        return Err(PipelineError::Usage("--count must be at least 1".into()));
    }
    neuroforge_io::Container::from_path(out)?;
    if let Some(p) = &flags.probabilities {
        neuroforge_io::Container::from_path(p)?;
    }
    let run = RunDir::open(run_dir)?;
    let (config, generator, _) = load_trained(&run, device)?;
    let (iteration, _) = run.latest_checkpoint()?;
    let (probabilities, spikes) = sample_spikes(&generator, count, flags.seed, device)?;
    let (ids, bin_width_s) = neuron_ids(&run, generator.neurons)?;
    let bins = generator.bins;
    let which = if config.training.ema_decay > 0.0 {
        format!(
            " (the moving average of its weights, decay {})",
            config.training.ema_decay
        )
    } else {
        String::new()
    };
    let step = format!(
        "{count} samples of the Spike-GAN generator{which} of {} after {iteration} iterations, \
         x = 1[p > u], seed {}",
        run_dir.display(),
        flags.seed
    );
    let recording = Recording::new(
        ids.clone(),
        Activity::Binned(BinnedActivity {
            counts: concatenate(&spikes).mapv(u32::from),
            bin_width_s,
        }),
        vec![samples_covariate(count, bins)],
        run_provenance(run_dir, vec![step.clone()]),
    )?;
    neuroforge_io::write_recording(out, &recording)?;
    if let Some(path) = &flags.probabilities {
        let recording = Recording::new(
            ids,
            Activity::Traces(TraceActivity {
                values: concatenate(&probabilities),
                frame_rate_hz: bin_width_s.map(|w| 1.0 / w),
            }),
            vec![samples_covariate(count, bins)],
            Provenance {
                quantity: Some("spike probability".into()),
                units: Some("probability per bin".into()),
                ..run_provenance(run_dir, vec![step.replace("x = 1[p > u]", "p = G(z)")])
            },
        )?;
        neuroforge_io::write_recording(path, &recording)?;
    }
    Ok(format!(
        "wrote {}: {count} samples of {} neurons x {bins} bins",
        out.display(),
        generator.neurons
    ))
}

/// Options of `neuroforge explain importance`.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImportanceFlags {
    /// Samples to explain: the first N of the run's held-out set (or of the data's samples if
    /// nothing was held out).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 100))]
    pub samples: usize,
    /// Bins per shuffled window (the paper's).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8))]
    pub window: usize,
    /// Bins between window starts.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2))]
    pub step: usize,
    /// Shuffles per window.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub shuffles: usize,
    /// Seed of the shuffles.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Also write neuron and time importance and the packet read-out as JSON.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub json: Option<PathBuf>,
    /// Percentile of the map over spikes used as the packet threshold.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 95.0))]
    pub percentile: f64,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): the maps of a few samples with their spikes, neuron and time importance, the packet
    /// read-out.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.md"))]
    pub report: Option<PathBuf>,
}

/// Scores of a batch of samples laid out sample-major, by the critic on `device`.
fn critic_scores(
    critic: &neuroforge_models::Critic,
    device: &Device,
    neurons: usize,
    bins: usize,
    batch: &[f32],
    count: usize,
) -> Result<Vec<f64>, String> {
    let mut scores = Vec::with_capacity(count);
    let per = neurons * bins;
    for chunk in batch.chunks(512 * per) {
        let n = chunk.len() / per;
        let x = Tensor::<3>::from_data(TensorData::new(chunk.to_vec(), [n, neurons, bins]), device);
        let s = critic.forward(x).into_data().convert::<f32>();
        scores.extend(
            s.as_slice::<f32>()
                .map_err(|e| format!("{e:?}"))?
                .iter()
                .map(|&v| f64::from(v)),
        );
    }
    Ok(scores)
}

/// `neuroforge explain importance`.
pub fn explain_importance(
    run_dir: &Path,
    data_path: &Path,
    recording: Recording,
    out: &Path,
    device: &Device,
    flags: &ImportanceFlags,
) -> Result<String, PipelineError> {
    neuroforge_io::Container::from_path(out)?;
    let run = RunDir::open(run_dir)?;
    let (config, _, critic) = load_trained(&run, device)?;
    let (data, sample_len) = binary_activity(data_path, &recording)?;
    if data.nrows() != config.model.neurons {
        return Err(PipelineError::Unsuitable {
            path: data_path.to_path_buf(),
            message: format!(
                "has {} neurons, the run's critic was trained on {}",
                data.nrows(),
                config.model.neurons
            ),
        });
    }
    let split =
        split_samples(data, sample_len, &config.data).map_err(|e| PipelineError::Unsuitable {
            path: data_path.to_path_buf(),
            message: e.to_string(),
        })?;
    let source = if split.heldout.is_empty() {
        &split.train
    } else {
        &split.heldout
    };
    let count = flags.samples.min(source.len());
    if count == 0 {
        return Err(PipelineError::Usage("--samples must be at least 1".into()));
    }
    let (neurons, bins) = (config.model.neurons, config.model.bins);
    let mut samples = Array3::<u8>::zeros((count, neurons, bins));
    for k in 0..count {
        samples
            .index_axis_mut(ndarray::Axis(0), k)
            .assign(&source.sample(k));
    }
    let importance = ImportanceConfig {
        window: flags.window,
        step: flags.step,
        shuffles: flags.shuffles,
        seed: flags.seed,
    };
    let maps = importance_maps(&samples, &importance, |batch, n| {
        critic_scores(&critic, device, neurons, bins, batch, n)
    })?;
    let (ids, bin_width_s) = neuron_ids(&run, neurons)?;
    let step = format!(
        "Spike-GAN importance maps of {count} samples of {} under the critic of {} (window {}, \
         step {}, {} shuffles, seed {})",
        data_path.display(),
        run_dir.display(),
        flags.window,
        flags.step,
        flags.shuffles,
        flags.seed
    );
    let maps_recording = Recording::new(
        ids.clone(),
        Activity::Traces(TraceActivity {
            values: concatenate(&maps.maps).mapv(|v| v as f32),
            frame_rate_hz: bin_width_s.map(|w| 1.0 / w),
        }),
        vec![samples_covariate(count, bins)],
        Provenance {
            quantity: Some("importance".into()),
            units: Some("a.u. (critic gradient)".into()),
            ..run_provenance(run_dir, vec![step.clone()])
        },
    )?;
    let neuron_importance = maps.neuron_importance();
    let packet = packet_shape(
        &samples,
        &maps,
        flags.percentile,
        flags.window.max(bins / 4),
    )?;
    // Simulated packets carry the true sequence: say whether the maps recovered it.
    let true_sequence: Option<Vec<usize>> = recording
        .provenance()
        .ground_truth
        .as_ref()
        .and_then(|truth| truth.get("packet_neurons"))
        .and_then(|groups| groups.get(0))
        .and_then(|group| serde_json::from_value(group.clone()).ok());
    let recovered = true_sequence.as_ref().map(|t| *t == packet.order);
    if let Some(json) = &flags.json {
        let value = serde_json::json!({
            "true_sequence": true_sequence,
            "sequence_recovered": recovered,
            "neuron_ids": ids,
            "neuron_importance": neuron_importance,
            "time_importance": maps.time_importance(),
            "scores": maps.scores,
            "packet": packet,
            "settings": importance,
        });
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| PipelineError::Usage(e.to_string()))?;
        write_text(json, &(text + "\n"))?;
    }
    neuroforge_io::write_recording(out, &maps_recording)?;
    let mut ranked: Vec<usize> = (0..neurons).collect();
    ranked.sort_by(|&a, &b| neuron_importance[b].total_cmp(&neuron_importance[a]));
    let top: Vec<&str> = ranked.iter().take(8).map(|&n| ids[n].as_str()).collect();
    let named = |order: &[usize]| -> String {
        if order.is_empty() {
            return "none".into();
        }
        order
            .iter()
            .map(|&n| ids.get(n).map_or("?", String::as_str))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    // The read-out is a firing order read off the maps; it is a recovered sequence only when
    // a true one is known and matches.
    let readout = match (&true_sequence, recovered) {
        (Some(truth), Some(true)) => {
            format!(
                "packet order {} (the true sequence: recovered)",
                named(truth)
            )
        }
        (Some(truth), _) => format!(
            "packet order read from the maps {}; the true sequence {} was not recovered",
            named(&packet.order),
            named(truth)
        ),
        (None, _) => format!(
            "packet order read from the maps {} (no true sequence to check it against)",
            named(&packet.order)
        ),
    };
    if let Some(report_path) = &flags.report {
        let report = importance_report(
            &neuroforge_report::report_stem(report_path),
            &samples,
            &maps,
            &ids,
            &readout,
            recovered,
            &format!(
                "{step}. Importance is the drop of the critic's score when a window of the \
                 sample's spikes is shuffled in time, given to each spike in the window."
            ),
        );
        crate::output::write_report(report_path, &report)?;
    }
    Ok(format!(
        "wrote {}: importance maps of {count} samples; most important neurons: {}; {readout}",
        out.display(),
        top.join(", "),
    ))
}

/// The report of `explain importance`: the maps of the first samples with their spikes marked,
/// neuron and time importance, the packet read-out.
fn importance_report(
    stem: &str,
    samples: &Array3<u8>,
    maps: &neuroforge_explain::ImportanceMaps,
    ids: &[String],
    readout: &str,
    recovered: Option<bool>,
    settings: &str,
) -> neuroforge_report::Report {
    use neuroforge_report::svg;
    let (count, neurons, bins) = maps.maps.dim();
    let mut report = neuroforge_report::ReportBuilder::new(stem, "Spike-GAN importance maps");
    let verdict = match recovered {
        Some(true) => "The true packet sequence was recovered",
        Some(false) => "The true packet sequence was not recovered",
        None => "No true sequence is known for these data",
    };
    report.text(&format!("> **{verdict}.** Read-out: {readout}."));
    report.text(settings);
    for k in 0..count.min(3) {
        let values: Vec<f64> = maps
            .maps
            .index_axis(ndarray::Axis(0), k)
            .iter()
            .copied()
            .collect();
        let spikes: Vec<bool> = samples
            .index_axis(ndarray::Axis(0), k)
            .iter()
            .map(|&v| v > 0)
            .collect();
        report.figure(
            &format!("map-{k}.svg"),
            &format!("Importance map of sample {k}; white dots: its spikes"),
            svg::heatmap(
                &format!(
                    "Importance map, sample {k} (critic score {:.3})",
                    maps.scores[k]
                ),
                "time (bins)",
                "neuron",
                "importance (score drop)",
                neurons,
                bins,
                &values,
                Some(ids),
                Some(&spikes),
            ),
        );
    }
    report.figure(
        "neuron-importance.svg",
        "Mean importance of each neuron over samples and bins",
        svg::bars(
            &format!("Neuron importance over {count} samples"),
            "neuron",
            &svg::Axis::linear("mean importance (score drop)"),
            ids,
            &maps.neuron_importance(),
            &[],
            "",
        ),
    );
    let bins_named: Vec<String> = (0..bins).map(|t| t.to_string()).collect();
    report.figure(
        "time-importance.svg",
        "Mean importance of each bin of the sample over samples and neurons",
        svg::bars(
            &format!("Time importance over {count} samples"),
            "time (bin in the sample)",
            &svg::Axis::linear("mean importance (score drop)"),
            &bins_named,
            &maps.time_importance(),
            &[],
            "",
        ),
    );
    report.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_runs_find_the_sample_length() {
        assert_eq!(equal_runs(&[0, 0, 1, 1, 2, 2]), Some(2));
        assert_eq!(equal_runs(&[0, 0, 1, 2, 2]), None);
        assert_eq!(equal_runs(&[0, 1, 0]), None);
        assert_eq!(equal_runs(&[]), None);
    }
}
