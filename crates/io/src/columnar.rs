//! The on-disk form of a [`Recording`]: a Parquet file or an Arrow IPC file (Feather v2) with
//! the same Arrow schema. The layout is described in docs/FORMAT.md.
//!
//! Binned and trace recordings are wide tables: one row per time point, a `time_s` column (the
//! start of each bin, or each frame's time, when the time base is known), one column per neuron
//! (named by its id), then one column per covariate. Spike-time recordings are long tables with
//! the columns `neuron` (integers when every id is one) and `time_s`. The schema's key-value
//! metadata holds, under the key `neuroforge`, a JSON header with the kind, neuron order, time
//! base and provenance, and the same header under `PANDAS_ATTRS`, so that pandas, polars and
//! pyarrow read the data (and the metadata: `pd.read_parquet(f).attrs`) without neuroforge.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt8Array,
    UInt16Array, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::error::{IoError, Result};
use crate::guard::guarded;
use crate::recording::{
    Activity, ActivityKind, BinnedActivity, Covariate, CovariateValues, Provenance, Recording,
    SpikeTrains, TraceActivity,
};

/// Key of the JSON header in the schema (and Parquet file) key-value metadata.
pub const METADATA_KEY: &str = "neuroforge";
/// Version of the layout described in docs/FORMAT.md (2: the `time_s` column of wide tables,
/// integer `neuron` columns, `PANDAS_ATTRS`; files of version 1 still read).
pub const SCHEMA_VERSION: u32 = 2;
/// The key pandas reads `DataFrame.attrs` from (pyarrow's pandas metadata convention).
pub const PANDAS_ATTRS_KEY: &str = "PANDAS_ATTRS";
/// The name of the time column of a wide table.
pub const TIME_COLUMN: &str = "time_s";
/// Value of the header's `format` field.
const FORMAT_NAME: &str = "neuroforge-recording";
/// Rows per record batch (and per Parquet row group) when writing.
const ROWS_PER_BATCH: usize = 65_536;
/// Field metadata key naming a column's role (`neuron` or `covariate`).
const ROLE_KEY: &str = "neuroforge.role";

/// Container format of a recording file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Arrow IPC file format, also known as Feather v2 (`.arrow`, `.ipc`, `.feather`).
    ArrowIpc,
}

impl Container {
    /// The container for `path`, from its extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet" | "pq") => Ok(Self::Parquet),
            Some("arrow" | "ipc" | "feather") => Ok(Self::ArrowIpc),
            _ => Err(IoError::invalid(
                path,
                "unknown recording extension: use .parquet (or .pq) for Parquet, .arrow (or \
                 .ipc, .feather) for Arrow IPC",
            )),
        }
    }
}

/// The JSON header stored under [`METADATA_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileHeader {
    /// Always `neuroforge-recording`.
    pub format: String,
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Kind of activity.
    pub kind: ActivityKind,
    /// What the values measure (`spike counts`, `fluorescence`, `dF/F`, ...; written from
    /// [`Recording::quantity`], informational on reading: the provenance keeps the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// Their units (`spikes per bin`, `a.u.`, `dF/F`, `s`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// Neuron ids in row order of the activity (column names of the neuron columns).
    pub neurons: Vec<String>,
    /// Covariate column names, in order.
    #[serde(default)]
    pub covariates: Vec<String>,
    /// The time column of a binned or trace table (`time_s`: bin starts or frame times in
    /// seconds), absent when the time base is unknown or a neuron or covariate has that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
    /// Number of rows of a binned or trace table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_points: Option<usize>,
    /// Bin width in seconds (binned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin_width_s: Option<f64>,
    /// Frame rate in Hz (traces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate_hz: Option<f64>,
    /// Start of the observation interval in seconds (spike times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_start_s: Option<f64>,
    /// End of the observation interval in seconds (spike times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_stop_s: Option<f64>,
    /// Provenance of the recording.
    #[serde(default)]
    pub provenance: Provenance,
}

/// Write `recording` to `path` (Parquet or Arrow IPC by extension), atomically.
pub fn write_recording(path: &Path, recording: &Recording) -> Result<()> {
    let container = Container::from_path(path)?;
    let (header, schema, batches) = to_batches(recording)?;
    let header_json = serde_json::to_string(&header)
        .map_err(|e| IoError::Recording(format!("cannot encode the file header: {e}")))?;
    let write_err = |e: String| IoError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    write_atomically(path, |file| {
        let mut out = BufWriter::new(file);
        match container {
            Container::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_max_row_group_row_count(Some(ROWS_PER_BATCH))
                    .set_key_value_metadata(Some(vec![
                        KeyValue::new(METADATA_KEY.to_string(), header_json.clone()),
                        KeyValue::new(PANDAS_ATTRS_KEY.to_string(), header_json.clone()),
                    ]))
                    .build();
                let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props))
                    .map_err(|e| write_err(e.to_string()))?;
                for b in &batches {
                    w.write(b).map_err(|e| write_err(e.to_string()))?;
                }
                w.close().map_err(|e| write_err(e.to_string()))?;
            }
            Container::ArrowIpc => {
                let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema)
                    .map_err(|e| write_err(e.to_string()))?;
                for b in &batches {
                    w.write(b).map_err(|e| write_err(e.to_string()))?;
                }
                w.finish().map_err(|e| write_err(e.to_string()))?;
            }
        }
        out.flush().map_err(|e| IoError::Write {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// The header, Arrow schema and record batches of `recording`.
pub fn to_batches(recording: &Recording) -> Result<(FileHeader, SchemaRef, Vec<RecordBatch>)> {
    let activity = recording.activity();
    let (quantity, units) = recording.quantity();
    let mut header = FileHeader {
        format: FORMAT_NAME.into(),
        schema_version: SCHEMA_VERSION,
        kind: activity.kind(),
        quantity: Some(quantity),
        units: Some(units),
        neurons: recording.neuron_ids().to_vec(),
        covariates: recording
            .covariates()
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        time_column: None,
        time_points: activity.time_points(),
        bin_width_s: None,
        frame_rate_hz: None,
        t_start_s: None,
        t_stop_s: None,
        provenance: recording.provenance().clone(),
    };
    let neuron_field =
        |id: &str, ty: DataType| Field::new(id, ty, false).with_metadata([(ROLE_KEY, "neuron")]);
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let step_s = match activity {
        Activity::Binned(b) => b.bin_width_s,
        Activity::Traces(t) => t.frame_rate_hz.map(|hz| 1.0 / hz),
        Activity::SpikeTimes(_) => None,
    };
    let name_taken = recording.neuron_ids().iter().any(|id| id == TIME_COLUMN)
        || recording.covariates().iter().any(|c| c.name == TIME_COLUMN);
    if let (Some(step_s), Some(points), false) = (step_s, activity.time_points(), name_taken) {
        // Frame times as i / rate (not i * (1 / rate)), so that whole seconds stay whole.
        let times: Float64Array = match activity {
            Activity::Traces(TraceActivity {
                frame_rate_hz: Some(hz),
                ..
            }) => (0..points).map(|i| i as f64 / hz).collect(),
            _ => (0..points).map(|i| i as f64 * step_s).collect(),
        };
        fields.push(
            Field::new(TIME_COLUMN, DataType::Float64, false).with_metadata([(ROLE_KEY, "time")]),
        );
        columns.push(Arc::new(times));
        header.time_column = Some(TIME_COLUMN.to_string());
    }
    match activity {
        Activity::Binned(b) => {
            header.bin_width_s = b.bin_width_s;
            let max = b.counts.iter().copied().max().unwrap_or(0);
            for (id, row) in recording.neuron_ids().iter().zip(b.counts.rows()) {
                let (ty, col): (DataType, ArrayRef) = if max <= u32::from(u8::MAX) {
                    (
                        DataType::UInt8,
                        Arc::new(UInt8Array::from_iter_values(row.iter().map(|&c| c as u8))),
                    )
                } else if max <= u32::from(u16::MAX) {
                    (
                        DataType::UInt16,
                        Arc::new(UInt16Array::from_iter_values(row.iter().map(|&c| c as u16))),
                    )
                } else {
                    (
                        DataType::UInt32,
                        Arc::new(UInt32Array::from_iter_values(row.iter().copied())),
                    )
                };
                fields.push(neuron_field(id, ty));
                columns.push(col);
            }
        }
        Activity::Traces(t) => {
            header.frame_rate_hz = t.frame_rate_hz;
            for (id, row) in recording.neuron_ids().iter().zip(t.values.rows()) {
                fields.push(neuron_field(id, DataType::Float32));
                columns.push(Arc::new(Float32Array::from_iter_values(
                    row.iter().copied(),
                )));
            }
        }
        Activity::SpikeTimes(s) => {
            header.t_start_s = Some(s.t_start_s);
            header.t_stop_s = Some(s.t_stop_s);
            let ids = recording.neuron_ids();
            let time = Float64Array::from_iter_values(s.times_s.iter().flatten().copied());
            // Integer ids (cluster numbers, ROI indices) as integers, when every id is one
            // written the way it reads back.
            let integer_ids: Option<Vec<i64>> = ids
                .iter()
                .map(|id| id.parse::<i64>().ok().filter(|v| v.to_string() == *id))
                .collect();
            let (ty, neuron): (DataType, ArrayRef) = match integer_ids {
                Some(numbers) => (
                    DataType::Int64,
                    Arc::new(
                        s.times_s
                            .iter()
                            .zip(numbers)
                            .flat_map(|(times, n)| times.iter().map(move |_| n))
                            .collect::<Int64Array>(),
                    ),
                ),
                None => (
                    DataType::Utf8,
                    Arc::new(
                        s.times_s
                            .iter()
                            .zip(ids)
                            .flat_map(|(times, id)| times.iter().map(move |_| Some(id.as_str())))
                            .collect::<StringArray>(),
                    ),
                ),
            };
            fields.push(Field::new("neuron", ty, false));
            fields.push(Field::new("time_s", DataType::Float64, false));
            columns.push(neuron);
            columns.push(Arc::new(time));
        }
    }
    for c in recording.covariates() {
        let (ty, col): (DataType, ArrayRef) = match &c.values {
            CovariateValues::Float(v) => {
                (DataType::Float64, Arc::new(Float64Array::from(v.clone())))
            }
            CovariateValues::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            CovariateValues::Text(v) => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(v.iter())),
            ),
        };
        fields.push(Field::new(&c.name, ty, false).with_metadata([(ROLE_KEY, "covariate")]));
        columns.push(col);
    }
    let header_json = serde_json::to_string(&header)
        .map_err(|e| IoError::Recording(format!("cannot encode the file header: {e}")))?;
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        [
            (METADATA_KEY.to_string(), header_json.clone()),
            (PANDAS_ATTRS_KEY.to_string(), header_json),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<String, String>>(),
    ));
    let rows = columns.first().map_or(0, |c| c.len());
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = ROWS_PER_BATCH.min(rows - start);
        let sliced: Vec<ArrayRef> = columns.iter().map(|c| c.slice(start, len)).collect();
        let batch = RecordBatch::try_new(schema.clone(), sliced)
            .map_err(|e| IoError::Recording(format!("cannot build a record batch: {e}")))?;
        batches.push(batch);
        start += len;
    }
    Ok((header, schema, batches))
}

/// Read a recording from `path` (Parquet or Arrow IPC by extension).
pub fn read_recording(path: &Path) -> Result<Recording> {
    let container = Container::from_path(path)?;
    let file = File::open(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let result = match container {
        Container::Parquet => read_parquet(file),
        Container::ArrowIpc => read_ipc(file),
    };
    result.map_err(|problem| IoError::invalid(path, problem))
}

/// Read a recording from Parquet bytes held in memory.
pub fn parse_parquet(bytes: Vec<u8>) -> Result<Recording, String> {
    read_parquet(bytes::Bytes::from(bytes))
}

/// Read a recording from Arrow IPC file bytes held in memory.
pub fn parse_ipc(bytes: &[u8]) -> Result<Recording, String> {
    read_ipc(std::io::Cursor::new(bytes))
}

/// The Arrow schema and every record batch of a Parquet `source` (batches of `batch_size` rows,
/// else the reader's default), with the errors a damaged file gets. Not guarded: callers run it
/// inside [`guarded`] with their own decoding.
pub(crate) fn parquet_batches<R: parquet::file::reader::ChunkReader + 'static>(
    source: R,
    batch_size: Option<usize>,
) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(source)
        .map_err(|e| format!("not a readable Parquet file (truncated or corrupt?): {e}"))?;
    if let Some(rows) = batch_size {
        builder = builder.with_batch_size(rows);
    }
    let schema = builder.schema().clone();
    let reader = builder
        .build()
        .map_err(|e| format!("cannot read the Parquet data: {e}"))?;
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| format!("corrupt Parquet data: {e}"))?);
    }
    Ok((schema, batches))
}

fn read_parquet<R: parquet::file::reader::ChunkReader + 'static>(
    source: R,
) -> Result<Recording, String> {
    let (schema, batches) = guarded("Parquet file", || {
        parquet_batches(source, Some(ROWS_PER_BATCH))
    })?;
    from_batches(&schema, &batches)
}

fn read_ipc<R: std::io::Read + std::io::Seek>(source: R) -> Result<Recording, String> {
    let (schema, batches) = guarded("Arrow IPC file", || {
        let reader = arrow_ipc::reader::FileReader::try_new(source, None)
            .map_err(|e| format!("not a readable Arrow IPC file (truncated or corrupt?): {e}"))?;
        let schema = reader.schema();
        let mut batches = Vec::new();
        for b in reader {
            batches.push(b.map_err(|e| format!("corrupt Arrow IPC data: {e}"))?);
        }
        Ok((schema, batches))
    })?;
    from_batches(&schema, &batches)
}

/// Rebuild a recording from its schema and record batches, checking that every column the
/// header names is present, of an expected type and without missing values.
pub fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Recording, String> {
    let header_json = schema.metadata().get(METADATA_KEY).ok_or(
        "no 'neuroforge' metadata: this table was not written by neuroforge (import arrays \
         with `neuroforge import`)",
    )?;
    let header: FileHeader = serde_json::from_str(header_json)
        .map_err(|e| format!("the 'neuroforge' metadata is not a valid header: {e}"))?;
    if header.format != FORMAT_NAME {
        return Err(format!(
            "the metadata names format '{}', not {FORMAT_NAME}",
            header.format
        ));
    }
    if header.schema_version > SCHEMA_VERSION {
        return Err(format!(
            "schema version {} is newer than this neuroforge reads ({SCHEMA_VERSION}); upgrade neuroforge",
            header.schema_version
        ));
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let column = |name: &str| -> Result<Vec<ArrayRef>, String> {
        let index = schema
            .index_of(name)
            .map_err(|_| format!("column '{name}' named in the metadata is missing"))?;
        let parts: Vec<ArrayRef> = batches.iter().map(|b| b.column(index).clone()).collect();
        if let Some(p) = parts.iter().find(|p| p.null_count() > 0) {
            return Err(format!(
                "column '{name}' has {} missing values",
                p.null_count()
            ));
        }
        Ok(parts)
    };
    let activity = match header.kind {
        ActivityKind::Binned | ActivityKind::Traces => {
            let expected = header.time_points.ok_or("the metadata lacks time_points")?;
            if rows != expected {
                return Err(format!(
                    "the table has {rows} rows but the metadata says {expected}"
                ));
            }
            if header.kind == ActivityKind::Binned {
                let mut counts = Array2::<u32>::zeros((header.neurons.len(), rows));
                for (n, id) in header.neurons.iter().enumerate() {
                    let mut t = 0;
                    for part in column(id)? {
                        for v in unsigned_values(&part, id)? {
                            counts[(n, t)] = v;
                            t += 1;
                        }
                    }
                }
                Activity::Binned(BinnedActivity {
                    counts,
                    bin_width_s: header.bin_width_s,
                })
            } else {
                let mut values = Array2::<f32>::zeros((header.neurons.len(), rows));
                for (n, id) in header.neurons.iter().enumerate() {
                    let mut t = 0;
                    for part in column(id)? {
                        let a = downcast::<Float32Array>(&part, id, "float32")?;
                        for &v in a.values().iter() {
                            values[(n, t)] = v;
                            t += 1;
                        }
                    }
                }
                Activity::Traces(TraceActivity {
                    values,
                    frame_rate_hz: header.frame_rate_hz,
                })
            }
        }
        ActivityKind::SpikeTimes => {
            let index: std::collections::HashMap<&str, usize> = header
                .neurons
                .iter()
                .enumerate()
                .map(|(i, id)| (id.as_str(), i))
                .collect();
            let mut times_s = vec![Vec::new(); header.neurons.len()];
            for (neuron_part, time_part) in column("neuron")?.iter().zip(column("time_s")?) {
                let names = crate::arrow_values::strings(neuron_part)
                    .or_else(|| {
                        crate::arrow_values::integers(neuron_part)
                            .map(|ids| ids.iter().map(|id| Some(id.to_string())).collect())
                    })
                    .ok_or_else(|| type_problem(neuron_part, "neuron", "strings or integers"))?;
                let times = downcast::<Float64Array>(&time_part, "time_s", "float64")?;
                for (name, &t) in names.iter().zip(times.values().iter()) {
                    let name = name.as_deref().unwrap_or_default();
                    let &n = index.get(name).ok_or_else(|| {
                        format!("spike of neuron '{name}', which the metadata does not list")
                    })?;
                    times_s[n].push(t);
                }
            }
            let t_start_s = header.t_start_s.ok_or("the metadata lacks t_start_s")?;
            let t_stop_s = header.t_stop_s.ok_or("the metadata lacks t_stop_s")?;
            Activity::SpikeTimes(SpikeTrains {
                times_s,
                t_start_s,
                t_stop_s,
            })
        }
    };
    let mut covariates = Vec::new();
    for name in &header.covariates {
        let parts = column(name)?;
        let ty = parts
            .first()
            .map_or(DataType::Float64, |p| p.data_type().clone());
        let values = match ty {
            DataType::Float64 => CovariateValues::Float(
                parts
                    .iter()
                    .map(|p| {
                        downcast::<Float64Array>(p, name, "float64").map(|a| a.values().to_vec())
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            ),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => CovariateValues::Int(
                parts
                    .iter()
                    .map(|p| {
                        crate::arrow_values::integers(p)
                            .ok_or_else(|| type_problem(p, name, "integers that fit int64"))
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            ),
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(..) => {
                let mut v = Vec::with_capacity(rows);
                for p in &parts {
                    let a = crate::arrow_values::strings(p)
                        .ok_or_else(|| type_problem(p, name, "strings"))?;
                    v.extend(a.into_iter().map(Option::unwrap_or_default));
                }
                CovariateValues::Text(v)
            }
            other => {
                return Err(format!(
                    "covariate column '{name}' has type {other}; expected float64, int64 or utf8"
                ));
            }
        };
        covariates.push(Covariate {
            name: name.clone(),
            values,
        });
    }
    Recording::new(header.neurons, activity, covariates, header.provenance)
        .map_err(|e| e.to_string())
}

fn downcast<'a, T: 'static>(a: &'a ArrayRef, name: &str, expected: &str) -> Result<&'a T, String> {
    a.as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| type_problem(a, name, expected))
}

/// "column 'name' has type T, expected ...".
fn type_problem(a: &ArrayRef, name: &str, expected: &str) -> String {
    format!(
        "column '{name}' has type {}, expected {expected}",
        a.data_type()
    )
}

fn unsigned_values(a: &ArrayRef, name: &str) -> Result<Vec<u32>, String> {
    Ok(match a.data_type() {
        DataType::UInt8 => downcast::<UInt8Array>(a, name, "uint")?
            .values()
            .iter()
            .map(|&v| u32::from(v))
            .collect(),
        DataType::UInt16 => downcast::<UInt16Array>(a, name, "uint")?
            .values()
            .iter()
            .map(|&v| u32::from(v))
            .collect(),
        DataType::UInt32 => downcast::<UInt32Array>(a, name, "uint")?.values().to_vec(),
        other => {
            return Err(format!(
                "column '{name}' has type {other}; binned counts are uint8, uint16 or uint32"
            ));
        }
    })
}
