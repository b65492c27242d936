//! `import`, `inspect`, `preprocess`, `simulate` and `export`: recordings in, out and between.

use std::path::PathBuf;

use clap::Args;
use neuroforge_io::Layout;
use neuroforge_pipeline::{preprocess, simulate};

use crate::args::ImportFlags;
use crate::error::CliError;
use crate::inspect;
use crate::progress::with_spinner;

/// `neuroforge import`.
#[derive(Debug, Args)]
pub struct Import {
    /// The input file (or suite2p plane folder).
    input: PathBuf,
    /// The recording to write: .parquet (or .pq) or .arrow (or .ipc, .feather).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Import {
    /// Imports the input and writes it as a recording file.
    pub fn run(self) -> Result<(), CliError> {
        let Self { input, out, flags } = self;
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
        Ok(())
    }
}

/// `neuroforge inspect`.
#[derive(Debug, Args)]
pub struct Inspect {
    /// A recording file, or any input `import` accepts.
    file: PathBuf,
    /// Print JSON (keys: neurons, bins or frames, kind, mean_rate, ...) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Inspect {
    /// Prints the recording's summary.
    pub fn run(self) -> Result<(), CliError> {
        let recording = self.flags.open(&self.file)?;
        let summary = recording.summary();
        if self.json {
            let text = serde_json::to_string_pretty(&summary)
                .map_err(|e| neuroforge_io::IoError::Recording(e.to_string()))?;
            println!("{text}");
        } else {
            print!("{}", inspect::human(&self.file, &summary));
        }
        Ok(())
    }
}

/// `neuroforge preprocess`.
#[derive(Debug, Args)]
pub struct Preprocess {
    /// A recording file, or any input `import` accepts.
    input: PathBuf,
    /// The recording to write: .parquet or .arrow.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    steps: preprocess::PreprocessFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Preprocess {
    /// Runs the chosen steps and writes the processed recording.
    pub fn run(self) -> Result<(), CliError> {
        let Self {
            input,
            out,
            steps,
            flags,
        } = self;
        neuroforge_io::Container::from_path(&out)?;
        let recording = flags.open(&input)?;
        let log = with_spinner(format!("processing {}", input.display()), || {
            preprocess::run(&input, recording, flags.bin_ms, &steps, &out)
        })?;
        for step in &log {
            tracing::info!(step = %step, "preprocess");
        }
        println!("wrote {} ({} steps)", out.display(), log.len());
        Ok(())
    }
}

/// `neuroforge simulate`.
#[derive(Debug, Args)]
pub struct Simulate {
    #[command(subcommand)]
    what: simulate::Simulation,
}

impl Simulate {
    /// Simulates and writes the recordings.
    pub fn run(self) -> Result<(), CliError> {
        let written = with_spinner("simulating".to_string(), || simulate::run(self.what))?;
        for path in written {
            println!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// `neuroforge export`.
#[derive(Debug, Args)]
pub struct Export {
    /// A recording file, any input `import` accepts, or (for .nwb) a point table from
    /// `points` or `embed`.
    file: PathBuf,
    /// The file to write: .npy, .csv or .nwb.
    #[arg(long)]
    out: PathBuf,
    /// Axis order of the NPY array (default neurons-by-time).
    #[arg(long = "out-layout", value_name = "LAYOUT")]
    out_layout: Option<Layout>,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Export {
    /// Writes the recording's activity as NPY, CSV or NWB (or a point table as NWB).
    pub fn run(self) -> Result<(), CliError> {
        let format = neuroforge_io::export::ExportFormat::from_path(&self.out)?;
        if format == neuroforge_io::export::ExportFormat::Nwb
            && neuroforge_io::points::is_point_table(&self.file)
        {
            let table = neuroforge_io::read_points(&self.file)?;
            let description = format!("point table {} exported by neuroforge", self.file.display());
            with_spinner(format!("writing {}", self.out.display()), || {
                neuroforge_io::nwb::write_points_nwb(&table, &self.out, &description)
            })?;
            println!("wrote {}", self.out.display());
            return Ok(());
        }
        let recording = self.flags.open(&self.file)?;
        with_spinner(format!("writing {}", self.out.display()), || {
            neuroforge_io::export(&recording, &self.out, self.out_layout)
        })?;
        println!("wrote {}", self.out.display());
        Ok(())
    }
}
