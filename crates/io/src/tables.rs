//! CSV tables through polars (feature `tables`): importing spike-time tables and exporting
//! recordings as CSV.
//!
//! polars is used here, and only here, because CSV is where data-frame machinery earns its
//! weight: type inference, quoting, ragged-row detection and fast multi-threaded parsing of
//! large tables. The recording format itself goes through arrow-rs (see docs/ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use crate::error::{IoError, Result};
use crate::guard::{guarded, one_line};
use crate::import::{ImportOptions, TimeUnit};
use crate::recording::{Activity, CovariateValues, Provenance, Recording, SpikeTrains};

const UNIT_COLUMNS: &[&str] = &[
    "unit",
    "neuron",
    "cluster",
    "cell",
    "unit_id",
    "neuron_id",
    "id",
];
const TIME_COLUMNS: &[&str] = &["time_s", "time", "t", "spike_time", "times", "time_ms"];

/// Read a CSV of spike times (one spike per row: a unit id and a time) into a spike-time
/// recording, or into binned counts when `options.bin_ms` is set.
pub fn import_spike_csv(path: &Path, options: &ImportOptions) -> Result<Recording> {
    let separator = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        b'\t'
    } else {
        b','
    };
    let invalid = |p: String| IoError::invalid(path, p);
    let df = guarded("CSV table", || {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .map_parse_options(|p| p.with_separator(separator))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(|e| format!("not a readable CSV table: {}", one_line(&e.to_string())))
    })
    .map_err(invalid)?;
    if df.height() == 0 {
        return Err(invalid("the table has no rows (no spikes)".into()));
    }
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let pick = |given: &Option<String>, candidates: &[&str], what: &str| -> Result<String> {
        if let Some(g) = given {
            return if names.contains(g) {
                Ok(g.clone())
            } else {
                Err(invalid(format!(
                    "no column '{g}'; the table has: {}",
                    names.join(", ")
                )))
            };
        }
        candidates.iter().find(|c| names.iter().any(|n| n == *c)).map(|c| c.to_string()).ok_or_else(
            || {
                invalid(format!(
                    "no {what} column (looked for {}); the table has: {}; name it with --{what}-col",
                    candidates.join(", "),
                    names.join(", ")
                ))
            },
        )
    };
    let unit_col = pick(&options.unit_column, UNIT_COLUMNS, "unit")?;
    let time_col = pick(&options.time_column, TIME_COLUMNS, "time")?;
    let unit = options.time_unit.unwrap_or(if time_col == "time_ms" {
        TimeUnit::Ms
    } else {
        TimeUnit::S
    });

    let col_err = |name: &str, e: PolarsError| {
        invalid(format!("column '{name}': {}", one_line(&e.to_string())))
    };
    let units = df
        .column(&unit_col)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| col_err(&unit_col, e))?;
    let units = units.str().map_err(|e| col_err(&unit_col, e))?;
    let time_column = df.column(&time_col).map_err(|e| col_err(&time_col, e))?;
    if !time_column.dtype().is_primitive_numeric() {
        return Err(invalid(format!(
            "column '{time_col}' holds {} values, not numbers",
            time_column.dtype()
        )));
    }
    let times = time_column
        .cast(&DataType::Float64)
        .map_err(|e| col_err(&time_col, e))?;
    let times = times.f64().map_err(|e| col_err(&time_col, e))?;

    let mut per_unit: BTreeMap<UnitKey, Vec<f64>> = BTreeMap::new();
    for (row, (u, t)) in units.iter().zip(times.iter()).enumerate() {
        let line = row + 2; // 1-based, after the header line
        let u = u.ok_or_else(|| invalid(format!("line {line}: missing {unit_col}")))?;
        let t = t.ok_or_else(|| invalid(format!("line {line}: missing {time_col}")))?;
        if !t.is_finite() {
            return Err(invalid(format!(
                "line {line}: spike time {t} is not finite"
            )));
        }
        per_unit
            .entry(UnitKey::new(u))
            .or_default()
            .push(t * unit.seconds());
    }
    let mut ids = Vec::with_capacity(per_unit.len());
    let mut times_s = Vec::with_capacity(per_unit.len());
    for (key, mut t) in per_unit {
        t.sort_by(f64::total_cmp);
        ids.push(key.text);
        times_s.push(t);
    }
    let t_start_s = times_s
        .iter()
        .filter_map(|t| t.first())
        .copied()
        .fold(f64::INFINITY, f64::min);
    let t_stop_s = times_s
        .iter()
        .filter_map(|t| t.last())
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let trains = SpikeTrains {
        times_s,
        t_start_s,
        t_stop_s,
    };
    let mut steps = vec![format!(
        "{} spikes of {} units from columns '{unit_col}' and '{time_col}' ({})",
        df.height(),
        ids.len(),
        match unit {
            TimeUnit::S => "seconds",
            TimeUnit::Ms => "milliseconds",
        }
    )];
    let activity = match options.bin_ms {
        Some(ms) => {
            steps.push(format!("binned at {ms} ms from t = {t_start_s} s"));
            Activity::Binned(trains.bin(ms / 1000.0)?)
        }
        None => Activity::SpikeTimes(trains),
    };
    let provenance = Provenance {
        source_file: Some(path.display().to_string()),
        source_format: Some("csv".into()),
        variable: Some(format!("{unit_col},{time_col}")),
        layout: None,
        layout_assumed: false,
        steps,
        written_by: Some(concat!("neuroforge-io ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: None,
    };
    Recording::new(ids, activity, vec![], provenance).map_err(|e| e.at(path))
}

/// Unit ids sort numerically when they are numbers, as text otherwise.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct UnitKey {
    number: Option<i64>,
    text: String,
}

impl UnitKey {
    fn new(text: &str) -> Self {
        let text = text.trim().to_string();
        Self {
            number: text.parse().ok(),
            text,
        }
    }
}

/// The recording as a data frame: binned counts and traces are one row per time point and one
/// column per neuron (then the covariates); spike times are one row per spike (`neuron`,
/// `time_s`).
pub fn to_data_frame(recording: &Recording) -> PolarsResult<DataFrame> {
    let ids = recording.neuron_ids();
    let mut columns: Vec<Column> = Vec::new();
    match recording.activity() {
        Activity::Binned(b) => {
            for (id, row) in ids.iter().zip(b.counts.rows()) {
                columns.push(Column::new(id.as_str().into(), row.to_vec()));
            }
        }
        Activity::Traces(t) => {
            for (id, row) in ids.iter().zip(t.values.rows()) {
                columns.push(Column::new(id.as_str().into(), row.to_vec()));
            }
        }
        Activity::SpikeTimes(s) => {
            let neuron: Vec<&str> = s
                .times_s
                .iter()
                .zip(ids)
                .flat_map(|(t, id)| t.iter().map(move |_| id.as_str()))
                .collect();
            let time: Vec<f64> = s.times_s.iter().flatten().copied().collect();
            columns.push(Column::new("neuron".into(), neuron));
            columns.push(Column::new("time_s".into(), time));
        }
    }
    for c in recording.covariates() {
        let name = c.name.as_str().into();
        columns.push(match &c.values {
            CovariateValues::Float(v) => Column::new(name, v),
            CovariateValues::Int(v) => Column::new(name, v),
            CovariateValues::Text(v) => Column::new(name, v),
        });
    }
    DataFrame::new_infer_height(columns)
}

/// Write `recording` as CSV (see [`to_data_frame`] for the layout) to `out`.
pub fn write_csv(recording: &Recording, out: &mut impl std::io::Write) -> Result<()> {
    let mut df = to_data_frame(recording)
        .map_err(|e| IoError::Recording(format!("cannot build the table: {e}")))?;
    CsvWriter::new(out)
        .include_header(true)
        .finish(&mut df)
        .map_err(|e| IoError::Recording(format!("cannot write CSV: {e}")))
}
