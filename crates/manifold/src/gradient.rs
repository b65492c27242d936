//! Directional-derivative (gradient) operators on the graph, MARBLE's "gradient filters"
//! (after Beaini et al. 2021, as in the reference `gradient_op`).
//!
//! For each frame direction `e_k` at node i:
//!
//! ```text
//! F_k[i, j] = <x_j - x_i, e_k(i)> / sum_j' |<x_j' - x_i, e_k(i)>|   over i's neighbours j
//! K_k       = F_k - diag(F_k 1)
//! ```
//!
//! so `(K_k f)_i = sum_j F_k[i, j] (f_j - f_i)`: a normalised finite difference along `e_k`.
//! Rows whose neighbours are all orthogonal to `e_k` are zero. Each `K_k` is an `n x n` sparse
//! matrix with the graph's pattern plus the diagonal.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{ManifoldError, Result};
use crate::frames::LocalFrames;
use crate::graph::ProximityGraph;
use crate::sparse::CsrMatrix;

/// One sparse operator per frame direction, `K_0 .. K_{m-1}`.
pub fn gradient_operators(
    points: ArrayView2<'_, f64>,
    graph: &ProximityGraph,
    frames: &LocalFrames,
) -> Result<Vec<CsrMatrix>> {
    let (n, ambient) = points.dim();
    if graph.nodes() != n || frames.nodes() != n || frames.ambient_dimension() != ambient {
        return Err(ManifoldError::InvalidData(format!(
            "points ({n} x {ambient}), graph ({} nodes) and frames ({} nodes in {} dimensions) \
             disagree",
            graph.nodes(),
            frames.nodes(),
            frames.ambient_dimension()
        )));
    }
    let m = frames.dimension();
    // Per node: for each direction, the row (sorted columns including the diagonal).
    let rows: Vec<Vec<Vec<(u32, f64)>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let frame = frames.frame(i);
            let neighbours = graph.neighbours(i);
            (0..m)
                .map(|k| {
                    let direction = frame.column(k);
                    let projections: Vec<f64> = neighbours
                        .iter()
                        .map(|&j| (&points.row(j as usize) - &points.row(i)).dot(&direction))
                        .collect();
                    let norm: f64 = projections.iter().map(|p| p.abs()).sum();
                    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                    let mut row: Vec<(u32, f64)> = Vec::with_capacity(neighbours.len() + 1);
                    let mut diagonal = 0.0;
                    let mut placed = false;
                    for (&j, p) in neighbours.iter().zip(&projections) {
                        if !placed && j as usize > i {
                            row.push((i as u32, 0.0));
                            placed = true;
                        }
                        row.push((j, p * scale));
                        diagonal -= p * scale;
                    }
                    if !placed {
                        row.push((i as u32, 0.0));
                    }
                    for entry in &mut row {
                        if entry.0 as usize == i {
                            entry.1 = diagonal;
                        }
                    }
                    row
                })
                .collect()
        })
        .collect();
    let mut per_direction: Vec<Vec<Vec<(u32, f64)>>> =
        (0..m).map(|_| Vec::with_capacity(n)).collect();
    for node_rows in rows {
        for (k, row) in node_rows.into_iter().enumerate() {
            per_direction[k].push(row);
        }
    }
    Ok(per_direction
        .into_iter()
        .map(|rows| CsrMatrix::from_sorted_rows(n, rows))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphConfig;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn operators_match_the_formula_evaluated_edge_by_edge() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let points = Array2::from_shape_fn((200, 3), |_| rng.random_range(-1.0..1.0));
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 8, delta: 1.0 })?;
        let frames = LocalFrames::ambient(200, 3);
        let operators = gradient_operators(points.view(), &graph, &frames)?;
        assert_eq!(operators.len(), 3);
        for (k, op) in operators.iter().enumerate() {
            let dense = op.to_dense();
            for i in 0..200 {
                let nbs = graph.neighbours(i);
                let norm: f64 = nbs
                    .iter()
                    .map(|&j| (points[[j as usize, k]] - points[[i, k]]).abs())
                    .sum();
                let mut diagonal = 0.0;
                for &j in nbs {
                    let want = (points[[j as usize, k]] - points[[i, k]]) / norm;
                    assert!((dense[[i, j as usize]] - want).abs() < 1e-12);
                    diagonal -= want;
                }
                assert!((dense[[i, i]] - diagonal).abs() < 1e-12);
                // Rows sum to zero: constants have no gradient.
                assert!(dense.row(i).sum().abs() < 1e-12);
            }
        }
        Ok(())
    }

    #[test]
    fn on_a_symmetric_grid_a_linear_function_gives_its_slope_times_the_spacing() -> Result<()> {
        // A square grid with spacing h: interior nodes see their 4 axis neighbours (k = 4,
        // delta 1.01 keeps exactly those), so (K_x f)_i = a (2 h^2) / (2 h) = a h for
        // f = a x + b y, and likewise b h along y.
        let (side, h, a, b) = (20usize, 0.5, 1.7, -0.4);
        let points = Array2::from_shape_fn((side * side, 2), |(p, c)| {
            h * [(p % side) as f64, (p / side) as f64][c]
        });
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 4, delta: 1.01 })?;
        let frames = LocalFrames::ambient(side * side, 2);
        let operators = gradient_operators(points.view(), &graph, &frames)?;
        let f: Vec<f64> = (0..side * side)
            .map(|p| a * points[[p, 0]] + b * points[[p, 1]])
            .collect();
        let gx = operators[0].mul_vec(&f)?;
        let gy = operators[1].mul_vec(&f)?;
        for y in 2..side - 2 {
            for x in 2..side - 2 {
                let p = y * side + x;
                assert_eq!(graph.neighbours(p).len(), 4, "node {p}");
                assert!((gx[p] - a * h).abs() < 1e-12, "{} vs {}", gx[p], a * h);
                assert!((gy[p] - b * h).abs() < 1e-12, "{} vs {}", gy[p], b * h);
            }
        }
        Ok(())
    }
}
