//! Graph and connection Laplacians as sparse operators.
//!
//! Edge weights follow the reference implementation (MARBLE `fit_graph`): `w_ij = 1 / |x_i -
//! x_j|` by default, or 1 for an unweighted graph. With degrees `D_ii = sum_j w_ij`:
//!
//! - combinatorial `L = D - W`,
//! - symmetric normalised `L = I - D^{-1/2} W D^{-1/2}`,
//! - random walk `L = I - D^{-1} W` (MARBLE's default, `normalization="rw"`).
//!
//! The connection Laplacian acts on one tangent vector per node (`n m` unknowns, node i's
//! components at rows `i m .. i m + m`) and replaces each weight by the block `w_ij R_ij`:
//! `(L_c v)_i = v_i - (1 / D_ii) sum_j w_ij R_ij v_j` for the random walk form. It is applied
//! from the graph and the stored connections, so the `n m x n m` matrix is never formed unless
//! asked for ([`ConnectionLaplacian::to_csr`]).

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ManifoldError, Result};
use crate::frames::Connections;
use crate::graph::ProximityGraph;
use crate::kdtree::row_distance;
use crate::sparse::CsrMatrix;

/// How each edge is weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeWeight {
    /// `1 / |x_i - x_j|`, as MARBLE does (default).
    #[default]
    InverseDistance,
    /// Every edge weighs 1.
    Unit,
}

/// Which Laplacian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// `D - W`.
    Combinatorial,
    /// `I - D^{-1/2} W D^{-1/2}`.
    Symmetric,
    /// `I - D^{-1} W` (default, as MARBLE).
    #[default]
    RandomWalk,
}

/// The weighted adjacency `W` of the graph over `points`.
pub fn weighted_adjacency(
    points: ArrayView2<'_, f64>,
    graph: &ProximityGraph,
    weight: EdgeWeight,
) -> Result<CsrMatrix> {
    if points.nrows() != graph.nodes() {
        return Err(ManifoldError::InvalidData(format!(
            "the graph has {} nodes but there are {} points",
            graph.nodes(),
            points.nrows()
        )));
    }
    let adjacency = graph.adjacency();
    match weight {
        EdgeWeight::Unit => Ok(adjacency.clone()),
        EdgeWeight::InverseDistance => {
            let weighted = adjacency.map_values(|i, j, _| 1.0 / row_distance(points, i, j));
            if weighted.values().iter().any(|w| !w.is_finite()) {
                return Err(ManifoldError::InvalidData(
                    "two joined points coincide, so 1/distance is infinite; remove duplicate \
                     points or use unit edge weights"
                        .into(),
                ));
            }
            Ok(weighted)
        }
    }
}

/// The Laplacian of a weighted adjacency (symmetric, no diagonal) as a sparse matrix.
pub fn laplacian(weights: &CsrMatrix, normalization: Normalization) -> Result<CsrMatrix> {
    let n = weights.rows();
    let degree = weights.row_sums();
    if let Some(i) = degree.iter().position(|&d| d <= 0.0) {
        return Err(ManifoldError::InvalidData(format!(
            "node {i} has no neighbours, so its normalised Laplacian is undefined; build a \
             connected graph first"
        )));
    }
    let mut triplets = Vec::with_capacity(weights.nnz() + n);
    for (i, &d) in degree.iter().enumerate() {
        let diagonal = match normalization {
            Normalization::Combinatorial => d,
            Normalization::Symmetric | Normalization::RandomWalk => 1.0,
        };
        triplets.push((i as u32, i as u32, diagonal));
        let (cols, vals) = weights.row(i);
        for (&j, &w) in cols.iter().zip(vals) {
            let off = match normalization {
                Normalization::Combinatorial => -w,
                Normalization::Symmetric => -w / (d * degree[j as usize]).sqrt(),
                Normalization::RandomWalk => -w / d,
            };
            triplets.push((i as u32, j, off));
        }
    }
    CsrMatrix::from_triplets(n, n, triplets)
}

/// An upper bound on the Laplacian's eigenvalues: 2 for the normalised forms, twice the
/// largest degree (Gershgorin) for the combinatorial one.
pub fn spectral_bound(weights: &CsrMatrix, normalization: Normalization) -> f64 {
    match normalization {
        Normalization::Symmetric | Normalization::RandomWalk => 2.0,
        Normalization::Combinatorial => 2.0 * weights.row_sums().into_iter().fold(0.0, f64::max),
    }
}

/// The random-walk connection Laplacian `I - D^{-1} (W o R)` applied matrix-free.
#[derive(Debug, Clone)]
pub struct ConnectionLaplacian {
    weights: CsrMatrix,
    degree: Vec<f64>,
    connections: Connections,
}

impl ConnectionLaplacian {
    /// Combines the weighted adjacency with the connections along its entries.
    pub fn new(weights: CsrMatrix, connections: Connections) -> Result<Self> {
        let m = connections.dimension();
        if connections.memory_bytes() != weights.nnz() * m * m * std::mem::size_of::<f64>() {
            return Err(ManifoldError::InvalidData(
                "the connections were computed on a different graph than the weights".into(),
            ));
        }
        let degree = weights.row_sums();
        if let Some(i) = degree.iter().position(|&d| d <= 0.0) {
            return Err(ManifoldError::InvalidData(format!(
                "node {i} has no neighbours; build a connected graph first"
            )));
        }
        Ok(Self {
            weights,
            degree,
            connections,
        })
    }

    /// Number of unknowns, `n m`.
    pub fn size(&self) -> usize {
        self.weights.rows() * self.connections.dimension()
    }

    /// The manifold dimension m.
    pub fn dimension(&self) -> usize {
        self.connections.dimension()
    }

    /// `L_c x` for `x` of shape `(n m) x s` (s vector fields side by side).
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let m = self.dimension();
        if x.nrows() != self.size() {
            return Err(ManifoldError::InvalidData(format!(
                "a signal with {} rows cannot be diffused over {} nodes x {m} components",
                x.nrows(),
                self.weights.rows()
            )));
        }
        let channels = x.ncols();
        let mut out = x.to_owned();
        let offsets = self.weights.row_offsets();
        out.axis_chunks_iter_mut(Axis(0), m)
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut block)| {
                let (cols, vals) = self.weights.row(i);
                let scale = 1.0 / self.degree[i];
                for (e, (&j, &w)) in cols.iter().zip(vals).enumerate() {
                    let r = self.connections.block(offsets[i] + e);
                    let j = j as usize;
                    for a in 0..m {
                        for b in 0..m {
                            let coefficient = scale * w * r[a * m + b];
                            for c in 0..channels {
                                block[[a, c]] -= coefficient * x[[j * m + b, c]];
                            }
                        }
                    }
                }
            });
        Ok(out)
    }

    /// The operator as an explicit `n m x n m` sparse matrix.
    pub fn to_csr(&self) -> Result<CsrMatrix> {
        let m = self.dimension();
        let n = self.weights.rows();
        let offsets = self.weights.row_offsets();
        let mut triplets = Vec::with_capacity((self.weights.nnz() + n) * m * m);
        for (i, &row_start) in offsets.iter().take(n).enumerate() {
            for a in 0..m {
                triplets.push(((i * m + a) as u32, (i * m + a) as u32, 1.0));
            }
            let (cols, vals) = self.weights.row(i);
            for (e, (&j, &w)) in cols.iter().zip(vals).enumerate() {
                let r = self.connections.block(row_start + e);
                for a in 0..m {
                    for b in 0..m {
                        triplets.push((
                            (i * m + a) as u32,
                            (j as usize * m + b) as u32,
                            -w * r[a * m + b] / self.degree[i],
                        ));
                    }
                }
            }
        }
        CsrMatrix::from_triplets(n * m, n * m, triplets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{FrameConfig, LocalFrames};
    use crate::graph::GraphConfig;
    use ndarray::{Array1, Array2};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cloud(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, 2), |_| rng.random_range(-1.0..1.0))
    }

    #[test]
    fn laplacians_match_their_dense_definitions() -> Result<()> {
        let points = cloud(150, 1);
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 8, delta: 1.2 })?;
        let w = weighted_adjacency(points.view(), &graph, EdgeWeight::InverseDistance)?;
        let dense_w = w.to_dense();
        for i in 0..150 {
            for &j in graph.neighbours(i) {
                let j = j as usize;
                let d = (&points.row(i) - &points.row(j))
                    .mapv(|v| v * v)
                    .sum()
                    .sqrt();
                assert!((dense_w[[i, j]] - 1.0 / d).abs() < 1e-12);
            }
        }
        let degree = Array1::from(dense_w.sum_axis(Axis(1)));
        let dmat = Array2::from_diag(&degree);
        let eye = Array2::<f64>::eye(150);
        let inv_sqrt = Array2::from_diag(&degree.mapv(|d| 1.0 / d.sqrt()));
        let inv = Array2::from_diag(&degree.mapv(|d| 1.0 / d));
        let cases = [
            (Normalization::Combinatorial, &dmat - &dense_w),
            (
                Normalization::Symmetric,
                &eye - &inv_sqrt.dot(&dense_w).dot(&inv_sqrt),
            ),
            (Normalization::RandomWalk, &eye - &inv.dot(&dense_w)),
        ];
        for (normalization, want) in cases {
            let got = laplacian(&w, normalization)?.to_dense();
            let err = (&got - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-12, "{normalization:?}: {err}");
            // Constants are in the kernel.
            let ones = Array2::<f64>::ones((150, 1));
            if normalization != Normalization::Symmetric {
                assert!(got.dot(&ones).iter().all(|v| v.abs() < 1e-10));
            }
        }
        Ok(())
    }

    #[test]
    fn a_parallel_field_on_a_plane_is_in_the_connection_laplacians_kernel() -> Result<()> {
        // A plane in R^3: the frames differ by rotations, and a constant ambient field written
        // in local frames is parallel, so the connection Laplacian annihilates it.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let points = Array2::from_shape_fn((400, 3), |(_, c)| {
            if c == 2 {
                0.0
            } else {
                rng.random_range(-1.0..1.0)
            }
        });
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 10, delta: 1.0 })?;
        let frames = LocalFrames::fit(points.view(), &graph, FrameConfig::default())?;
        assert_eq!(frames.dimension(), 2);
        let w = weighted_adjacency(points.view(), &graph, EdgeWeight::InverseDistance)?;
        let operator = ConnectionLaplacian::new(w, frames.connections(&graph)?)?;
        let field = Array2::from_shape_fn((400, 3), |(_, c)| [0.3, -1.1, 0.0][c]);
        let local = frames.to_local(field.view())?;
        let stacked = local
            .into_shape_with_order((800, 1))
            .map_err(|e| ManifoldError::InvalidData(e.to_string()))?;
        let result = operator.apply(stacked.view())?;
        assert!(result.iter().all(|v| v.abs() < 1e-9));
        // A non-parallel field is not.
        let rotating =
            Array2::from_shape_fn((400, 3), |(i, c)| [-points[[i, 1]], points[[i, 0]], 0.0][c]);
        let local = frames
            .to_local(rotating.view())?
            .into_shape_with_order((800, 1))
            .map_err(|e| ManifoldError::InvalidData(e.to_string()))?;
        assert!(operator.apply(local.view())?.iter().any(|v| v.abs() > 1e-3));
        // The explicit matrix is the same operator.
        let explicit = operator.to_csr()?.mul_dense(local.view())?;
        let implicit = operator.apply(local.view())?;
        assert!((&explicit - &implicit).iter().all(|v| v.abs() < 1e-12));
        Ok(())
    }
}
