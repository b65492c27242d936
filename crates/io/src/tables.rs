//! CSV tables: importing spike-time tables and exporting recordings as CSV.
//!
//! Parsing goes through the `csv` crate (RFC 4180 quoting, a UTF-8 byte-order mark, rows with
//! the wrong number of fields reported by line). Only two columns of a spike table are read, so
//! no type inference is needed: the unit column is kept as text and the time column must parse
//! as a number on every row. The recording format itself goes through arrow-rs (see
//! docs/ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;

use crate::error::{IoError, Result};
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

/// A CSV table (a `.tsv` file with tabs as separators) opened for reading, with its column
/// names; a file without a header line is refused.
fn open_table(
    path: &Path,
) -> Result<(csv::Reader<std::io::BufReader<std::fs::File>>, Vec<String>)> {
    let separator = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        b'\t'
    } else {
        b','
    };
    let file = std::fs::File::open(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::new(file));
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| IoError::invalid(path, unreadable(&e)))?
        .iter()
        .map(str::to_string)
        .collect();
    if names.iter().all(String::is_empty) {
        return Err(IoError::invalid(path, "the table has no header line"));
    }
    Ok((reader, names))
}

/// Read a CSV of spike times (one spike per row: a unit id and a time) into a spike-time
/// recording, or into binned counts when `options.bin_ms` is set. A `.tsv` file is read with
/// tabs as separators.
pub fn import_spike_csv(path: &Path, options: &ImportOptions) -> Result<Recording> {
    let invalid = |p: String| IoError::invalid(path, p);
    let (mut reader, names) = open_table(path)?;
    let pick = |given: &Option<String>, candidates: &[&str], what: &str| -> Result<usize> {
        let found = match given {
            Some(g) => names.iter().position(|n| n == g).ok_or_else(|| {
                invalid(format!("no column '{g}'; the table has: {}", names.join(", ")))
            }),
            None => candidates
                .iter()
                .find_map(|c| names.iter().position(|n| n == c))
                .ok_or_else(|| {
                    invalid(format!(
                        "no {what} column (looked for {}); the table has: {}; name it with --{what}-col",
                        candidates.join(", "),
                        names.join(", ")
                    ))
                }),
        }?;
        if names.iter().filter(|n| **n == names[found]).count() > 1 {
            return Err(invalid(format!(
                "the header names column '{}' more than once",
                names[found]
            )));
        }
        Ok(found)
    };
    let unit_index = pick(&options.unit_column, UNIT_COLUMNS, "unit")?;
    let time_index = pick(&options.time_column, TIME_COLUMNS, "time")?;
    let (unit_col, time_col) = (names[unit_index].clone(), names[time_index].clone());
    let unit = options.time_unit.unwrap_or(if time_col == "time_ms" {
        TimeUnit::Ms
    } else {
        TimeUnit::S
    });

    let mut per_unit: BTreeMap<UnitKey, Vec<f64>> = BTreeMap::new();
    let mut spikes = 0usize;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(invalid(unreadable(&e))),
        }
        let line = record.position().map_or(0, csv::Position::line);
        let field = |index: usize, name: &str| -> Result<&str> {
            let bytes = record.get(index).unwrap_or_default();
            let text = std::str::from_utf8(bytes)
                .map_err(|_| invalid(format!("line {line}: column '{name}' is not UTF-8 text")))?;
            if text.is_empty() {
                return Err(invalid(format!("line {line}: missing {name}")));
            }
            Ok(text)
        };
        let u = field(unit_index, &unit_col)?;
        let t_text = field(time_index, &time_col)?;
        let t: f64 = t_text.parse().map_err(|_| {
            invalid(format!(
                "column '{time_col}' holds values that are not numbers (line {line}: '{}')",
                shortened(t_text)
            ))
        })?;
        if !t.is_finite() {
            return Err(invalid(format!(
                "line {line}: spike time {t} is not finite"
            )));
        }
        per_unit
            .entry(UnitKey::new(u))
            .or_default()
            .push(t * unit.seconds());
        spikes += 1;
    }
    if spikes == 0 {
        return Err(invalid("the table has no rows (no spikes)".into()));
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
        spikes,
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
        quantity: None,
        units: None,
    };
    Recording::new(ids, activity, vec![], provenance).map_err(|e| e.at(path))
}

/// A `csv` error as the one-line problem of an unreadable table.
fn unreadable(e: &csv::Error) -> String {
    let at =
        |p: Option<&csv::Position>| p.map_or(String::new(), |p| format!("line {}: ", p.line()));
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "not a readable CSV table: {}{len} fields where the header has {expected_len}",
            at(pos.as_ref())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "not a readable CSV table: {}the header is not UTF-8 text",
            at(pos.as_ref())
        ),
        csv::ErrorKind::Io(err) => format!("cannot read: {err}"),
        _ => format!("not a readable CSV table: {e}"),
    }
}

/// At most 40 characters of a field, for an error message.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
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

/// Write `recording` as CSV to `out`: binned counts and traces are one row per time point and
/// one column per neuron (then the covariates); spike times are one row per spike (`neuron`,
/// `time_s`). Numbers are written in their shortest form that reads back to the same value.
pub fn write_csv(recording: &Recording, out: &mut impl std::io::Write) -> Result<()> {
    let failed = |e: csv::Error| IoError::Recording(format!("cannot write CSV: {e}"));
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let ids = recording.neuron_ids();
    let covariates = recording.covariates();
    match recording.activity() {
        Activity::SpikeTimes(s) => {
            writer.write_record(["neuron", "time_s"]).map_err(failed)?;
            for (id, times) in ids.iter().zip(&s.times_s) {
                for t in times {
                    writer
                        .write_record([id.as_str(), &t.to_string()])
                        .map_err(failed)?;
                }
            }
        }
        activity => {
            let header = ids
                .iter()
                .map(String::as_str)
                .chain(covariates.iter().map(|c| c.name.as_str()));
            writer.write_record(header).map_err(failed)?;
            let rows = match activity {
                Activity::Binned(b) => b.counts.ncols(),
                Activity::Traces(t) => t.values.ncols(),
                Activity::SpikeTimes(_) => 0,
            };
            let mut field = String::new();
            for row in 0..rows {
                match activity {
                    Activity::Binned(b) => {
                        for value in b.counts.column(row) {
                            write_field(&mut writer, &mut field, value).map_err(failed)?;
                        }
                    }
                    Activity::Traces(t) => {
                        for value in t.values.column(row) {
                            write_field(&mut writer, &mut field, value).map_err(failed)?;
                        }
                    }
                    Activity::SpikeTimes(_) => {}
                }
                for c in covariates {
                    match &c.values {
                        CovariateValues::Float(v) => write_field(&mut writer, &mut field, v[row]),
                        CovariateValues::Int(v) => write_field(&mut writer, &mut field, v[row]),
                        CovariateValues::Text(v) => writer.write_field(&v[row]),
                    }
                    .map_err(failed)?;
                }
                writer.write_record(None::<&[u8]>).map_err(failed)?;
            }
        }
    }
    writer
        .flush()
        .map_err(|e| IoError::Recording(format!("cannot write CSV: {e}")))
}

/// Write one number as a field, reusing `buffer`.
fn write_field<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    buffer: &mut String,
    value: impl Display,
) -> csv::Result<()> {
    use std::fmt::Write as _;
    buffer.clear();
    // Writing to a String cannot fail.
    let _ = write!(buffer, "{value}");
    writer.write_field(buffer.as_str())
}

/// Read a table of covariates by its extension: CSV / TSV ([`read_covariate_csv`]) or Parquet
/// ([`read_covariate_parquet`]).
pub fn read_covariate_table(path: &Path) -> Result<Vec<crate::recording::Covariate>> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("parquet" | "pq") => read_covariate_parquet(path),
        Some("csv" | "tsv" | "txt") => read_covariate_csv(path),
        _ => Err(IoError::invalid(
            path,
            "unknown covariate table extension: use .csv, .tsv or .parquet",
        )),
    }
}

/// Read a Parquet table of covariates (pandas' `df.to_parquet`, polars' `write_parquet`), one
/// row per time point and one column per covariate; a `time_s`, `time` or `t` column is
/// skipped. Integer columns (any width) become integers, float columns numbers (nulls missing),
/// string columns (any encoding) text.
pub fn read_covariate_parquet(path: &Path) -> Result<Vec<crate::recording::Covariate>> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    use arrow_schema::DataType;
    let file = std::fs::File::open(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = crate::guard::guarded("Parquet file", || {
        let (schema, batches) = crate::columnar::parquet_batches(file, None)?;
        let mut covariates = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            let name = field.name().clone();
            if matches!(name.as_str(), "time_s" | "time" | "t") {
                continue;
            }
            let columns: Vec<arrow_array::ArrayRef> =
                batches.iter().map(|b| b.column(index).clone()).collect();
            let floats = |c: &arrow_array::ArrayRef| -> Option<Vec<f64>> {
                match c.data_type() {
                    DataType::Float64 => Some(
                        c.as_primitive::<Float64Type>()
                            .iter()
                            .map(|v| v.unwrap_or(f64::NAN))
                            .collect(),
                    ),
                    DataType::Float32 => Some(
                        c.as_primitive::<Float32Type>()
                            .iter()
                            .map(|v| v.map_or(f64::NAN, f64::from))
                            .collect(),
                    ),
                    _ => None,
                }
            };
            let values = if columns.iter().all(|c| floats(c).is_some()) {
                CovariateValues::Float(columns.iter().filter_map(floats).flatten().collect())
            } else if columns.iter().all(|c| c.null_count() == 0)
                && let Some(ints) = columns
                    .iter()
                    .map(crate::arrow_values::integers)
                    .collect::<Option<Vec<_>>>()
            {
                CovariateValues::Int(ints.into_iter().flatten().collect())
            } else if let Some(texts) = columns
                .iter()
                .map(crate::arrow_values::strings)
                .collect::<Option<Vec<_>>>()
            {
                CovariateValues::Text(
                    texts
                        .into_iter()
                        .flatten()
                        .map(Option::unwrap_or_default)
                        .collect(),
                )
            } else {
                return Err(format!(
                    "column {name} is {}: a covariate is a number, a whole number or text \
                     (an integer column with missing values must be stored as float)",
                    field.data_type()
                ));
            };
            covariates.push(crate::recording::Covariate { name, values });
        }
        Ok(covariates)
    });
    let covariates = parsed.map_err(|p| IoError::invalid(path, p))?;
    if covariates.is_empty() {
        return Err(IoError::invalid(
            path,
            "holds no covariate column (only a time column, or no columns)",
        ));
    }
    if covariates.first().is_some_and(|c| c.values.is_empty()) {
        return Err(IoError::invalid(path, "the table has no rows"));
    }
    Ok(covariates)
}

/// Read a CSV (or `.tsv`) of covariates, one row per time point of a recording and one column
/// per covariate (a column named `time_s`, `time` or `t` is taken as the time base and
/// skipped). Each column becomes integers when every value is one, numbers when every value is
/// one (empty cells and `NaN` as missing), text otherwise.
pub fn read_covariate_csv(path: &Path) -> Result<Vec<crate::recording::Covariate>> {
    let invalid = |p: String| IoError::invalid(path, p);
    let (mut reader, names) = open_table(path)?;
    if let Some(empty) = names.iter().position(String::is_empty) {
        return Err(invalid(format!("column {} has no name", empty + 1)));
    }
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for record in reader.records() {
        let record = record.map_err(|e| invalid(unreadable(&e)))?;
        for (column, field) in columns.iter_mut().zip(record.iter()) {
            column.push(field.to_string());
        }
    }
    if columns.first().is_none_or(Vec::is_empty) {
        return Err(invalid("the table has no rows".into()));
    }
    let mut covariates = Vec::new();
    for (name, texts) in names.into_iter().zip(columns) {
        if matches!(name.as_str(), "time_s" | "time" | "t") {
            continue;
        }
        let integers: Option<Vec<i64>> = texts.iter().map(|t| t.parse().ok()).collect();
        let numbers: Option<Vec<f64>> = texts
            .iter()
            .map(|t| {
                if t.is_empty() {
                    Some(f64::NAN)
                } else {
                    t.parse().ok()
                }
            })
            .collect();
        let values = match (integers, numbers) {
            (Some(i), _) => CovariateValues::Int(i),
            (None, Some(f)) => CovariateValues::Float(f),
            (None, None) => CovariateValues::Text(texts),
        };
        covariates.push(crate::recording::Covariate { name, values });
    }
    if covariates.is_empty() {
        return Err(invalid(
            "holds only a time column: no covariate to attach".into(),
        ));
    }
    Ok(covariates)
}
