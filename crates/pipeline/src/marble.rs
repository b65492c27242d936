//! `neuroforge train marble`, `embed`, `compare` and `decode`: MARBLE on point tables
//! (docs/MARBLE.md). Inputs and outputs are Parquet point tables ([`neuroforge_io::points`]).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ndarray::{Array2, Axis};
use neuroforge_io::{PointTable, read_points, write_points};
use neuroforge_signal::Pca;
pub use neuroforge_stats::decode::DecodingReport;
use neuroforge_stats::decode::{Decoder, Metric, Split, evaluate};
pub use neuroforge_stats::transport::ConditionComparison;
use neuroforge_stats::transport::{TransportMethod, classical_mds, condition_distances};
use neuroforge_train::{
    ConditionData, DataDescription, MarbleData, MarbleRunConfig, MarbleSummary, MarbleTrainer,
    RunDir, embed, load_marble, resume_marble, start_marble,
};
use serde::{Deserialize, Serialize};

use crate::TrainingSession;
use crate::config::{Overrides, RunConfig, resolve};
use crate::error::PipelineError;
use crate::output::{write_json, write_text};
use crate::recording::resume_data_path;
use crate::report::svg;

const PREPROCESSING_FILE: &str = "preprocessing.json";

/// Options of `neuroforge train marble`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MarbleFlags {
    /// A TOML file with the run configuration (geometry, features, model, training); flags
    /// override it.
    #[cfg_attr(feature = "clap", arg(long))]
    pub config: Option<std::path::PathBuf>,
    /// Seed of the weights, the validation split and every draw [default: 0].
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Training epochs [default: 100].
    #[cfg_attr(feature = "clap", arg(long))]
    pub epochs: Option<usize>,
    /// Neighbours k of the proximity graph [default: 20].
    #[cfg_attr(feature = "clap", arg(long))]
    pub k: Option<usize>,
    /// Scale delta of the continuous-kNN rule [default: 1.0].
    #[cfg_attr(feature = "clap", arg(long))]
    pub delta: Option<f64>,
    /// Thin each condition by furthest point sampling to this spacing (fraction of its
    /// extent) [default: 0, keep all].
    #[cfg_attr(feature = "clap", arg(long))]
    pub spacing: Option<f64>,
    /// Project the states (block `x`) on their first K principal components before anything
    /// else (fitted on all conditions; kept in the run for `embed`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub pca: Option<usize>,
    /// Train on the first fraction of each condition's usable rows (table order, so time
    /// order) and leave the rest out of training and out of the PCA fit; `embed` embeds every
    /// row, and `decode --split last --test-fraction 1-F` then scores exactly the rows left
    /// out (for a table of one condition, when nothing is thinned by --spacing) [default: 1,
    /// every row].
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_fraction: Option<f64>,
}

/// How a run turns a point table into states and vectors; saved in the run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The PCA applied to the states, when `--pca` was given.
    pub pca: Option<Pca>,
    /// Whether vectors came from the table (`v` block) or from differences of the states.
    pub vectors_from_differences: bool,
    /// Condition names in the order of the model's training data.
    pub conditions: Vec<String>,
    /// Fraction of each condition's usable rows (the first ones) the network was trained on
    /// (absent in runs made before it existed: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_fraction: Option<f64>,
}

/// Keeps the first `fraction` of each condition's usable points (at least 3).
fn keep_first(path: &Path, prepared: &mut Prepared, fraction: f64) -> Result<(), PipelineError> {
    for c in 0..prepared.names.len() {
        let n = prepared.rows[c].len();
        let keep = ((n as f64) * fraction).round() as usize;
        if keep < 3 {
            return Err(PipelineError::unsuitable(
                path,
                format!(
                    "condition {} keeps {keep} of its {n} points for training with \
                     --train-fraction {fraction}; at least 3 are needed",
                    prepared.names[c]
                ),
            ));
        }
        prepared.rows[c].truncate(keep);
        prepared.states[c] = prepared.states[c].slice(ndarray::s![..keep, ..]).to_owned();
        prepared.vectors[c] = prepared.vectors[c]
            .slice(ndarray::s![..keep, ..])
            .to_owned();
    }
    Ok(())
}

/// States, vectors and the kept table rows of each condition.
struct Prepared {
    names: Vec<String>,
    states: Vec<Array2<f64>>,
    vectors: Vec<Array2<f64>>,
    rows: Vec<Vec<usize>>,
}

fn prepare(path: &Path, table: &PointTable, pca: Option<&Pca>) -> Result<Prepared, PipelineError> {
    let Some(x) = table.block("x") else {
        return Err(PipelineError::unsuitable(
            path,
            "no state columns x0, x1, ... in the table",
        ));
    };
    let x = match pca {
        Some(pca) => pca
            .transform(x.view())
            .map_err(|e| PipelineError::unsuitable(path, format!("PCA of the states: {e}")))?,
        None => x.clone(),
    };
    let given = table.block("v");
    if let Some(v) = given
        && v.ncols() != table.block("x").map_or(0, |b| b.ncols())
    {
        return Err(PipelineError::unsuitable(
            path,
            "blocks x and v differ in width",
        ));
    }
    if given.is_some() && pca.is_some() {
        return Err(PipelineError::unsuitable(
            path,
            "--pca projects the states, so vectors must come from their differences: drop \
             the v columns or the --pca option",
        ));
    }
    let mut prepared = Prepared {
        names: Vec::new(),
        states: Vec::new(),
        vectors: Vec::new(),
        rows: Vec::new(),
    };
    for (name, rows) in table.conditions() {
        let (kept, vectors): (Vec<usize>, Array2<f64>) = match given {
            Some(v) => (rows.clone(), v.select(Axis(0), &rows)),
            None => {
                // v_t = x_{t+1} - x_t within each trajectory; the last point has none.
                let mut kept = Vec::new();
                let mut diffs = Vec::new();
                for pair in rows.windows(2) {
                    let same = table
                        .trajectory
                        .as_ref()
                        .is_none_or(|t| t[pair[0]] == t[pair[1]]);
                    if same {
                        kept.push(pair[0]);
                        diffs.push(&x.row(pair[1]) - &x.row(pair[0]));
                    }
                }
                let mut v = Array2::zeros((kept.len(), x.ncols()));
                for (r, d) in diffs.iter().enumerate() {
                    v.row_mut(r).assign(d);
                }
                (kept, v)
            }
        };
        if kept.len() < 3 {
            return Err(PipelineError::unsuitable(
                path,
                format!("condition {name} has fewer than 3 usable points"),
            ));
        }
        prepared.states.push(x.select(Axis(0), &kept));
        prepared.vectors.push(vectors);
        prepared.names.push(name);
        prepared.rows.push(kept);
    }
    Ok(prepared)
}

impl RunConfig for MarbleRunConfig {
    type DataShape = ();
    const FROM_DATA: &'static [&'static str] = &[];

    /// Nothing beyond the structs' own defaults (docs/MARBLE.md).
    fn defaults(_layers: &toml::Table, _shape: &()) -> Result<toml::Table, String> {
        Ok(toml::Table::new())
    }

    fn check(&self) -> Result<(), String> {
        MarbleRunConfig::check(self).map_err(|e| e.to_string())
    }
}

impl MarbleFlags {
    /// The flags as keys of the configuration file.
    pub fn overrides(&self) -> Overrides {
        let mut keys = Overrides::new();
        keys.set("seed", self.seed)
            .set("training.epochs", self.epochs)
            .set("geometry.graph.k", self.k)
            .set("geometry.graph.delta", self.delta)
            .set("subsample_spacing", self.spacing);
        keys
    }
}

fn conditions<'a>(prepared: &'a Prepared) -> Vec<ConditionData<'a>> {
    prepared
        .states
        .iter()
        .zip(&prepared.vectors)
        .map(|(s, v)| ConditionData {
            states: s.view(),
            vectors: v.view(),
        })
        .collect()
}

/// A point table's conditions through a run's preprocessing, as MARBLE's training data.
/// The geometry and features of every condition of the point table `path`; what stops it
/// (too few points for the graph, a condition without vectors) is named with the file.
fn marble_data(
    path: &Path,
    prepared: &Prepared,
    config: &MarbleRunConfig,
) -> Result<MarbleData, PipelineError> {
    tracing::info!(
        conditions = prepared.names.len(),
        "building the geometry of each condition"
    );
    MarbleData::prepare(&conditions(prepared), config)
        .map_err(|e| PipelineError::unsuitable(path, e.to_string()))
}

/// What a training session of MARBLE ended with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarbleTrained {
    /// The run directory.
    pub run_dir: std::path::PathBuf,
    /// The run's epochs, best validation loss and diffusion time.
    pub summary: MarbleSummary,
}

impl std::fmt::Display for MarbleTrained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&summary_line(&self.run_dir, &self.summary))
    }
}

fn summary_line(run_dir: &Path, summary: &MarbleSummary) -> String {
    format!(
        "{}: {} nodes in {} conditions, best validation loss {:.4} at epoch {} of {}, diffusion time {:.3}",
        run_dir.display(),
        summary.nodes,
        summary.conditions,
        summary.best_validation_loss,
        summary.best_epoch,
        summary.epochs,
        summary.diffusion_time
    )
}

/// Train MARBLE on the point table `data` into a new run directory (`neuroforge train
/// marble`).
pub fn train(
    data: &Path,
    run_dir: &Path,
    flags: &MarbleFlags,
    session: TrainingSession<'_, MarbleTrainer>,
) -> Result<MarbleTrained, PipelineError> {
    let config: MarbleRunConfig = resolve(flags.config.as_deref(), &flags.overrides(), &())?;
    let table = read_points(data)?;
    let train_fraction = match flags.train_fraction {
        Some(f) if !(f > 0.0 && f <= 1.0) => {
            return Err(PipelineError::Usage(format!(
                "--train-fraction must be in (0, 1], got {f}"
            )));
        }
        Some(f) if f < 1.0 => Some(f),
        _ => None,
    };
    let pca = match flags.pca {
        Some(k) => {
            let Some(x) = table.block("x") else {
                return Err(PipelineError::unsuitable(
                    data,
                    "no state columns x0, x1, ... in the table",
                ));
            };
            // Fitted on the training rows only.
            let x = match train_fraction {
                Some(f) => {
                    let mut usable = prepare(data, &table, None)?;
                    keep_first(data, &mut usable, f)?;
                    let mut rows: Vec<usize> = usable.rows.concat();
                    rows.sort_unstable();
                    x.select(Axis(0), &rows)
                }
                None => x.clone(),
            };
            Some(
                Pca::fit(x.view(), k)
                    .map_err(|e| PipelineError::unsuitable(data, format!("--pca {k}: {e}")))?,
            )
        }
        None => None,
    };
    let mut prepared = prepare(data, &table, pca.as_ref())?;
    if let Some(f) = train_fraction {
        keep_first(data, &mut prepared, f)?;
    }
    let marble_data = marble_data(data, &prepared, &config)?;
    // Only now that the data is known to be usable.
    let run = RunDir::create(run_dir)?;
    // What `embed` and `resume` need to turn the table into the same data again.
    let preprocessing = Preprocessing {
        pca,
        vectors_from_differences: table.block("v").is_none(),
        conditions: prepared.names.clone(),
        train_fraction,
    };
    let text = serde_json::to_string_pretty(&preprocessing)
        .map_err(|e| PipelineError::unsuitable(run_dir, e.to_string()))?;
    run.write_text(PREPROCESSING_FILE, &text)?;
    let description = DataDescription {
        path: std::fs::canonicalize(data)
            .unwrap_or_else(|_| data.to_path_buf())
            .display()
            .to_string(),
        neuron_ids: Vec::new(),
        bin_width_s: None,
        train_samples: marble_data.nodes(),
        heldout_samples: 0,
    };
    let stop = (session.stop)();
    let summary = start_marble(
        &run,
        config,
        &marble_data,
        Some(description),
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::Marble,
        &crate::output::training_description("MARBLE", run_dir),
    )?;
    Ok(MarbleTrained {
        run_dir: run_dir.to_path_buf(),
        summary,
    })
}

/// `neuroforge resume` of a MARBLE run: the point table its manifest names (or `data`),
/// through the run's own preprocessing.
pub fn resume(
    run_dir: &Path,
    data: Option<&Path>,
    epochs: Option<u64>,
    session: TrainingSession<'_, MarbleTrainer>,
) -> Result<MarbleTrained, PipelineError> {
    let run = RunDir::open_for_writing(run_dir)?;
    let manifest = run.read_manifest()?;
    let config: MarbleRunConfig = run.read_config()?;
    let data_path = resume_data_path(run_dir, &manifest, data)?;
    let preprocessing = read_preprocessing(run_dir)?;
    let table = read_points(&data_path)?;
    let mut prepared = prepare(&data_path, &table, preprocessing.pca.as_ref())?;
    if let Some(f) = preprocessing.train_fraction {
        keep_first(&data_path, &mut prepared, f)?;
    }
    if prepared.names != preprocessing.conditions {
        return Err(PipelineError::unsuitable(
            &data_path,
            format!(
                "holds the conditions {:?}, but the run was trained on {:?}",
                prepared.names, preprocessing.conditions
            ),
        ));
    }
    let marble_data = marble_data(&data_path, &prepared, &config)?;
    let stop = (session.stop)();
    let summary = resume_marble(
        &run,
        &marble_data,
        epochs,
        session.context,
        session.device,
        session.observer,
        &stop,
    )?;
    crate::output::write_training_report(
        run_dir,
        neuroforge_report::training::Model::Marble,
        &crate::output::training_description("MARBLE", run_dir),
    )?;
    Ok(MarbleTrained {
        run_dir: run_dir.to_path_buf(),
        summary,
    })
}

/// The preprocessing a MARBLE run saved.
fn read_preprocessing(run_dir: &Path) -> Result<Preprocessing, PipelineError> {
    let path = run_dir.join(PREPROCESSING_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| PipelineError::unsuitable(&path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| PipelineError::unsuitable(&path, e.to_string()))
}

/// `neuroforge embed`: the embedding of every usable point of `data` (rows whose vector could
/// be formed), with the table's other blocks carried along.
pub fn embed_points(
    run_dir: &Path,
    data: &Path,
    out: &Path,
    device: &Device,
    figures: FigureFiles<'_>,
) -> Result<String, PipelineError> {
    let (config, model) = load_marble(run_dir, device)?;
    let preprocessing = read_preprocessing(run_dir)?;
    let table = read_points(data)?;
    let prepared = prepare(data, &table, preprocessing.pca.as_ref())?;
    let marble_data = MarbleData::prepare(&conditions(&prepared), &config)?;
    if marble_data.input != model_input(&model) {
        return Err(PipelineError::unsuitable(
            data,
            "its features do not match the trained model's input (different dimension or diffusion settings)",
        ));
    }
    let z = embed(&model, &marble_data);
    // The table rows that became nodes (after subsampling), in node order.
    let rows: Vec<usize> = prepared
        .rows
        .iter()
        .zip(&marble_data.kept)
        .flat_map(|(rows, kept)| kept.iter().map(|&k| rows[k]))
        .collect();
    let mut blocks = vec![("z".to_string(), z.clone())];
    let kept_states: Vec<Array2<f64>> = prepared
        .states
        .iter()
        .zip(&marble_data.kept)
        .map(|(s, kept)| s.select(Axis(0), kept))
        .collect();
    let views: Vec<_> = kept_states.iter().map(|s| s.view()).collect();
    let states = ndarray::concatenate(Axis(0), &views)
        .map_err(|e| PipelineError::unsuitable(data, e.to_string()))?;
    blocks.push(("x".to_string(), states));
    for (prefix, block) in &table.blocks {
        if prefix != "x" && prefix != "z" {
            blocks.push((prefix.clone(), block.select(Axis(0), &rows)));
        }
    }
    let embedded = PointTable {
        condition: rows.iter().map(|&r| table.condition[r].clone()).collect(),
        trajectory: table
            .trajectory
            .as_ref()
            .map(|t| rows.iter().map(|&r| t[r]).collect()),
        blocks,
    };
    write_points(out, &embedded)?;
    let names: Vec<String> = embedded.conditions().into_iter().map(|(n, _)| n).collect();
    let category: Vec<usize> = embedded
        .condition
        .iter()
        .map(|c| names.iter().position(|n| n == c).unwrap_or(0))
        .collect();
    let scatter = |title: &str, xy: &Array2<f64>, axes: (&str, &str)| {
        let points: Vec<svg::CategoryPoint> = (0..xy.nrows())
            .map(|r| svg::CategoryPoint {
                x: xy[[r, 0]],
                y: xy[[r, 1.min(xy.ncols() - 1)]],
                category: category[r],
                label: None,
            })
            .collect();
        svg::category_scatter(
            title,
            &svg::Axis::linear(axes.0),
            &svg::Axis::linear(axes.1),
            &points,
            &names,
        )
    };
    let first_two = scatter(
        &format!(
            "MARBLE embedding: first two of {} coordinates, by condition",
            z.ncols()
        ),
        &z,
        ("z0", "z1"),
    );
    if let Some(plot) = figures.plot {
        write_text(plot, &first_two)?;
    }
    if let Some(report_path) = figures.report {
        let mut report = neuroforge_report::ReportBuilder::new(
            &neuroforge_report::report_stem(report_path),
            "MARBLE embedding",
        );
        report.text(&format!(
            "{} points of `{}` embedded by the run `{}` in {} dimensions; {} conditions.",
            z.nrows(),
            data.display(),
            run_dir.display(),
            z.ncols(),
            names.len()
        ));
        report.figure("embedding.svg", "The first two coordinates", first_two);
        if z.ncols() > 2 {
            let pca = neuroforge_signal::pca::Pca::fit(z.view(), 2)
                .and_then(|p| Ok((p.transform(z.view())?, p.explained_variance)))
                .map_err(|e| PipelineError::unsuitable(data, e.to_string()))?;
            let total: f64 = z
                .columns()
                .into_iter()
                .map(|c| {
                    let m = c.mean().unwrap_or(0.0);
                    c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (c.len().max(2) - 1) as f64
                })
                .sum();
            let share = |k: usize| 100.0 * pca.1.get(k).copied().unwrap_or(0.0) / total.max(1e-300);
            report.figure(
                "embedding-pca.svg",
                "All coordinates, projected on their first two principal components",
                scatter(
                    &format!("MARBLE embedding: PCA of all {} coordinates", z.ncols()),
                    &pca.0,
                    (
                        &format!("PC 1 ({:.0}% of variance)", share(0)),
                        &format!("PC 2 ({:.0}% of variance)", share(1)),
                    ),
                ),
            );
        }
        // Blocks carried along (behaviour such as the animal's position): the embedding
        // coloured by each one's first column, the way the field looks for a behaviour on it.
        for (prefix, block) in embedded
            .blocks
            .iter()
            .filter(|(p, b)| !["x", "v", "z"].contains(&p.as_str()) && b.ncols() > 0)
            .take(3)
        {
            let points: Vec<(f64, f64, f64)> = (0..z.nrows())
                .map(|r| (z[[r, 0]], z[[r, 1.min(z.ncols() - 1)]], block[[r, 0]]))
                .collect();
            report.figure(
                &format!("embedding-by-{prefix}0.svg"),
                &format!("The first two coordinates, coloured by `{prefix}0`"),
                svg::value_scatter(
                    &format!("MARBLE embedding coloured by {prefix}0"),
                    &svg::Axis::linear("z0"),
                    &svg::Axis::linear("z1"),
                    &points,
                    &format!("{prefix}0"),
                ),
            );
        }
        crate::output::write_report(report_path, &report.finish())?;
    }
    Ok(format!(
        "{}: {} points embedded in {} dimensions",
        out.display(),
        z.nrows(),
        z.ncols()
    ))
}

fn model_input(model: &neuroforge_models::Marble) -> neuroforge_models::MarbleInput {
    neuroforge_models::MarbleInput {
        channels: model.channels,
        terms: model.terms,
        lambdas: model.lambdas.clone(),
        weights: model.weights.clone(),
        t_max: model.t_max,
        signal_channels: model.signal_channels,
        position_channels: model.position_channels,
    }
}

/// `neuroforge compare`: optimal-transport distances between the conditions of an embedding.
pub fn compare(
    embedding: &Path,
    out: &Path,
    method: TransportMethod,
    block: &str,
    figures: FigureFiles<'_>,
) -> Result<String, PipelineError> {
    let table = read_points(embedding)?;
    let Some(z) = table.block(block) else {
        return Err(PipelineError::unsuitable(
            embedding,
            format!("no columns {block}0, {block}1, ..."),
        ));
    };
    let groups = table.conditions();
    if groups.len() < 2 {
        return Err(PipelineError::unsuitable(
            embedding,
            "needs at least two conditions",
        ));
    }
    let order: Vec<usize> = groups
        .iter()
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect();
    let points = z.select(Axis(0), &order);
    let mut offsets = vec![0];
    for (_, rows) in &groups {
        offsets.push(offsets.last().copied().unwrap_or(0) + rows.len());
    }
    let distances = condition_distances(points.view(), &offsets, method)
        .map_err(|e| PipelineError::unsuitable(embedding, e.to_string()))?;
    let mds = classical_mds(distances.view(), 2)
        .map_err(|e| PipelineError::unsuitable(embedding, e.to_string()))?;
    let result = ConditionComparison {
        conditions: groups.iter().map(|(n, _)| n.clone()).collect(),
        method,
        distances: distances.rows().into_iter().map(|r| r.to_vec()).collect(),
        mds: mds.rows().into_iter().map(|r| r.to_vec()).collect(),
    };
    write_json(out, &result)?;
    let points: Vec<svg::CategoryPoint> = result
        .mds
        .iter()
        .zip(&result.conditions)
        .enumerate()
        .map(|(k, (xy, name))| svg::CategoryPoint {
            x: xy[0],
            y: xy.get(1).copied().unwrap_or(0.0),
            category: k,
            label: Some(name.clone()),
        })
        .collect();
    let mds_plot = svg::category_scatter(
        "Conditions by optimal transport between their embeddings, classical MDS",
        &svg::Axis::linear("MDS 1"),
        &svg::Axis::linear("MDS 2"),
        &points,
        &result.conditions,
    );
    let n = result.conditions.len();
    let flat: Vec<f64> = result.distances.iter().flatten().copied().collect();
    let matrix_plot = svg::heatmap(
        "Optimal-transport distance between conditions",
        "condition (column, in the rows' order)",
        "condition",
        "distance",
        n,
        n,
        &flat,
        Some(&result.conditions),
        None,
    );
    if let Some(plot) = figures.plot {
        write_text(plot, &mds_plot)?;
        let stem = plot
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("compare");
        write_text(
            &plot.with_file_name(format!("{stem}-distances.svg")),
            &matrix_plot,
        )?;
    }
    if let Some(report_path) = figures.report {
        let mut report = neuroforge_report::ReportBuilder::new(
            &neuroforge_report::report_stem(report_path),
            "Conditions compared by optimal transport",
        );
        report.text(&format!(
            "{n} conditions of `{}` (block `{block}`), distances by {:?}; the MDS layout places \
             conditions that are far apart in the embedding far apart on the page.",
            embedding.display(),
            method
        ));
        report.figure("mds.svg", "Classical MDS of the distances", mds_plot);
        report.figure("distances.svg", "The distance matrix", matrix_plot);
        let mut table = String::from("| condition |");
        for name in &result.conditions {
            table.push_str(&format!(" {name} |"));
        }
        table.push_str(&format!("\n|---|{}\n", "---|".repeat(n)));
        for (name, row) in result.conditions.iter().zip(&result.distances) {
            table.push_str(&format!("| {name} |"));
            for v in row {
                table.push_str(&format!(" {} |", neuroforge_report::significant(*v, 3)));
            }
            table.push('\n');
        }
        report.text(&table);
        crate::output::write_report(report_path, &report.finish())?;
    }
    Ok(format!(
        "{}: distances between {} conditions",
        out.display(),
        result.conditions.len()
    ))
}

/// Options of `neuroforge decode`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DecodeFlags {
    /// Feature block (columns `<block>0, ...`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "z"))]
    pub features: String,
    /// Target block to decode (e.g. `pos` for pos0, pos1).
    #[cfg_attr(feature = "clap", arg(long))]
    pub targets: String,
    /// Only these target columns (indices within the block, comma-separated) [default: all].
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub columns: Vec<usize>,
    /// Decoder: knn or linear.
    #[cfg_attr(feature = "clap", arg(long, default_value = "knn"))]
    pub decoder: String,
    /// Neighbours of the kNN decoder.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 36))]
    pub neighbours: usize,
    /// Distance of the kNN decoder: cosine or euclidean.
    #[cfg_attr(feature = "clap", arg(long, default_value = "cosine"))]
    pub metric: String,
    /// Ridge penalty of the linear decoder.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-6))]
    pub ridge: f64,
    /// Which rows are held out: `blocks` (k-fold cross-validation over contiguous blocks of
    /// rows, every row predicted once), `last` (train on the first rows, test on the last
    /// --test-fraction: the protocol of MARBLE's and CEBRA's hippocampus notebooks) or
    /// `random` (a random --test-fraction of the rows from --seed; neighbouring bins then fall
    /// on both sides, which flatters decoders on smooth data).
    #[cfg_attr(feature = "clap", arg(long, default_value = "blocks"))]
    pub split: String,
    /// Cross-validation folds over contiguous blocks of rows (--split blocks).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub folds: usize,
    /// Fraction of the rows held out (--split last or random).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.2))]
    pub test_fraction: f64,
    /// Seed of the random split (--split random).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Use only the first this fraction of the rows, then split them: with `--split last`,
    /// a validation split inside a model's training part (train a model on the first 64% with
    /// `train marble --train-fraction 0.64`, then `--rows-fraction 0.8 --split last` decodes
    /// rows 64-80%) [default: all rows].
    #[cfg_attr(feature = "clap", arg(long = "rows-fraction"))]
    pub rows_fraction: Option<f64>,
    /// Also write a report here (Markdown, and the same as a self-contained HTML page beside
    /// it): decoded against true values of each target column, held out.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.md"))]
    pub report: Option<PathBuf>,
}

/// Where a MARBLE verb draws its figures: a lone SVG (`--plot`) and/or a report (`--report`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FigureFiles<'a> {
    /// The main figure as an SVG file.
    pub plot: Option<&'a Path>,
    /// The report (Markdown, plots folder and HTML page).
    pub report: Option<&'a Path>,
}

/// `neuroforge decode`.
pub fn decode(data: &Path, out: &Path, flags: &DecodeFlags) -> Result<String, PipelineError> {
    let table = read_points(data)?;
    let Some(features) = table.block(&flags.features) else {
        return Err(PipelineError::unsuitable(
            data,
            format!("no feature columns {}0, ...", flags.features),
        ));
    };
    let Some(targets) = table.block(&flags.targets) else {
        return Err(PipelineError::unsuitable(
            data,
            format!("no target columns {}0, ...", flags.targets),
        ));
    };
    let targets = if flags.columns.is_empty() {
        targets.clone()
    } else {
        if let Some(&c) = flags.columns.iter().find(|&&c| c >= targets.ncols()) {
            return Err(PipelineError::Usage(format!(
                "--columns {c}: block {} has {} columns",
                flags.targets,
                targets.ncols()
            )));
        }
        targets.select(Axis(1), &flags.columns)
    };
    let decoder = match flags.decoder.as_str() {
        "knn" => Decoder::Knn {
            neighbours: flags.neighbours,
            metric: match flags.metric.as_str() {
                "cosine" => Metric::Cosine,
                "euclidean" => Metric::Euclidean,
                other => {
                    return Err(PipelineError::Usage(format!(
                        "unknown metric '{other}': use cosine or euclidean"
                    )));
                }
            },
        },
        "linear" => Decoder::Linear { ridge: flags.ridge },
        other => {
            return Err(PipelineError::Usage(format!(
                "unknown decoder '{other}': use knn or linear"
            )));
        }
    };
    let split = match flags.split.as_str() {
        "blocks" => Split::Blocks { folds: flags.folds },
        "last" => Split::Last {
            test_fraction: flags.test_fraction,
        },
        "random" => Split::Random {
            test_fraction: flags.test_fraction,
            seed: flags.seed,
        },
        other => {
            return Err(PipelineError::Usage(format!(
                "unknown split '{other}': use blocks, last or random"
            )));
        }
    };
    let rows = match flags.rows_fraction {
        None => features.nrows(),
        Some(f) if f > 0.0 && f <= 1.0 => ((features.nrows() as f64) * f).round() as usize,
        Some(f) => {
            return Err(PipelineError::Usage(format!(
                "--rows-fraction {f}: use a fraction in (0, 1]"
            )));
        }
    };
    let (features, targets) = (
        features.slice(ndarray::s![..rows, ..]),
        targets.slice(ndarray::s![..rows, ..]),
    );
    let scores = evaluate(features, targets, decoder, split)
        .map_err(|e| PipelineError::unsuitable(data, e.to_string()))?;
    let report = DecodingReport {
        features: flags.features.clone(),
        targets: flags.targets.clone(),
        decoder,
        folds: match split {
            Split::Blocks { folds } => folds,
            _ => 0,
        },
        split: Some(split),
        held_out_rows: Some(scores.rows.len()),
        rows_used: flags.rows_fraction.map(|_| rows),
        r2: scores.r2,
        median_absolute_error: scores.median_absolute_error,
    };
    write_json(out, &report)?;
    if let Some(report_path) = &flags.report {
        let mut page = neuroforge_report::ReportBuilder::new(
            &neuroforge_report::report_stem(report_path),
            &format!("Decoding `{}` from `{}`", flags.targets, flags.features),
        );
        page.text(&format!(
            "{} decoder, {} of `{}` ({} rows predicted, each by a decoder that did not see \
             it). R² {:.3}, median absolute error {} (targets' units).",
            match decoder {
                Decoder::Knn { neighbours, metric } =>
                    format!("kNN ({neighbours} neighbours, {metric:?} distance)"),
                Decoder::Linear { ridge } => format!("Linear (ridge {ridge})"),
            },
            split.describe(),
            data.display(),
            scores.rows.len(),
            scores.r2,
            neuroforge_report::significant(scores.median_absolute_error, 3)
        ));
        for t in 0..targets.ncols() {
            let name = if flags.columns.is_empty() {
                format!("{}{t}", flags.targets)
            } else {
                format!("{}{}", flags.targets, flags.columns[t])
            };
            let truth: Vec<(f64, f64)> = scores
                .rows
                .iter()
                .map(|&r| (r as f64, targets[[r, t]]))
                .collect();
            let decoded: Vec<(f64, f64)> = scores
                .rows
                .iter()
                .enumerate()
                .map(|(i, &r)| (r as f64, scores.predictions[[i, t]]))
                .collect();
            page.figure(
                &format!("{name}-time.svg"),
                &format!("`{name}`: true and decoded, row by row"),
                svg::lines(
                    &format!("{name}: true and decoded (held out)"),
                    &svg::Axis::non_negative("row (time order)"),
                    &svg::Axis::linear(&name),
                    &[
                        svg::Series::new("true", svg::PALETTE[0], truth),
                        svg::Series::new("decoded", svg::PALETTE[3], decoded),
                    ],
                ),
            );
            let truth: Vec<f64> = scores.rows.iter().map(|&r| targets[[r, t]]).collect();
            let decoded: Vec<f64> = scores.predictions.column(t).to_vec();
            page.figure(
                &format!("{name}-scatter.svg"),
                &format!("`{name}`: decoded against true"),
                svg::paired_scatter(
                    &format!("{name}: decoded against true"),
                    (&name, "true"),
                    (&name, "decoded"),
                    &truth,
                    &decoded,
                ),
            );
        }
        crate::output::write_report(report_path, &page.finish())?;
    }
    Ok(format!(
        "{}: R2 {:.3}, median absolute error {:.3} ({})",
        out.display(),
        report.r2,
        report.median_absolute_error,
        split.describe()
    ))
}
