//! `neuroforge`: the command-line tool over the neuroforge crates.
//!
//! Exit codes: 0 success, 2 bad input or bad usage (one line on stderr naming the file and the
//! problem), 1 internal failure. Logging goes to stderr through `tracing`; `RUST_LOG` sets the
//! level (default `warn`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod commands;
mod device;
mod error;
mod float_mode;
mod inspect;
mod interrupt;
mod progress;
mod training;

use commands::{cyclegan, data, info, marble, resume, spikegan, stats};
use error::CliError;
use neuroforge_pipeline::one_line;

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
    Import(data::Import),
    /// Print a recording's shape, kind, time base and rates (any importable input works too).
    Inspect(data::Inspect),
    /// Process a recording: bin spike times, dF/F, OASIS spike inference, smoothing,
    /// normalisation, neuron ordering (each optional, in that order); writes a new recording.
    Preprocess(data::Preprocess),
    /// Simulate a recording with known ground truth (Spike-GAN populations, calcium imaging,
    /// van der Pol dynamics).
    Simulate(data::Simulate),
    /// Compare a generated recording with a real one: every population statistic side by side,
    /// its L1 error and a bootstrap interval; optional JSON and Markdown report with plots.
    Stats(stats::Stats),
    /// Fit a classical model (dichotomized Gaussian, k-pairwise maximum entropy, independent)
    /// to binary binned data and write samples from it.
    #[command(name = "fit-baseline")]
    FitBaseline(stats::FitBaseline),
    /// Train a model; writes a run directory that `resume`, `sample` and `explain` read.
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Continue a training run from its newest checkpoint (the same result as an uninterrupted
    /// run on the same backend).
    Resume(resume::Resume),
    /// Check a run directory: every checkpoint against its checksums (which `resume` and
    /// `sample` also verify, falling back to the newest intact checkpoint), the manifest and
    /// the configuration; exits non-zero when something is damaged.
    Verify(resume::Verify),
    /// Draw binary samples from a trained generator (x = 1[p > u], p = G(z)); writes them in
    /// the layout of the data, so `stats` compares them directly.
    Sample(spikegan::Sample),
    /// Translate a recording with a trained CycleGAN (pre -> post with G, post -> pre with F);
    /// writes the translated model signal (inferred spikes by default) under the original
    /// neuron ids, and optionally evaluates it against a real recording.
    Translate(cyclegan::Translate),
    /// Explain a trained model.
    Explain {
        #[command(subcommand)]
        what: Explanation,
    },
    /// Build a point table (MARBLE's input) from spike times and a behaviour on the same clock:
    /// binned, smoothed rates as x0.., the behaviour per bin, moving bins only.
    Points(marble::Points),
    /// Embed a point table with a trained MARBLE run: writes the table's usable rows with the
    /// embedding as columns z0.., the states used as x0.. and the table's other blocks.
    Embed(marble::Embed),
    /// Compare the conditions of an embedded point table by optimal transport, then MDS
    /// (JSON: conditions, distances, mds).
    Compare(marble::Compare),
    /// Decode a target block from a feature block of a point table on held-out rows: k-fold
    /// over contiguous blocks, the last part, or a random part (JSON: r2,
    /// median_absolute_error).
    Decode(marble::Decode),
    /// Print the version, the compiled backends, the devices they see and the device that would
    /// be used.
    Info(info::Info),
    /// Export a recording's activity to NPY (a 2-D array) or CSV (one row per time point).
    Export(data::Export),
}

/// What `neuroforge train` trains.
#[derive(Debug, Subcommand)]
enum TrainModel {
    /// Spike-GAN (WGAN-GP with the exact gradient penalty) on binary binned spikes.
    Spikegan(spikegan::TrainSpikeGan),
    /// CycleGAN between pre- and post-learning calcium imaging of the same neurons (raw
    /// fluorescence -> dF/F -> OASIS -> sorting -> normalisation -> windows; least-squares
    /// GAN, cycle and identity losses).
    Cyclegan(cyclegan::TrainCycleGan),
    /// MARBLE (manifold embeddings of dynamics) on a point table: columns condition,
    /// optional trajectory, states x0.. and optional vectors v0.. (else differences of x).
    Marble(marble::TrainMarble),
}

/// What `neuroforge explain` explains.
#[derive(Debug, Subcommand)]
enum Explanation {
    /// CycleGAN attributions: per neuron and time, what the generator changes (|G(x) - x|),
    /// the target discriminator's input-gradient saliency on G(x) and its Grad-CAM on x;
    /// writes the |G(x) - x| maps as traces and the per-neuron summaries as JSON.
    Saliency(cyclegan::Saliency),
    /// Spike-GAN importance maps: which spikes the trained critic relies on (shuffle each
    /// neuron's bins in short windows and measure the change of the critic's score).
    Importance(spikegan::Importance),
}

impl Command {
    /// Runs the command.
    fn run(self) -> Result<(), CliError> {
        match self {
            Command::Import(c) => c.run(),
            Command::Inspect(c) => c.run(),
            Command::Preprocess(c) => c.run(),
            Command::Simulate(c) => c.run(),
            Command::Stats(c) => c.run(),
            Command::FitBaseline(c) => c.run(),
            Command::Train { model } => match model {
                TrainModel::Spikegan(c) => c.run(),
                TrainModel::Cyclegan(c) => c.run(),
                TrainModel::Marble(c) => c.run(),
            },
            Command::Resume(c) => c.run(),
            Command::Verify(c) => c.run(),
            Command::Sample(c) => c.run(),
            Command::Translate(c) => c.run(),
            Command::Explain { what } => match what {
                Explanation::Saliency(c) => c.run(),
                Explanation::Importance(c) => c.run(),
            },
            Command::Points(c) => c.run(),
            Command::Embed(c) => c.run(),
            Command::Compare(c) => c.run(),
            Command::Decode(c) => c.run(),
            Command::Info(c) => c.run(),
            Command::Export(c) => c.run(),
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_ansi(progress::stderr_is_terminal())
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
    match std::panic::catch_unwind(|| cli.command.run()) {
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
