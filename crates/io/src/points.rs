//! Point tables: one row per point (a state of a dynamical system, an embedded node), grouped
//! by condition and optionally by trajectory, with blocks of numeric columns named by a prefix
//! and an index (`x0, x1, ...` for states, `v0, ...` for vectors, `z0, ...` for embeddings).
//! This is what MARBLE reads (`neuroforge train marble --data`) and writes (`neuroforge
//! embed`), as Parquet:
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `condition` | string (or integer) | the condition the point belongs to |
//! | `trajectory` | int64, optional | the trajectory within the condition (for differencing) |
//! | `<prefix><i>` | float64 | component i of the block `<prefix>` |

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::atomic::write_atomically;
use crate::error::{IoError, Result};
use crate::guard::guarded;

/// A table of points.
#[derive(Debug, Clone, PartialEq)]
pub struct PointTable {
    /// Condition of each row.
    pub condition: Vec<String>,
    /// Trajectory of each row, when given.
    pub trajectory: Option<Vec<i64>>,
    /// Numeric blocks by prefix, each with one row per point, in column order.
    pub blocks: Vec<(String, Array2<f64>)>,
}

impl PointTable {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.condition.len()
    }

    /// The block named `prefix`.
    pub fn block(&self, prefix: &str) -> Option<&Array2<f64>> {
        self.blocks
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, b)| b)
    }

    /// The conditions in order of first appearance, with the rows of each.
    pub fn conditions(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = Vec::new();
        for (row, c) in self.condition.iter().enumerate() {
            match out.iter_mut().find(|(name, _)| name == c) {
                Some((_, rows)) => rows.push(row),
                None => out.push((c.clone(), vec![row])),
            }
        }
        out
    }

    fn check(&self) -> Result<()> {
        let n = self.rows();
        if let Some(t) = &self.trajectory
            && t.len() != n
        {
            return Err(IoError::Usage(format!(
                "{} trajectory ids for {n} rows",
                t.len()
            )));
        }
        for (prefix, block) in &self.blocks {
            if block.nrows() != n {
                return Err(IoError::Usage(format!(
                    "block {prefix} has {} rows, the table {n}",
                    block.nrows()
                )));
            }
            if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
                return Err(IoError::Usage(format!(
                    "block prefix {prefix:?} must be letters or underscores"
                )));
            }
        }
        Ok(())
    }
}

/// Writes `table` to `path` as Parquet, atomically.
pub fn write_points(path: &Path, table: &PointTable) -> Result<()> {
    table.check()?;
    let mut fields = vec![Field::new("condition", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(table.condition.clone()))];
    if let Some(t) = &table.trajectory {
        fields.push(Field::new("trajectory", DataType::Int64, false));
        columns.push(Arc::new(Int64Array::from(t.clone())));
    }
    for (prefix, block) in &table.blocks {
        for (c, column) in block.columns().into_iter().enumerate() {
            fields.push(Field::new(format!("{prefix}{c}"), DataType::Float64, false));
            columns.push(Arc::new(Float64Array::from(column.to_vec())));
        }
    }
    let description = describe(table).to_string();
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        [
            (
                crate::columnar::METADATA_KEY.to_string(),
                description.clone(),
            ),
            (
                crate::columnar::PANDAS_ATTRS_KEY.to_string(),
                description.clone(),
            ),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<String, String>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| IoError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let write_err = |e: String| IoError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    write_atomically(path, |file| {
        let mut out = BufWriter::new(file);
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_key_value_metadata(Some(vec![
                KeyValue::new(
                    crate::columnar::METADATA_KEY.to_string(),
                    description.clone(),
                ),
                KeyValue::new(
                    crate::columnar::PANDAS_ATTRS_KEY.to_string(),
                    description.clone(),
                ),
            ]))
            .build();
        let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(props))
            .map_err(|e| write_err(e.to_string()))?;
        writer.write(&batch).map_err(|e| write_err(e.to_string()))?;
        writer.close().map_err(|e| write_err(e.to_string()))?;
        out.flush().map_err(|e| IoError::Write {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// What a point table holds, as the JSON written under the `neuroforge` and `PANDAS_ATTRS`
/// keys: rows, conditions (in order of appearance), whether rows carry a trajectory, and each
/// block's columns, with the meaning of the blocks MARBLE's commands name (`x` states, `v`
/// vectors, `z` embedding).
fn describe(table: &PointTable) -> serde_json::Value {
    let mut conditions: Vec<&str> = Vec::new();
    for c in &table.condition {
        if !conditions.contains(&c.as_str()) {
            conditions.push(c);
        }
    }
    let blocks: Vec<serde_json::Value> = table
        .blocks
        .iter()
        .map(|(prefix, block)| {
            let meaning = match prefix.as_str() {
                "x" => Some("states"),
                "v" => Some("vectors (the dynamics at each state)"),
                "z" => Some("MARBLE embedding"),
                _ => None,
            };
            serde_json::json!({
                "prefix": prefix,
                "columns": block.ncols(),
                "meaning": meaning,
            })
        })
        .collect();
    serde_json::json!({
        "format": "neuroforge-points",
        "schema_version": 1,
        "rows": table.rows(),
        "conditions": conditions,
        "trajectory": table.trajectory.is_some(),
        "blocks": blocks,
        "written_by": concat!("neuroforge-io ", env!("CARGO_PKG_VERSION")),
    })
}

/// Splits a column name into its block prefix and index (`x12` -> (`x`, 12)).
fn split_name(name: &str) -> Option<(&str, usize)> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits == name.len() {
        return None;
    }
    let (prefix, index) = name.split_at(name.len() - digits);
    Some((prefix, index.parse().ok()?))
}

/// Whether `path` is a Parquet point table written by neuroforge (its metadata says so). False
/// for anything unreadable: the caller's own reader then reports the problem.
pub fn is_point_table(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    guarded("Parquet file", || {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let described = builder
            .schema()
            .metadata()
            .get(crate::columnar::METADATA_KEY)
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .is_some_and(|v| v["format"] == "neuroforge-points");
        Ok(described)
    })
    .unwrap_or(false)
}

/// Reads a point table from a Parquet file.
pub fn read_points(path: &Path) -> Result<PointTable> {
    let file = File::open(path).map_err(|source| IoError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = guarded("Parquet file", || {
        let (schema, batches) = crate::columnar::parquet_batches(file, None)?;
        from_batches(&schema, &batches)
    });
    parsed.map_err(|problem| IoError::invalid(path, problem))
}

fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<PointTable, String> {
    let mut condition = Vec::new();
    let mut trajectory: Option<Vec<i64>> = None;
    // (prefix, index, values)
    let mut numeric: Vec<(String, usize, Vec<f64>)> = Vec::new();
    for (f, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        for batch in batches {
            let column = batch.column(f);
            if column.null_count() > 0 {
                return Err(format!("column {name} has missing values"));
            }
            match name {
                "condition" => {
                    if let Some(s) = crate::arrow_values::strings(column) {
                        condition.extend(s.into_iter().map(Option::unwrap_or_default));
                    } else if let Some(i) = crate::arrow_values::integers(column) {
                        condition.extend(i.iter().map(|v| v.to_string()));
                    } else {
                        return Err(format!(
                            "column condition must be strings or integers, found {}",
                            field.data_type()
                        ));
                    }
                }
                "trajectory" => {
                    let Some(i) = crate::arrow_values::integers(column) else {
                        return Err(format!(
                            "column trajectory must be integers, found {}",
                            field.data_type()
                        ));
                    };
                    trajectory.get_or_insert_with(Vec::new).extend(i);
                }
                _ => {
                    let Some((prefix, index)) = split_name(name) else {
                        return Err(format!(
                            "column {name} is neither condition, trajectory nor a numbered \
                             component like x0 or v3"
                        ));
                    };
                    let values: Vec<f64> =
                        if let Some(a) = column.as_any().downcast_ref::<Float64Array>() {
                            a.values().to_vec()
                        } else if let Some(a) = column.as_any().downcast_ref::<Float32Array>() {
                            a.values().iter().map(|&v| f64::from(v)).collect()
                        } else {
                            return Err(format!(
                                "column {name} must be float64 or float32, found {}",
                                field.data_type()
                            ));
                        };
                    match numeric
                        .iter_mut()
                        .find(|(p, i, _)| p == prefix && *i == index)
                    {
                        Some((_, _, existing)) => existing.extend(values),
                        None => numeric.push((prefix.to_string(), index, values)),
                    }
                }
            }
        }
    }
    let rows = condition.len();
    if rows == 0 {
        return Err("no condition column, or no rows".into());
    }
    let mut prefixes: Vec<String> = Vec::new();
    for (p, _, _) in &numeric {
        if !prefixes.contains(p) {
            prefixes.push(p.clone());
        }
    }
    let mut blocks = Vec::new();
    for prefix in prefixes {
        let mut columns: Vec<&(String, usize, Vec<f64>)> =
            numeric.iter().filter(|(p, _, _)| *p == prefix).collect();
        columns.sort_by_key(|(_, i, _)| *i);
        for (expected, (_, i, _)) in columns.iter().enumerate() {
            if *i != expected {
                return Err(format!("block {prefix} lacks column {prefix}{expected}"));
            }
        }
        let mut block = Array2::zeros((rows, columns.len()));
        for (c, (_, _, values)) in columns.iter().enumerate() {
            if values.len() != rows {
                return Err(format!(
                    "column {prefix}{c} has {} rows, not {rows}",
                    values.len()
                ));
            }
            if let Some(r) = values.iter().position(|v| !v.is_finite()) {
                return Err(format!("column {prefix}{c}, row {r} is not finite"));
            }
            for (r, v) in values.iter().enumerate() {
                block[[r, c]] = *v;
            }
        }
        blocks.push((prefix, block));
    }
    Ok(PointTable {
        condition,
        trajectory,
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_trip_and_bad_files_name_the_problem() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| IoError::Usage(e.to_string()))?;
        let path = dir.path().join("points.parquet");
        let table = PointTable {
            condition: vec!["a".into(), "a".into(), "b".into()],
            trajectory: Some(vec![0, 0, 1]),
            blocks: vec![
                (
                    "x".into(),
                    ndarray::array![[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]],
                ),
                (
                    "v".into(),
                    ndarray::array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                ),
            ],
        };
        write_points(&path, &table)?;
        assert_eq!(read_points(&path)?, table);
        // The description, for pandas (`attrs`) and pyarrow, in the file's metadata.
        let file = std::fs::File::open(&path).map_err(|e| IoError::Usage(e.to_string()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IoError::Usage(e.to_string()))?;
        let metadata = builder.schema().metadata();
        let description: serde_json::Value =
            serde_json::from_str(metadata.get("PANDAS_ATTRS").map_or("null", String::as_str))
                .map_err(|e| IoError::Usage(e.to_string()))?;
        assert_eq!(metadata.get("neuroforge"), metadata.get("PANDAS_ATTRS"));
        assert_eq!(description["rows"], 3);
        assert_eq!(description["conditions"], serde_json::json!(["a", "b"]));
        assert_eq!(description["blocks"][0]["prefix"], "x");
        assert_eq!(description["blocks"][0]["meaning"], "states");
        assert_eq!(description["blocks"][1]["columns"], 2);
        assert_eq!(
            table.conditions(),
            vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])]
        );
        std::fs::write(&path, b"not parquet").map_err(|e| IoError::Usage(e.to_string()))?;
        let err = read_points(&path).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("points.parquet") && err.contains("Parquet"),
            "{err}"
        );
        Ok(())
    }
}
