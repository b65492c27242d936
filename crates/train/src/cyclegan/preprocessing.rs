//! The calcium-imaging pipeline CycleGAN trains on (METHODS.md section 2): raw fluorescence ->
//! dF/F -> OASIS spike inference -> the signal the model sees (inferred spikes or the denoised
//! calcium) -> neuron pre-sorting -> per-neuron normalisation -> windows.
//!
//! Pre and post recordings must hold the same neurons (the same ids; the post rows are put in
//! the pre order). The sorting is computed once, on the pre training signal, and applied to
//! both conditions; every setting and fitted parameter (AR coefficients, normalisations, the
//! permutation) is kept in a [`CyclePreprocessing`] that the run directory stores, so that
//! `translate` processes new data the same way and reports results under the original ids.

use ndarray::{Array2, ArrayView2, Axis};
use neuroforge_signal::{
    DffConfig, Normalisation, OasisConfig, OrderingMethod, deconvolve_population, dff, min_max,
    order_neurons, window_starts, z_score,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Which signal of the pipeline the networks see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSignal {
    /// OASIS's inferred spikes `s` (non-negative, sparse).
    #[default]
    Spikes,
    /// The denoised calcium `c` of the OASIS fit (`c_t = g c_{t-1} + s_t`).
    Calcium,
}

/// How neurons are ordered before the convolutions see them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeuronSorting {
    /// Leaf order of average-linkage clustering on correlation distance.
    #[default]
    Hierarchical,
    /// Order along the Fiedler vector of the correlation graph.
    Spectral,
    /// A random permutation drawn from the run's seed (the control of the sorting experiment).
    Random,
    /// The recording's own order.
    None,
}

/// What the two recordings hold, which decides the first steps of the pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipelineInput {
    /// Calcium-imaging traces: dF/F (when configured) and OASIS make the spikes.
    #[default]
    Calcium,
    /// Binned spike counts, which are the spikes already: no dF/F, no spike inference.
    Counts,
}

/// Per-neuron normalisation of the model signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormalisationKind {
    /// Each neuron to [0, 1] over the training recording (CalciumGAN's).
    #[default]
    MinMax,
    /// Each neuron to mean 0, standard deviation 1.
    ZScore,
}

/// A variance-stabilising transform of the model signal, applied before the per-neuron
/// normalisation and inverted exactly after it (the inverse is taken at `max(y, 0)`, so
/// translated counts are never negative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalTransform {
    /// `sqrt` for binned spike counts (the Anscombe-like transform that makes a Poisson
    /// count's variance about constant), none for calcium.
    #[default]
    Auto,
    /// The signal as it is.
    None,
    /// `sqrt(x)`, inverted as `max(y, 0)^2`.
    Sqrt,
    /// `ln(1 + x)`, inverted as `exp(max(y, 0)) - 1`.
    Log1p,
}

impl SignalTransform {
    /// The transform `Auto` stands for with `input`.
    pub fn resolve(self, input: PipelineInput) -> Self {
        match (self, input) {
            (Self::Auto, PipelineInput::Counts) => Self::Sqrt,
            (Self::Auto, PipelineInput::Calcium) => Self::None,
            (other, _) => other,
        }
    }

    /// The transform of a non-negative signal.
    pub fn forward(self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        match self {
            Self::Auto | Self::None => x.to_owned(),
            Self::Sqrt => x.mapv(|v| v.max(0.0).sqrt()),
            Self::Log1p => x.mapv(|v| v.max(0.0).ln_1p()),
        }
    }

    /// The inverse of [`Self::forward`], floored at 0 (`non_negative` floors the identity too).
    pub fn inverse(self, y: ArrayView2<'_, f64>, non_negative: bool) -> Array2<f64> {
        match self {
            Self::Auto | Self::None if non_negative => y.mapv(|v| v.max(0.0)),
            Self::Auto | Self::None => y.to_owned(),
            Self::Sqrt => y.mapv(|v| v.max(0.0).powi(2)),
            Self::Log1p => y.mapv(|v| v.max(0.0).exp_m1()),
        }
    }
}

/// The transform of runs made before transforms existed.
fn untransformed() -> SignalTransform {
    SignalTransform::None
}

/// Settings of the pipeline. Defaults: dF/F with a 301-frame, 8th-percentile running baseline;
/// OASIS AR(1) with decay, noise and penalty estimated per neuron; the model sees the inferred
/// spikes; hierarchical sorting; z-scoring fitted on both conditions together; 64-frame
/// windows every 16 frames for
/// training; a spike is an inferred event above 0.5 (CalciumGAN's binarisation threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalciumPipelineConfig {
    /// What the recordings hold (set from the data when a run starts; default calcium).
    pub input: PipelineInput,
    /// Compute dF/F from the raw fluorescence (turn off for traces that already are dF/F).
    pub dff: bool,
    /// The dF/F baseline.
    pub dff_baseline: DffConfig,
    /// Spike inference.
    pub oasis: OasisConfig,
    /// What the networks see.
    pub signal: ModelSignal,
    /// Neuron pre-sorting.
    pub sorting: NeuronSorting,
    /// Variance-stabilising transform before the normalisation (default `auto`: `sqrt` for
    /// binned counts, none for calcium).
    pub transform: SignalTransform,
    /// Per-neuron normalisation.
    pub normalisation: NormalisationKind,
    /// Fit the normalisation of each neuron on both conditions together (`true`), so that a
    /// change of rate or amplitude between them survives, or on each condition separately
    /// (CalciumGAN's per-recording scaling, which hides such changes).
    pub pooled_normalisation: bool,
    /// Frames per window (the networks' sample length).
    pub window: usize,
    /// Frames between the starts of training windows.
    pub stride: usize,
    /// Threshold on the inferred spikes (before normalisation) above which a frame counts as a
    /// spike in the evaluation.
    pub spike_threshold: f64,
}

impl Default for CalciumPipelineConfig {
    fn default() -> Self {
        Self {
            input: PipelineInput::Calcium,
            dff: true,
            dff_baseline: DffConfig::default(),
            oasis: OasisConfig::default(),
            signal: ModelSignal::Spikes,
            sorting: NeuronSorting::Hierarchical,
            transform: SignalTransform::Auto,
            normalisation: NormalisationKind::ZScore,
            pooled_normalisation: true,
            window: 64,
            stride: 16,
            spike_threshold: 0.5,
        }
    }
}

impl CalciumPipelineConfig {
    /// Refuse settings before any data is touched.
    pub fn check(&self) -> Result<()> {
        if self.window == 0 || self.stride == 0 {
            return Err(TrainError::Config(
                "the window and the stride must be at least 1 frame".into(),
            ));
        }
        if !self.spike_threshold.is_finite() {
            return Err(TrainError::Config(
                "the spike threshold must be finite".into(),
            ));
        }
        if self.input == PipelineInput::Counts && self.signal == ModelSignal::Calcium {
            return Err(TrainError::Config(
                "binned spike counts have no calcium to model: use the spikes signal".into(),
            ));
        }
        if self.dff {
            self.dff_baseline
                .check()
                .map_err(|e| TrainError::Config(e.to_string()))?;
        }
        self.oasis
            .validate()
            .map_err(|e| TrainError::Config(e.to_string()))
    }
}

/// One condition after dF/F and spike inference, in the recording's neuron order.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedCondition {
    /// The model signal (inferred spikes or denoised calcium), neurons x frames.
    pub signal: Array2<f64>,
    /// The inferred spikes, neurons x frames (equal to `signal` for [`ModelSignal::Spikes`]).
    pub spikes: Array2<f64>,
    /// The AR coefficients OASIS used for each neuron.
    pub g: Vec<Vec<f64>>,
}

/// Calcium `c_t = g1 c_{t-1} + g2 c_{t-2} + s_t` of each row of `spikes` with its neuron's
/// coefficients (`[g]` or `[g1, g2]`).
pub fn calcium_from_spikes(spikes: ArrayView2<'_, f64>, g: &[Vec<f64>]) -> Array2<f64> {
    let mut c = Array2::<f64>::zeros(spikes.dim());
    for ((s, mut out), g) in spikes.rows().into_iter().zip(c.rows_mut()).zip(g) {
        let g1 = g.first().copied().unwrap_or(0.0);
        let g2 = g.get(1).copied().unwrap_or(0.0);
        let (mut prev1, mut prev2) = (0.0, 0.0);
        for (slot, &spike) in out.iter_mut().zip(s.iter()) {
            let v = g1 * prev1 + g2 * prev2 + spike;
            *slot = v;
            prev2 = prev1;
            prev1 = v;
        }
    }
    c
}

/// dF/F (when configured) and OASIS on raw traces (neurons x frames); binned counts
/// ([`PipelineInput::Counts`]) are the spikes as they are.
pub fn process_condition(
    traces: ArrayView2<'_, f64>,
    config: &CalciumPipelineConfig,
) -> Result<ProcessedCondition> {
    config.check()?;
    if config.input == PipelineInput::Counts {
        if let Some(bad) = traces.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(TrainError::Data(format!(
                "spike counts must be finite and non-negative, found {bad}"
            )));
        }
        return Ok(ProcessedCondition {
            signal: traces.to_owned(),
            spikes: traces.to_owned(),
            g: vec![Vec::new(); traces.nrows()],
        });
    }
    let signal_error = |e: neuroforge_signal::SignalError| TrainError::Data(e.to_string());
    let dff_traces;
    let input = if config.dff {
        dff_traces = dff(traces, &config.dff_baseline).map_err(signal_error)?;
        dff_traces.view()
    } else {
        traces
    };
    let fit = deconvolve_population(input, &config.oasis).map_err(signal_error)?;
    let signal = match config.signal {
        ModelSignal::Spikes => fit.spikes.clone(),
        ModelSignal::Calcium => calcium_from_spikes(fit.spikes.view(), &fit.g),
    };
    Ok(ProcessedCondition {
        signal,
        spikes: fit.spikes,
        g: fit.g,
    })
}

/// Which side of the mapping a recording belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Before learning (G's input, F's output).
    Pre,
    /// After learning (G's output, F's input).
    Post,
}

impl std::str::FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "pre" => Ok(Self::Pre),
            "post" => Ok(Self::Post),
            other => Err(format!("unknown condition '{other}': use pre or post")),
        }
    }
}

/// Everything the pipeline fitted on the training recordings: what `translate` needs to
/// process new data the same way and to put results back under the original neuron ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CyclePreprocessing {
    /// The settings.
    pub config: CalciumPipelineConfig,
    /// Neuron ids in the recordings' (pre) order.
    pub neuron_ids: Vec<String>,
    /// `order[i]`: the original index of the neuron at model row `i`.
    pub order: Vec<usize>,
    /// The transform applied before the normalisation (`auto` resolved; none in runs made
    /// before transforms existed).
    #[serde(default = "untransformed")]
    pub transform: SignalTransform,
    /// Normalisation of the pre signal, per original neuron.
    pub pre_normalisation: Normalisation,
    /// Normalisation of the post signal, per original neuron.
    pub post_normalisation: Normalisation,
    /// AR coefficients OASIS used on the pre training recording, per original neuron.
    pub pre_g: Vec<Vec<f64>>,
    /// The same for the post training recording.
    pub post_g: Vec<Vec<f64>>,
    /// Frames in the two training recordings.
    pub frames: [usize; 2],
    /// The steps applied, in order, as text for the manifest.
    pub steps: Vec<String>,
}

impl CyclePreprocessing {
    /// The normalisation of one condition.
    pub fn normalisation(&self, condition: Condition) -> &Normalisation {
        match condition {
            Condition::Pre => &self.pre_normalisation,
            Condition::Post => &self.post_normalisation,
        }
    }

    /// The AR coefficients of one condition.
    pub fn g(&self, condition: Condition) -> &[Vec<f64>] {
        match condition {
            Condition::Pre => &self.pre_g,
            Condition::Post => &self.post_g,
        }
    }

    /// A processed signal (original order) transformed, normalised as `condition` and put in
    /// model order.
    pub fn to_model(&self, signal: ArrayView2<'_, f64>, condition: Condition) -> Array2<f64> {
        self.normalisation(condition)
            .apply(self.transform.forward(signal).view())
            .select(Axis(0), &self.order)
    }

    /// The model row of each original neuron (the inverse of `order`).
    pub fn positions(&self) -> Vec<usize> {
        let mut positions = vec![0; self.order.len()];
        for (p, &o) in self.order.iter().enumerate() {
            positions[o] = p;
        }
        positions
    }

    /// A model-order, normalised signal of `condition` back in original order and units.
    /// Binned counts come back non-negative whatever the network emits.
    pub fn from_model(&self, model: ArrayView2<'_, f64>, condition: Condition) -> Array2<f64> {
        let normalised = self
            .normalisation(condition)
            .invert(model.select(Axis(0), &self.positions()).view());
        self.transform.inverse(
            normalised.view(),
            self.config.input == PipelineInput::Counts,
        )
    }
}

/// Put the rows of `post` (with ids `post_ids`) in the order of `pre_ids`; refuse recordings
/// whose neurons differ, naming the first ids that do not match.
pub fn align_neurons(
    pre_ids: &[String],
    post_ids: &[String],
    post: ArrayView2<'_, f64>,
) -> Result<Array2<f64>> {
    let index: std::collections::HashMap<&str, usize> = post_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let missing: Vec<&str> = pre_ids
        .iter()
        .filter(|id| !index.contains_key(id.as_str()))
        .map(String::as_str)
        .take(3)
        .collect();
    let pre_set: std::collections::HashSet<&str> = pre_ids.iter().map(String::as_str).collect();
    let extra: Vec<&str> = post_ids
        .iter()
        .filter(|id| !pre_set.contains(id.as_str()))
        .map(String::as_str)
        .take(3)
        .collect();
    if !missing.is_empty() || !extra.is_empty() || pre_ids.len() != post_ids.len() {
        return Err(TrainError::Data(format!(
            "the two recordings do not hold the same neurons ({} vs {}; only in the first: \
             {missing:?}; only in the second: {extra:?}); the same neurons must be tracked \
             across conditions",
            pre_ids.len(),
            post_ids.len()
        )));
    }
    let rows: Vec<usize> = pre_ids.iter().map(|id| index[id.as_str()]).collect();
    Ok(post.select(Axis(0), &rows))
}

/// Windows of a model-order, normalised signal, as `f32` for the networks.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalWindows {
    values: Vec<f32>,
    neurons: usize,
    frames: usize,
    window: usize,
    starts: Vec<usize>,
}

impl SignalWindows {
    /// Windows of `window` frames every `stride` frames of `signal` (neurons x frames).
    pub fn new(signal: ArrayView2<'_, f64>, window: usize, stride: usize) -> Result<Self> {
        let (neurons, frames) = signal.dim();
        let starts =
            window_starts(frames, window, stride).map_err(|e| TrainError::Data(e.to_string()))?;
        Ok(Self {
            values: signal.iter().map(|&v| v as f32).collect(),
            neurons,
            frames,
            window,
            starts,
        })
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Neurons per window.
    pub fn neurons(&self) -> usize {
        self.neurons
    }

    /// Frames per window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// First frame of each window.
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// Append windows `indices` to `out`, `[k, neuron, frame]` row-major.
    pub fn gather_into(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.reserve(indices.len() * self.neurons * self.window);
        for &i in indices {
            let t = self.starts[i];
            for n in 0..self.neurons {
                let row = n * self.frames + t;
                out.extend_from_slice(&self.values[row..row + self.window]);
            }
        }
    }
}

/// The two training conditions after the whole pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleData {
    /// What was fitted, for the run directory.
    pub preprocessing: CyclePreprocessing,
    /// Pre training windows (model order, normalised).
    pub pre: SignalWindows,
    /// Post training windows.
    pub post: SignalWindows,
}

impl CycleData {
    /// Run the pipeline on raw pre and post traces (neurons x frames) with their neuron ids;
    /// `seed` draws the random order of [`NeuronSorting::Random`].
    pub fn prepare(
        pre: (ArrayView2<'_, f64>, &[String]),
        post: (ArrayView2<'_, f64>, &[String]),
        config: &CalciumPipelineConfig,
        seed: u64,
    ) -> Result<Self> {
        config.check()?;
        let (pre_traces, ids) = pre;
        if ids.len() != pre_traces.nrows() {
            return Err(TrainError::Data(format!(
                "{} neuron ids for {} rows",
                ids.len(),
                pre_traces.nrows()
            )));
        }
        let post_traces = align_neurons(ids, post.1, post.0)?;
        let mut steps = Vec::new();
        let counts = config.input == PipelineInput::Counts;
        if config.dff && !counts {
            steps.push(format!(
                "dF/F: running {}th percentile over {} frames",
                config.dff_baseline.percentile, config.dff_baseline.window
            ));
        }
        let pre_fit = process_condition(pre_traces, config)?;
        let post_fit = process_condition(post_traces.view(), config)?;
        if counts {
            steps.push(
                "binned spike counts are the spikes: no dF/F, no spike inference; the model \
                 sees the counts"
                    .into(),
            );
        } else {
            steps.push(format!(
                "OASIS AR({}) spike inference{}; the model sees the {}",
                config.oasis.order,
                match &config.oasis.g {
                    Some(g) => format!(" with g = {g:?}"),
                    None => ", decay estimated per neuron".into(),
                },
                match config.signal {
                    ModelSignal::Spikes => "inferred spikes",
                    ModelSignal::Calcium => "denoised calcium",
                }
            ));
        }
        let order = match config.sorting {
            NeuronSorting::Hierarchical | NeuronSorting::Spectral => {
                let method = if config.sorting == NeuronSorting::Spectral {
                    OrderingMethod::Spectral
                } else {
                    OrderingMethod::Hierarchical
                };
                order_neurons(pre_fit.signal.view(), method)
                    .map_err(|e| TrainError::Data(e.to_string()))?
                    .order
            }
            NeuronSorting::Random => {
                let mut order: Vec<usize> = (0..ids.len()).collect();
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(u64::MAX - 1);
                order.shuffle(&mut rng);
                order
            }
            NeuronSorting::None => (0..ids.len()).collect(),
        };
        steps.push(format!(
            "neuron order: {:?} on the pre signal, {order:?}",
            config.sorting
        ));
        let transform = config.transform.resolve(config.input);
        if transform != SignalTransform::None {
            steps.push(format!(
                "{} of the signal before the normalisation (inverted after the networks, \
                 floored at 0)",
                match transform {
                    SignalTransform::Log1p => "ln(1 + x)",
                    _ => "square root",
                }
            ));
        }
        let normalise = |x: ArrayView2<'_, f64>| {
            let x = transform.forward(x);
            match config.normalisation {
                NormalisationKind::MinMax => min_max(x.view()).1,
                NormalisationKind::ZScore => z_score(x.view()).1,
            }
        };
        steps.push(format!(
            "per-neuron {:?} normalisation {}",
            config.normalisation,
            if config.pooled_normalisation {
                "fitted on both conditions together"
            } else {
                "of each condition separately"
            }
        ));
        steps.push(format!(
            "windows of {} frames every {} frames",
            config.window, config.stride
        ));
        let (pre_normalisation, post_normalisation) = if config.pooled_normalisation {
            let both =
                ndarray::concatenate(Axis(1), &[pre_fit.signal.view(), post_fit.signal.view()])
                    .map_err(|e| TrainError::Data(e.to_string()))?;
            let n = normalise(both.view());
            (n.clone(), n)
        } else {
            (
                normalise(pre_fit.signal.view()),
                normalise(post_fit.signal.view()),
            )
        };
        let preprocessing = CyclePreprocessing {
            config: config.clone(),
            neuron_ids: ids.to_vec(),
            order,
            transform,
            pre_normalisation,
            post_normalisation,
            pre_g: pre_fit.g,
            post_g: post_fit.g,
            frames: [pre_traces.ncols(), post_traces.ncols()],
            steps,
        };
        let windows = |signal: &Array2<f64>, condition| {
            SignalWindows::new(
                preprocessing.to_model(signal.view(), condition).view(),
                config.window,
                config.stride,
            )
        };
        let pre = windows(&pre_fit.signal, Condition::Pre)?;
        let post = windows(&post_fit.signal, Condition::Post)?;
        Ok(Self {
            preprocessing,
            pre,
            post,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn counts_are_the_spikes_and_have_no_calcium() {
        let counts = array![[0.0, 2.0, 1.0], [1.0, 0.0, 0.0]];
        let config = CalciumPipelineConfig {
            input: PipelineInput::Counts,
            ..CalciumPipelineConfig::default()
        };
        let fit = process_condition(counts.view(), &config).unwrap();
        assert_eq!(fit.spikes, counts);
        assert_eq!(fit.signal, counts);
        assert_eq!(fit.g, vec![Vec::<f64>::new(); 2]);
        let negative = array![[0.0, -1.0]];
        assert!(process_condition(negative.view(), &config).is_err());
        let calcium = CalciumPipelineConfig {
            signal: ModelSignal::Calcium,
            ..config
        };
        assert!(calcium.check().is_err());
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn post_rows_follow_the_pre_ids_and_mismatches_are_refused() {
        let post = array![[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
        let aligned =
            align_neurons(&ids(&["b", "c", "a"]), &ids(&["a", "b", "c"]), post.view()).unwrap();
        assert_eq!(aligned.column(0).to_vec(), vec![2.0, 3.0, 1.0]);
        let err = align_neurons(&ids(&["a", "b", "x"]), &ids(&["a", "b", "c"]), post.view())
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"x\"") && err.contains("\"c\""), "{err}");
        assert!(align_neurons(&ids(&["a", "b"]), &ids(&["a", "b", "c"]), post.view()).is_err());
    }

    #[test]
    fn calcium_is_the_ar_filter_of_the_spikes() {
        let s = array![[0.0, 1.0, 0.0, 0.0, 2.0]];
        let c = calcium_from_spikes(s.view(), &[vec![0.5]]);
        assert_eq!(c.row(0).to_vec(), vec![0.0, 1.0, 0.5, 0.25, 2.125]);
    }

    #[test]
    fn model_order_round_trips_and_windows_cut_the_rows() {
        let signal = Array2::from_shape_fn((3, 10), |(n, t)| (n * 10 + t) as f64);
        let pre = CyclePreprocessing {
            config: CalciumPipelineConfig::default(),
            neuron_ids: ids(&["a", "b", "c"]),
            order: vec![2, 0, 1],
            transform: SignalTransform::None,
            pre_normalisation: min_max(signal.view()).1,
            post_normalisation: z_score(signal.view()).1,
            pre_g: vec![vec![0.9]; 3],
            post_g: vec![vec![0.9]; 3],
            frames: [10, 10],
            steps: vec![],
        };
        let model = pre.to_model(signal.view(), Condition::Pre);
        // Row 0 of the model is neuron 2 scaled to [0, 1].
        assert!((model[(0, 0)]).abs() < 1e-12 && (model[(0, 9)] - 1.0).abs() < 1e-12);
        let back = pre.from_model(model.view(), Condition::Pre);
        assert!((back - &signal).iter().all(|v| v.abs() < 1e-12));
        let w = SignalWindows::new(model.view(), 4, 3).unwrap();
        assert_eq!(w.starts(), &[0, 3, 6]);
        let mut out = Vec::new();
        w.gather_into(&[1], &mut out);
        assert_eq!(out.len(), 12);
        assert!((f64::from(out[4]) - model[(1, 3)]).abs() < 1e-6);
    }

    #[test]
    fn counts_are_square_rooted_before_the_normalisation_and_come_back_non_negative() {
        let pre = array![[0.0, 1.0, 4.0, 9.0], [2.0, 0.0, 0.0, 2.0]];
        let post = array![[1.0, 1.0, 16.0, 0.0], [3.0, 3.0, 0.0, 0.0]];
        let names = ids(&["a", "b"]);
        let config = CalciumPipelineConfig {
            input: PipelineInput::Counts,
            sorting: NeuronSorting::None,
            window: 2,
            stride: 2,
            ..CalciumPipelineConfig::default()
        };
        let data =
            CycleData::prepare((pre.view(), &names), (post.view(), &names), &config, 0).unwrap();
        let p = &data.preprocessing;
        assert_eq!(p.transform, SignalTransform::Sqrt);
        // Pooled z-scoring of sqrt(counts): neuron a's roots are 0,1,2,3,1,1,4,0.
        let roots = [0.0f64, 1.0, 2.0, 3.0, 1.0, 1.0, 4.0, 0.0];
        let mean = roots.iter().sum::<f64>() / 8.0;
        let sd = (roots.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 8.0).sqrt();
        let model = p.to_model(pre.view(), Condition::Pre);
        for t in 0..4 {
            let expected = (roots[t] - mean) / sd;
            assert!((model[(0, t)] - expected).abs() < 1e-9, "{t}");
        }
        // Exact inversion, and a network output below sqrt(0) comes back as 0 counts.
        let back = p.from_model(model.view(), Condition::Pre);
        assert!((back - &pre).iter().all(|v| v.abs() < 1e-9));
        let below = model.mapv(|_| -100.0);
        assert!(
            p.from_model(below.view(), Condition::Post)
                .iter()
                .all(|&v| v == 0.0)
        );
        // ln(1 + x) on request, inverted exactly.
        let log = CalciumPipelineConfig {
            transform: SignalTransform::Log1p,
            ..config
        };
        let data =
            CycleData::prepare((pre.view(), &names), (post.view(), &names), &log, 0).unwrap();
        let model = data.preprocessing.to_model(post.view(), Condition::Post);
        let back = data.preprocessing.from_model(model.view(), Condition::Post);
        assert!((back - &post).iter().all(|v| v.abs() < 1e-9));
        assert_eq!(
            SignalTransform::Auto.resolve(PipelineInput::Calcium),
            SignalTransform::None
        );
    }
}
