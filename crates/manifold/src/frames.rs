//! Local frames (gauges) of the tangent spaces by local PCA, the manifold dimension from the
//! explained variance, and the Procrustes connections between neighbouring frames (MARBLE,
//! Gosztolai et al. 2025, Methods: "local frames" and "connections").
//!
//! For node i the neighbourhood is its `neighbourhood` nearest nodes in graph (geodesic)
//! distance, found by Dijkstra over the proximity graph with Euclidean edge lengths, as the
//! reference implementation does. The frame is the right singular vectors of the matrix whose
//! rows are `x_j - x_i` over that neighbourhood, ordered by singular value. The manifold
//! dimension is the smallest m for which the cumulative explained variance, averaged over
//! nodes minus one standard deviation, reaches `variance_explained` (the reference's rule).
//!
//! The connection from node j to neighbour i is the orthogonal matrix closest to `T_i^T T_j`:
//! `R_ij = U V^T` of its SVD (orthogonal Procrustes). It maps a tangent vector written in j's
//! frame to i's frame, so `R_ji = R_ij^T`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use nalgebra::DMatrix;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ManifoldError, Result, invalid_config};
use crate::graph::ProximityGraph;
use crate::kdtree::row_distance;

/// Settings of the local frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameConfig {
    /// Geodesic neighbours per local PCA; `None` (the default) takes 1.5 x the graph's k,
    /// rounded up, as MARBLE's examples do.
    pub neighbourhood: Option<usize>,
    /// Fraction of local variance the manifold dimension must explain (default 0.9).
    pub variance_explained: f64,
    /// A fixed manifold dimension instead of the explained-variance rule (default `None`).
    pub dimension: Option<usize>,
}

impl Default for FrameConfig {
    fn default() -> Self {
        Self {
            neighbourhood: None,
            variance_explained: 0.9,
            dimension: None,
        }
    }
}

impl FrameConfig {
    fn check(&self, points: usize, ambient: usize) -> Result<()> {
        if !(self.variance_explained > 0.0 && self.variance_explained <= 1.0) {
            return Err(invalid_config(
                "frames.variance_explained",
                format!("must lie in (0, 1], got {}", self.variance_explained),
            ));
        }
        if let Some(m) = self.dimension
            && (m == 0 || m > ambient)
        {
            return Err(invalid_config(
                "frames.dimension",
                format!("must lie between 1 and the data's dimension {ambient}, got {m}"),
            ));
        }
        if let Some(nb) = self.neighbourhood
            && (nb < 2 || nb >= points)
        {
            return Err(invalid_config(
                "frames.neighbourhood",
                format!("must lie between 2 and the number of points - 1 ({points}), got {nb}"),
            ));
        }
        Ok(())
    }
}

/// An orthonormal frame of the tangent space at every node.
#[derive(Debug, Clone)]
pub struct LocalFrames {
    ambient: usize,
    dimension: usize,
    /// `n x ambient x dimension`: node i's frame is the `ambient x dimension` block, column
    /// after column stored contiguously per node (row-major `[i][a][c]`).
    frames: Vec<f64>,
    /// Per node, the fraction of variance explained by the first 1..=ambient directions.
    cumulative_variance: Array2<f64>,
}

impl LocalFrames {
    /// Fits a frame at every node of `graph` from the `points` it was built on.
    pub fn fit(
        points: ArrayView2<'_, f64>,
        graph: &ProximityGraph,
        config: FrameConfig,
    ) -> Result<Self> {
        let (n, ambient) = points.dim();
        if graph.nodes() != n {
            return Err(ManifoldError::InvalidData(format!(
                "the graph has {} nodes but there are {n} points",
                graph.nodes()
            )));
        }
        config.check(n, ambient)?;
        let neighbourhood = config
            .neighbourhood
            .unwrap_or_else(|| (3 * graph.config().k).div_ceil(2))
            .min(n - 1);
        let local: Vec<(Vec<f64>, Vec<f64>)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let nbs = geodesic_neighbours(points, graph, i, neighbourhood);
                local_pca(points, i, &nbs)
            })
            .collect();
        let mut cumulative_variance = Array2::<f64>::zeros((n, ambient));
        for (i, (_, singular)) in local.iter().enumerate() {
            let total: f64 = singular.iter().map(|s| s * s).sum();
            let mut running = 0.0;
            for (c, s) in singular.iter().enumerate() {
                running += s * s;
                cumulative_variance[[i, c]] = if total > 0.0 { running / total } else { 1.0 };
            }
        }
        let dimension = match config.dimension {
            Some(m) => m,
            None => dimension_from_variance(&cumulative_variance, config.variance_explained),
        };
        let mut frames = Vec::with_capacity(n * ambient * dimension);
        for (directions, _) in &local {
            // `directions` is ambient x ambient, row-major, columns ordered by singular value.
            for a in 0..ambient {
                frames.extend_from_slice(&directions[a * ambient..a * ambient + dimension]);
            }
        }
        Ok(Self {
            ambient,
            dimension,
            frames,
            cumulative_variance,
        })
    }

    /// The identity frame at every node (MARBLE without local frames): tangent vectors are the
    /// ambient coordinates.
    pub fn ambient(nodes: usize, ambient: usize) -> Self {
        let mut frames = Vec::with_capacity(nodes * ambient * ambient);
        for _ in 0..nodes {
            for a in 0..ambient {
                frames.extend((0..ambient).map(|c| f64::from(u8::from(a == c))));
            }
        }
        Self {
            ambient,
            dimension: ambient,
            frames,
            cumulative_variance: Array2::from_shape_fn((nodes, ambient), |(_, c)| {
                (c + 1) as f64 / ambient as f64
            }),
        }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.cumulative_variance.nrows()
    }

    /// Dimension of the space the points live in.
    pub fn ambient_dimension(&self) -> usize {
        self.ambient
    }

    /// The manifold dimension m (columns per frame).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Node i's frame as an `ambient x m` matrix with orthonormal columns.
    pub fn frame(&self, i: usize) -> ArrayView2<'_, f64> {
        let size = self.ambient * self.dimension;
        let block = &self.frames[i * size..(i + 1) * size];
        // The block is row-major ambient x dimension by construction.
        ArrayView2::from_shape((self.ambient, self.dimension), block)
            .unwrap_or_else(|_| unreachable!("frame blocks have ambient x dimension entries"))
    }

    /// Per node, the fraction of local variance explained by the first 1..=ambient directions.
    pub fn cumulative_variance(&self) -> ArrayView2<'_, f64> {
        self.cumulative_variance.view()
    }

    /// Writes an ambient vector field (n x ambient) in the local frames (n x m).
    pub fn to_local(&self, field: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if field.dim() != (self.nodes(), self.ambient) {
            return Err(ManifoldError::InvalidData(format!(
                "a vector field of shape {:?} does not match {} nodes in {} dimensions",
                field.dim(),
                self.nodes(),
                self.ambient
            )));
        }
        let mut local = Array2::zeros((self.nodes(), self.dimension));
        for i in 0..self.nodes() {
            let frame = self.frame(i);
            local.row_mut(i).assign(&frame.t().dot(&field.row(i)));
        }
        Ok(local)
    }

    /// The Procrustes connection along every stored edge of `graph`, aligned with its
    /// adjacency entries.
    pub fn connections(&self, graph: &ProximityGraph) -> Result<Connections> {
        if graph.nodes() != self.nodes() {
            return Err(ManifoldError::InvalidData(format!(
                "the graph has {} nodes but the frames {}",
                graph.nodes(),
                self.nodes()
            )));
        }
        let m = self.dimension;
        let adjacency = graph.adjacency();
        let rotations: Vec<Vec<f64>> = (0..self.nodes())
            .into_par_iter()
            .map(|i| {
                let ti = self.frame(i);
                let mut out = Vec::with_capacity(adjacency.row(i).0.len() * m * m);
                for &j in adjacency.row(i).0 {
                    out.extend(procrustes(ti, self.frame(j as usize)));
                }
                out
            })
            .collect();
        Ok(Connections {
            dimension: m,
            rotations: rotations.concat(),
        })
    }
}

/// One `m x m` orthogonal matrix per stored adjacency entry (i, j): `R_ij`, mapping tangent
/// vectors in j's frame to i's frame.
#[derive(Debug, Clone)]
pub struct Connections {
    dimension: usize,
    /// Row-major m x m blocks in the adjacency's entry order.
    rotations: Vec<f64>,
}

impl Connections {
    /// The manifold dimension m.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The connection of adjacency entry `entry` as a row-major `m x m` block.
    pub fn block(&self, entry: usize) -> &[f64] {
        let size = self.dimension * self.dimension;
        &self.rotations[entry * size..(entry + 1) * size]
    }

    /// Bytes held by the blocks.
    pub fn memory_bytes(&self) -> usize {
        self.rotations.len() * std::mem::size_of::<f64>()
    }
}

/// The orthogonal matrix nearest to `T_i^T T_j` (row-major m x m).
fn procrustes(ti: ArrayView2<'_, f64>, tj: ArrayView2<'_, f64>) -> Vec<f64> {
    let overlap = ti.t().dot(&tj);
    let m = overlap.nrows();
    let matrix = DMatrix::from_fn(m, m, |r, c| overlap[[r, c]]);
    let svd = matrix.svd(true, true);
    match (svd.u, svd.v_t) {
        (Some(u), Some(v_t)) => {
            let r = u * v_t;
            (0..m)
                .flat_map(|a| (0..m).map(move |b| (a, b)))
                .map(|(a, b)| r[(a, b)])
                .collect()
        }
        // nalgebra always returns the factors it was asked for.
        _ => unreachable!("SVD computed with U and V^T"),
    }
}

/// The `count` nodes nearest to `source` in shortest-path distance over the graph (Euclidean
/// edge lengths), nearest first, excluding `source`.
fn geodesic_neighbours(
    points: ArrayView2<'_, f64>,
    graph: &ProximityGraph,
    source: usize,
    count: usize,
) -> Vec<usize> {
    // Sparse Dijkstra that stops after `count` settled nodes: the distance map holds only the
    // frontier, never n entries.
    let mut best: std::collections::HashMap<usize, f64> = std::collections::HashMap::new();
    let mut heap = BinaryHeap::new();
    let mut settled = Vec::with_capacity(count + 1);
    let mut done = std::collections::HashSet::new();
    heap.push(Reverse((OrderedDistance(0.0), source)));
    best.insert(source, 0.0);
    while let Some(Reverse((OrderedDistance(d), i))) = heap.pop() {
        if !done.insert(i) {
            continue;
        }
        if i != source {
            settled.push(i);
            if settled.len() == count {
                break;
            }
        }
        for &j in graph.neighbours(i) {
            let j = j as usize;
            if done.contains(&j) {
                continue;
            }
            let candidate = d + row_distance(points, i, j);
            if best.get(&j).is_none_or(|&old| candidate < old) {
                best.insert(j, candidate);
                heap.push(Reverse((OrderedDistance(candidate), j)));
            }
        }
    }
    settled
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedDistance(f64);

impl Eq for OrderedDistance {}

impl PartialOrd for OrderedDistance {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedDistance {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Right singular vectors (row-major ambient x ambient, columns by decreasing singular value)
/// and the singular values of the rows `x_j - x_i` over the neighbourhood.
fn local_pca(points: ArrayView2<'_, f64>, i: usize, neighbours: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let ambient = points.ncols();
    let rows = neighbours.len().max(1);
    let offsets = DMatrix::from_fn(rows, ambient, |r, c| match neighbours.get(r) {
        Some(&j) => points[[j, c]] - points[[i, c]],
        None => 0.0,
    });
    // The right singular vectors are the eigenvectors of the d x d scatter matrix; solving the
    // small symmetric problem is cheaper than an SVD of the tall matrix.
    let scatter = offsets.transpose() * &offsets;
    let eigen = nalgebra::SymmetricEigen::new(scatter);
    let mut order: Vec<usize> = (0..ambient).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let singular: Vec<f64> = order
        .iter()
        .map(|&c| eigen.eigenvalues[c].max(0.0).sqrt())
        .collect();
    let mut directions = vec![0.0; ambient * ambient];
    for a in 0..ambient {
        for (col, &c) in order.iter().enumerate() {
            directions[a * ambient + col] = eigen.eigenvectors[(a, c)];
        }
    }
    (directions, singular)
}

/// The reference's rule: the smallest m whose cumulative explained variance, mean minus one
/// standard deviation over nodes, reaches `fraction`.
fn dimension_from_variance(cumulative: &Array2<f64>, fraction: f64) -> usize {
    let (n, ambient) = cumulative.dim();
    for m in 0..ambient {
        let column = cumulative.column(m);
        let mean = column.sum() / n as f64;
        let var = column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        if mean - var.sqrt() >= fraction - 1e-12 {
            return m + 1;
        }
    }
    ambient
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphConfig;
    use ndarray::Array1;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Points on a plane through the origin of R^4 spanned by two orthonormal vectors.
    fn tilted_plane(n: usize) -> (Array2<f64>, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let basis = ndarray::array![[0.6, 0.0], [0.8, 0.0], [0.0, 0.6], [0.0, -0.8]];
        let coords = Array2::from_shape_fn((n, 2), |_| rng.random_range(-1.0..1.0));
        (coords.dot(&basis.t()), basis)
    }

    #[test]
    fn frames_of_a_plane_span_the_plane_and_connections_are_exact() -> Result<()> {
        let (points, basis) = tilted_plane(800);
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 10, delta: 1.0 })?;
        let frames = LocalFrames::fit(points.view(), &graph, FrameConfig::default())?;
        assert_eq!(frames.dimension(), 2);
        let projector = basis.dot(&basis.t());
        for i in 0..800 {
            let t = frames.frame(i);
            // Orthonormal columns lying in the plane.
            let gram = t.t().dot(&t);
            assert!(
                (&gram - &Array2::<f64>::eye(2))
                    .iter()
                    .all(|v| v.abs() < 1e-10)
            );
            assert!((&projector.dot(&t) - &t).iter().all(|v| v.abs() < 1e-10));
        }
        // On a flat manifold the frames differ by exact rotations: R_ij T_j^T = T_i^T.
        let connections = frames.connections(&graph)?;
        let adjacency = graph.adjacency();
        for i in (0..800).step_by(13) {
            let start = adjacency.row_offsets()[i];
            for (e, &j) in adjacency.row(i).0.iter().enumerate() {
                let r = Array2::from_shape_vec((2, 2), connections.block(start + e).to_vec())
                    .map_err(|e| ManifoldError::InvalidData(e.to_string()))?;
                let mapped = r.dot(&frames.frame(j as usize).t());
                let want = frames.frame(i).t().to_owned();
                assert!(
                    (&mapped - &want).iter().all(|v| v.abs() < 1e-9),
                    "edge {i}-{j}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn a_curve_in_three_dimensions_has_dimension_one() -> Result<()> {
        let n = 600;
        let points = Array2::from_shape_fn((n, 3), |(i, c)| {
            let s = 4.0 * std::f64::consts::PI * i as f64 / n as f64;
            [s.cos(), s.sin(), 0.2 * s][c]
        });
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 6, delta: 1.5 })?;
        let frames = LocalFrames::fit(points.view(), &graph, FrameConfig::default())?;
        assert_eq!(frames.dimension(), 1);
        // The frame is the unit tangent (-sin, cos, 0.2)/|.| up to sign.
        for i in (10..n - 10).step_by(37) {
            let s = 4.0 * std::f64::consts::PI * i as f64 / n as f64;
            let tangent = Array1::from(vec![-s.sin(), s.cos(), 0.2]);
            let tangent = &tangent / tangent.dot(&tangent).sqrt();
            let cosine = frames.frame(i).column(0).dot(&tangent).abs();
            assert!(cosine > 0.999, "node {i}: |cos| {cosine}");
        }
        Ok(())
    }

    #[test]
    fn a_fixed_dimension_out_of_range_is_rejected() -> Result<()> {
        let (points, _) = tilted_plane(100);
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 8, delta: 1.0 })?;
        let config = FrameConfig {
            dimension: Some(5),
            ..FrameConfig::default()
        };
        let err = LocalFrames::fit(points.view(), &graph, config)
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("frames.dimension"), "{err}");
        Ok(())
    }
}
