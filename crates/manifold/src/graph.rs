//! The continuous k-nearest-neighbour (CkNN) proximity graph of MARBLE (Gosztolai et al. 2025,
//! after Berry & Sauer 2019): points i and j are joined when
//!
//! ```text
//! d(i, j) < delta * sqrt(d_k(i) * d_k(j)),
//! ```
//!
//! where `d_k(i)` is the distance from i to its k-th nearest other point. The graph is
//! undirected and unweighted.
//!
//! Built over a [`KdTree`]: since `sqrt(d_k(i) d_k(j)) <= max(d_k(i), d_k(j))`, every edge is
//! found by a radius query of `delta * d_k(i)` around whichever end has the larger `d_k`, so
//! the search is exact while memory stays O(n k): the n x n distance matrix the reference
//! implementation builds is never formed.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ManifoldError, Result, invalid_config};
use crate::kdtree::KdTree;
use crate::sparse::CsrMatrix;

/// Settings of the proximity graph.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// Which neighbour sets the local scale `d_k` (default 20, MARBLE's default; its examples
    /// use 15-30).
    pub k: usize,
    /// Scale of the continuous-kNN rule (default 1.0; MARBLE's examples use up to 1.5).
    pub delta: f64,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self { k: 20, delta: 1.0 }
    }
}

impl GraphConfig {
    /// Rejects settings that cannot build a graph over `points` points.
    pub fn check(&self, points: usize) -> Result<()> {
        if self.k == 0 {
            return Err(invalid_config("graph.k", "must be at least 1"));
        }
        if self.k >= points {
            return Err(invalid_config(
                "graph.k",
                format!(
                    "is {} but there are only {points} points; use fewer neighbours than points",
                    self.k
                ),
            ));
        }
        if !(self.delta.is_finite() && self.delta > 0.0) {
            return Err(invalid_config(
                "graph.delta",
                format!("must be a positive number, got {}", self.delta),
            ));
        }
        Ok(())
    }
}

/// An undirected proximity graph over a point cloud.
#[derive(Debug, Clone)]
pub struct ProximityGraph {
    config: GraphConfig,
    /// Symmetric adjacency with unit weights and an empty diagonal.
    adjacency: CsrMatrix,
    /// `d_k(i)` for each point.
    kth_distance: Vec<f64>,
}

impl ProximityGraph {
    /// Builds the CkNN graph of the rows of `points` (n x d) and checks that it is connected.
    pub fn build(points: ArrayView2<'_, f64>, config: GraphConfig) -> Result<Self> {
        let graph = Self::build_unchecked(points, config)?;
        graph.check_connected()?;
        Ok(graph)
    }

    /// Builds the CkNN graph without the connectivity check (for inspecting a graph that
    /// [`ProximityGraph::build`] rejects).
    pub fn build_unchecked(points: ArrayView2<'_, f64>, config: GraphConfig) -> Result<Self> {
        config.check(points.nrows())?;
        let tree = KdTree::build(points)?;
        Ok(Self::from_tree(&tree, points, config))
    }

    /// Builds the CkNN graph over an existing tree of the same points.
    pub fn from_tree(tree: &KdTree, points: ArrayView2<'_, f64>, config: GraphConfig) -> Self {
        let n = points.nrows();
        let row = |i: usize| -> Vec<f64> { points.row(i).to_vec() };
        let kth_distance: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| {
                let found = tree.nearest(&row(i), config.k, Some(i as u32));
                found.last().map_or(0.0, |nb| nb.distance_squared.sqrt())
            })
            .collect();
        let delta2 = config.delta * config.delta;
        // Each point finds the edges to points whose d_k is at most its own; the other half
        // comes from the transpose.
        let half: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let dk_i = kth_distance[i];
                let mut found: Vec<u32> = tree
                    .within(&row(i), delta2 * dk_i * dk_i, Some(i as u32))
                    .into_iter()
                    .filter(|nb| {
                        let j = nb.index as usize;
                        let dk_j = kth_distance[j];
                        // Evaluated as the rule is written (distances, not squares), so ties
                        // such as mutual k-th neighbours at delta = 1 round the same way
                        // as in the reference.
                        (dk_j, j) <= (dk_i, i)
                            && nb.distance_squared.sqrt() < config.delta * (dk_i * dk_j).sqrt()
                    })
                    .map(|nb| nb.index)
                    .collect();
                found.sort_unstable();
                found
            })
            .collect();
        let mut full: Vec<Vec<u32>> = half.clone();
        for (i, neighbours) in half.iter().enumerate() {
            for &j in neighbours {
                full[j as usize].push(i as u32);
            }
        }
        let rows: Vec<Vec<(u32, f64)>> = full
            .into_par_iter()
            .map(|mut neighbours| {
                neighbours.sort_unstable();
                neighbours.dedup();
                neighbours.into_iter().map(|j| (j, 1.0)).collect()
            })
            .collect();
        Self {
            config,
            adjacency: CsrMatrix::from_sorted_rows(n, rows),
            kth_distance,
        }
    }

    /// The settings the graph was built with.
    pub fn config(&self) -> GraphConfig {
        self.config
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.adjacency.rows()
    }

    /// Number of undirected edges.
    pub fn edges(&self) -> usize {
        self.adjacency.nnz() / 2
    }

    /// The symmetric 0/1 adjacency matrix.
    pub fn adjacency(&self) -> &CsrMatrix {
        &self.adjacency
    }

    /// The neighbours of node `i`, in increasing order.
    pub fn neighbours(&self, i: usize) -> &[u32] {
        self.adjacency.row(i).0
    }

    /// The degree of every node.
    pub fn degrees(&self) -> Vec<usize> {
        (0..self.nodes())
            .map(|i| self.neighbours(i).len())
            .collect()
    }

    /// The distance from each point to its k-th nearest other point.
    pub fn kth_distance(&self) -> &[f64] {
        &self.kth_distance
    }

    /// The connected component of every node (components numbered from 0 in order of their
    /// smallest node) and the number of components.
    pub fn components(&self) -> (Vec<usize>, usize) {
        let n = self.nodes();
        let mut label = vec![usize::MAX; n];
        let mut count = 0;
        let mut stack = Vec::new();
        for start in 0..n {
            if label[start] != usize::MAX {
                continue;
            }
            label[start] = count;
            stack.push(start);
            while let Some(i) = stack.pop() {
                for &j in self.neighbours(i) {
                    if label[j as usize] == usize::MAX {
                        label[j as usize] = count;
                        stack.push(j as usize);
                    }
                }
            }
            count += 1;
        }
        (label, count)
    }

    /// Fails with [`ManifoldError::Disconnected`] unless every node can reach every other.
    pub fn check_connected(&self) -> Result<()> {
        let (label, count) = self.components();
        if count <= 1 {
            return Ok(());
        }
        let mut sizes = vec![0usize; count];
        for &c in &label {
            sizes[c] += 1;
        }
        Err(ManifoldError::Disconnected {
            components: count,
            largest: sizes.iter().copied().max().unwrap_or(0),
            points: self.nodes(),
            k: self.config.k,
            delta: self.config.delta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kdtree::squared_distance;
    use ndarray::{Array2, s};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The CkNN rule evaluated on every pair, as the reference implementation does.
    fn dense_cknn(points: &Array2<f64>, k: usize, delta: f64) -> Vec<Vec<u32>> {
        let n = points.nrows();
        let dist = Array2::from_shape_fn((n, n), |(i, j)| {
            squared_distance(&points.row(i).to_vec(), &points.row(j).to_vec()).sqrt()
        });
        let dk: Vec<f64> = (0..n)
            .map(|i| {
                let mut row: Vec<f64> = dist.row(i).to_vec();
                row.sort_by(f64::total_cmp);
                row[k] // row[0] is the point itself
            })
            .collect();
        (0..n)
            .map(|i| {
                (0..n)
                    .filter(|&j| j != i && dist[[i, j]] < delta * (dk[i] * dk[j]).sqrt())
                    .map(|j| j as u32)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn cknn_matches_the_dense_rule() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Uneven density: a tight cluster beside a sparse one.
        let mut points = Array2::from_shape_fn((600, 3), |_| rng.random_range(-1.0..1.0));
        points
            .slice_mut(s![..200, ..])
            .mapv_inplace(|v| 0.1 * v + 3.0);
        for (k, delta) in [(5, 1.0), (10, 1.5), (20, 0.8)] {
            let graph = ProximityGraph::build_unchecked(points.view(), GraphConfig { k, delta })?;
            let want = dense_cknn(&points, k, delta);
            for (i, want_i) in want.iter().enumerate() {
                assert_eq!(
                    graph.neighbours(i),
                    want_i.as_slice(),
                    "k {k} delta {delta} node {i}"
                );
            }
            let adjacency = graph.adjacency().to_dense();
            assert_eq!(adjacency, adjacency.t());
        }
        Ok(())
    }

    #[test]
    fn two_distant_clusters_are_reported_as_disconnected() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut points = Array2::from_shape_fn((300, 2), |_| rng.random_range(0.0..1.0));
        points.slice_mut(s![..100, ..]).mapv_inplace(|v| v + 50.0);
        let err = ProximityGraph::build(points.view(), GraphConfig::default())
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(
                err,
                ManifoldError::Disconnected {
                    components: 2,
                    largest: 200,
                    points: 300,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("raise graph.k"), "{err}");
        Ok(())
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let points = Array2::<f64>::zeros((10, 2));
        let too_many = GraphConfig { k: 10, delta: 1.0 };
        let err = ProximityGraph::build(points.view(), too_many)
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("graph.k"), "{err}");
        let bad_delta = GraphConfig { k: 3, delta: 0.0 };
        let err = ProximityGraph::build(points.view(), bad_delta)
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("graph.delta"), "{err}");
    }
}
