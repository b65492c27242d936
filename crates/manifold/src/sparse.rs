//! Compressed sparse row matrices: the storage of every graph operator in this crate, so that
//! memory grows with the number of edges (O(n k)), never with n².

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ManifoldError, Result};

/// A sparse matrix in compressed sparse row form with sorted, unique column indices per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsrMatrix {
    rows: usize,
    cols: usize,
    /// Row `i`'s entries are `row_offsets[i]..row_offsets[i + 1]`.
    row_offsets: Vec<usize>,
    col_indices: Vec<u32>,
    values: Vec<f64>,
}

impl CsrMatrix {
    /// Builds a matrix from (row, column, value) triplets; duplicates are summed.
    pub fn from_triplets(
        rows: usize,
        cols: usize,
        mut triplets: Vec<(u32, u32, f64)>,
    ) -> Result<Self> {
        if cols > u32::MAX as usize || rows > u32::MAX as usize {
            return Err(ManifoldError::InvalidData(format!(
                "a {rows} x {cols} operator exceeds the 2^32 index range"
            )));
        }
        if let Some(&(r, c, _)) = triplets
            .iter()
            .find(|(r, c, _)| *r as usize >= rows || *c as usize >= cols)
        {
            return Err(ManifoldError::InvalidData(format!(
                "entry ({r}, {c}) lies outside a {rows} x {cols} matrix"
            )));
        }
        triplets.par_sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut row_offsets = vec![0usize; rows + 1];
        let mut col_indices = Vec::with_capacity(triplets.len());
        let mut values: Vec<f64> = Vec::with_capacity(triplets.len());
        let mut last: Option<(u32, u32)> = None;
        for (r, c, v) in triplets {
            if last == Some((r, c)) {
                if let Some(slot) = values.last_mut() {
                    *slot += v;
                }
                continue;
            }
            last = Some((r, c));
            row_offsets[r as usize + 1] += 1;
            col_indices.push(c);
            values.push(v);
        }
        for i in 0..rows {
            row_offsets[i + 1] += row_offsets[i];
        }
        Ok(Self {
            rows,
            cols,
            row_offsets,
            col_indices,
            values,
        })
    }

    /// Builds a `rows.len() x cols` matrix from per-row (column, value) lists: each row is
    /// sorted by column and repeated columns are summed. Columns beyond `cols` are dropped.
    pub fn from_rows(cols: usize, rows: Vec<Vec<(u32, f64)>>) -> Self {
        let rows = rows
            .into_iter()
            .map(|mut row| {
                row.retain(|&(c, _)| (c as usize) < cols);
                row.sort_unstable_by_key(|&(c, _)| c);
                let mut merged: Vec<(u32, f64)> = Vec::with_capacity(row.len());
                for (c, v) in row {
                    match merged.last_mut() {
                        Some(last) if last.0 == c => last.1 += v,
                        _ => merged.push((c, v)),
                    }
                }
                merged
            })
            .collect();
        Self::from_sorted_rows(cols, rows)
    }

    /// Builds a matrix from per-row (column, value) lists, each already sorted by column with
    /// no repeats (as the graph builders produce them).
    pub(crate) fn from_sorted_rows(cols: usize, rows: Vec<Vec<(u32, f64)>>) -> Self {
        let mut row_offsets = Vec::with_capacity(rows.len() + 1);
        row_offsets.push(0);
        let nnz: usize = rows.iter().map(Vec::len).sum();
        let mut col_indices = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        for row in &rows {
            for &(c, v) in row {
                col_indices.push(c);
                values.push(v);
            }
            row_offsets.push(col_indices.len());
        }
        Self {
            rows: rows.len(),
            cols,
            row_offsets,
            col_indices,
            values,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row `i` as (column indices, values).
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let span = self.row_offsets[i]..self.row_offsets[i + 1];
        (&self.col_indices[span.clone()], &self.values[span])
    }

    /// The row offsets (length rows + 1).
    pub fn row_offsets(&self) -> &[usize] {
        &self.row_offsets
    }

    /// The column index of every stored entry, row after row.
    pub fn col_indices(&self) -> &[u32] {
        &self.col_indices
    }

    /// Every stored value, row after row.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The entry at (i, j), zero when not stored.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (cols, vals) = self.row(i);
        match cols.binary_search(&(j as u32)) {
            Ok(p) => vals[p],
            Err(_) => 0.0,
        }
    }

    /// The sum of each row.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.rows).map(|i| self.row(i).1.iter().sum()).collect()
    }

    /// Bytes held by the index and value arrays.
    pub fn memory_bytes(&self) -> usize {
        self.row_offsets.len() * std::mem::size_of::<usize>()
            + self.col_indices.len() * std::mem::size_of::<u32>()
            + self.values.len() * std::mem::size_of::<f64>()
    }

    /// `self * x` for a vector `x`.
    pub fn mul_vec(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.cols {
            return Err(ManifoldError::InvalidData(format!(
                "a vector of length {} cannot multiply a {} x {} matrix",
                x.len(),
                self.rows,
                self.cols
            )));
        }
        Ok((0..self.rows)
            .into_par_iter()
            .map(|i| {
                let (cols, vals) = self.row(i);
                cols.iter().zip(vals).map(|(&c, v)| v * x[c as usize]).sum()
            })
            .collect())
    }

    /// `self * x` for a dense matrix `x` (cols x s), e.g. a signal with `s` channels per node.
    pub fn mul_dense(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if x.nrows() != self.cols {
            return Err(ManifoldError::InvalidData(format!(
                "a signal with {} rows cannot multiply a {} x {} matrix",
                x.nrows(),
                self.rows,
                self.cols
            )));
        }
        let channels = x.ncols();
        let mut out = Array2::<f64>::zeros((self.rows, channels));
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut out_row)| {
                let (cols, vals) = self.row(i);
                for (&c, &v) in cols.iter().zip(vals) {
                    out_row.scaled_add(v, &x.row(c as usize));
                }
            });
        Ok(out)
    }

    /// The transpose.
    pub fn transpose(&self) -> Self {
        let mut counts = vec![0usize; self.cols + 1];
        for &c in &self.col_indices {
            counts[c as usize + 1] += 1;
        }
        for j in 0..self.cols {
            counts[j + 1] += counts[j];
        }
        let row_offsets = counts.clone();
        let mut next = counts;
        let mut col_indices = vec![0u32; self.nnz()];
        let mut values = vec![0.0; self.nnz()];
        for i in 0..self.rows {
            let (cols, vals) = self.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = next[c as usize];
                col_indices[slot] = i as u32;
                values[slot] = v;
                next[c as usize] += 1;
            }
        }
        Self {
            rows: self.cols,
            cols: self.rows,
            row_offsets,
            col_indices,
            values,
        }
    }

    /// The dense form; for tests and small problems only.
    pub fn to_dense(&self) -> Array2<f64> {
        let mut dense = Array2::zeros((self.rows, self.cols));
        for i in 0..self.rows {
            let (cols, vals) = self.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                dense[[i, c as usize]] += v;
            }
        }
        dense
    }

    /// A new matrix with the same pattern and each value replaced by `f(row, col, value)`.
    pub fn map_values(&self, f: impl Fn(usize, usize, f64) -> f64 + Sync) -> Self {
        let mut values = self.values.clone();
        values
            .par_iter_mut()
            .enumerate()
            .for_each(|(e, v)| *v = f(self.row_of_entry(e), self.col_indices[e] as usize, *v));
        Self {
            values,
            ..self.clone()
        }
    }

    fn row_of_entry(&self, entry: usize) -> usize {
        // The last row whose offset is <= entry (rows can be empty).
        self.row_offsets.partition_point(|&o| o <= entry) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn triplets_sum_duplicates_and_multiply_like_dense() -> Result<()> {
        let m = CsrMatrix::from_triplets(
            3,
            2,
            vec![(2, 1, 1.0), (0, 0, 2.0), (2, 1, 0.5), (1, 0, -1.0)],
        )?;
        assert_eq!(m.nnz(), 3);
        let dense = m.to_dense();
        assert_eq!(dense, array![[2.0, 0.0], [-1.0, 0.0], [0.0, 1.5]]);
        let x = array![[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(m.mul_dense(x.view())?, dense.dot(&x));
        assert_eq!(m.mul_vec(&[1.0, 3.0])?, vec![2.0, -1.0, 4.5]);
        assert_eq!(m.transpose().to_dense(), dense.t());
        assert_eq!(m.get(2, 1), 1.5);
        assert_eq!(m.get(1, 1), 0.0);
        Ok(())
    }

    #[test]
    fn map_values_sees_the_right_row_with_empty_rows() -> Result<()> {
        let m = CsrMatrix::from_triplets(4, 4, vec![(0, 1, 1.0), (3, 2, 1.0), (3, 3, 1.0)])?;
        let tagged = m.map_values(|i, j, _| (10 * i + j) as f64);
        assert_eq!(tagged.get(0, 1), 1.0);
        assert_eq!(tagged.get(3, 2), 32.0);
        assert_eq!(tagged.get(3, 3), 33.0);
        Ok(())
    }

    #[test]
    fn out_of_range_entries_and_shapes_are_errors() {
        assert!(CsrMatrix::from_triplets(2, 2, vec![(2, 0, 1.0)]).is_err());
        let m = CsrMatrix::from_triplets(2, 2, vec![(0, 0, 1.0)]);
        assert!(m.is_ok_and(|m| m.mul_vec(&[1.0]).is_err()));
    }
}
