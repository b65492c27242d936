//! `neuroforge train cyclegan`, `translate`, `explain saliency` and CycleGAN's `resume`: the
//! mapping between pre- and post-learning calcium recordings of the same neurons.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use neuroforge_io::{Activity, Recording, TraceActivity};
use neuroforge_models::CycleLayout;
pub use neuroforge_stats::translation::TranslationEvaluation;
use neuroforge_stats::translation::{
    DivergencePair, Divergences, PairedComparison, SampleStatistics, TranslationEvalConfig,
    divergences, paired_errors,
};
use neuroforge_train::{
    Condition, CycleData, CycleGanRunConfig, CycleGanTrainer, CyclePreprocessing, DataDescription,
    ModelSignal, NeuronSorting, PipelineInput, RunDir, SignalTransform, TrainedCycleGan,
    calcium_from_spikes, load_cyclegan, process_condition, resume_cyclegan, start_cyclegan,
    translate_windows,
};
use serde_json::{Value, json};

use crate::TrainingSession;
use crate::config::{Overrides, RunConfig, resolve};
use crate::error::PipelineError;
use crate::output::write_text;
use crate::recording::{concatenate, samples_covariate};

/// Options of `neuroforge train cyclegan` that override the configuration file.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CycleGanFlags {
    /// A TOML file with `seed` and `[pipeline]`, `[model]`, `[training]` tables (every key
    /// optional; docs/CYCLEGAN.md lists them with their defaults).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub config: Option<PathBuf>,
    /// Seed of the weights, the random neuron order and every batch [default: 0].
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Training iterations [default: 3000].
    #[cfg_attr(feature = "clap", arg(long))]
    pub iterations: Option<u64>,
    /// Neuron pre-sorting: hierarchical, spectral, random or none [default: hierarchical].
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_sorting))]
    pub sorting: Option<NeuronSorting>,
    /// image (neurons x time, k x k kernels) or neuron-channels [default: image].
    #[cfg_attr(feature = "clap", arg(long = "network-layout", value_parser = parse_layout))]
    pub network_layout: Option<CycleLayout>,
    /// What the networks see: spikes (OASIS's inferred spikes) or calcium (its denoised
    /// calcium) [default: spikes].
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_signal))]
    pub signal: Option<ModelSignal>,
    /// The traces are already dF/F: skip the dF/F step.
    #[cfg_attr(feature = "clap", arg(long = "no-dff"))]
    pub no_dff: bool,
    /// Transform of the signal before the per-neuron normalisation, inverted exactly after the
    /// networks: auto (sqrt for binned counts, none for calcium), none, sqrt or log1p
    /// [default: auto].
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_transform))]
    pub transform: Option<SignalTransform>,
    /// Frames per window [default: 64].
    #[cfg_attr(feature = "clap", arg(long))]
    pub window: Option<usize>,
    /// Frames between training windows [default: 16].
    #[cfg_attr(feature = "clap", arg(long))]
    pub stride: Option<usize>,
    /// Windows per batch of each condition [default: 16].
    #[cfg_attr(feature = "clap", arg(long = "batch-size"))]
    pub batch_size: Option<usize>,
    /// Log every this many iterations [default: 100].
    #[cfg_attr(feature = "clap", arg(long = "log-every"))]
    pub log_every: Option<u64>,
    /// Checkpoint every this many iterations [default: 500].
    #[cfg_attr(feature = "clap", arg(long = "checkpoint-every"))]
    pub checkpoint_every: Option<u64>,
    /// Standard deviation of the Gaussian noise added to every discriminator input, in
    /// normalised units; hides the lattice of whole counts from the discriminators
    /// [default: 1 for binned counts, 0 (off) for calcium].
    #[cfg_attr(feature = "clap", arg(long = "instance-noise"))]
    pub instance_noise: Option<f64>,
}

/// Parse a `sorting` name as written on the command line (the error says which names exist).
pub fn parse_sorting(s: &str) -> Result<NeuronSorting, String> {
    match s {
        "hierarchical" => Ok(NeuronSorting::Hierarchical),
        "spectral" => Ok(NeuronSorting::Spectral),
        "random" => Ok(NeuronSorting::Random),
        "none" => Ok(NeuronSorting::None),
        other => Err(format!(
            "unknown sorting '{other}': use hierarchical, spectral, random or none"
        )),
    }
}

/// Parse a `layout` name as written on the command line (the error says which names exist).
pub fn parse_layout(s: &str) -> Result<CycleLayout, String> {
    match s {
        "image" => Ok(CycleLayout::Image),
        "neuron-channels" => Ok(CycleLayout::NeuronChannels),
        other => Err(format!(
            "unknown layout '{other}': use image or neuron-channels"
        )),
    }
}

/// Parse a `transform` name as written on the command line (the error says which names exist).
pub fn parse_transform(s: &str) -> Result<SignalTransform, String> {
    match s {
        "auto" => Ok(SignalTransform::Auto),
        "none" => Ok(SignalTransform::None),
        "sqrt" => Ok(SignalTransform::Sqrt),
        "log1p" => Ok(SignalTransform::Log1p),
        other => Err(format!(
            "unknown transform '{other}': use auto, none, sqrt or log1p"
        )),
    }
}

/// Parse a `signal` name as written on the command line (the error says which names exist).
pub fn parse_signal(s: &str) -> Result<ModelSignal, String> {
    match s {
        "spikes" => Ok(ModelSignal::Spikes),
        "calcium" => Ok(ModelSignal::Calcium),
        other => Err(format!("unknown signal '{other}': use spikes or calcium")),
    }
}

impl RunConfig for CycleGanRunConfig {
    type DataShape = ();
    const FROM_DATA: &'static [&'static str] = &["model.neurons", "model.bins", "pipeline.input"];

    /// Seed 0; every other default is the structs' own (docs/CYCLEGAN.md).
    fn defaults(_layers: &toml::Table, _shape: &()) -> Result<toml::Table, String> {
        let mut table = toml::Table::new();
        table.insert("seed".into(), toml::Value::Integer(0));
        Ok(table)
    }

    fn check(&self) -> Result<(), String> {
        self.pipeline
            .check()
            .and_then(|()| self.training.check())
            .map_err(|e| e.to_string())
    }
}

impl CycleGanFlags {
    /// The flags as keys of the configuration file.
    pub fn overrides(&self) -> Overrides {
        let mut keys = Overrides::new();
        keys.set("seed", self.seed)
            .set("pipeline.sorting", self.sorting)
            .set("pipeline.signal", self.signal)
            .set("pipeline.transform", self.transform)
            .set_if("pipeline.dff", self.no_dff, false)
            .set("pipeline.window", self.window)
            .set("pipeline.stride", self.stride)
            .set("model.layout", self.network_layout)
            .set("training.iterations", self.iterations)
            .set("training.batch_size", self.batch_size)
            .set("training.log_every", self.log_every)
            .set("training.checkpoint_every", self.checkpoint_every)
            .set("training.instance_noise", self.instance_noise);
        keys
    }
}

/// What a recording gives CycleGAN: calcium-imaging traces, or binned spike counts (spike times
/// must be binned first).
fn input_kind(path: &Path, recording: &Recording) -> Result<PipelineInput, PipelineError> {
    match recording.activity() {
        Activity::Traces(_) => Ok(PipelineInput::Calcium),
        Activity::Binned(_) => Ok(PipelineInput::Counts),
        Activity::SpikeTimes(_) => Err(spike_times_refused(path)),
    }
}

fn spike_times_refused(path: &Path) -> PipelineError {
    PipelineError::unsuitable(
        path,
        "CycleGAN works on calcium-imaging traces or binned spike counts, and this recording \
         holds spike times: bin them first (neuroforge import --bin-ms)",
    )
}

fn input_name(input: PipelineInput) -> &'static str {
    match input {
        PipelineInput::Calcium => "calcium traces",
        PipelineInput::Counts => "binned spike counts",
    }
}

/// The traces (fluorescence or dF/F) or counts of a recording, neurons x frames (or bins).
fn traces(path: &Path, recording: &Recording) -> Result<Array2<f64>, PipelineError> {
    match recording.activity() {
        Activity::Traces(t) => Ok(t.values.mapv(f64::from)),
        Activity::Binned(b) => Ok(b.counts.mapv(f64::from)),
        Activity::SpikeTimes(_) => Err(spike_times_refused(path)),
    }
}

/// Frames (or bins) per second, when known.
fn frame_rate(recording: &Recording) -> Option<f64> {
    match recording.activity() {
        Activity::Traces(t) => t.frame_rate_hz,
        Activity::Binned(b) => b.bin_width_s.map(|w| 1.0 / w),
        Activity::SpikeTimes(_) => None,
    }
}

/// The kind of input both recordings hold (they must agree).
fn common_input(
    pre: (&Path, &Recording),
    post: (&Path, &Recording),
) -> Result<PipelineInput, PipelineError> {
    let (a, b) = (input_kind(pre.0, pre.1)?, input_kind(post.0, post.1)?);
    if a != b {
        return Err(PipelineError::unsuitable(
            post.0,
            format!(
                "holds {}, but {} holds {}: pre and post must be of one kind (calcium traces \
                 or binned spike counts)",
                input_name(b),
                pre.0.display(),
                input_name(a)
            ),
        ));
    }
    Ok(a)
}

fn description(path: &Path, recording: &Recording, windows: usize) -> DataDescription {
    DataDescription {
        path: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        neuron_ids: recording.neuron_ids().to_vec(),
        bin_width_s: frame_rate(recording).map(|f| 1.0 / f),
        train_samples: windows,
        heldout_samples: 0,
    }
}

/// What a training session of CycleGAN ended with.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CycleGanTrained {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The last metrics line the session logged (none when nothing was left to train).
    pub last: Option<neuroforge_train::CycleMetricsLine>,
}

impl std::fmt::Display for CycleGanTrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&summary(&self.run_dir, self.last.clone()))
    }
}

fn summary(run: &Path, last: Option<neuroforge_train::CycleMetricsLine>) -> String {
    match last {
        Some(l) => format!(
            "{}: {} iterations, generator loss {:.4} (cycle {:.4}, identity {:.4}), \
             discriminator loss {:.4}, {:.1} iterations/s",
            run.display(),
            l.iteration,
            l.losses.generator_loss,
            l.losses.cycle,
            l.losses.identity,
            l.losses.discriminator_loss,
            l.iterations_per_s
        ),
        None => format!("{}: nothing left to train", run.display()),
    }
}

fn prepare(
    config: &CycleGanRunConfig,
    pre: (&Path, &Recording),
    post: (&Path, &Recording),
) -> Result<CycleData, PipelineError> {
    let pre_traces = traces(pre.0, pre.1)?;
    let post_traces = traces(post.0, post.1)?;
    neuroforge_train::align_neurons(pre.1.neuron_ids(), post.1.neuron_ids(), post_traces.view())
        .map_err(|e| {
            PipelineError::unsuitable(post.0, format!("against {}: {e}", pre.0.display()))
        })?;
    CycleData::prepare(
        (pre_traces.view(), pre.1.neuron_ids()),
        (post_traces.view(), post.1.neuron_ids()),
        &config.pipeline,
        config.seed,
    )
    .map_err(|e| PipelineError::unsuitable(pre.0, format!("with {}: {e}", post.0.display())))
}

/// Train CycleGAN between the `pre` and `post` recordings (each with the file it was read
/// from) into a new run directory (`neuroforge train cyclegan`).
pub fn train(
    pre: (&Path, &Recording),
    post: (&Path, &Recording),
    run_dir: &Path,
    flags: &CycleGanFlags,
    session: TrainingSession<'_, CycleGanTrainer>,
) -> Result<CycleGanTrained, PipelineError> {
    let mut config: CycleGanRunConfig = resolve(flags.config.as_deref(), &flags.overrides(), &())?;
    // The data decide the pipeline's first steps (and the run's config records it).
    config.pipeline.input = common_input(pre, post)?;
    let data = prepare(&config, pre, post)?;
    let run = RunDir::create(run_dir)?;
    let files = [
        description(pre.0, pre.1, data.pre.len()),
        description(post.0, post.1, data.post.len()),
    ];
    let stop = (session.stop)();
    let last = start_cyclegan(
        &run,
        config,
        &data,
        files,
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::CycleGan,
        &crate::output::training_description("CycleGAN", run_dir),
    )?;
    Ok(CycleGanTrained {
        run_dir: run_dir.to_path_buf(),
        last,
    })
}

/// Continue a CycleGAN run from its newest checkpoint on the recordings its manifest names
/// (`neuroforge resume`); `iterations` changes the schedule's length.
pub fn resume(
    run_dir: &Path,
    iterations: Option<u64>,
    open: impl Fn(&Path) -> Result<Recording, PipelineError>,
    session: TrainingSession<'_, CycleGanTrainer>,
) -> Result<CycleGanTrained, PipelineError> {
    let run = RunDir::open_for_writing(run_dir)?;
    let manifest = run.read_manifest()?;
    let config: CycleGanRunConfig = run.read_config()?;
    let (Some(pre), Some(post)) = (&manifest.data, manifest.more_data.first()) else {
        return Err(PipelineError::Usage(format!(
            "{}: the manifest does not name the pre and post recordings",
            run_dir.display()
        )));
    };
    let (pre_path, post_path) = (PathBuf::from(&pre.path), PathBuf::from(&post.path));
    let (pre_rec, post_rec) = (open(&pre_path)?, open(&post_path)?);
    let data = prepare(&config, (&pre_path, &pre_rec), (&post_path, &post_rec))?;
    let stop = (session.stop)();
    let last = resume_cyclegan(
        &run,
        &data,
        iterations,
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::CycleGan,
        &crate::output::training_description("CycleGAN", run_dir),
    )?;
    Ok(CycleGanTrained {
        run_dir: run_dir.to_path_buf(),
        last,
    })
}

/// A recording run through the pipeline of a trained run, as `condition`: the inferred spikes
/// and the model-order, normalised windows (non-overlapping; a trailing partial window is
/// dropped).
struct ModelInput {
    spikes: Array3<f64>,
    windows: Array3<f32>,
    g: Vec<Vec<f64>>,
}

fn split_windows(x: ArrayView2<'_, f64>, window: usize) -> Array3<f64> {
    let (n, frames) = x.dim();
    let count = frames / window;
    Array3::from_shape_fn((count, n, window), |(s, k, t)| x[(k, s * window + t)])
}

fn model_input(
    pre: &CyclePreprocessing,
    path: &Path,
    recording: &Recording,
    condition: Condition,
) -> Result<ModelInput, PipelineError> {
    let kind = input_kind(path, recording)?;
    if kind != pre.config.input {
        return Err(PipelineError::unsuitable(
            path,
            format!(
                "holds {}, but the run was trained on {}",
                input_name(kind),
                input_name(pre.config.input)
            ),
        ));
    }
    let raw = traces(path, recording)?;
    let aligned =
        neuroforge_train::align_neurons(&pre.neuron_ids, recording.neuron_ids(), raw.view())
            .map_err(|e| PipelineError::unsuitable(path, format!("against the run: {e}")))?;
    let processed = process_condition(aligned.view(), &pre.config)
        .map_err(|e| PipelineError::unsuitable(path, e.to_string()))?;
    let window = pre.config.window;
    if processed.signal.ncols() < window {
        return Err(PipelineError::unsuitable(
            path,
            format!(
                "{} frames are fewer than one {window}-frame window",
                processed.signal.ncols()
            ),
        ));
    }
    let model = pre.to_model(processed.signal.view(), condition);
    Ok(ModelInput {
        spikes: split_windows(processed.spikes.view(), window),
        windows: split_windows(model.view(), window).mapv(|v| v as f32),
        g: processed.g,
    })
}

/// Model-order, normalised windows of `condition` back to original order and units.
fn from_model(
    pre: &CyclePreprocessing,
    windows: &Array3<f32>,
    condition: Condition,
) -> Array3<f64> {
    let joined = concatenate(&windows.mapv(f64::from));
    let original = pre.from_model(joined.view(), condition);
    split_windows(original.view(), windows.dim().2)
}

/// Inferred spikes of model-signal windows (original units) under `g`.
fn spikes_of_signal(signal: &Array3<f64>, kind: ModelSignal, g: &[Vec<f64>]) -> Array3<f64> {
    match kind {
        ModelSignal::Spikes => signal.clone(),
        ModelSignal::Calcium => {
            let mut s = signal.clone();
            for mut sample in s.outer_iter_mut() {
                for (mut row, g) in sample.rows_mut().into_iter().zip(g) {
                    let g1 = g.first().copied().unwrap_or(0.0);
                    let g2 = g.get(1).copied().unwrap_or(0.0);
                    let c = row.to_vec();
                    for t in 0..c.len() {
                        let p1 = if t >= 1 { c[t - 1] } else { 0.0 };
                        let p2 = if t >= 2 { c[t - 2] } else { 0.0 };
                        row[t] = c[t] - g1 * p1 - g2 * p2;
                    }
                }
            }
            s
        }
    }
}

fn calcium_windows(spikes: &Array3<f64>, g: &[Vec<f64>]) -> Array3<f64> {
    let joined = concatenate(spikes);
    let c = calcium_from_spikes(joined.view(), g);
    split_windows(c.view(), spikes.dim().2)
}

fn other(condition: Condition) -> Condition {
    match condition {
        Condition::Pre => Condition::Post,
        Condition::Post => Condition::Pre,
    }
}

/// Options of `neuroforge translate`.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TranslateFlags {
    /// The condition of the input: pre (translate with G) or post (with F).
    #[cfg_attr(feature = "clap", arg(long, default_value = "pre"))]
    pub from: Condition,
    /// Evaluate the translation against a real recording of the target condition (same
    /// neurons): KL divergences of rate, correlation and van Rossum distributions, on inferred
    /// spikes and on calcium, beside those of the untranslated input.
    #[cfg_attr(feature = "clap", arg(long, value_name = "RECORDING"))]
    pub against: Option<PathBuf>,
    /// The --against recording is the true target of the input, frame by frame: also report
    /// per-sample errors.
    #[cfg_attr(feature = "clap", arg(long, requires = "against"))]
    pub paired: bool,
    /// Write the evaluation as JSON here (default: printed).
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE", requires = "against"))]
    pub json: Option<PathBuf>,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): input, translation and (with --against) real target side by side for a few
    /// windows, and the evaluation with its verdict.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.md"))]
    pub report: Option<PathBuf>,
    /// Binned-count runs only: write integer counts, each translated value x drawn as
    /// floor(x) + Bernoulli(x - floor(x)) from --seed (the mean is kept, with the least added
    /// variance); the evaluation then scores these counts.
    #[cfg_attr(feature = "clap", arg(long = "integer-counts"))]
    pub integer_counts: bool,
    /// Seed of --integer-counts.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = 0, requires = "integer_counts")
    )]
    pub seed: u64,
}

/// Integer counts from non-negative translated values: `floor(x) + Bernoulli(x - floor(x))`,
/// drawn in row-major order from `seed`.
pub fn stochastic_round(values: &Array3<f64>, seed: u64) -> Array3<f64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    values.mapv(|v| {
        let v = v.max(0.0);
        let floor = v.floor();
        floor + f64::from(u8::from(rng.random::<f64>() < v - floor))
    })
}

fn divergence_pair(
    real: ArrayView3<'_, f64>,
    translated: ArrayView3<'_, f64>,
    untranslated: ArrayView3<'_, f64>,
    config: &TranslationEvalConfig,
) -> Result<(Divergences, Divergences), PipelineError> {
    let stats = |x: ArrayView3<'_, f64>| {
        SampleStatistics::of(x, config).map_err(|e| PipelineError::Usage(e.to_string()))
    };
    let real = stats(real)?;
    let t =
        divergences(&real, &stats(translated)?).map_err(|e| PipelineError::Usage(e.to_string()))?;
    let u = divergences(&real, &stats(untranslated)?)
        .map_err(|e| PipelineError::Usage(e.to_string()))?;
    Ok((t, u))
}

/// `neuroforge translate`.
pub fn translate(
    run_dir: &Path,
    input: (&Path, Recording),
    out: &Path,
    device: &Device,
    flags: &TranslateFlags,
    open: impl Fn(&Path) -> Result<Recording, PipelineError>,
) -> Result<String, PipelineError> {
    neuroforge_io::Container::from_path(out)?;
    let run = RunDir::open(run_dir)?;
    let TrainedCycleGan {
        config,
        preprocessing: pre,
        generators,
        ..
    } = load_cyclegan(&run, device)?;
    let (iteration, _) = run.latest_checkpoint()?;
    let (path, recording) = input;
    let from = flags.from;
    let to = other(from);
    let x = model_input(&pre, path, &recording, from)?;
    let counts_run = config.pipeline.input == PipelineInput::Counts;
    if flags.integer_counts && !counts_run {
        return Err(PipelineError::Usage(format!(
            "--integer-counts: the run {} was trained on calcium traces, not binned counts",
            run_dir.display()
        )));
    }
    let translated = translate_windows(&generators, from, &x.windows, device)?;
    let mut signal = from_model(&pre, &translated, to);
    if flags.integer_counts {
        signal = stochastic_round(&signal, flags.seed);
    }
    let (count, neurons, window) = signal.dim();
    let activity = if flags.integer_counts {
        Activity::Binned(neuroforge_io::BinnedActivity {
            // Whole, non-negative numbers far below u32::MAX (the generator's range).
            counts: concatenate(&signal).mapv(|v| v.min(f64::from(u32::MAX)) as u32),
            bin_width_s: frame_rate(&recording).map(|hz| 1.0 / hz),
        })
    } else {
        Activity::Traces(TraceActivity {
            values: concatenate(&signal).mapv(|v| v as f32),
            frame_rate_hz: frame_rate(&recording),
        })
    };
    let out_rec = Recording::new(
        pre.neuron_ids.clone(),
        activity,
        vec![samples_covariate(count, window)],
        neuroforge_io::Provenance {
            source_file: Some(path.display().to_string()),
            source_format: Some("neuroforge run".into()),
            steps: pre
                .steps
                .iter()
                .cloned()
                .chain([format!(
                    "translated {from:?} -> {to:?} by the CycleGAN of {} after {iteration} \
                     iterations; values are the model signal ({:?}) in original units{}",
                    run_dir.display(),
                    config.pipeline.signal,
                    if flags.integer_counts {
                        format!(", drawn to integer counts (seed {})", flags.seed)
                    } else {
                        String::new()
                    }
                )])
                .collect(),
            written_by: Some(concat!("neuroforge ", env!("CARGO_PKG_VERSION")).into()),
            quantity: Some(
                match (config.pipeline.input, config.pipeline.signal) {
                    (PipelineInput::Counts, _) => "translated spike counts",
                    (_, ModelSignal::Spikes) => "translated inferred spikes",
                    (_, ModelSignal::Calcium) => "translated denoised calcium",
                }
                .into(),
            ),
            ..neuroforge_io::Provenance::default()
        },
    )?;
    let translated_spikes = spikes_of_signal(&signal, config.pipeline.signal, pre.g(to));
    let write_translation_report =
        |real: Option<&Array3<f64>>, evaluation: Option<&TranslationEvaluation>| {
            let Some(report_path) = &flags.report else {
                return Ok(());
            };
            let original = |a: &Array3<f64>| a.select(Axis(1), &pre.positions());
            let report = translation_report(
                report_path,
                (path, &original(&x.spikes)),
                &original(&translated_spikes),
                real.map(original).as_ref(),
                evaluation,
                (from, to),
                &pre.neuron_ids,
            );
            crate::output::write_report(report_path, &report)
        };
    let Some(against) = &flags.against else {
        write_translation_report(None, None)?;
        neuroforge_io::write_recording(out, &out_rec)?;
        return Ok(format!(
            "wrote {}: {count} windows of {neurons} neurons x {window} frames ({from:?} -> {to:?})",
            out.display()
        ));
    };
    if let Some(json) = &flags.json
        && json.is_dir()
    {
        return Err(PipelineError::unsuitable(
            json,
            "is a directory, not an output file",
        ));
    }
    let real_rec = open(against)?;
    let real = model_input(&pre, against, &real_rec, to)?;
    let eval = TranslationEvalConfig {
        spike_threshold: config.pipeline.spike_threshold,
        ..TranslationEvalConfig::default()
    };
    let (spikes_t, spikes_u) = divergence_pair(
        real.spikes.view(),
        translated_spikes.view(),
        x.spikes.view(),
        &eval,
    )?;
    let real_c = calcium_windows(&real.spikes, &real.g);
    let translated_c = calcium_windows(&translated_spikes, pre.g(to));
    let input_c = calcium_windows(&x.spikes, &x.g);
    let (calcium_t, calcium_u) =
        divergence_pair(real_c.view(), translated_c.view(), input_c.view(), &eval)?;
    let paired = if flags.paired {
        if real.spikes.dim() != translated_spikes.dim() {
            return Err(PipelineError::unsuitable(
                against,
                format!(
                    "--paired needs the same frames as the input: {:?} windows against {:?}",
                    real.spikes.dim(),
                    translated_spikes.dim()
                ),
            ));
        }
        let err = |a: &Array3<f64>| {
            paired_errors(a.view(), real.spikes.view())
                .map_err(|e| PipelineError::Usage(e.to_string()))
        };
        Some(PairedComparison {
            translated: err(&translated_spikes)?,
            input: err(&x.spikes)?,
        })
    } else {
        None
    };
    let report = TranslationEvaluation {
        from: condition_name(from).into(),
        to: condition_name(to).into(),
        windows: count,
        real_windows: real.spikes.dim().0,
        iteration,
        spikes: DivergencePair {
            translated_vs_real: spikes_t,
            input_vs_real: spikes_u,
        },
        calcium: DivergencePair {
            translated_vs_real: calcium_t,
            input_vs_real: calcium_u,
        },
        paired,
    };
    let text =
        serde_json::to_string_pretty(&report).map_err(|e| PipelineError::Usage(e.to_string()))?;
    write_translation_report(Some(&real.spikes), Some(&report))?;
    neuroforge_io::write_recording(out, &out_rec)?;
    match &flags.json {
        Some(json) => write_text(json, &text)?,
        None => println!("{text}"),
    }
    Ok(format!(
        "wrote {}: {count} windows; rate KL translated {:.4} vs untranslated {:.4}",
        out.display(),
        report.spikes.translated_vs_real.rate_kl,
        report.spikes.input_vs_real.rate_kl
    ))
}

/// The report of `translate`: for a few windows, the input, its translation and (when given) the
/// real recording of the target condition side by side (all three as model-space windows with
/// the neurons in their original order), then
/// the evaluation's divergences with a verdict: is the translation closer to the real target
/// than the untranslated input?
fn translation_report(
    report_path: &Path,
    input: (&Path, &Array3<f64>),
    translated: &Array3<f64>,
    real: Option<&Array3<f64>>,
    evaluation: Option<&TranslationEvaluation>,
    (from, to): (Condition, Condition),
    neuron_ids: &[String],
) -> neuroforge_report::Report {
    use neuroforge_report::svg;
    let (from_name, to_name) = (condition_name(from), condition_name(to));
    let mut report = neuroforge_report::ReportBuilder::new(
        &neuroforge_report::report_stem(report_path),
        &format!("CycleGAN translation {from_name} -> {to_name}"),
    );
    if let Some(e) = evaluation {
        let closer = |t: f64, u: f64| t < u;
        let (t, u) = (&e.spikes.translated_vs_real, &e.spikes.input_vs_real);
        let wins = [
            closer(t.rate_kl, u.rate_kl),
            closer(t.correlation_kl, u.correlation_kl),
            closer(t.van_rossum_kl, u.van_rossum_kl),
        ];
        let count = wins.iter().filter(|w| **w).count();
        report.text(&format!(
            "> **{}** On inferred spikes the translation is closer to the real {to_name} \
             recording than the untranslated input on {count} of 3 divergences (rates, \
             correlations, van Rossum distances).",
            if count == 3 {
                "The translation moved the statistics within reach of the target:"
            } else if count == 0 {
                "The translation did not move the statistics toward the target:"
            } else {
                "Mixed:"
            }
        ));
    }
    report.text(&format!(
        "Input: `{}` ({from_name}, {} windows). Values: inferred spikes (or counts) per frame, \
         in the model's units, neurons in the recording's order.",
        input.0.display(),
        input.1.dim().0
    ));
    let (windows, neurons, bins) = translated.dim();
    for k in 0..windows.min(3) {
        let mut panels: Vec<(&str, ndarray::ArrayView2<'_, f64>)> = vec![
            (from_name, input.1.index_axis(Axis(0), k)),
            ("translated", translated.index_axis(Axis(0), k)),
        ];
        if let Some(r) = real
            && k < r.dim().0
        {
            panels.push((to_name, r.index_axis(Axis(0), k)));
        }
        // Panels side by side, one grey (NaN) column between them.
        let columns = panels.len() * (bins + 1) - 1;
        let mut values = vec![f64::NAN; neurons * columns];
        for (p, (_, panel)) in panels.iter().enumerate() {
            for ((n, t), v) in panel.indexed_iter() {
                values[n * columns + p * (bins + 1) + t] = *v;
            }
        }
        let names: Vec<&str> = panels.iter().map(|(n, _)| *n).collect();
        report.figure(
            &format!("window-{k}.svg"),
            &format!("Window {k}: {}, left to right", names.join(", ")),
            svg::heatmap(
                &format!("Window {k}: {}", names.join(" | ")),
                &format!(
                    "frame (panels of {bins}, left to right: {})",
                    names.join(", ")
                ),
                "neuron",
                "activity (model units)",
                neurons,
                columns,
                &values,
                Some(neuron_ids),
                None,
            ),
        );
    }
    if let Some(e) = evaluation {
        let mut table = String::from(
            "| inferred spikes vs real | translated | untranslated input |\n| --- | --- | --- |\n",
        );
        let (t, u) = (&e.spikes.translated_vs_real, &e.spikes.input_vs_real);
        for (name, a, b) in [
            ("rate KL", t.rate_kl, u.rate_kl),
            ("correlation KL", t.correlation_kl, u.correlation_kl),
            ("van Rossum KL", t.van_rossum_kl, u.van_rossum_kl),
            ("mean-rate L1", t.mean_rate_l1, u.mean_rate_l1),
            ("correlation L1", t.correlation_l1, u.correlation_l1),
            (
                "covariance L1 (correlation bins)",
                t.covariance_l1,
                u.covariance_l1,
            ),
            (
                "covariance L1 (frames)",
                t.frame_covariance_l1,
                u.frame_covariance_l1,
            ),
        ] {
            table.push_str(&format!(
                "| {name} | {} | {} |\n",
                neuroforge_report::significant(a, 3),
                neuroforge_report::significant(b, 3)
            ));
        }
        if let Some(p) = &e.paired {
            table.push_str(&format!(
                "| paired rate MAE | {} | {} |\n| paired signal MAE | {} | {} |\n",
                neuroforge_report::significant(p.translated.rate_mae, 3),
                neuroforge_report::significant(p.input.rate_mae, 3),
                neuroforge_report::significant(p.translated.signal_mae, 3),
                neuroforge_report::significant(p.input.signal_mae, 3),
            ));
        }
        report.text(&table);
        let per_neuron = |d: &Divergences| d.rate_kl_per_neuron.clone();
        let ids: Vec<String> = neuron_ids.to_vec();
        report.figure(
            "rate-kl-translated.svg",
            "Per-neuron rate KL of the translation against the real target",
            svg::bars(
                "Rate KL per neuron: translated vs real",
                "neuron",
                &svg::Axis::non_negative("KL (nats)"),
                &ids,
                &per_neuron(t),
                &[],
                "",
            ),
        );
        report.figure(
            "rate-kl-input.svg",
            "Per-neuron rate KL of the untranslated input against the real target",
            svg::bars(
                "Rate KL per neuron: untranslated input vs real",
                "neuron",
                &svg::Axis::non_negative("KL (nats)"),
                &ids,
                &per_neuron(u),
                &[],
                "",
            ),
        );
    }
    report.finish()
}

/// A condition's name as the evaluation writes it.
fn condition_name(condition: Condition) -> &'static str {
    match condition {
        Condition::Pre => "pre",
        Condition::Post => "post",
    }
}

/// Options of `neuroforge explain saliency`.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SaliencyFlags {
    /// The condition of the data: pre (explain G) or post (explain F).
    #[cfg_attr(feature = "clap", arg(long, default_value = "pre"))]
    pub from: Condition,
    /// Windows to explain (the first N) [default: all].
    #[cfg_attr(feature = "clap", arg(long))]
    pub samples: Option<usize>,
    /// Neuron ids known to change (comma-separated): also report the ROC AUC of each
    /// per-neuron attribution against them.
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ',', value_name = "IDS"))]
    pub changed: Option<Vec<String>>,
    /// Write per-neuron and per-time attributions (and the AUCs) as JSON here.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    pub json: Option<PathBuf>,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): per-neuron bars of each attribution with the known changed neurons marked, and the
    /// mean maps over windows.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.md"))]
    pub report: Option<PathBuf>,
}

/// Whether a per-neuron attribution gives every neuron the same value (to a relative 1e-6): it
/// then ranks nothing, and says so instead of an AUC of 0.5 passing for a finding.
pub fn is_degenerate(per_neuron: &[f64]) -> bool {
    let (lo, hi) = per_neuron
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    !(lo.is_finite() && hi.is_finite()) || hi - lo <= 1e-6 * hi.abs().max(lo.abs()).max(1e-300)
}

/// `neuroforge explain saliency`.
pub fn saliency(
    run_dir: &Path,
    data: (&Path, Recording),
    out: &Path,
    device: &Device,
    flags: &SaliencyFlags,
) -> Result<String, PipelineError> {
    neuroforge_io::Container::from_path(out)?;
    let run = RunDir::open(run_dir)?;
    // The gradient maps need the networks on an autodiff device.
    let device = device.clone().autodiff();
    let trained = load_cyclegan(&run, &device)?;
    let pre = &trained.preprocessing;
    let (path, recording) = data;
    let x = model_input(pre, path, &recording, flags.from)?;
    let take = flags
        .samples
        .unwrap_or(x.windows.dim().0)
        .min(x.windows.dim().0);
    if take == 0 {
        return Err(PipelineError::Usage("--samples must be at least 1".into()));
    }
    let windows = x.windows.slice(ndarray::s![..take, .., ..]).to_owned();
    let maps = neuroforge_explain::cyclegan_attributions(
        trained.generators.from_condition(flags.from),
        trained.discriminators.of(other(flags.from)),
        &windows,
        &device,
    )?;
    let changed: Option<Vec<usize>> = match &flags.changed {
        Some(ids) => Some(
            ids.iter()
                .map(|id| {
                    pre.neuron_ids.iter().position(|n| n == id).ok_or_else(|| {
                        PipelineError::Usage(format!("--changed: no neuron '{id}' in the run"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let mut summary = serde_json::Map::new();
    summary.insert("neuron_ids".into(), json!(pre.neuron_ids));
    summary.insert("from".into(), json!(flags.from));
    summary.insert("windows".into(), json!(take));
    let mut line = Vec::new();
    let mut report = flags.report.as_ref().map(|report_path| {
        let mut r = neuroforge_report::ReportBuilder::new(
            &neuroforge_report::report_stem(report_path),
            "CycleGAN attributions",
        );
        r.text(&format!(
            "The generator from {} of the run `{}`, on {take} windows of `{}`: `change` is \
             |G(x) - x|, `saliency` the input gradient of the target discriminator's verdict on \
             G(x), `grad_cam` the discriminator's Grad-CAM on x. Per-neuron figures are means \
             over windows and time.",
            condition_name(flags.from),
            run_dir.display(),
            path.display()
        ));
        r
    });
    let is_changed: Vec<bool> = (0..pre.neuron_ids.len())
        .map(|i| changed.as_ref().is_some_and(|c| c.contains(&i)))
        .collect();
    for (name, map) in [
        ("change", &maps.change),
        ("saliency", &maps.saliency),
        ("grad_cam", &maps.grad_cam),
    ] {
        let original = map.select(Axis(1), &pre.positions());
        let agg = neuroforge_explain::aggregate(original.view())?;
        let degenerate = is_degenerate(&agg.per_neuron);
        let mut entry = json!({
            "per_neuron": agg.per_neuron,
            "per_time": agg.per_time,
            "ranking": agg.ranking.iter().map(|&i| pre.neuron_ids[i].clone()).collect::<Vec<_>>(),
            "degenerate": degenerate,
        });
        let mut auc_text = String::new();
        if let Some(changed) = &changed {
            let auc = neuroforge_explain::roc_auc(&agg.per_neuron, changed)?;
            entry["auc"] = json!(auc);
            auc_text = format!(", changed-neuron AUC {auc:.3}");
            line.push(if degenerate {
                format!("{name} AUC {auc:.3}, degenerate: every neuron equal")
            } else {
                format!("{name} AUC {auc:.3}")
            });
        } else if degenerate {
            line.push(format!("{name} degenerate: every neuron equal"));
        }
        if degenerate {
            tracing::warn!("{name}: every neuron has the same attribution; it ranks nothing");
        }
        if let Some(r) = report.as_mut() {
            use neuroforge_report::svg;
            if degenerate {
                r.text(&format!(
                    "> **Warning: `{name}` is degenerate:** every neuron has the same value, \
                     so it ranks nothing{}.",
                    if changed.is_some() {
                        " (its AUC of 0.5 is no finding)"
                    } else {
                        ""
                    }
                ));
            }
            r.figure(
                &format!("{name}-neurons.svg"),
                &format!("`{name}` per neuron{auc_text}"),
                svg::bars(
                    &format!("{name} per neuron{auc_text}"),
                    "neuron",
                    &svg::Axis::non_negative(&format!("mean {name} (normalised units)")),
                    &pre.neuron_ids,
                    &agg.per_neuron,
                    &is_changed,
                    "known to change",
                ),
            );
            let (windows, neurons, bins) = original.dim();
            let mean = original
                .mean_axis(Axis(0))
                .map(|m| m.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>())
                .unwrap_or_default();
            r.figure(
                &format!("{name}-map.svg"),
                &format!("`{name}` averaged over {windows} windows"),
                svg::heatmap(
                    &format!("{name}, mean over {windows} windows"),
                    "time in window (bins)",
                    "neuron",
                    name,
                    neurons,
                    bins,
                    &mean,
                    Some(&pre.neuron_ids),
                    None,
                ),
            );
        }
        summary.insert(name.into(), entry);
    }
    if let (Some(r), Some(path)) = (report.take(), &flags.report) {
        crate::output::write_report(path, &r.finish())?;
    }
    if let Some(json) = &flags.json {
        let text = serde_json::to_string_pretty(&Value::Object(summary))
            .map_err(|e| PipelineError::Usage(e.to_string()))?;
        write_text(json, &text)?;
    }
    let change = maps
        .change
        .select(Axis(1), &pre.positions())
        .mapv(f64::from);
    let (count, _, window) = change.dim();
    let rec = Recording::new(
        pre.neuron_ids.clone(),
        Activity::Traces(TraceActivity {
            values: concatenate(&change).mapv(|v| v as f32),
            frame_rate_hz: frame_rate(&recording),
        }),
        vec![samples_covariate(count, window)],
        neuroforge_io::Provenance {
            source_file: Some(path.display().to_string()),
            source_format: Some("neuroforge run".into()),
            steps: vec![format!(
                "|G(x) - x| of the CycleGAN of {} on {take} windows (normalised units)",
                run_dir.display()
            )],
            written_by: Some(concat!("neuroforge ", env!("CARGO_PKG_VERSION")).into()),
            quantity: Some("attribution |G(x) - x|".into()),
            units: Some("normalised units".into()),
            ..neuroforge_io::Provenance::default()
        },
    )?;
    neuroforge_io::write_recording(out, &rec)?;
    Ok(format!(
        "wrote {}: attribution of {take} windows{}",
        out.display(),
        if line.is_empty() {
            String::new()
        } else {
            format!(" ({})", line.join(", "))
        }
    ))
}
