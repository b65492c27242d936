//! A kd-tree over points in R^d for exact k-nearest-neighbour and radius queries, so that the
//! proximity graph never needs the n x n distance matrix.
//!
//! Built by splitting the widest coordinate at its median until a node holds at most
//! [`LEAF_SIZE`] points; the points are stored in tree order so a leaf is one contiguous slice.
//! Queries descend to the nearer child first and skip a child when the splitting plane is
//! farther than the current search radius, which is exact.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::ArrayView2;

use crate::error::{ManifoldError, Result};

/// Points per leaf: small enough to prune well in 2-10 dimensions, large enough that the leaf
/// scan (a contiguous slice) dominates the tree walk.
pub const LEAF_SIZE: usize = 16;

#[derive(Debug, Clone)]
struct Node {
    start: usize,
    end: usize,
    /// `None` for a leaf; otherwise (dimension, split value, left child, right child).
    split: Option<(usize, f64, usize, usize)>,
}

/// An exact nearest-neighbour index over a fixed set of points.
#[derive(Debug, Clone)]
pub struct KdTree {
    dim: usize,
    /// Coordinates in tree order, `dim` per point.
    coords: Vec<f64>,
    /// Original index of each point in tree order.
    original: Vec<u32>,
    nodes: Vec<Node>,
}

/// A neighbour found by a query: its index in the input and its squared distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Row of the point in the array the tree was built from.
    pub index: u32,
    /// Squared Euclidean distance to the query.
    pub distance_squared: f64,
}

impl Eq for Neighbour {}

impl PartialOrd for Neighbour {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Neighbour {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance_squared
            .total_cmp(&other.distance_squared)
            .then(self.index.cmp(&other.index))
    }
}

impl KdTree {
    /// Builds the tree over the rows of `points` (n x d). Every coordinate must be finite.
    pub fn build(points: ArrayView2<'_, f64>) -> Result<Self> {
        let (n, dim) = points.dim();
        if n == 0 || dim == 0 {
            return Err(ManifoldError::InvalidData(format!(
                "a point cloud needs at least one point and one dimension, got {n} x {dim}"
            )));
        }
        if n > u32::MAX as usize {
            return Err(ManifoldError::InvalidData(format!(
                "{n} points exceed the 2^32 index range"
            )));
        }
        if let Some(((i, j), v)) = points.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(ManifoldError::InvalidData(format!(
                "point {i}, coordinate {j} is {v}; remove or fill non-finite values first"
            )));
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut nodes = Vec::with_capacity(2 * n / LEAF_SIZE + 1);
        build_node(&points, &mut order, 0, n, &mut nodes);
        let mut coords = Vec::with_capacity(n * dim);
        for &i in &order {
            coords.extend(points.row(i as usize).iter());
        }
        Ok(Self {
            dim,
            coords,
            original: order,
            nodes,
        })
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.original.len()
    }

    /// Whether the tree is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.original.is_empty()
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `k` nearest indexed points to `query`, nearest first (ties by index), leaving out
    /// the point with index `exclude` (the query itself, when it is one of the points).
    pub fn nearest(&self, query: &[f64], k: usize, exclude: Option<u32>) -> Vec<Neighbour> {
        let mut heap: BinaryHeap<Neighbour> = BinaryHeap::with_capacity(k + 1);
        if k > 0 {
            self.nearest_in(0, query, k, exclude, &mut heap);
        }
        heap.into_sorted_vec()
    }

    /// Every indexed point within squared distance `radius_squared` of `query` (inclusive),
    /// in no particular order, leaving out `exclude`.
    pub fn within(
        &self,
        query: &[f64],
        radius_squared: f64,
        exclude: Option<u32>,
    ) -> Vec<Neighbour> {
        let mut found = Vec::new();
        self.within_in(0, query, radius_squared, exclude, &mut found);
        found
    }

    fn point(&self, slot: usize) -> &[f64] {
        &self.coords[slot * self.dim..(slot + 1) * self.dim]
    }

    fn nearest_in(
        &self,
        node: usize,
        query: &[f64],
        k: usize,
        exclude: Option<u32>,
        heap: &mut BinaryHeap<Neighbour>,
    ) {
        let Node { start, end, split } = self.nodes[node];
        match split {
            None => {
                for slot in start..end {
                    let index = self.original[slot];
                    if Some(index) == exclude {
                        continue;
                    }
                    let candidate = Neighbour {
                        index,
                        distance_squared: squared_distance(self.point(slot), query),
                    };
                    if heap.len() < k {
                        heap.push(candidate);
                    } else if heap.peek().is_some_and(|worst| candidate < *worst) {
                        heap.pop();
                        heap.push(candidate);
                    }
                }
            }
            Some(split) => {
                let (offset, near, far) = near_side(query, split);
                self.nearest_in(near, query, k, exclude, heap);
                let radius = match heap.peek() {
                    Some(worst) if heap.len() == k => worst.distance_squared,
                    _ => f64::INFINITY,
                };
                if offset * offset <= radius {
                    self.nearest_in(far, query, k, exclude, heap);
                }
            }
        }
    }

    fn within_in(
        &self,
        node: usize,
        query: &[f64],
        radius_squared: f64,
        exclude: Option<u32>,
        found: &mut Vec<Neighbour>,
    ) {
        let Node { start, end, split } = self.nodes[node];
        match split {
            None => {
                for slot in start..end {
                    let index = self.original[slot];
                    if Some(index) == exclude {
                        continue;
                    }
                    let distance_squared = squared_distance(self.point(slot), query);
                    if distance_squared <= radius_squared {
                        found.push(Neighbour {
                            index,
                            distance_squared,
                        });
                    }
                }
            }
            Some(split) => {
                let (offset, near, far) = near_side(query, split);
                self.within_in(near, query, radius_squared, exclude, found);
                if offset * offset <= radius_squared {
                    self.within_in(far, query, radius_squared, exclude, found);
                }
            }
        }
    }
}

/// The query's signed distance to a node's splitting plane, and the node's children on the
/// query's side (visited first: points on the plane belong to the left) and the other side.
fn near_side(
    query: &[f64],
    (dim, value, left, right): (usize, f64, usize, usize),
) -> (f64, usize, usize) {
    let offset = query[dim] - value;
    if offset <= 0.0 {
        (offset, left, right)
    } else {
        (offset, right, left)
    }
}

fn build_node(
    points: &ArrayView2<'_, f64>,
    order: &mut [u32],
    start: usize,
    end: usize,
    nodes: &mut Vec<Node>,
) -> usize {
    let id = nodes.len();
    nodes.push(Node {
        start,
        end,
        split: None,
    });
    if end - start <= LEAF_SIZE {
        return id;
    }
    // Split the coordinate with the widest spread.
    let dims = points.ncols();
    let mut best = (0usize, -1.0f64);
    for dim in 0..dims {
        let (lo, hi) =
            order[start..end]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                    let v = points[[i as usize, dim]];
                    (lo.min(v), hi.max(v))
                });
        if hi - lo > best.1 {
            best = (dim, hi - lo);
        }
    }
    let (dim, spread) = best;
    if spread <= 0.0 {
        // All points coincide: keep them in one (large) leaf.
        return id;
    }
    let mid = (end - start) / 2;
    let slice = &mut order[start..end];
    slice.select_nth_unstable_by(mid, |&a, &b| {
        points[[a as usize, dim]].total_cmp(&points[[b as usize, dim]])
    });
    let value = points[[slice[mid] as usize, dim]];
    // Left holds coordinates <= value up to the median slot, right the rest; a query on the
    // plane visits the left first, and the far side whenever the plane is within its radius.
    let left = build_node(points, order, start, start + mid, nodes);
    let right = build_node(points, order, start + mid, end, nodes);
    nodes[id].split = Some((dim, value, left, right));
    id
}

/// Euclidean distance between rows `i` and `j` of `points`.
pub(crate) fn row_distance(points: ArrayView2<'_, f64>, i: usize, j: usize) -> f64 {
    points
        .row(i)
        .iter()
        .zip(points.row(j).iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// Squared Euclidean distance between two points of equal length.
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cloud(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0))
    }

    fn brute_nearest(points: &Array2<f64>, q: usize, k: usize) -> Vec<Neighbour> {
        let query: Vec<f64> = points.row(q).to_vec();
        let mut all: Vec<Neighbour> = (0..points.nrows())
            .filter(|&j| j != q)
            .map(|j| Neighbour {
                index: j as u32,
                distance_squared: squared_distance(&points.row(j).to_vec(), &query),
            })
            .collect();
        all.sort();
        all.truncate(k);
        all
    }

    #[test]
    fn nearest_matches_brute_force() -> Result<()> {
        for (n, d) in [(500, 2), (700, 5), (300, 8), (17, 3)] {
            let points = cloud(n, d, (n * d) as u64);
            let tree = KdTree::build(points.view())?;
            for q in (0..n).step_by(7) {
                let query = points.row(q).to_vec();
                let got = tree.nearest(&query, 12, Some(q as u32));
                assert_eq!(got, brute_nearest(&points, q, 12), "n {n} d {d} query {q}");
            }
        }
        Ok(())
    }

    #[test]
    fn within_matches_brute_force_including_duplicates() -> Result<()> {
        let mut points = cloud(400, 3, 9);
        // Exact duplicates and points on splitting planes must not be lost.
        for i in 0..40 {
            let row = points.row(i).to_owned();
            points.row_mut(i + 200).assign(&row);
        }
        let tree = KdTree::build(points.view())?;
        for q in 0..400 {
            let query = points.row(q).to_vec();
            let mut got: Vec<u32> = tree
                .within(&query, 0.09, None)
                .iter()
                .map(|n| n.index)
                .collect();
            got.sort_unstable();
            let want: Vec<u32> = (0..400u32)
                .filter(|&j| squared_distance(&points.row(j as usize).to_vec(), &query) <= 0.09)
                .collect();
            assert_eq!(got, want, "query {q}");
        }
        Ok(())
    }

    #[test]
    fn non_finite_points_are_rejected_with_their_position() {
        let mut points = cloud(10, 2, 1);
        points[[4, 1]] = f64::NAN;
        let err = KdTree::build(points.view()).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("point 4, coordinate 1"), "{err}");
    }
}
