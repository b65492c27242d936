//! The recording data model: population activity of identified neurons, per-time-point
//! covariates and provenance.

use std::collections::HashSet;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{IoError, Result};

/// Binned activity: spike counts (or 0/1 spike words) of each neuron in each time bin.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedActivity {
    /// Counts, neurons x bins.
    pub counts: Array2<u32>,
    /// Width of one bin in seconds, when known.
    pub bin_width_s: Option<f64>,
}

/// Continuous activity: one value per neuron and imaging frame (fluorescence, dF/F, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceActivity {
    /// Values, neurons x frames.
    pub values: Array2<f32>,
    /// Frames per second, when known.
    pub frame_rate_hz: Option<f64>,
}

/// Spike times of each neuron, in seconds, over an observation interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrains {
    /// Spike times of each neuron (seconds), each sorted in ascending order.
    pub times_s: Vec<Vec<f64>>,
    /// Start of the observation interval (seconds).
    pub t_start_s: f64,
    /// End of the observation interval (seconds), at or after every spike.
    pub t_stop_s: f64,
}

/// What a recording holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    /// Counts per time bin.
    Binned(BinnedActivity),
    /// Continuous traces per frame.
    Traces(TraceActivity),
    /// Spike times per neuron.
    SpikeTimes(SpikeTrains),
}

/// The kind of activity, as written in files and printed by `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// [`Activity::Binned`].
    Binned,
    /// [`Activity::Traces`].
    Traces,
    /// [`Activity::SpikeTimes`].
    SpikeTimes,
}

impl ActivityKind {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Binned => "binned",
            Self::Traces => "traces",
            Self::SpikeTimes => "spike_times",
        }
    }
}

impl Activity {
    /// The kind of activity.
    pub fn kind(&self) -> ActivityKind {
        match self {
            Self::Binned(_) => ActivityKind::Binned,
            Self::Traces(_) => ActivityKind::Traces,
            Self::SpikeTimes(_) => ActivityKind::SpikeTimes,
        }
    }

    /// Number of neurons.
    pub fn neurons(&self) -> usize {
        match self {
            Self::Binned(b) => b.counts.nrows(),
            Self::Traces(t) => t.values.nrows(),
            Self::SpikeTimes(s) => s.times_s.len(),
        }
    }

    /// Number of time points (bins or frames); `None` for spike times.
    pub fn time_points(&self) -> Option<usize> {
        match self {
            Self::Binned(b) => Some(b.counts.ncols()),
            Self::Traces(t) => Some(t.values.ncols()),
            Self::SpikeTimes(_) => None,
        }
    }
}

/// Values of one covariate, one per time point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "values", rename_all = "lowercase")]
pub enum CovariateValues {
    /// Real-valued (position, velocity, phase, ...). NaN marks a missing value.
    Float(Vec<f64>),
    /// Whole numbers (trial index, condition code, ...).
    Int(Vec<i64>),
    /// Labels (condition name, "pre"/"post", ...).
    Text(Vec<String>),
}

impl CovariateValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::Float(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Text(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named per-time-point variable recorded alongside the activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariate {
    /// Name (a column name in the file).
    pub name: String,
    /// Values, one per bin or frame.
    pub values: CovariateValues,
}

/// Where a recording came from and how it was turned into this form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    /// The format of that file (`mat`, `npy`, `npz`, `suite2p`, `csv`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_format: Option<String>,
    /// The variable (MAT), array (NPZ) or column read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// The axis layout of the source array (`time-by-neurons` or `neurons-by-time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// True when `layout` was the importer's default rather than the user's choice.
    #[serde(default)]
    pub layout_assumed: bool,
    /// Processing steps applied since import, oldest first, each a short sentence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// The program and version that wrote the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// What the activity's values measure (`spike counts`, `fluorescence`, `dF/F`,
    /// `inferred spikes`, `importance`, ...), when a step said so; see [`Recording::quantity`]
    /// for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// The units of those values (`spikes per bin`, `a.u.`, `dF/F`, `s`, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// For simulated data: what generated it (settings, seed, true parameters), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<serde_json::Value>,
}

/// Population activity of identified neurons with optional covariates and its provenance.
///
/// Invariants (checked by [`Recording::new`]): at least one neuron; neuron ids are unique and
/// non-empty; binned and trace recordings have at least one time point and every covariate has
/// one value per time point; covariate names are unique and differ from neuron ids; bin width
/// and frame rate, when given, are finite and positive; spike times are finite, sorted and
/// inside `[t_start_s, t_stop_s]`; spike-time recordings carry no covariates.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    neuron_ids: Vec<String>,
    activity: Activity,
    covariates: Vec<Covariate>,
    provenance: Provenance,
}

impl Recording {
    /// Build a recording, checking every invariant listed on [`Recording`].
    pub fn new(
        neuron_ids: Vec<String>,
        activity: Activity,
        covariates: Vec<Covariate>,
        provenance: Provenance,
    ) -> Result<Self> {
        let fail = |msg: String| Err(IoError::Recording(msg));
        let neurons = activity.neurons();
        if neurons == 0 {
            return fail("a recording needs at least one neuron".into());
        }
        if neuron_ids.len() != neurons {
            return fail(format!(
                "{} neuron ids for {} neurons",
                neuron_ids.len(),
                neurons
            ));
        }
        let mut seen = HashSet::new();
        for id in &neuron_ids {
            if id.is_empty() {
                return fail("a neuron id is empty".into());
            }
            if !seen.insert(id.as_str()) {
                return fail(format!("neuron id '{id}' appears twice"));
            }
        }
        match &activity {
            Activity::Binned(b) => {
                check_positive("bin width", b.bin_width_s)?;
            }
            Activity::Traces(t) => {
                check_positive("frame rate", t.frame_rate_hz)?;
                if let Some((i, v)) = t.values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    let frames = t.values.ncols();
                    return fail(format!(
                        "trace value {v} at frame {}, neuron {} is not finite",
                        i % frames,
                        i / frames
                    ));
                }
            }
            Activity::SpikeTimes(s) => check_spike_trains(s, &neuron_ids)?,
        }
        if let Some(time_points) = activity.time_points() {
            if time_points == 0 {
                return fail("a recording needs at least one time point".into());
            }
            let mut names = HashSet::new();
            for c in &covariates {
                if c.name.is_empty() {
                    return fail("a covariate name is empty".into());
                }
                if !names.insert(c.name.as_str()) {
                    return fail(format!("covariate '{}' appears twice", c.name));
                }
                if seen.contains(c.name.as_str()) {
                    return fail(format!("covariate '{}' has the name of a neuron", c.name));
                }
                if c.values.len() != time_points {
                    return fail(format!(
                        "covariate '{}' has {} values for {} time points",
                        c.name,
                        c.values.len(),
                        time_points
                    ));
                }
            }
        } else if !covariates.is_empty() {
            return fail(
                "spike-time recordings carry no per-bin covariates; bin them first".into(),
            );
        }
        Ok(Self {
            neuron_ids,
            activity,
            covariates,
            provenance,
        })
    }

    /// Neuron ids, one per row of the activity.
    pub fn neuron_ids(&self) -> &[String] {
        &self.neuron_ids
    }

    /// The activity.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// Per-time-point covariates.
    pub fn covariates(&self) -> &[Covariate] {
        &self.covariates
    }

    /// Provenance.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Mutable provenance, to record a processing step.
    pub fn provenance_mut(&mut self) -> &mut Provenance {
        &mut self.provenance
    }

    /// Take the recording apart: (neuron ids, activity, covariates, provenance).
    pub fn into_parts(self) -> (Vec<String>, Activity, Vec<Covariate>, Provenance) {
        (
            self.neuron_ids,
            self.activity,
            self.covariates,
            self.provenance,
        )
    }

    /// Number of neurons.
    pub fn neurons(&self) -> usize {
        self.neuron_ids.len()
    }

    /// What the activity's values measure and their units: those a step recorded in the
    /// provenance, else by kind: binned `spike counts` in `spikes per bin`, `spike times` in
    /// `s`, `traces` in `a.u.`.
    pub fn quantity(&self) -> (String, String) {
        let (quantity, units) = match self.activity.kind() {
            ActivityKind::Binned => ("spike counts", "spikes per bin"),
            ActivityKind::SpikeTimes => ("spike times", "s"),
            ActivityKind::Traces => ("traces", "a.u."),
        };
        (
            self.provenance
                .quantity
                .clone()
                .unwrap_or_else(|| quantity.to_string()),
            self.provenance
                .units
                .clone()
                .unwrap_or_else(|| units.to_string()),
        )
    }

    /// A summary of shape, timing and rates, as `neuroforge inspect` prints it.
    pub fn summary(&self) -> RecordingSummary {
        let (quantity, units) = self.quantity();
        let neurons = self.neurons();
        let mut s = RecordingSummary {
            kind: self.activity.kind(),
            quantity,
            units,
            neurons,
            bins: None,
            frames: None,
            bin_width_s: None,
            frame_rate_hz: None,
            duration_s: None,
            mean_rate: None,
            mean_rate_hz: None,
            neuron_rate_min: None,
            neuron_rate_max: None,
            max_count: None,
            binary: None,
            total_spikes: None,
            mean_value: None,
            covariates: self.covariates.iter().map(|c| c.name.clone()).collect(),
            layout: self.provenance.layout.clone(),
            layout_assumed: self.provenance.layout_assumed,
            source_file: self.provenance.source_file.clone(),
        };
        match &self.activity {
            Activity::Binned(b) => {
                let bins = b.counts.ncols();
                let per_neuron: Vec<f64> = b
                    .counts
                    .rows()
                    .into_iter()
                    .map(|r| r.iter().map(|&c| f64::from(c)).sum::<f64>() / bins as f64)
                    .collect();
                let total: u64 = b.counts.iter().map(|&c| u64::from(c)).sum();
                let max = b.counts.iter().copied().max().unwrap_or(0);
                s.bins = Some(bins);
                s.bin_width_s = b.bin_width_s;
                s.duration_s = b.bin_width_s.map(|w| w * bins as f64);
                s.mean_rate = Some(total as f64 / (bins as f64 * neurons as f64));
                s.mean_rate_hz = b.bin_width_s.and_then(|w| s.mean_rate.map(|r| r / w));
                s.neuron_rate_min = per_neuron.iter().copied().reduce(f64::min);
                s.neuron_rate_max = per_neuron.iter().copied().reduce(f64::max);
                s.max_count = Some(max);
                s.binary = Some(max <= 1);
                s.total_spikes = Some(total);
            }
            Activity::Traces(t) => {
                let frames = t.values.ncols();
                s.frames = Some(frames);
                s.frame_rate_hz = t.frame_rate_hz;
                s.duration_s = t.frame_rate_hz.map(|f| frames as f64 / f);
                let sum: f64 = t.values.iter().map(|&v| f64::from(v)).sum();
                s.mean_value = Some(sum / t.values.len() as f64);
            }
            Activity::SpikeTimes(st) => {
                let duration = st.t_stop_s - st.t_start_s;
                let total: usize = st.times_s.iter().map(Vec::len).sum();
                s.duration_s = Some(duration);
                s.total_spikes = Some(total as u64);
                if duration > 0.0 {
                    let rates: Vec<f64> = st
                        .times_s
                        .iter()
                        .map(|t| t.len() as f64 / duration)
                        .collect();
                    s.mean_rate_hz = Some(total as f64 / duration / neurons as f64);
                    s.neuron_rate_min = rates.iter().copied().reduce(f64::min);
                    s.neuron_rate_max = rates.iter().copied().reduce(f64::max);
                }
            }
        }
        s
    }
}

fn check_positive(what: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(IoError::Recording(format!(
            "{what} must be a positive number, got {v}"
        ))),
        _ => Ok(()),
    }
}

fn check_spike_trains(s: &SpikeTrains, ids: &[String]) -> Result<()> {
    let fail = |msg: String| Err(IoError::Recording(msg));
    if !(s.t_start_s.is_finite() && s.t_stop_s.is_finite() && s.t_start_s <= s.t_stop_s) {
        return fail(format!(
            "observation interval [{}, {}] s is not a finite, ordered interval",
            s.t_start_s, s.t_stop_s
        ));
    }
    for (times, id) in s.times_s.iter().zip(ids) {
        for (k, &t) in times.iter().enumerate() {
            if !t.is_finite() {
                return fail(format!("spike time {t} of neuron '{id}' is not finite"));
            }
            if t < s.t_start_s || t > s.t_stop_s {
                return fail(format!(
                    "spike time {t} s of neuron '{id}' lies outside [{}, {}] s",
                    s.t_start_s, s.t_stop_s
                ));
            }
            if k > 0 && t < times[k - 1] {
                return fail(format!("spike times of neuron '{id}' are not sorted"));
            }
        }
    }
    Ok(())
}

/// The largest binned matrix (neurons x bins) that binning spike times may create: 2 GB of
/// counts, far above any real recording, low enough to refuse a forged time range.
const MAX_BINNED_CELLS: f64 = 5e8;

impl SpikeTrains {
    /// Spike counts in consecutive bins of `bin_width_s` from `t_start_s`, covering the whole
    /// interval (the last bin may extend past `t_stop_s`); neurons x bins.
    pub fn bin(&self, bin_width_s: f64) -> Result<BinnedActivity> {
        self.bin_from(self.t_start_s, bin_width_s)
    }

    /// Spike counts in consecutive bins of `bin_width_s` from `start_s` (a grid shared with
    /// other data, such as a behaviour sampled from time 0) to `t_stop_s`; neurons x bins. A
    /// spike before `start_s` is refused.
    pub fn bin_from(&self, start_s: f64, bin_width_s: f64) -> Result<BinnedActivity> {
        if !(bin_width_s.is_finite() && bin_width_s > 0.0) {
            return Err(IoError::Usage(format!(
                "bin width must be a positive number of seconds, got {bin_width_s}"
            )));
        }
        if !start_s.is_finite() {
            return Err(IoError::Usage(format!(
                "the start of the bins must be a number of seconds, got {start_s}"
            )));
        }
        let first = self
            .times_s
            .iter()
            .filter_map(|t| t.first())
            .copied()
            .fold(f64::INFINITY, f64::min);
        if first < start_s {
            return Err(IoError::Usage(format!(
                "a spike at {first} s precedes the start of the bins ({start_s} s)"
            )));
        }
        let span = self.t_stop_s.max(start_s) - start_s;
        let bins_f = (span / bin_width_s).ceil().max(1.0);
        let bins = bins_f as usize;
        let cells = bins as f64 * self.times_s.len() as f64;
        if cells > MAX_BINNED_CELLS {
            return Err(IoError::Usage(format!(
                "binning {} neurons over {span} s at {bin_width_s} s gives {cells:.0} counts \
                 (more than {MAX_BINNED_CELLS:.0}): choose a wider bin",
                self.times_s.len()
            )));
        }
        let mut counts = Array2::<u32>::zeros((self.times_s.len(), bins));
        for (n, times) in self.times_s.iter().enumerate() {
            for &t in times {
                let b = (((t - start_s) / bin_width_s).floor() as usize).min(bins - 1);
                counts[(n, b)] = counts[(n, b)].saturating_add(1);
            }
        }
        Ok(BinnedActivity {
            counts,
            bin_width_s: Some(bin_width_s),
        })
    }
}

/// Shape, timing and rates of a recording; the JSON of `neuroforge inspect --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingSummary {
    /// `binned`, `traces` or `spike_times`.
    pub kind: ActivityKind,
    /// What the values measure ([`Recording::quantity`]).
    pub quantity: String,
    /// Their units.
    pub units: String,
    /// Number of neurons.
    pub neurons: usize,
    /// Number of bins (binned data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bins: Option<usize>,
    /// Number of frames (traces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<usize>,
    /// Bin width in seconds, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin_width_s: Option<f64>,
    /// Frame rate in Hz, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate_hz: Option<f64>,
    /// Duration in seconds, when the time base is known.
    pub duration_s: Option<f64>,
    /// Mean count per bin over all neurons and bins (binned data).
    pub mean_rate: Option<f64>,
    /// Mean firing rate per neuron in spikes per second, when the time base is known.
    pub mean_rate_hz: Option<f64>,
    /// Lowest per-neuron rate (count per bin for binned data, Hz for spike times).
    pub neuron_rate_min: Option<f64>,
    /// Highest per-neuron rate (same unit as `neuron_rate_min`).
    pub neuron_rate_max: Option<f64>,
    /// Largest count in one bin (binned data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
    /// Whether every count is 0 or 1 (binned data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<bool>,
    /// Total number of spikes (binned data and spike times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_spikes: Option<u64>,
    /// Mean value over all neurons and frames (traces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_value: Option<f64>,
    /// Names of the covariates.
    pub covariates: Vec<String>,
    /// Axis layout of the source array.
    pub layout: Option<String>,
    /// Whether that layout was assumed by default.
    pub layout_assumed: bool,
    /// The file the recording was imported from.
    pub source_file: Option<String>,
}

/// Default neuron ids: `"0"`, `"1"`, ... in row order.
pub fn default_neuron_ids(neurons: usize) -> Vec<String> {
    (0..neurons).map(|i| i.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binned(counts: Array2<u32>) -> Activity {
        Activity::Binned(BinnedActivity {
            counts,
            bin_width_s: Some(0.02),
        })
    }

    #[test]
    fn summary_of_binned_data_matches_hand_computation() {
        let counts = ndarray::array![[0, 1, 0, 1], [2, 0, 0, 0]];
        let r = Recording::new(
            default_neuron_ids(2),
            binned(counts),
            vec![],
            Provenance::default(),
        )
        .unwrap();
        let s = r.summary();
        assert_eq!((s.neurons, s.bins), (2, Some(4)));
        assert_eq!(s.mean_rate, Some(4.0 / 8.0));
        assert_eq!(s.mean_rate_hz, Some(0.5 / 0.02));
        assert_eq!(
            (s.neuron_rate_min, s.neuron_rate_max),
            (Some(0.5), Some(0.5))
        );
        assert_eq!(
            (s.max_count, s.binary, s.total_spikes),
            (Some(2), Some(false), Some(4))
        );
        assert!((s.duration_s.unwrap() - 0.08).abs() < 1e-15);
    }

    #[test]
    fn invariants_are_enforced() {
        let counts = || ndarray::array![[0, 1], [1, 0]];
        let p = Provenance::default;
        let dup = vec!["a".to_string(), "a".to_string()];
        assert!(Recording::new(dup, binned(counts()), vec![], p()).is_err());
        assert!(Recording::new(default_neuron_ids(3), binned(counts()), vec![], p()).is_err());
        let short = Covariate {
            name: "x".into(),
            values: CovariateValues::Float(vec![1.0]),
        };
        assert!(Recording::new(default_neuron_ids(2), binned(counts()), vec![short], p()).is_err());
        let clash = Covariate {
            name: "1".into(),
            values: CovariateValues::Int(vec![1, 2]),
        };
        assert!(Recording::new(default_neuron_ids(2), binned(counts()), vec![clash], p()).is_err());
        let bad_width = Activity::Binned(BinnedActivity {
            counts: counts(),
            bin_width_s: Some(0.0),
        });
        assert!(Recording::new(default_neuron_ids(2), bad_width, vec![], p()).is_err());
        let unsorted = Activity::SpikeTimes(SpikeTrains {
            times_s: vec![vec![0.2, 0.1]],
            t_start_s: 0.0,
            t_stop_s: 1.0,
        });
        assert!(Recording::new(default_neuron_ids(1), unsorted, vec![], p()).is_err());
        let outside = Activity::SpikeTimes(SpikeTrains {
            times_s: vec![vec![1.5]],
            t_start_s: 0.0,
            t_stop_s: 1.0,
        });
        assert!(Recording::new(default_neuron_ids(1), outside, vec![], p()).is_err());
    }

    #[test]
    fn binning_counts_spikes_per_bin_including_the_last_edge() {
        let st = SpikeTrains {
            times_s: vec![vec![0.0, 0.009, 0.010, 0.029, 0.030], vec![]],
            t_start_s: 0.0,
            t_stop_s: 0.030,
        };
        let b = st.bin(0.010).unwrap();
        assert_eq!(b.counts.dim(), (2, 3));
        assert_eq!(b.counts.row(0).to_vec(), vec![2, 1, 2]);
        assert_eq!(b.counts.row(1).to_vec(), vec![0, 0, 0]);
        assert!(st.bin(0.0).is_err());
        assert!(st.bin(1e-13).is_err());
    }

    #[test]
    fn binning_from_a_given_start_keeps_the_grid_and_refuses_earlier_spikes() {
        // Spikes from 0.025 s; bins of 10 ms from 0, not from the first spike.
        let st = SpikeTrains {
            times_s: vec![vec![0.025, 0.031, 0.049]],
            t_start_s: 0.025,
            t_stop_s: 0.049,
        };
        let b = st.bin_from(0.0, 0.010).unwrap();
        assert_eq!(b.counts.row(0).to_vec(), vec![0, 0, 1, 1, 1]);
        assert_eq!(st.bin_from(0.025, 0.010).unwrap(), st.bin(0.010).unwrap());
        let e = st.bin_from(0.03, 0.010).unwrap_err().to_string();
        assert!(
            e.contains("a spike at 0.025 s precedes the start of the bins"),
            "{e}"
        );
        assert!(st.bin_from(f64::NAN, 0.010).is_err());
    }
}
