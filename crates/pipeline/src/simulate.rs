//! `neuroforge simulate`: simulated recordings with their ground truth (neuroforge-sim),
//! written in the recording format with the generator's settings, seed and true parameters in
//! `provenance.ground_truth`.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};
use neuroforge_io::{
    Activity, BinnedActivity, Covariate, CovariateValues, IoError, Provenance, Recording,
    TraceActivity, default_neuron_ids, write_recording,
};
use neuroforge_sim::{CalciumConfig, PacketsConfig, UniformConfig, VanDerPolConfig};

use crate::error::PipelineError;

/// What to simulate.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
pub enum Simulation {
    /// Spike-GAN's `uniform` population: correlated groups, refractoriness, shuffled rows.
    Uniform {
        /// Paper preset: 16x128 (default), 32x256, 16x496 or toy.
        #[cfg_attr(feature = "clap", arg(long, default_value = "16x128"))]
        preset: String,
        /// Mean spike probability per 1 ms bin (overrides the preset).
        #[cfg_attr(feature = "clap", arg(long))]
        rate: Option<f64>,
        /// Mean within-group correlation (overrides the preset).
        #[cfg_attr(feature = "clap", arg(long))]
        correlation: Option<f64>,
        /// Refractory period in bins, 0 to disable (overrides the preset).
        #[cfg_attr(feature = "clap", arg(long))]
        refractory: Option<f64>,
        /// Output file and seed.
        #[cfg_attr(feature = "clap", command(flatten))]
        common: Common,
    },
    /// Spike-GAN's `packets` population: background spikes plus sequential packets.
    Packets {
        /// Neurons per sample.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
        neurons: usize,
        /// Bins per sample.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 64))]
        bins: usize,
        /// Packet onset probability per bin.
        #[cfg_attr(feature = "clap", arg(long = "packet-prob", default_value_t = 0.1))]
        packet_prob: f64,
        /// Neurons per packet group.
        #[cfg_attr(feature = "clap", arg(long = "group-size", default_value_t = 8))]
        group_size: usize,
        /// Output file and seed.
        #[cfg_attr(feature = "clap", command(flatten))]
        common: Common,
    },
    /// Calcium imaging of Bernoulli spikes: AR(1)/AR(2) calcium, baseline and noise. The true
    /// spikes are written beside the output as `<OUT stem>.spikes.parquet`.
    Calcium {
        /// Neurons.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 50))]
        neurons: usize,
        /// Frames.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 20_000))]
        frames: usize,
        /// Spike probability per frame.
        #[cfg_attr(feature = "clap", arg(long = "spike-prob", default_value_t = 0.02))]
        spike_prob: f64,
        /// Frame rate in Hz.
        #[cfg_attr(feature = "clap", arg(long = "frame-rate", default_value_t = 24.0))]
        frame_rate: f64,
        /// Indicator decay time in seconds.
        #[cfg_attr(feature = "clap", arg(long = "decay-s", default_value_t = 0.5))]
        decay_s: f64,
        /// Indicator rise time in seconds (0: AR(1)).
        #[cfg_attr(feature = "clap", arg(long = "rise-s", default_value_t = 0.0))]
        rise_s: f64,
        /// Noise standard deviation.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.3))]
        noise: f64,
        /// Fluorescence baseline.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0))]
        baseline: f64,
        /// Random seed.
        #[cfg_attr(feature = "clap", arg(long))]
        seed: u64,
        /// The traces to write (.parquet or .arrow).
        #[cfg_attr(feature = "clap", arg(long))]
        out: PathBuf,
    },
    /// Paired pre/post-learning samples: post = pre with a known change (rate gain, a new
    /// assembly, delayed responses) of chosen neurons. Post goes to `<OUT stem>.post.parquet`.
    Prepost {
        /// What learning changes between the two sessions.
        #[cfg_attr(feature = "clap", command(flatten))]
        change: ChangeFlags,
        /// Output file and seed.
        #[cfg_attr(feature = "clap", command(flatten))]
        common: Common,
    },
    /// Calcium imaging of pre- and post-learning activity with a known change (the prepost
    /// spikes laid end to end, one frame per bin, imaged at 24 Hz): writes `pre.parquet` and
    /// `post.parquet` (unpaired training recordings), `heldout-pre.parquet` and
    /// `heldout-post.parquet` (paired: the true post of the held-out pre) and `truth.json` into
    /// --out-dir.
    #[cfg_attr(feature = "clap", command(name = "prepost-imaging"))]
    PrepostImaging {
        /// What learning changes between the two sessions.
        #[cfg_attr(feature = "clap", command(flatten))]
        change: ChangeFlags,
        /// Neurons.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
        neurons: usize,
        /// Frames per simulated sample.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 64))]
        bins: usize,
        /// Mean spike probability per frame (each correlated group's is drawn in [0.5, 1.5]
        /// times it).
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.05))]
        rate: f64,
        /// Samples in each training recording.
        #[cfg_attr(feature = "clap", arg(long = "train-samples", default_value_t = 600))]
        train_samples: usize,
        /// Samples in the held-out recordings.
        #[cfg_attr(feature = "clap", arg(long = "heldout-samples", default_value_t = 200))]
        heldout_samples: usize,
        /// Noise standard deviation of the fluorescence (baseline 1, one unit per spike).
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
        noise: f64,
        /// Random seed.
        #[cfg_attr(feature = "clap", arg(long))]
        seed: u64,
        /// The directory to write (created if needed).
        #[cfg_attr(feature = "clap", arg(long = "out-dir"))]
        out_dir: PathBuf,
    },
    /// Binned spike counts of pre- and post-learning activity with a known change (the prepost
    /// spikes laid end to end, every --frames-per-bin frames summed into one count): writes
    /// `pre.parquet` and `post.parquet` (unpaired training recordings), `heldout-pre.parquet`
    /// and `heldout-post.parquet` (paired: the true post of the held-out pre) and `truth.json`
    /// into --out-dir.
    #[cfg_attr(feature = "clap", command(name = "prepost-counts"))]
    PrepostCounts {
        /// What learning changes between the two sessions.
        #[cfg_attr(feature = "clap", command(flatten))]
        change: ChangeFlags,
        /// Neurons.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
        neurons: usize,
        /// Frames per simulated sample (a multiple of --frames-per-bin).
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 256))]
        frames: usize,
        /// Mean spike probability per frame (each correlated group's is drawn in [0.5, 1.5]
        /// times it).
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
        rate: f64,
        /// Frames summed into one bin.
        #[cfg_attr(feature = "clap", arg(long = "frames-per-bin", default_value_t = 4))]
        frames_per_bin: usize,
        /// Width of one bin in seconds, recorded in the recordings.
        #[cfg_attr(feature = "clap", arg(long = "bin-s", default_value_t = 0.02))]
        bin_s: f64,
        /// Samples in each training recording.
        #[cfg_attr(feature = "clap", arg(long = "train-samples", default_value_t = 100))]
        train_samples: usize,
        /// Samples in the held-out recordings.
        #[cfg_attr(feature = "clap", arg(long = "heldout-samples", default_value_t = 100))]
        heldout_samples: usize,
        /// Random seed.
        #[cfg_attr(feature = "clap", arg(long))]
        seed: u64,
        /// The directory to write (created if needed).
        #[cfg_attr(feature = "clap", arg(long = "out-dir"))]
        out_dir: PathBuf,
    },
    /// Lorenz trajectories for several rho (sigma 10, beta 8/3), from initial conditions
    /// (1 + 0.5 k, 1, 1 + 0.5 k), k = 0, 1, ...
    Lorenz {
        /// Values of rho, comma-separated.
        #[cfg_attr(
            feature = "clap",
            arg(long, value_delimiter = ',', default_value = "28")
        )]
        rho: Vec<f64>,
        /// Initial conditions per rho.
        #[cfg_attr(
            feature = "clap",
            arg(long = "initial-conditions", default_value_t = 4)
        )]
        initial_conditions: usize,
        /// Time step.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.01))]
        dt: f64,
        /// Steps per trajectory.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 2000))]
        steps: usize,
        /// The recording to write.
        #[cfg_attr(feature = "clap", arg(long))]
        out: PathBuf,
    },
    /// Van der Pol trajectories for several mu (states as traces, velocities and labels as
    /// covariates).
    Vanderpol {
        /// Values of mu, comma-separated.
        #[cfg_attr(
            feature = "clap",
            arg(long, value_delimiter = ',', default_value = "-1,-0.5,0,0.5,1")
        )]
        mu: Vec<f64>,
        /// Initial conditions per mu (on a grid in [-extent, extent]^2).
        #[cfg_attr(
            feature = "clap",
            arg(long = "initial-conditions", default_value_t = 10)
        )]
        initial_conditions: usize,
        /// Half-width of the grid of initial conditions (keep it near 1 for negative mu,
        /// whose unstable limit cycle makes outer trajectories diverge).
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 3.0))]
        extent: f64,
        /// Time step.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.05))]
        dt: f64,
        /// Steps per trajectory.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
        steps: usize,
        /// Curvature of the embedding surface z = a (x^2 + y^2); 0 keeps the plane.
        #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
        curvature: f64,
        /// Write a point table (MARBLE's input: condition `mu=<value>`, trajectory, states
        /// x0.., exact velocities v0..) instead of a recording.
        #[cfg_attr(feature = "clap", arg(long))]
        points: bool,
        /// The recording (or, with --points, the Parquet point table) to write.
        #[cfg_attr(feature = "clap", arg(long))]
        out: PathBuf,
    },
}

/// The known change of the pre -> post simulations.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ChangeFlags {
    /// Neurons whose rate changes.
    #[cfg_attr(feature = "clap", arg(long = "gain-neurons", default_value_t = 4))]
    gain_neurons: usize,
    /// Factor on their spike probability.
    #[cfg_attr(feature = "clap", arg(long = "rate-gain", default_value_t = 2.0))]
    rate_gain: f64,
    /// Neurons of the new assembly.
    #[cfg_attr(feature = "clap", arg(long = "assembly-neurons", default_value_t = 4))]
    assembly_neurons: usize,
    /// Neurons whose responses are delayed.
    #[cfg_attr(feature = "clap", arg(long = "shift-neurons", default_value_t = 4))]
    shift_neurons: usize,
    /// Delay in bins (frames).
    #[cfg_attr(feature = "clap", arg(long = "timing-shift", default_value_t = 3))]
    timing_shift: usize,
}

impl ChangeFlags {
    /// The pre -> post change of these flags, on `population`.
    fn config(&self, population: neuroforge_sim::UniformConfig) -> neuroforge_sim::PrePostConfig {
        neuroforge_sim::PrePostConfig {
            gain_neurons: self.gain_neurons,
            rate_gain: self.rate_gain,
            assembly_neurons: self.assembly_neurons,
            shift_neurons: self.shift_neurons,
            timing_shift: self.timing_shift,
            population,
            ..neuroforge_sim::PrePostConfig::default()
        }
    }
}

/// Sample count, seed and output of the Spike-GAN populations.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Common {
    /// Number of samples (written one after another, with a `sample` covariate).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8192))]
    samples: usize,
    /// Random seed (recorded in the ground truth).
    #[cfg_attr(feature = "clap", arg(long))]
    seed: u64,
    /// The recording to write (.parquet or .arrow).
    #[cfg_attr(feature = "clap", arg(long))]
    out: PathBuf,
}

/// Writes the four recordings of a pre -> post simulation into `out_dir` (`pre`, `post`,
/// `heldout-pre`, `heldout-post` as Parquet, each made by `activity`) and `truth.json`
/// (`truth` with the changed neurons' ids added); returns the paths written.
#[allow(clippy::too_many_arguments)]
fn write_prepost<T>(
    out_dir: &Path,
    kind: &str,
    neurons: usize,
    mut truth: serde_json::Value,
    changed: &[usize],
    parts: [&T; 4],
    activity: impl Fn(&T) -> Activity,
    step: &str,
) -> Result<Vec<PathBuf>, PipelineError> {
    std::fs::create_dir_all(out_dir).map_err(|e| {
        PipelineError::unsuitable(out_dir, format!("cannot create the directory: {e}"))
    })?;
    let ids = default_neuron_ids(neurons);
    truth["changed_neuron_ids"] = serde_json::json!(
        changed
            .iter()
            .filter_map(|&n| ids.get(n).cloned())
            .collect::<Vec<_>>()
    );
    let mut written = Vec::new();
    for (name, part) in ["pre", "post", "heldout-pre", "heldout-post"]
        .into_iter()
        .zip(parts)
    {
        let path = out_dir.join(format!("{name}.parquet"));
        let recording = Recording::new(
            ids.clone(),
            activity(part),
            vec![],
            provenance(
                &format!("{kind}-{name}"),
                truth.clone(),
                vec![format!("{name}: {step}")],
            ),
        )?;
        write_recording(&path, &recording)?;
        written.push(path);
    }
    let path = out_dir.join("truth.json");
    let text = serde_json::to_string_pretty(&truth)
        .map_err(|e| PipelineError::Io(IoError::Recording(e.to_string())))?;
    crate::output::write_text(&path, &text)?;
    written.push(path);
    Ok(written)
}

fn provenance(kind: &str, truth: serde_json::Value, steps: Vec<String>) -> Provenance {
    Provenance {
        source_format: Some("simulation".into()),
        variable: Some(kind.into()),
        steps,
        written_by: Some(concat!("neuroforge ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: Some(truth),
        ..Provenance::default()
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, PipelineError> {
    serde_json::to_value(value).map_err(|e| PipelineError::Io(IoError::Recording(e.to_string())))
}

fn sim_error(out: &Path, e: neuroforge_sim::SimError) -> PipelineError {
    PipelineError::Unsuitable {
        path: out.to_path_buf(),
        message: e.to_string(),
    }
}

/// Samples x neurons x bins as one binned recording (1 ms bins), samples one after another.
fn samples_recording(x: &Array3<u8>, prov: Provenance) -> Result<Recording, PipelineError> {
    let (samples, neurons, bins) = x.dim();
    Ok(Recording::new(
        default_neuron_ids(neurons),
        Activity::Binned(BinnedActivity {
            counts: crate::recording::concatenate(x).mapv(u32::from),
            bin_width_s: Some(0.001),
        }),
        vec![crate::recording::samples_covariate(samples, bins)],
        prov,
    )?)
}

/// Run a simulation and write its recording(s); returns the files written.
pub fn run(sim: Simulation) -> Result<Vec<PathBuf>, PipelineError> {
    match sim {
        Simulation::Uniform {
            preset,
            rate,
            correlation,
            refractory,
            common,
        } => {
            let mut config =
                UniformConfig::preset(&preset).map_err(|e| sim_error(&common.out, e))?;
            config.rate = rate.unwrap_or(config.rate);
            config.correlation = correlation.unwrap_or(config.correlation);
            config.refractory = refractory.unwrap_or(config.refractory);
            neuroforge_io::Container::from_path(&common.out)?;
            let (x, truth) = neuroforge_sim::uniform(&config, common.samples, common.seed)
                .map_err(|e| sim_error(&common.out, e))?;
            write_population(&x, "uniform", to_json(&truth)?, common)
        }
        Simulation::Packets {
            neurons,
            bins,
            packet_prob,
            group_size,
            common,
        } => {
            let config = PacketsConfig {
                neurons,
                bins,
                packet_prob,
                group_size,
                ..PacketsConfig::default()
            };
            neuroforge_io::Container::from_path(&common.out)?;
            let (x, truth) = neuroforge_sim::packets(&config, common.samples, common.seed)
                .map_err(|e| sim_error(&common.out, e))?;
            write_population(&x, "packets", to_json(&truth)?, common)
        }
        Simulation::Prepost { change, common } => {
            neuroforge_io::Container::from_path(&common.out)?;
            let config = change.config(neuroforge_sim::PrePostConfig::default().population);
            let (pre, post, truth) = neuroforge_sim::prepost(&config, common.samples, common.seed)
                .map_err(|e| sim_error(&common.out, e))?;
            let truth = to_json(&truth)?;
            let post_path = common.out.with_extension("post.parquet");
            let steps = |which: &str| {
                vec![format!(
                    "{which}: {} paired samples, seed {}",
                    common.samples, common.seed
                )]
            };
            let pre_rec =
                samples_recording(&pre, provenance("prepost-pre", truth.clone(), steps("pre")))?;
            let post_rec =
                samples_recording(&post, provenance("prepost-post", truth, steps("post")))?;
            write_recording(&post_path, &post_rec)?;
            write_recording(&common.out, &pre_rec)?;
            Ok(vec![common.out, post_path])
        }
        Simulation::PrepostImaging {
            change,
            neurons,
            bins,
            rate,
            train_samples,
            heldout_samples,
            noise,
            seed,
            out_dir,
        } => {
            let mut config = neuroforge_sim::PrePostCalciumConfig {
                train_samples,
                heldout_samples,
                ..neuroforge_sim::PrePostCalciumConfig::default()
            };
            config.prepost = change.config(config.prepost.population.clone());
            config.prepost.population.neurons = neurons;
            config.prepost.population.bins = bins;
            config.prepost.population.rate = rate;
            config.calcium.noise_sd = noise;
            let sim = neuroforge_sim::prepost_imaging(&config, seed)
                .map_err(|e| sim_error(&out_dir, e))?;
            let frame_rate = config.calcium.frame_rate_hz;
            write_prepost(
                &out_dir,
                "prepost-imaging",
                neurons,
                serde_json::json!({
                    "config": to_json(&config)?,
                    "truth": to_json(&sim.truth)?,
                    "seed": seed,
                }),
                &sim.truth.changed_neurons,
                [
                    &sim.pre_train,
                    &sim.post_train,
                    &sim.heldout_pre,
                    &sim.heldout_post,
                ],
                |part: &neuroforge_sim::SimulatedImaging| {
                    Activity::Traces(TraceActivity {
                        values: part.fluorescence.mapv(|v| v as f32),
                        frame_rate_hz: Some(frame_rate),
                    })
                },
                &format!("prepost spikes imaged through AR(1) calcium, seed {seed}"),
            )
        }
        Simulation::PrepostCounts {
            change,
            neurons,
            frames,
            rate,
            frames_per_bin,
            bin_s,
            train_samples,
            heldout_samples,
            seed,
            out_dir,
        } => {
            if !(bin_s.is_finite() && bin_s > 0.0) {
                return Err(PipelineError::Usage(format!(
                    "--bin-s must be positive, got {bin_s}"
                )));
            }
            let mut config = neuroforge_sim::PrePostCountsConfig {
                frames_per_bin,
                train_samples,
                heldout_samples,
                ..neuroforge_sim::PrePostCountsConfig::default()
            };
            config.prepost = change.config(config.prepost.population.clone());
            config.prepost.population.neurons = neurons;
            config.prepost.population.bins = frames;
            config.prepost.population.rate = rate;
            let sim = neuroforge_sim::prepost_counts(&config, seed)
                .map_err(|e| sim_error(&out_dir, e))?;
            write_prepost(
                &out_dir,
                "prepost-counts",
                neurons,
                serde_json::json!({
                    "config": to_json(&config)?,
                    "truth": to_json(&sim.truth)?,
                    "bins_per_sample": frames / frames_per_bin,
                    "seed": seed,
                }),
                &sim.truth.changed_neurons,
                [
                    &sim.pre_train,
                    &sim.post_train,
                    &sim.heldout_pre,
                    &sim.heldout_post,
                ],
                |part: &ndarray::Array2<u32>| {
                    Activity::Binned(neuroforge_io::BinnedActivity {
                        counts: part.clone(),
                        bin_width_s: Some(bin_s),
                    })
                },
                &format!("prepost spikes, {frames_per_bin} frames summed per bin, seed {seed}"),
            )
        }
        Simulation::Calcium {
            neurons,
            frames,
            spike_prob,
            frame_rate,
            decay_s,
            rise_s,
            noise,
            baseline,
            seed,
            out,
        } => {
            use rand::{RngExt, SeedableRng};
            neuroforge_io::Container::from_path(&out)?;
            if !(0.0..=1.0).contains(&spike_prob) {
                return Err(PipelineError::Unsuitable {
                    path: out,
                    message: format!("spike probability {spike_prob} is not in [0, 1]"),
                });
            }
            let config = CalciumConfig {
                frame_rate_hz: frame_rate,
                decay_s,
                rise_s,
                amplitude: 1.0,
                baseline,
                noise_sd: noise,
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let spikes = Array2::from_shape_fn((neurons, frames), |_| {
                f64::from(u8::from(rng.random::<f64>() < spike_prob))
            });
            let (y, _) = neuroforge_sim::fluorescence(&spikes, &config, seed.wrapping_add(1))
                .map_err(|e| sim_error(&out, e))?;
            let (g1, g2) = config.ar_coefficients().map_err(|e| sim_error(&out, e))?;
            let spikes_path = out.with_extension("spikes.parquet");
            let truth = serde_json::json!({
                "config": to_json(&config)?, "g": [g1, g2], "spike_prob": spike_prob, "seed": seed,
                "spikes_file": spikes_path.file_name().map(|n| n.to_string_lossy().to_string()),
            });
            let traces = Recording::new(
                default_neuron_ids(neurons),
                Activity::Traces(TraceActivity {
                    values: y.mapv(|v| v as f32),
                    frame_rate_hz: Some(frame_rate),
                }),
                vec![],
                provenance(
                    "calcium",
                    truth.clone(),
                    vec![format!(
                        "calcium imaging of Bernoulli({spike_prob}) spikes, seed {seed}"
                    )],
                ),
            )?;
            let spike_rec = Recording::new(
                default_neuron_ids(neurons),
                Activity::Binned(BinnedActivity {
                    counts: spikes.mapv(|v| v as u32),
                    bin_width_s: Some(1.0 / frame_rate),
                }),
                vec![],
                provenance(
                    "calcium-spikes",
                    truth,
                    vec![format!("true spikes of {}", out.display())],
                ),
            )?;
            write_recording(&spikes_path, &spike_rec)?;
            write_recording(&out, &traces)?;
            Ok(vec![out, spikes_path])
        }
        Simulation::Lorenz {
            rho,
            initial_conditions,
            dt,
            steps,
            out,
        } => {
            neuroforge_io::Container::from_path(&out)?;
            if rho.is_empty() || initial_conditions == 0 {
                return Err(PipelineError::Unsuitable {
                    path: out,
                    message: "at least one rho and one initial condition are needed".into(),
                });
            }
            let mut all = Vec::new();
            for (ci, &r) in rho.iter().enumerate() {
                for k in 0..initial_conditions {
                    let x0 = [1.0 + 0.5 * k as f64, 1.0, 1.0 + 0.5 * k as f64];
                    let tr = neuroforge_sim::integrate(
                        neuroforge_sim::lorenz_field(10.0, r, 8.0 / 3.0),
                        &x0,
                        dt,
                        steps,
                    )
                    .map_err(|e| sim_error(&out, e))?;
                    all.push((ci, k, tr));
                }
            }
            let truth = serde_json::json!({ "sigma": 10.0, "rho": rho, "beta": 8.0 / 3.0, "dt": dt, "steps": steps, "initial_conditions": initial_conditions });
            let prov = provenance(
                "lorenz",
                truth,
                vec!["Lorenz trajectories integrated by RK4".into()],
            );
            let rec = trajectories_recording(
                &all,
                &["x", "y", "z"],
                dt,
                ("rho", &rho),
                initial_conditions,
                prov,
            )?;
            write_recording(&out, &rec)?;
            Ok(vec![out])
        }
        Simulation::Vanderpol {
            mu,
            initial_conditions,
            extent,
            dt,
            steps,
            curvature,
            points,
            out,
        } => {
            neuroforge_io::Container::from_path(&out)?;
            let config = VanDerPolConfig {
                mu,
                initial_conditions,
                extent,
                dt,
                steps,
                curvature,
            };
            let all = neuroforge_sim::van_der_pol(&config).map_err(|e| sim_error(&out, e))?;
            if points {
                write_point_table(&all, &config.mu, &out)?;
                return Ok(vec![out]);
            }
            let names: &[&str] = if curvature != 0.0 {
                &["x", "y", "z"]
            } else {
                &["x", "y"]
            };
            let prov = provenance(
                "vanderpol",
                to_json(&config)?,
                vec!["van der Pol trajectories integrated by RK4".into()],
            );
            let rec = trajectories_recording(
                &all,
                names,
                dt,
                ("mu", &config.mu),
                initial_conditions,
                prov,
            )?;
            write_recording(&out, &rec)?;
            Ok(vec![out])
        }
    }
}

/// Trajectories as a point table: one row per state, condition `mu=<value>`, trajectory
/// `condition * initial conditions + index`.
fn write_point_table(
    all: &[(usize, usize, neuroforge_sim::Trajectory)],
    mu: &[f64],
    out: &std::path::Path,
) -> Result<(), PipelineError> {
    let rows: usize = all.iter().map(|(_, _, t)| t.states.nrows()).sum();
    let dims = all.first().map_or(2, |(_, _, t)| t.states.ncols());
    let mut condition = Vec::with_capacity(rows);
    let mut trajectory = Vec::with_capacity(rows);
    let mut states = ndarray::Array2::zeros((rows, dims));
    let mut velocities = ndarray::Array2::zeros((rows, dims));
    let mut r = 0;
    for (index, (c, _, tr)) in all.iter().enumerate() {
        for t in 0..tr.states.nrows() {
            condition.push(format!("mu={}", mu[*c]));
            trajectory.push(index as i64);
            states.row_mut(r).assign(&tr.states.row(t));
            velocities.row_mut(r).assign(&tr.velocities.row(t));
            r += 1;
        }
    }
    let table = neuroforge_io::PointTable {
        condition,
        trajectory: Some(trajectory),
        blocks: vec![("x".into(), states), ("v".into(), velocities)],
    };
    neuroforge_io::write_points(out, &table)?;
    Ok(())
}

/// Trajectories (condition index, trajectory index, states and velocities) as one trace
/// recording: the state dimensions are the rows (`names`), and the velocities (`v_<name>`), the
/// condition index, its parameter value, the trajectory index and the time are covariates.
fn trajectories_recording(
    all: &[(usize, usize, neuroforge_sim::Trajectory)],
    names: &[&str],
    dt: f64,
    (parameter, values): (&str, &[f64]),
    per_condition: usize,
    prov: Provenance,
) -> Result<Recording, PipelineError> {
    let dims = names.len();
    let total: usize = all.iter().map(|(_, _, t)| t.states.nrows()).sum();
    let mut states = Array2::<f32>::zeros((dims, total));
    let mut velocity = vec![Vec::with_capacity(total); dims];
    let (mut condition, mut param, mut trajectory, mut time) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut col = 0;
    for (ci, k, tr) in all {
        for t in 0..tr.states.nrows() {
            for d in 0..dims {
                states[(d, col)] = tr.states[(t, d)] as f32;
                velocity[d].push(tr.velocities[(t, d)]);
            }
            condition.push(*ci as i64);
            param.push(values[*ci]);
            trajectory.push((*ci * per_condition + *k) as i64);
            time.push(t as f64 * dt);
            col += 1;
        }
    }
    let mut covariates: Vec<Covariate> = velocity
        .into_iter()
        .zip(names)
        .map(|(v, name)| Covariate {
            name: format!("v_{name}"),
            values: CovariateValues::Float(v),
        })
        .collect();
    covariates.push(Covariate {
        name: "condition".into(),
        values: CovariateValues::Int(condition),
    });
    covariates.push(Covariate {
        name: parameter.into(),
        values: CovariateValues::Float(param),
    });
    covariates.push(Covariate {
        name: "trajectory".into(),
        values: CovariateValues::Int(trajectory),
    });
    covariates.push(Covariate {
        name: "time_s".into(),
        values: CovariateValues::Float(time),
    });
    Ok(Recording::new(
        names.iter().map(|s| s.to_string()).collect(),
        Activity::Traces(TraceActivity {
            values: states,
            frame_rate_hz: Some(1.0 / dt),
        }),
        covariates,
        prov,
    )?)
}

/// Write samples of a Spike-GAN population (see [`samples_recording`]) with their ground truth.
fn write_population(
    x: &Array3<u8>,
    kind: &str,
    truth: serde_json::Value,
    common: Common,
) -> Result<Vec<PathBuf>, PipelineError> {
    let steps = vec![format!(
        "{} samples of Spike-GAN's {kind} population, seed {}",
        common.samples, common.seed
    )];
    let rec = samples_recording(x, provenance(kind, truth, steps))?;
    write_recording(&common.out, &rec)?;
    Ok(vec![common.out])
}
