//! Neuron pre-sorting: orderings that place similar neurons next to each other, so that
//! convolutions over the neuron axis see related neurons side by side (CycleGAN for learning,
//! METHODS.md section 2).
//!
//! Similarity is the Pearson correlation between neurons' activity. Two orderings:
//! - [`OrderingMethod::Hierarchical`]: the leaf order of average-linkage hierarchical
//!   clustering on the correlation distance `1 - r` (UPGMA; SciPy's
//!   `leaves_list(linkage(squareform(1 - r), 'average'))`);
//! - [`OrderingMethod::Spectral`]: neurons sorted by the Fiedler vector (eigenvector of the
//!   second-smallest eigenvalue) of the graph Laplacian `L = D - W`, `W = max(r, 0)` off the
//!   diagonal (spectral seriation, Atkins et al. 1998).
//!
//! The result is a [`NeuronOrder`], a permutation that maps every sorted position back to the
//! original neuron, so outputs can always be reported under the original ids.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Result, data};

/// How to order neurons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderingMethod {
    /// Leaf order of average-linkage clustering on correlation distance.
    Hierarchical,
    /// Order along the Fiedler vector of the correlation graph.
    Spectral,
}

impl std::str::FromStr for OrderingMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hierarchical" => Ok(Self::Hierarchical),
            "spectral" => Ok(Self::Spectral),
            other => Err(format!(
                "unknown neuron ordering '{other}': use hierarchical or spectral"
            )),
        }
    }
}

/// A permutation of neurons: `order[i]` is the original index of the neuron at position `i`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeuronOrder {
    /// The method that produced it.
    pub method: OrderingMethod,
    /// Original index of the neuron at each sorted position.
    pub order: Vec<usize>,
}

impl NeuronOrder {
    /// Sorted position of each original neuron (the inverse permutation).
    pub fn positions(&self) -> Vec<usize> {
        let mut pos = vec![0; self.order.len()];
        for (p, &o) in self.order.iter().enumerate() {
            pos[o] = p;
        }
        pos
    }

    /// The rows of `x` (neurons x time) in sorted order.
    pub fn apply<T: Clone>(&self, x: ArrayView2<'_, T>) -> Array2<T> {
        x.select(Axis(0), &self.order)
    }

    /// Rows in sorted order put back in the original order.
    pub fn restore<T: Clone>(&self, sorted: ArrayView2<'_, T>) -> Array2<T> {
        sorted.select(Axis(0), &self.positions())
    }
}

/// Pearson correlation of two equally long series (0 when either is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Pearson correlation between the rows of `x` (neurons x time); a constant neuron has
/// correlation 0 with every other neuron and 1 with itself.
pub fn correlation_matrix(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let (n, t) = x.dim();
    let centred: Vec<Vec<f64>> = x
        .rows()
        .into_iter()
        .map(|r| {
            let mean = r.sum() / t as f64;
            r.iter().map(|v| v - mean).collect()
        })
        .collect();
    let norms: Vec<f64> = centred
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    Array2::from_shape_fn((n, n), |(i, j)| {
        if i == j {
            1.0
        } else if norms[i] == 0.0 || norms[j] == 0.0 {
            0.0
        } else {
            centred[i]
                .iter()
                .zip(&centred[j])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / (norms[i] * norms[j])
        }
    })
}

/// Order the neurons (rows) of `x` by `method`.
pub fn order_neurons(x: ArrayView2<'_, f64>, method: OrderingMethod) -> Result<NeuronOrder> {
    let (n, t) = x.dim();
    if n == 0 || t < 2 {
        return Err(data(format!(
            "ordering needs neurons with at least 2 time points, got {n} x {t}"
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(data("activity holds NaN or infinite values"));
    }
    let r = correlation_matrix(x);
    let order = match method {
        OrderingMethod::Hierarchical => average_linkage(&r.mapv(|v| 1.0 - v)).leaves(),
        OrderingMethod::Spectral => spectral_order(&r),
    };
    Ok(NeuronOrder { method, order })
}

/// One merge of agglomerative clustering, as a SciPy linkage row: the two cluster ids (leaves
/// are `0..n`, the cluster made at step `k` is `n + k`), their distance and the new size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merge {
    /// The smaller of the two merged ids.
    pub left: usize,
    /// The larger of the two merged ids.
    pub right: usize,
    /// Distance between them when merged.
    pub distance: f64,
    /// Number of leaves in the new cluster.
    pub size: usize,
}

/// An agglomerative clustering of `n` leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Dendrogram {
    /// Number of leaves.
    pub leaves: usize,
    /// The `n - 1` merges in order.
    pub merges: Vec<Merge>,
}

impl Dendrogram {
    /// Leaf order of a left-to-right traversal from the root (SciPy's `leaves_list`).
    pub fn leaves(&self) -> Vec<usize> {
        let n = self.leaves;
        if n == 1 {
            return vec![0];
        }
        let mut out = Vec::with_capacity(n);
        let mut stack = vec![n + self.merges.len() - 1];
        while let Some(id) = stack.pop() {
            if id < n {
                out.push(id);
            } else {
                let m = self.merges[id - n];
                stack.push(m.right);
                stack.push(m.left);
            }
        }
        out
    }
}

/// Average-linkage (UPGMA) clustering of a symmetric distance matrix: repeatedly merge the
/// closest pair of clusters, the distance between clusters being the mean pairwise distance
/// (Lance-Williams update). O(n^3) time, O(n^2) memory.
pub fn average_linkage(distance: &Array2<f64>) -> Dendrogram {
    let n = distance.nrows();
    let mut d = distance.clone();
    let mut ids: Vec<usize> = (0..n).collect();
    let mut sizes = vec![1usize; n];
    let mut active: Vec<bool> = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    for step in 0..n.saturating_sub(1) {
        let mut best = (f64::INFINITY, 0, 0);
        for i in 0..n {
            if !active[i] {
                continue;
            }
            for j in i + 1..n {
                if active[j] && d[(i, j)] < best.0 {
                    best = (d[(i, j)], i, j);
                }
            }
        }
        let (dist, i, j) = best;
        let size = sizes[i] + sizes[j];
        merges.push(Merge {
            left: ids[i].min(ids[j]),
            right: ids[i].max(ids[j]),
            distance: dist,
            size,
        });
        // The merged cluster takes slot i; slot j is retired.
        for k in 0..n {
            if active[k] && k != i && k != j {
                let v = (sizes[i] as f64 * d[(k, i)] + sizes[j] as f64 * d[(k, j)]) / size as f64;
                d[(k, i)] = v;
                d[(i, k)] = v;
            }
        }
        active[j] = false;
        sizes[i] = size;
        ids[i] = n + step;
    }
    Dendrogram { leaves: n, merges }
}

/// Neurons sorted by the Fiedler vector of the Laplacian of `W = max(r, 0)` (zero diagonal).
/// The vector's sign is fixed so that its first non-zero entry is negative.
fn spectral_order(r: &Array2<f64>) -> Vec<usize> {
    let n = r.nrows();
    if n < 3 {
        return (0..n).collect();
    }
    let w = |i: usize, j: usize| if i == j { 0.0 } else { r[(i, j)].max(0.0) };
    let degree: Vec<f64> = (0..n).map(|i| (0..n).map(|j| w(i, j)).sum()).collect();
    let laplacian = DMatrix::from_fn(n, n, |i, j| if i == j { degree[i] } else { -w(i, j) });
    let eig = SymmetricEigen::new(laplacian);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let mut fiedler: Vec<f64> = eig.eigenvectors.column(idx[1]).iter().copied().collect();
    if fiedler
        .iter()
        .find(|v| v.abs() > 1e-12)
        .is_some_and(|&v| v > 0.0)
    {
        fiedler.iter_mut().for_each(|v| *v = -*v);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| fiedler[a].total_cmp(&fiedler[b]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgma_on_a_textbook_matrix() {
        // Points on a line at 0, 1, 5, 6: merges (0,1) at 1, (2,3) at 1, then at mean distance 5.
        let pos = [0.0f64, 1.0, 5.0, 6.0];
        let d = Array2::from_shape_fn((4, 4), |(i, j)| (pos[i] - pos[j]).abs());
        let dg = average_linkage(&d);
        assert_eq!(
            (dg.merges[0].left, dg.merges[0].right, dg.merges[0].size),
            (0, 1, 2)
        );
        assert_eq!((dg.merges[1].left, dg.merges[1].right), (2, 3));
        assert_eq!(
            (dg.merges[2].left, dg.merges[2].right, dg.merges[2].size),
            (4, 5, 4)
        );
        assert!((dg.merges[2].distance - 5.0).abs() < 1e-12);
        assert_eq!(dg.leaves(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn permutation_round_trips() {
        let o = NeuronOrder {
            method: OrderingMethod::Spectral,
            order: vec![2, 0, 1],
        };
        assert_eq!(o.positions(), vec![1, 2, 0]);
        let x = ndarray::array![[0, 0], [1, 1], [2, 2]];
        let sorted = o.apply(x.view());
        assert_eq!(sorted.column(0).to_vec(), vec![2, 0, 1]);
        assert_eq!(o.restore(sorted.view()), x);
    }
}
