//! `neuroforge`: the command-line tool over the neuroforge crates.
//!
//! Exit codes: 0 success, 2 bad input or bad usage (one line on stderr naming the file and the
//! problem), 1 internal failure. Logging goes to stderr through `tracing`; `RUST_LOG` sets the
//! level (default `warn`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use neuroforge_io::{ActivityKind, ImportOptions, Layout, Recording, SourceFormat, TimeUnit};

mod device;
mod error;
mod float_mode;
mod inspect;
mod interrupt;
mod progress;

use burn::tensor::Device;
use error::CliError;
use neuroforge_pipeline::{
    TrainingSession, cyclegan, marble, one_line, points, preprocess, simulate, spikegan, stats,
};
use neuroforge_stats::transport::TransportMethod;
use neuroforge_train::{ModelKind, RunContext, SessionObserver, Trainer};
use progress::{SessionBar, with_spinner};

/// mimalloc keeps freed pages for reuse; with glibc's allocator the tensors burn allocates and
/// frees at every operation cost a page fault per page (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deep generative and geometric models of neural population activity.
#[derive(Debug, Parser)]
#[command(name = "neuroforge", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a MAT, NPY, NPZ, suite2p folder or CSV of spike times into a recording file
    /// (Parquet or Arrow IPC, by the extension of --out).
    Import {
        /// The input file (or suite2p plane folder).
        input: PathBuf,
        /// The recording to write: .parquet (or .pq) or .arrow (or .ipc, .feather).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Print a recording's shape, kind, time base and rates (any importable input works too).
    Inspect {
        /// A recording file, or any input `import` accepts.
        file: PathBuf,
        /// Print JSON (keys: neurons, bins or frames, kind, mean_rate, ...) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Process a recording: bin spike times, dF/F, OASIS spike inference, smoothing,
    /// normalisation, neuron ordering (each optional, in that order); writes a new recording.
    Preprocess {
        /// A recording file, or any input `import` accepts.
        input: PathBuf,
        /// The recording to write: .parquet or .arrow.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        steps: preprocess::PreprocessFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Simulate a recording with known ground truth (Spike-GAN populations, calcium imaging,
    /// van der Pol dynamics).
    Simulate {
        #[command(subcommand)]
        what: simulate::Simulation,
    },
    /// Compare a generated recording with a real one: every population statistic side by side,
    /// its L1 error and a bootstrap interval; optional JSON and Markdown report with plots.
    Stats {
        /// The real (recorded) activity: a recording file or any input `import` accepts.
        real: PathBuf,
        /// The generated (model) activity, same neurons.
        generated: PathBuf,
        #[command(flatten)]
        options: stats::StatsFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Fit a classical model (dichotomized Gaussian, k-pairwise maximum entropy, independent)
    /// to binary binned data and write samples from it.
    #[command(name = "fit-baseline")]
    FitBaseline {
        /// The model to fit.
        #[arg(value_enum)]
        model: stats::BaselineKind,
        /// The data: a recording file or any input `import` accepts.
        real: PathBuf,
        /// The samples to write: .parquet or .arrow.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        options: stats::BaselineFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Train a model; writes a run directory that `resume`, `sample` and `explain` read.
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Continue a training run from its newest checkpoint (the same result as an uninterrupted
    /// run on the same backend).
    Resume {
        /// The run directory.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// The data file, if it moved since the run started [default: the manifest's].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Train to this many iterations (MARBLE: epochs) in total (extends or shortens the
        /// configured schedule).
        #[arg(long)]
        iterations: Option<u64>,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
    },
    /// Draw binary samples from a trained generator (x = 1[p > u], p = G(z)); writes them in
    /// the layout of the data, so `stats` compares them directly.
    Sample {
        /// The run directory of a trained Spike-GAN.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// Number of samples.
        #[arg(long)]
        count: usize,
        /// The samples to write: .parquet or .arrow.
        #[arg(long)]
        out: PathBuf,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: spikegan::SampleFlags,
    },
    /// Translate a recording with a trained CycleGAN (pre -> post with G, post -> pre with F);
    /// writes the translated model signal (inferred spikes by default) under the original
    /// neuron ids, and optionally evaluates it against a real recording.
    Translate {
        /// The CycleGAN run directory.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// The recording to translate (traces, same neurons as the run).
        #[arg(long)]
        data: PathBuf,
        /// The translated recording to write.
        #[arg(long)]
        out: PathBuf,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: cyclegan::TranslateFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Explain a trained model.
    Explain {
        #[command(subcommand)]
        what: Explanation,
    },
    /// Build a point table (MARBLE's input) from spike times and a behaviour on the same clock:
    /// binned, smoothed rates as x0.., the behaviour per bin, moving bins only.
    Points {
        #[command(flatten)]
        options: points::PointsFlags,
        /// The point table to write (Parquet).
        #[arg(long)]
        out: PathBuf,
    },
    /// Embed a point table with a trained MARBLE run: writes the table's usable rows with the
    /// embedding as columns z0.., the states used as x0.. and the table's other blocks.
    Embed {
        /// The MARBLE run directory.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// The point table to embed (same columns as for training).
        #[arg(long)]
        data: PathBuf,
        /// The embedded point table to write (Parquet).
        #[arg(long)]
        out: PathBuf,
        /// Also draw z0 against z1, coloured by condition, into this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
    },
    /// Compare the conditions of an embedded point table by optimal transport, then MDS
    /// (JSON: conditions, distances, mds).
    Compare {
        /// The embedded point table (from `embed`).
        embedding: PathBuf,
        /// The JSON file to write.
        #[arg(long)]
        out: PathBuf,
        /// exact (EMD between the point clouds), sinkhorn, or clustered (k-means, then EMD
        /// between cluster histograms; MARBLE's way).
        #[arg(long, default_value = "clustered")]
        method: String,
        /// Clusters of the clustered method.
        #[arg(long, default_value_t = 50)]
        clusters: usize,
        /// Regularisation of the sinkhorn method, relative to the median cost.
        #[arg(long, default_value_t = 0.01)]
        epsilon: f64,
        /// Seed of the k-means initialisation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The block compared [default: z].
        #[arg(long, default_value = "z")]
        block: String,
        /// Also draw the MDS layout of the conditions into this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Decode a target block from a feature block of a point table with cross-validation over
    /// contiguous blocks of rows (JSON: r2, median_absolute_error).
    Decode {
        /// The point table (e.g. from `embed`).
        data: PathBuf,
        /// The JSON file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        options: marble::DecodeFlags,
    },
    /// Print the version, the compiled backends, the devices they see and the device that would
    /// be used.
    Info,
    /// Export a recording's activity to NPY (a 2-D array) or CSV (one row per time point).
    Export {
        /// A recording file, or any input `import` accepts.
        file: PathBuf,
        /// The file to write: .npy or .csv.
        #[arg(long)]
        out: PathBuf,
        /// Axis order of the NPY array (default neurons-by-time).
        #[arg(long = "out-layout", value_name = "LAYOUT")]
        out_layout: Option<Layout>,
        #[command(flatten)]
        flags: ImportFlags,
    },
}

/// What `neuroforge train` trains.
#[derive(Debug, Subcommand)]
enum TrainModel {
    /// Spike-GAN (WGAN-GP with the exact gradient penalty) on binary binned spikes.
    Spikegan {
        /// The data: a binned recording of 0/1 spike words (or any input `import` accepts).
        #[arg(long)]
        data: PathBuf,
        /// The run directory to create (manifest, config, metrics, checkpoints).
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// Device: flex, ndarray, tch, tch-cuda:N or cuda:N [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: spikegan::SpikeGanFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// CycleGAN between pre- and post-learning calcium imaging of the same neurons (raw
    /// fluorescence -> dF/F -> OASIS -> sorting -> normalisation -> windows; least-squares
    /// GAN, cycle and identity losses).
    Cyclegan {
        /// The pre-learning recording (traces).
        #[arg(long)]
        pre: PathBuf,
        /// The post-learning recording (traces of the same neuron ids).
        #[arg(long)]
        post: PathBuf,
        /// The run directory to create.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// Device: flex, ndarray, tch, tch-cuda:N or cuda:N [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: cyclegan::CycleGanFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// MARBLE (manifold embeddings of dynamics) on a point table: columns condition,
    /// optional trajectory, states x0.. and optional vectors v0.. (else differences of x).
    Marble {
        /// The point table (Parquet).
        #[arg(long)]
        data: PathBuf,
        /// The run directory to create.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// Device: flex, ndarray, tch, tch-cuda:N or cuda:N [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: marble::MarbleFlags,
    },
}

/// What `neuroforge explain` explains.
#[derive(Debug, Subcommand)]
enum Explanation {
    /// CycleGAN attributions: per neuron and time, what the generator changes (|G(x) - x|),
    /// the target discriminator's input-gradient saliency on G(x) and its Grad-CAM on x;
    /// writes the |G(x) - x| maps as traces and the per-neuron summaries as JSON.
    Saliency {
        /// The CycleGAN run directory.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// The recording to explain (traces of the run's neurons).
        #[arg(long)]
        data: PathBuf,
        /// The |G(x) - x| maps to write (a traces recording).
        #[arg(long)]
        out: PathBuf,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: cyclegan::SaliencyFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Spike-GAN importance maps: which spikes the trained critic relies on (shuffle each
    /// neuron's bins in short windows and measure the change of the critic's score).
    Importance {
        /// The run directory of a trained Spike-GAN.
        #[arg(long = "run-dir")]
        run_dir: PathBuf,
        /// The data to explain (usually the training data; its held-out samples are used).
        #[arg(long)]
        data: PathBuf,
        /// The maps to write: a traces recording, one value per neuron and bin of each sample.
        #[arg(long)]
        out: PathBuf,
        /// Device [default: BURN_DEVICE, else flex].
        #[arg(long)]
        device: Option<String>,
        #[command(flatten)]
        options: spikegan::ImportanceFlags,
        #[command(flatten)]
        flags: ImportFlags,
    },
}

/// How to read an input that is not already a recording file.
#[derive(Debug, Default, Args)]
struct ImportFlags {
    /// Input format (default: from the extension; a folder is suite2p).
    #[arg(long, value_name = "mat|npy|npz|suite2p|csv")]
    format: Option<SourceFormat>,
    /// MAT variable, NPZ array or suite2p array (F, Fneu, spks) to read.
    #[arg(long = "var", value_name = "NAME")]
    variable: Option<String>,
    /// Which axis is time (default: time-by-neurons for MAT/CSV, neurons-by-time for NPY/NPZ).
    #[arg(long, value_name = "time-by-neurons|neurons-by-time")]
    layout: Option<Layout>,
    /// Binned counts or continuous traces (default: from the dtype and values).
    #[arg(long, value_parser = parse_kind, value_name = "binned|traces")]
    kind: Option<ActivityKind>,
    /// Bin width in milliseconds (binned data; bins CSV spike times).
    #[arg(long = "bin-ms", value_name = "MS")]
    bin_ms: Option<f64>,
    /// Frame rate in Hz (traces).
    #[arg(long = "frame-rate", value_name = "HZ")]
    frame_rate: Option<f64>,
    /// suite2p: keep every ROI, not only those iscell.npy marks as cells.
    #[arg(long = "all-rois")]
    all_rois: bool,
    /// iscell.npy selecting the neurons (rows) of an NPY/NPZ array.
    #[arg(long, value_name = "FILE")]
    iscell: Option<PathBuf>,
    /// CSV: the unit (neuron id) column.
    #[arg(long = "unit-col", value_name = "NAME")]
    unit_col: Option<String>,
    /// CSV: the spike-time column.
    #[arg(long = "time-col", value_name = "NAME")]
    time_col: Option<String>,
    /// CSV: the unit of the time column.
    #[arg(long = "time-unit", value_parser = parse_time_unit, value_name = "s|ms")]
    time_unit: Option<TimeUnit>,
}

fn parse_kind(s: &str) -> Result<ActivityKind, String> {
    match s {
        "binned" => Ok(ActivityKind::Binned),
        "traces" => Ok(ActivityKind::Traces),
        other => Err(format!("unknown kind '{other}': use binned or traces")),
    }
}

fn parse_time_unit(s: &str) -> Result<TimeUnit, String> {
    match s {
        "s" => Ok(TimeUnit::S),
        "ms" => Ok(TimeUnit::Ms),
        other => Err(format!("unknown time unit '{other}': use s or ms")),
    }
}

impl ImportFlags {
    fn options(&self) -> ImportOptions {
        ImportOptions {
            format: self.format,
            variable: self.variable.clone(),
            layout: self.layout,
            kind: self.kind,
            bin_ms: self.bin_ms,
            frame_rate_hz: self.frame_rate,
            all_rois: self.all_rois,
            iscell: self.iscell.clone(),
            unit_column: self.unit_col.clone(),
            time_column: self.time_col.clone(),
            time_unit: self.time_unit,
        }
    }
}

fn open(file: &std::path::Path, flags: &ImportFlags) -> neuroforge_io::Result<Recording> {
    let options = flags.options();
    with_spinner(format!("reading {}", file.display()), || {
        neuroforge_io::open(file, &options)
    })
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Import { input, out, flags } => {
            // Refuse an unusable output name before doing the work.
            neuroforge_io::Container::from_path(&out)?;
            let options = flags.options();
            let recording = with_spinner(format!("importing {}", input.display()), || {
                neuroforge_io::import(&input, &options)
            })?;
            with_spinner(format!("writing {}", out.display()), || {
                neuroforge_io::write_recording(&out, &recording)
            })?;
            let s = recording.summary();
            let time = match (s.bins, s.frames) {
                (Some(b), _) => format!(" x {b} bins"),
                (_, Some(f)) => format!(" x {f} frames"),
                _ => String::new(),
            };
            tracing::info!(out = %out.display(), "import finished");
            println!(
                "wrote {}: {}, {} neurons{time}",
                out.display(),
                s.kind.name(),
                s.neurons
            );
        }
        Command::Inspect { file, json, flags } => {
            let recording = open(&file, &flags)?;
            let summary = recording.summary();
            if json {
                let text = serde_json::to_string_pretty(&summary)
                    .map_err(|e| neuroforge_io::IoError::Recording(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", inspect::human(&file, &summary));
            }
        }
        Command::Preprocess {
            input,
            out,
            steps,
            flags,
        } => {
            neuroforge_io::Container::from_path(&out)?;
            let recording = open(&input, &flags)?;
            let log = with_spinner(format!("processing {}", input.display()), || {
                preprocess::run(&input, recording, flags.bin_ms, &steps, &out)
            })?;
            for step in &log {
                tracing::info!(step = %step, "preprocess");
            }
            println!("wrote {} ({} steps)", out.display(), log.len());
        }
        Command::Simulate { what } => {
            let written = with_spinner("simulating".to_string(), || simulate::run(what))?;
            for path in written {
                println!("wrote {}", path.display());
            }
        }
        Command::Stats {
            real,
            generated,
            options,
            flags,
        } => {
            for path in options.json.iter().chain(&options.report) {
                if path.is_dir() {
                    return Err(CliError::Unsuitable {
                        path: path.clone(),
                        message: "is a directory, not an output file".into(),
                    });
                }
            }
            let a = open(&real, &flags)?;
            let b = open(&generated, &flags)?;
            let lines = with_spinner("computing statistics".to_string(), || {
                stats::run_stats(&real, a, &generated, b, flags.bin_ms, &options)
            })?;
            for line in lines {
                println!("{line}");
            }
        }
        Command::FitBaseline {
            model,
            real,
            out,
            options,
            flags,
        } => {
            neuroforge_io::Container::from_path(&out)?;
            let recording = open(&real, &flags)?;
            let line = with_spinner(format!("fitting {model:?} to {}", real.display()), || {
                stats::run_baseline(model, &real, recording, flags.bin_ms, &options, &out)
            })?;
            println!("{line}");
        }
        Command::Train {
            model:
                TrainModel::Spikegan {
                    data,
                    run_dir,
                    device,
                    options,
                    flags,
                },
        } => {
            let recording = open(&data, &flags)?;
            let (device, context) = device_and_context(device.as_deref())?;
            let trained = with_session_bar(&device, &context, ITERATIONS, |session| {
                spikegan::train(&data, &recording, &run_dir, &options, session)
            })?;
            println!("{trained}");
        }
        Command::Train {
            model:
                TrainModel::Cyclegan {
                    pre,
                    post,
                    run_dir,
                    device,
                    options,
                    flags,
                },
        } => {
            let pre_rec = open(&pre, &flags)?;
            let post_rec = open(&post, &flags)?;
            let (device, context) = device_and_context(device.as_deref())?;
            let trained = with_session_bar(&device, &context, ITERATIONS, |session| {
                cyclegan::train(
                    (&pre, &pre_rec),
                    (&post, &post_rec),
                    &run_dir,
                    &options,
                    session,
                )
            })?;
            println!("{trained}");
        }
        Command::Translate {
            run_dir,
            data,
            out,
            device,
            options,
            flags,
        } => {
            let recording = open(&data, &flags)?;
            let (device, _) = device::select_device(device.as_deref())?;
            let line = with_spinner(format!("translating {}", data.display()), || {
                cyclegan::translate(
                    &run_dir,
                    (&data, recording),
                    &out,
                    &device,
                    &options,
                    |path| Ok(open(path, &flags)?),
                )
            })?;
            println!("{line}");
        }
        Command::Explain {
            what:
                Explanation::Saliency {
                    run_dir,
                    data,
                    out,
                    device,
                    options,
                    flags,
                },
        } => {
            let recording = open(&data, &flags)?;
            let (device, _) = device::select_device(device.as_deref())?;
            let line = with_spinner("computing attributions".to_string(), || {
                cyclegan::saliency(&run_dir, (&data, recording), &out, &device, &options)
            })?;
            println!("{line}");
        }
        Command::Train {
            model:
                TrainModel::Marble {
                    data,
                    run_dir,
                    device,
                    options,
                },
        } => {
            let (device, context) = device_and_context(device.as_deref())?;
            let trained = with_session_bar(&device, &context, EPOCHS, |session| {
                marble::train(&data, &run_dir, &options, session)
            })?;
            println!("{trained}");
        }
        Command::Points { options, out } => {
            let line = with_spinner("binning spikes and behaviour".to_string(), || {
                points::run(&options, &out)
            })?;
            println!("{line}");
        }
        Command::Embed {
            run_dir,
            data,
            out,
            plot,
            device,
        } => {
            let (device, _) = device::select_device(device.as_deref())?;
            let line = with_spinner(format!("embedding {}", data.display()), || {
                marble::embed_points(&run_dir, &data, &out, &device, plot.as_deref())
            })?;
            println!("{line}");
        }
        Command::Compare {
            embedding,
            out,
            method,
            clusters,
            epsilon,
            seed,
            block,
            plot,
        } => {
            let method = match method.as_str() {
                "exact" => TransportMethod::Exact,
                "sinkhorn" => TransportMethod::Sinkhorn {
                    epsilon,
                    iterations: 1000,
                },
                "clustered" => TransportMethod::Clustered { clusters, seed },
                other => {
                    return Err(CliError::Usage(format!(
                        "unknown method '{other}': use exact, sinkhorn or clustered"
                    )));
                }
            };
            let line = with_spinner("optimal transport between conditions".to_string(), || {
                marble::compare(&embedding, &out, method, &block, plot.as_deref())
            })?;
            println!("{line}");
        }
        Command::Decode { data, out, options } => {
            let line = with_spinner(format!("decoding {}", options.targets), || {
                marble::decode(&data, &out, &options)
            })?;
            println!("{line}");
        }
        Command::Resume {
            run_dir,
            data,
            iterations,
            device,
        } => {
            let flags = ImportFlags::default();
            let model = neuroforge_train::RunDir::open(&run_dir)
                .and_then(|run| run.read_manifest())?
                .model;
            if model == ModelKind::Cyclegan && data.is_some() {
                return Err(CliError::Usage(
                    "a CycleGAN run resumes on the pre and post recordings its manifest \
                     names; --data does not apply"
                        .into(),
                ));
            }
            let (device, context) = device_and_context(device.as_deref())?;
            let reader = |path: &std::path::Path| Ok(open(path, &flags)?);
            let line = match model {
                ModelKind::Cyclegan => {
                    with_session_bar(&device, &context, ITERATIONS, |session| {
                        cyclegan::resume(&run_dir, iterations, reader, session)
                    })?
                    .to_string()
                }
                ModelKind::Marble => with_session_bar(&device, &context, EPOCHS, |session| {
                    marble::resume(&run_dir, data.as_deref(), iterations, session)
                })?
                .to_string(),
                ModelKind::Spikegan => {
                    with_session_bar(&device, &context, ITERATIONS, |session| {
                        spikegan::resume(&run_dir, data.as_deref(), iterations, reader, session)
                    })?
                    .to_string()
                }
            };
            println!("{line}");
        }
        Command::Sample {
            run_dir,
            count,
            out,
            device,
            options,
        } => {
            let (device, _) = device::select_device(device.as_deref())?;
            let line = with_spinner(format!("sampling {count}"), || {
                spikegan::sample(&run_dir, count, &out, &device, &options)
            })?;
            println!("{line}");
        }
        Command::Explain {
            what:
                Explanation::Importance {
                    run_dir,
                    data,
                    out,
                    device,
                    options,
                    flags,
                },
        } => {
            let recording = open(&data, &flags)?;
            let (device, _) = device::select_device(device.as_deref())?;
            let line = with_spinner("computing importance maps".to_string(), || {
                spikegan::explain_importance(&run_dir, &data, recording, &out, &device, &options)
            })?;
            println!("{line}");
        }
        Command::Info => {
            println!("neuroforge {}", env!("CARGO_PKG_VERSION"));
            if let Some(commit) = option_env!("NEUROFORGE_GIT_COMMIT").filter(|c| !c.is_empty()) {
                println!("commit     {commit}");
            }
            println!("backends   {}", device::compiled_backends().join(", "));
            for line in device::visible_devices() {
                println!("devices    {line}");
            }
            match device::select_device(None) {
                Ok((_, name)) => println!("device     {name} (--device or BURN_DEVICE to change)"),
                Err(e) => println!("device     none: {e}"),
            }
        }
        Command::Export {
            file,
            out,
            out_layout,
            flags,
        } => {
            neuroforge_io::export::ExportFormat::from_path(&out)?;
            let recording = open(&file, &flags)?;
            with_spinner(format!("writing {}", out.display()), || {
                neuroforge_io::export(&recording, &out, out_layout)
            })?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}

/// The steps of a GAN session, and what its bar shows until the first one.
const ITERATIONS: (&str, &str) = ("iterations", "preparing the data");

/// The steps of a MARBLE session, and what its bar shows until the first one.
const EPOCHS: (&str, &str) = (
    "epochs",
    "proximity graphs, gradient operators and diffusion terms",
);

/// The device a command runs on and the context its run's manifest records.
fn device_and_context(requested: Option<&str>) -> Result<(Device, RunContext), CliError> {
    let (device, name) = device::select_device(requested)?;
    Ok((device, device::run_context(&name)))
}

/// Run the training verb `train` on `device` with a progress bar over its steps (`steps`: their
/// name and what the bar shows until the first). Ctrl-C and SIGTERM are caught from the first
/// step on, so that a signal while the data are read still ends the program at once. The bar
/// is cleared before the result comes back, so the caller's summary prints on a clean line.
fn with_session_bar<T: Trainer, R>(
    device: &Device,
    context: &RunContext,
    (unit, preparing): (&str, &str),
    train: impl FnOnce(TrainingSession<'_, T>) -> Result<R, neuroforge_pipeline::PipelineError>,
) -> Result<R, CliError>
where
    SessionBar: SessionObserver<T>,
{
    let mut bar = SessionBar::new(unit, preparing);
    let result = train(TrainingSession {
        device,
        context,
        observer: &mut bar,
        stop: &interrupt::catch_stop_signals,
    });
    drop(bar);
    Ok(result?)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// The message of the last panic, kept by the panic hook for the one-line report.
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing();
    float_mode::flush_subnormals_everywhere();
    if neuroforge_kernels::retain_freed_memory() {
        tracing::debug!("glibc keeps freed memory for libtorch's next tensors");
    }
    // Panics are reported once, in one line, by the handler below: the hook only keeps the
    // message. (Decoders that panic on corrupt files are contained inside neuroforge-io and
    // reported there as bad input.)
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(one_line(&info.to_string()));
        }
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) if e.is_interrupted() => {
            // The conventional status of a program ended by SIGINT (128 + 2).
            eprintln!("interrupted: {}", one_line(&e.to_string()));
            ExitCode::from(130)
        }
        Ok(Err(e)) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(2)
        }
        Err(_) => {
            let message = LAST_PANIC
                .lock()
                .ok()
                .and_then(|m| m.clone())
                .unwrap_or_default();
            eprintln!("error: internal failure (a bug in neuroforge; please report it): {message}");
            ExitCode::from(1)
        }
    }
}
