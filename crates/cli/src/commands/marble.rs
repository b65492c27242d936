//! `points`, `train marble`, `embed`, `compare` and `decode`.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::{marble, points};
use neuroforge_stats::transport::TransportMethod;

use crate::args::RunArgs;
use crate::error::CliError;
use crate::progress::with_spinner;
use crate::training::{EPOCHS, with_session_bar};

/// `neuroforge points`.
#[derive(Debug, Args)]
pub struct Points {
    #[command(flatten)]
    options: points::PointsFlags,
    /// The point table to write (Parquet).
    #[arg(long)]
    out: PathBuf,
}

impl Points {
    /// Bins the spikes and the behaviour and writes the point table.
    pub fn run(self) -> Result<(), CliError> {
        let line = with_spinner("binning spikes and behaviour".to_string(), || {
            points::run(&self.options, &self.out)
        })?;
        println!("{line}");
        Ok(())
    }
}

/// `neuroforge train marble`.
#[derive(Debug, Args)]
pub struct TrainMarble {
    /// The point table (Parquet).
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    options: marble::MarbleFlags,
}

impl TrainMarble {
    /// Trains a new run and prints its summary line.
    pub fn run(self) -> Result<(), CliError> {
        let (device, context) = self.run.device.with_context()?;
        let trained = with_session_bar(&device, &context, EPOCHS, |session| {
            marble::train(&self.data, &self.run.run_dir, &self.options, session)
        })?;
        println!("{trained}");
        Ok(())
    }
}

/// `neuroforge embed`.
#[derive(Debug, Args)]
pub struct Embed {
    #[command(flatten)]
    run: RunArgs,
    /// The point table to embed (same columns as for training).
    #[arg(long)]
    data: PathBuf,
    /// The embedded point table to write (Parquet).
    #[arg(long)]
    out: PathBuf,
    /// Also draw z0 against z1, coloured by condition, into this SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): the first two coordinates and a PCA of all of them, by condition.
    #[arg(long, value_name = "OUT.md")]
    report: Option<PathBuf>,
}

impl Embed {
    /// Embeds the table and writes it (and the plot if asked).
    pub fn run(self) -> Result<(), CliError> {
        let device = self.run.device.select()?;
        let line = with_spinner(format!("embedding {}", self.data.display()), || {
            marble::embed_points(
                &self.run.run_dir,
                &self.data,
                &self.out,
                &device,
                marble::FigureFiles {
                    plot: self.plot.as_deref(),
                    report: self.report.as_deref(),
                },
            )
        })?;
        println!("{line}");
        Ok(())
    }
}

/// `neuroforge compare`.
#[derive(Debug, Args)]
pub struct Compare {
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
    /// The block compared.
    #[arg(long, default_value = "z")]
    block: String,
    /// Also draw the MDS layout of the conditions into this SVG file (and the distance matrix
    /// into `<stem>-distances.svg` beside it).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): the MDS layout, the distance matrix as a heatmap and as a table.
    #[arg(long, value_name = "OUT.md")]
    report: Option<PathBuf>,
}

impl Compare {
    /// Computes the distances between conditions and writes them.
    pub fn run(self) -> Result<(), CliError> {
        let method = match self.method.as_str() {
            "exact" => TransportMethod::Exact,
            "sinkhorn" => TransportMethod::Sinkhorn {
                epsilon: self.epsilon,
                iterations: 1000,
            },
            "clustered" => TransportMethod::Clustered {
                clusters: self.clusters,
                seed: self.seed,
            },
            other => {
                return Err(CliError::Usage(format!(
                    "unknown method '{other}': use exact, sinkhorn or clustered"
                )));
            }
        };
        let line = with_spinner("optimal transport between conditions".to_string(), || {
            marble::compare(
                &self.embedding,
                &self.out,
                method,
                &self.block,
                marble::FigureFiles {
                    plot: self.plot.as_deref(),
                    report: self.report.as_deref(),
                },
            )
        })?;
        println!("{line}");
        Ok(())
    }
}

/// `neuroforge decode`.
#[derive(Debug, Args)]
pub struct Decode {
    /// The point table (e.g. from `embed`).
    data: PathBuf,
    /// The JSON file to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: marble::DecodeFlags,
}

impl Decode {
    /// Cross-validates the decoder and writes the scores.
    pub fn run(self) -> Result<(), CliError> {
        let line = with_spinner(format!("decoding {}", self.options.targets), || {
            marble::decode(&self.data, &self.out, &self.options)
        })?;
        println!("{line}");
        Ok(())
    }
}
