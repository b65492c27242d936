//! Kilosort / phy output folders: `spike_times.npy` (sample index of every spike),
//! `spike_clusters.npy` (its cluster; `spike_templates.npy` when the sort was never curated),
//! `params.py` (`sample_rate`) and the cluster labels, `cluster_group.tsv` (phy's manual
//! curation) or `cluster_KSLabel.tsv` (Kilosort's own), imported as spike times per cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::array::NumericArray;
use crate::error::{IoError, Result};
use crate::import::{ImportOptions, read_file};
use crate::npy;
use crate::recording::{Activity, Provenance, Recording, SpikeTrains};

/// The file that marks a Kilosort / phy output folder.
pub(crate) const SPIKE_TIMES: &str = "spike_times.npy";

/// The per-spike arrays of a Kilosort / phy folder: imported alone, each would be read as
/// activity, which it is not.
pub(crate) const PER_SPIKE_ARRAYS: [&str; 5] = [
    SPIKE_TIMES,
    "spike_clusters.npy",
    "spike_templates.npy",
    "amplitudes.npy",
    "spike_positions.npy",
];

/// Whether `dir` is a Kilosort / phy output folder.
pub(crate) fn is_kilosort_folder(dir: &Path) -> bool {
    dir.join(SPIKE_TIMES).is_file()
}

/// The values of a per-spike NPY vector (shape `(n,)` or `(n, 1)`) as whole numbers.
fn spike_vector(path: &Path) -> Result<Vec<f64>> {
    let bytes = read_file(path)?;
    let array: NumericArray =
        npy::parse(&bytes).map_err(|p| IoError::invalid(path, p.to_string()))?;
    let n = match array.shape.as_slice() {
        [n] | [n, 1] => *n,
        _ => {
            return Err(IoError::invalid(
                path,
                format!(
                    "expected one value per spike (shape (n,) or (n, 1)), got shape {}",
                    array.shape_text()
                ),
            ));
        }
    };
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let v = array.data.get_f64(i).unwrap_or(f64::NAN);
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
            return Err(IoError::invalid(
                path,
                format!("entry {i} is {v}, not a non-negative whole number"),
            ));
        }
        values.push(v);
    }
    Ok(values)
}

/// `sample_rate` from a phy `params.py` (Python assignments, one per line).
fn sample_rate(path: &Path) -> Result<f64> {
    let bytes = read_file(path)?;
    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "sample_rate" {
            continue;
        }
        let value = value.split('#').next().unwrap_or_default().trim();
        return match value.parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
            _ => Err(IoError::invalid(
                path,
                format!("sample_rate = {value} is not a positive number"),
            )),
        };
    }
    Err(IoError::invalid(
        path,
        "has no sample_rate (needed to turn spike sample indices into seconds)",
    ))
}

/// The label of each cluster from a phy / Kilosort TSV (`cluster_id` and `label_column`).
fn cluster_labels(path: &Path, label_column: &str) -> Result<BTreeMap<u64, String>> {
    let bytes = read_file(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .flexible(true)
        .from_reader(bytes.as_slice());
    let invalid = |p: String| IoError::invalid(path, p);
    let headers = reader
        .headers()
        .map_err(|e| invalid(format!("unreadable header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let id_index = column("cluster_id")
        .or_else(|| column("id"))
        .ok_or_else(|| invalid("no cluster_id column".into()))?;
    let label_index =
        column(label_column).ok_or_else(|| invalid(format!("no {label_column} column")))?;
    let mut labels = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| invalid(format!("unreadable row: {e}")))?;
        let line = record.position().map_or(0, csv::Position::line);
        let id_text = record.get(id_index).unwrap_or_default().trim();
        let id: u64 = id_text.parse().map_err(|_| {
            invalid(format!(
                "line {line}: cluster id '{id_text}' is not a whole number"
            ))
        })?;
        let label = record.get(label_index).unwrap_or_default().trim();
        if !label.is_empty() {
            labels.insert(id, label.to_string());
        }
    }
    Ok(labels)
}

/// Import a Kilosort / phy output folder as spike times per cluster (seconds from the first
/// sample), keeping the clusters labelled `good` unless `options.all_clusters`.
pub(crate) fn import_kilosort(dir: &Path, options: &ImportOptions) -> Result<Recording> {
    let times_path = dir.join(SPIKE_TIMES);
    let samples = spike_vector(&times_path)?;
    if samples.is_empty() {
        return Err(IoError::invalid(&times_path, "holds no spikes"));
    }
    let mut steps = Vec::new();
    let (clusters_path, uncurated) = if dir.join("spike_clusters.npy").is_file() {
        (dir.join("spike_clusters.npy"), false)
    } else if dir.join("spike_templates.npy").is_file() {
        (dir.join("spike_templates.npy"), true)
    } else {
        return Err(IoError::invalid(
            dir,
            "a Kilosort / phy folder needs spike_clusters.npy (or spike_templates.npy) beside \
             spike_times.npy",
        ));
    };
    let clusters = spike_vector(&clusters_path)?;
    if clusters.len() != samples.len() {
        return Err(IoError::invalid(
            &clusters_path,
            format!(
                "holds {} entries, but {SPIKE_TIMES} holds {} spikes: both must come from the \
                 same sort",
                clusters.len(),
                samples.len()
            ),
        ));
    }
    if uncurated {
        steps.push("clusters from spike_templates.npy (no spike_clusters.npy)".to_string());
    }
    let params = dir.join("params.py");
    if !params.is_file() {
        return Err(IoError::invalid(
            dir,
            "no params.py in the Kilosort / phy folder (its sample_rate turns spike sample \
             indices into seconds)",
        ));
    }
    let rate = sample_rate(&params)?;

    let present: BTreeSet<u64> = clusters.iter().map(|&c| c as u64).collect();
    let labelled = [
        ("cluster_group.tsv", "group"),
        ("cluster_KSLabel.tsv", "KSLabel"),
    ]
    .into_iter()
    .find(|(name, _)| dir.join(name).is_file());
    let kept: BTreeSet<u64> = match (options.all_clusters, labelled) {
        (true, _) => {
            steps.push(format!("kept all {} clusters", present.len()));
            present.clone()
        }
        (false, Some((name, column))) => {
            let labels = cluster_labels(&dir.join(name), column)?;
            let good: BTreeSet<u64> = present
                .iter()
                .copied()
                .filter(|c| labels.get(c).is_some_and(|l| l == "good"))
                .collect();
            if good.is_empty() {
                return Err(IoError::invalid(
                    &dir.join(name),
                    format!(
                        "labels none of the {} clusters 'good' (pass --all-clusters to keep \
                         every cluster)",
                        present.len()
                    ),
                ));
            }
            steps.push(format!(
                "kept the {} of {} clusters labelled good in {name}",
                good.len(),
                present.len()
            ));
            good
        }
        (false, None) => {
            tracing::warn!(
                folder = %dir.display(),
                "no cluster_group.tsv or cluster_KSLabel.tsv: every cluster is kept, noise included"
            );
            steps.push(format!(
                "kept all {} clusters: the folder has no cluster labels",
                present.len()
            ));
            present.clone()
        }
    };
    let index: BTreeMap<u64, usize> = kept.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut times_s = vec![Vec::new(); kept.len()];
    let mut last_sample = 0.0f64;
    for (&sample, &cluster) in samples.iter().zip(&clusters) {
        last_sample = last_sample.max(sample);
        if let Some(&i) = index.get(&(cluster as u64)) {
            times_s[i].push(sample / rate);
        }
    }
    for t in &mut times_s {
        t.sort_by(f64::total_cmp);
    }
    let spikes: usize = times_s.iter().map(Vec::len).sum();
    steps.push(format!(
        "{spikes} spikes; times are sample indices / {rate} Hz (params.py)"
    ));
    let trains = SpikeTrains {
        times_s,
        t_start_s: 0.0,
        // The recording lasts at least to the sample after the last spike of any cluster.
        t_stop_s: (last_sample + 1.0) / rate,
    };
    let activity = match options.bin_ms {
        Some(ms) => {
            steps.push(format!("binned at {ms} ms from t = 0 s (the first sample)"));
            Activity::Binned(trains.bin(ms / 1000.0).map_err(|e| e.at(dir))?)
        }
        None => Activity::SpikeTimes(trains),
    };
    let ids = kept.iter().map(|c| c.to_string()).collect();
    let provenance = Provenance {
        source_file: Some(dir.display().to_string()),
        source_format: Some("kilosort".into()),
        variable: Some(
            clusters_path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        ),
        layout: None,
        layout_assumed: false,
        steps,
        written_by: Some(concat!("neuroforge-io ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: None,
        quantity: None,
        units: None,
    };
    Recording::new(ids, activity, vec![], provenance).map_err(|e| e.at(dir))
}
