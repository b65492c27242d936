//! Optimal-transport distances between point clouds, and what MARBLE does with them
//! (Gosztolai et al. 2025, step 8): compare conditions by the transport cost between their
//! embeddings, exactly or after k-means, then lay the distance matrix out by classical MDS.
//!
//! - [`emd`]: the exact earth mover's distance between two discrete measures, by successive
//!   shortest augmenting paths with Johnson potentials on the dense bipartite graph
//!   (O((n + m)^2) per augmentation); exact for any non-negative cost.
//! - [`sinkhorn`]: the entropic approximation in the log domain, for large sets.
//! - [`kmeans`]: Lloyd's algorithm with k-means++ seeding.
//! - [`condition_distances`]: the condition x condition matrix.
//! - [`classical_mds`]: Torgerson's classical multidimensional scaling.

// Index loops over several parallel arrays (costs, potentials, labels) read as the
// algorithms are written.
#![allow(clippy::needless_range_loop)]
use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};

fn check_measure(name: &str, weights: ArrayView1<'_, f64>) -> Result<f64> {
    if weights.is_empty() {
        return Err(data(format!("{name} has no points")));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(data(format!("{name} has negative or non-finite weights")));
    }
    let total: f64 = weights.sum();
    if total <= 0.0 {
        return Err(data(format!("{name} has zero total weight")));
    }
    Ok(total)
}

/// An optimal transport plan and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Transport {
    /// `sum_ij plan_ij cost_ij`.
    pub cost: f64,
    /// The plan (n x m); rows sum to `a`, columns to `b` (both normalised to total 1).
    pub plan: Array2<f64>,
}

/// The exact earth mover's distance between measures `a` (n) and `b` (m) for `cost` (n x m).
/// Weights are normalised to total mass 1 each.
pub fn emd(
    a: ArrayView1<'_, f64>,
    b: ArrayView1<'_, f64>,
    cost: ArrayView2<'_, f64>,
) -> Result<Transport> {
    let total_a = check_measure("the first measure", a)?;
    let total_b = check_measure("the second measure", b)?;
    let (n, m) = cost.dim();
    if n != a.len() || m != b.len() {
        return Err(data(format!(
            "a {n} x {m} cost matrix does not match measures of {} and {} points",
            a.len(),
            b.len()
        )));
    }
    if cost.iter().any(|c| !c.is_finite() || *c < 0.0) {
        return Err(data("costs must be finite and non-negative"));
    }
    let mut supply: Vec<f64> = a.iter().map(|w| w / total_a).collect();
    let mut demand: Vec<f64> = b.iter().map(|w| w / total_b).collect();
    let mut plan = Array2::<f64>::zeros((n, m));
    // Potentials: sources 0..n, sinks n..n+m; reduced costs stay >= 0.
    let mut potential = vec![0.0f64; n + m];
    let tolerance = 1e-13;
    let mut remaining: f64 = supply.iter().sum();
    let mut guard = 0usize;
    while remaining > 1e-12 && guard < 20 * (n + m) + 1000 {
        guard += 1;
        // Dense Dijkstra from every source that still has supply.
        let nodes = n + m;
        let mut dist = vec![f64::INFINITY; nodes];
        let mut previous = vec![usize::MAX; nodes];
        let mut done = vec![false; nodes];
        for i in 0..n {
            if supply[i] > tolerance {
                dist[i] = 0.0;
            }
        }
        let mut target = None;
        loop {
            let mut u = usize::MAX;
            let mut best = f64::INFINITY;
            for v in 0..nodes {
                if !done[v] && dist[v] < best {
                    best = dist[v];
                    u = v;
                }
            }
            if u == usize::MAX {
                break;
            }
            done[u] = true;
            if u >= n && demand[u - n] > tolerance {
                target = Some(u);
                break;
            }
            if u < n {
                for j in 0..m {
                    let v = n + j;
                    if done[v] {
                        continue;
                    }
                    let reduced = cost[[u, j]] + potential[u] - potential[v];
                    let candidate = dist[u] + reduced.max(0.0);
                    if candidate < dist[v] {
                        dist[v] = candidate;
                        previous[v] = u;
                    }
                }
            } else {
                let j = u - n;
                for i in 0..n {
                    if done[i] || plan[[i, j]] <= tolerance {
                        continue;
                    }
                    let reduced = -cost[[i, j]] + potential[u] - potential[i];
                    let candidate = dist[u] + reduced.max(0.0);
                    if candidate < dist[i] {
                        dist[i] = candidate;
                        previous[i] = u;
                    }
                }
            }
        }
        let Some(target) = target else {
            break;
        };
        let reach = dist[target];
        for v in 0..nodes {
            potential[v] += dist[v].min(reach);
        }
        // Walk back to the source, finding the bottleneck.
        let mut amount = demand[target - n];
        let mut v = target;
        while previous[v] != usize::MAX {
            let u = previous[v];
            if u >= n {
                // A reverse step sink u -> source v cancels flow on (v, u).
                amount = amount.min(plan[[v, u - n]]);
            }
            v = u;
        }
        amount = amount.min(supply[v]);
        let source = v;
        let mut v = target;
        while previous[v] != usize::MAX {
            let u = previous[v];
            if u < n {
                plan[[u, v - n]] += amount;
            } else {
                plan[[v, u - n]] -= amount;
            }
            v = u;
        }
        supply[source] -= amount;
        demand[target - n] -= amount;
        remaining -= amount;
    }
    plan.mapv_inplace(|f| if f < 0.0 { 0.0 } else { f });
    let cost_total = (&plan * &cost).sum();
    Ok(Transport {
        cost: cost_total,
        plan,
    })
}

/// The entropic optimal transport (Sinkhorn, log domain) with regularisation `epsilon` relative
/// to the median cost; returns the transport cost of the regularised plan.
pub fn sinkhorn(
    a: ArrayView1<'_, f64>,
    b: ArrayView1<'_, f64>,
    cost: ArrayView2<'_, f64>,
    epsilon: f64,
    iterations: usize,
) -> Result<Transport> {
    let total_a = check_measure("the first measure", a)?;
    let total_b = check_measure("the second measure", b)?;
    let (n, m) = cost.dim();
    if n != a.len() || m != b.len() {
        return Err(data("cost matrix and measures differ in size"));
    }
    if !(epsilon > 0.0 && epsilon.is_finite()) {
        return Err(parameter(format!(
            "sinkhorn epsilon must be positive, got {epsilon}"
        )));
    }
    let mut sorted: Vec<f64> = cost.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let scale = sorted[sorted.len() / 2].max(1e-12);
    let eps = epsilon * scale;
    let log_a: Vec<f64> = a.iter().map(|w| (w / total_a).max(1e-300).ln()).collect();
    let log_b: Vec<f64> = b.iter().map(|w| (w / total_b).max(1e-300).ln()).collect();
    let mut f = vec![0.0; n];
    let mut g = vec![0.0; m];
    let logsumexp = |values: &mut dyn Iterator<Item = f64>| -> f64 {
        let v: Vec<f64> = values.collect();
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return max;
        }
        max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
    };
    for _ in 0..iterations {
        for i in 0..n {
            f[i] =
                eps * log_a[i] - eps * logsumexp(&mut (0..m).map(|j| (g[j] - cost[[i, j]]) / eps));
        }
        for j in 0..m {
            g[j] =
                eps * log_b[j] - eps * logsumexp(&mut (0..n).map(|i| (f[i] - cost[[i, j]]) / eps));
        }
    }
    let plan = Array2::from_shape_fn((n, m), |(i, j)| ((f[i] + g[j] - cost[[i, j]]) / eps).exp());
    let total = (&plan * &cost).sum();
    Ok(Transport { cost: total, plan })
}

/// Euclidean distances between the rows of `x` (n x d) and `y` (m x d).
pub fn pairwise_distances(x: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((x.nrows(), y.nrows()), |(i, j)| {
        x.row(i)
            .iter()
            .zip(y.row(j).iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    })
}

/// A k-means clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// Cluster centres (k x d).
    pub centroids: Array2<f64>,
    /// Cluster of each point.
    pub labels: Vec<usize>,
}

/// Lloyd's k-means with k-means++ seeding from `seed`, at most `iterations` rounds.
pub fn kmeans(
    points: ArrayView2<'_, f64>,
    k: usize,
    seed: u64,
    iterations: usize,
) -> Result<Clustering> {
    let (n, d) = points.dim();
    if k == 0 || k > n {
        return Err(parameter(format!(
            "k-means needs 1 <= k <= {n} points, got k = {k}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sq = |a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>| -> f64 {
        a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
    };
    let mut centroids = Array2::<f64>::zeros((k, d));
    centroids
        .row_mut(0)
        .assign(&points.row(rng.random_range(0..n)));
    let mut nearest: Vec<f64> = (0..n)
        .map(|i| sq(points.row(i), centroids.row(0)))
        .collect();
    for c in 1..k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random_range(0.0..total);
            let mut chosen = n - 1;
            for (i, w) in nearest.iter().enumerate() {
                if target < *w {
                    chosen = i;
                    break;
                }
                target -= w;
            }
            chosen
        } else {
            rng.random_range(0..n)
        };
        centroids.row_mut(c).assign(&points.row(pick));
        for i in 0..n {
            nearest[i] = nearest[i].min(sq(points.row(i), centroids.row(c)));
        }
    }
    let mut labels = vec![0usize; n];
    for round in 0..iterations.max(1) {
        let mut changed = false;
        for i in 0..n {
            let mut best = (f64::INFINITY, 0);
            for c in 0..k {
                let dist = sq(points.row(i), centroids.row(c));
                if dist < best.0 {
                    best = (dist, c);
                }
            }
            if labels[i] != best.1 || round == 0 {
                changed |= labels[i] != best.1;
                labels[i] = best.1;
            }
        }
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = vec![0usize; k];
        for i in 0..n {
            sums.row_mut(labels[i]).scaled_add(1.0, &points.row(i));
            counts[labels[i]] += 1;
        }
        for c in 0..k {
            if counts[c] > 0 {
                centroids
                    .row_mut(c)
                    .assign(&(&sums.row(c) / counts[c] as f64));
            }
        }
        if !changed && round > 0 {
            break;
        }
    }
    Ok(Clustering { centroids, labels })
}

/// How [`condition_distances`] compares two embedded conditions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TransportMethod {
    /// Exact EMD between the point clouds (uniform weights).
    Exact,
    /// Entropic transport with regularisation relative to the median cost.
    Sinkhorn {
        /// Regularisation, as a fraction of the median cost (e.g. 0.01).
        epsilon: f64,
        /// Sinkhorn iterations.
        iterations: usize,
    },
    /// k-means of all embeddings jointly into `clusters`, then exact EMD between each
    /// condition's cluster histogram with centroid distances as costs (MARBLE's default).
    Clustered {
        /// Number of clusters (MARBLE's examples use 50-60).
        clusters: usize,
        /// Seed of the k-means initialisation.
        seed: u64,
    },
}

/// The condition x condition transport distance matrix between the embeddings `points`
/// (n x d), condition `c` holding rows `offsets[c]..offsets[c + 1]`.
pub fn condition_distances(
    points: ArrayView2<'_, f64>,
    offsets: &[usize],
    method: TransportMethod,
) -> Result<Array2<f64>> {
    if offsets.len() < 3
        || offsets.windows(2).any(|w| w[1] <= w[0])
        || offsets[offsets.len() - 1] != points.nrows()
    {
        return Err(data(
            "conditions must be at least two non-empty consecutive blocks of rows",
        ));
    }
    let conditions = offsets.len() - 1;
    let block = |c: usize| points.slice(ndarray::s![offsets[c]..offsets[c + 1], ..]);
    let mut distances = Array2::<f64>::zeros((conditions, conditions));
    let clustered = match method {
        TransportMethod::Clustered { clusters, seed } => {
            let clustering = kmeans(points, clusters.min(points.nrows()), seed, 100)?;
            let k = clustering.centroids.nrows();
            let histograms: Vec<Array1<f64>> = (0..conditions)
                .map(|c| {
                    let mut h = Array1::<f64>::zeros(k);
                    for i in offsets[c]..offsets[c + 1] {
                        h[clustering.labels[i]] += 1.0;
                    }
                    h
                })
                .collect();
            let cost = pairwise_distances(clustering.centroids.view(), clustering.centroids.view());
            Some((histograms, cost))
        }
        _ => None,
    };
    for i in 0..conditions {
        for j in i + 1..conditions {
            let value = match (&method, &clustered) {
                (TransportMethod::Clustered { .. }, Some((histograms, cost))) => {
                    // Drop empty clusters of both sides to keep the problem small.
                    let keep: Vec<usize> = (0..cost.nrows())
                        .filter(|&c| histograms[i][c] > 0.0 || histograms[j][c] > 0.0)
                        .collect();
                    let a = Array1::from_iter(keep.iter().map(|&c| histograms[i][c]));
                    let b = Array1::from_iter(keep.iter().map(|&c| histograms[j][c]));
                    let sub = Array2::from_shape_fn((keep.len(), keep.len()), |(p, q)| {
                        cost[[keep[p], keep[q]]]
                    });
                    emd(a.view(), b.view(), sub.view())?.cost
                }
                (TransportMethod::Exact, _) => {
                    let cost = pairwise_distances(block(i), block(j));
                    let a = Array1::ones(cost.nrows());
                    let b = Array1::ones(cost.ncols());
                    emd(a.view(), b.view(), cost.view())?.cost
                }
                (
                    TransportMethod::Sinkhorn {
                        epsilon,
                        iterations,
                    },
                    _,
                ) => {
                    let cost = pairwise_distances(block(i), block(j));
                    let a = Array1::ones(cost.nrows());
                    let b = Array1::ones(cost.ncols());
                    sinkhorn(a.view(), b.view(), cost.view(), *epsilon, *iterations)?.cost
                }
                _ => unreachable!("clustered histograms exist exactly for the clustered method"),
            };
            distances[[i, j]] = value;
            distances[[j, i]] = value;
        }
    }
    Ok(distances)
}

/// Classical (Torgerson) MDS of a symmetric distance matrix into `dims` coordinates: the top
/// eigenvectors of `-J D^2 J / 2` scaled by the square roots of their eigenvalues (negative
/// eigenvalues, from non-Euclidean distances, give zero coordinates). Each axis's sign is
/// fixed so that its largest-magnitude coordinate is positive.
pub fn classical_mds(distances: ArrayView2<'_, f64>, dims: usize) -> Result<Array2<f64>> {
    let n = distances.nrows();
    if distances.ncols() != n || n == 0 {
        return Err(data("MDS needs a square, non-empty distance matrix"));
    }
    let squared = distances.mapv(|d| d * d);
    let row_means = squared
        .mean_axis(ndarray::Axis(1))
        .unwrap_or_else(|| Array1::zeros(n));
    let grand = row_means.mean().unwrap_or(0.0);
    let b = DMatrix::from_fn(n, n, |i, j| {
        -0.5 * (squared[[i, j]] - row_means[i] - row_means[j] + grand)
    });
    let eigen = SymmetricEigen::new(b);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&p, &q| eigen.eigenvalues[q].total_cmp(&eigen.eigenvalues[p]));
    let dims = dims.min(n);
    let mut coords = Array2::<f64>::zeros((n, dims));
    for (axis, &e) in order.iter().take(dims).enumerate() {
        let scale = eigen.eigenvalues[e].max(0.0).sqrt();
        let column: Vec<f64> = (0..n).map(|i| eigen.eigenvectors[(i, e)] * scale).collect();
        let sign = column
            .iter()
            .copied()
            .fold(
                0.0f64,
                |best, v| if v.abs() > best.abs() { v } else { best },
            )
            .signum();
        for (i, v) in column.into_iter().enumerate() {
            coords[[i, axis]] = if sign < 0.0 { -v } else { v };
        }
    }
    Ok(coords)
}

/// Spearman's rank correlation (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return Err(data(
            "Spearman correlation needs two series of equal length >= 2",
        ));
    }
    let ranks = |v: &[f64]| -> Vec<f64> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
                j += 1;
            }
            let average = (i + j) as f64 / 2.0 + 1.0;
            for &o in &order[i..=j] {
                r[o] = average;
            }
            i = j + 1;
        }
        r
    };
    let (rx, ry) = (ranks(x), ranks(y));
    let mean = (x.len() as f64 + 1.0) / 2.0;
    let cov: f64 = rx
        .iter()
        .zip(&ry)
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    let vx: f64 = rx.iter().map(|a| (a - mean) * (a - mean)).sum();
    let vy: f64 = ry.iter().map(|b| (b - mean) * (b - mean)).sum();
    if vx == 0.0 || vy == 0.0 {
        return Err(data(
            "Spearman correlation of a constant series is undefined",
        ));
    }
    Ok(cov / (vx * vy).sqrt())
}

/// The distances between the conditions of an embedding and their MDS layout, as `neuroforge
/// compare` writes them (NaN as `null`, read back as NaN).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConditionComparison {
    /// Condition names, in order of first appearance.
    pub conditions: Vec<String>,
    /// The method used.
    pub method: TransportMethod,
    /// Transport distances, condition x condition.
    #[serde(deserialize_with = "crate::serde_nan::rows")]
    pub distances: Vec<Vec<f64>>,
    /// Classical MDS coordinates of the conditions (2 per condition).
    #[serde(deserialize_with = "crate::serde_nan::rows")]
    pub mds: Vec<Vec<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Brute force over permutations: with uniform equal-size measures the EMD is an
    /// optimal assignment (Birkhoff), so the best permutation gives the exact value.
    fn best_assignment(cost: &Array2<f64>) -> f64 {
        fn permute(k: usize, p: &mut Vec<usize>, cost: &Array2<f64>, best: &mut f64) {
            if k == p.len() {
                let total: f64 = p.iter().enumerate().map(|(i, &j)| cost[[i, j]]).sum();
                *best = best.min(total / p.len() as f64);
                return;
            }
            for i in k..p.len() {
                p.swap(k, i);
                permute(k + 1, p, cost, best);
                p.swap(k, i);
            }
        }
        let mut best = f64::INFINITY;
        permute(0, &mut (0..cost.nrows()).collect(), cost, &mut best);
        best
    }

    #[test]
    fn emd_equals_the_best_assignment_on_random_problems() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..30 {
            let n = rng.random_range(2..7);
            let x = Array2::from_shape_fn((n, 2), |_| rng.random_range(-1.0..1.0));
            let y = Array2::from_shape_fn((n, 2), |_| rng.random_range(-1.0..1.0));
            let cost = pairwise_distances(x.view(), y.view());
            let ones = Array1::ones(n);
            let got = emd(ones.view(), ones.view(), cost.view())?;
            let want = best_assignment(&cost);
            assert!((got.cost - want).abs() < 1e-10, "{} vs {want}", got.cost);
            let rows = got.plan.sum_axis(ndarray::Axis(1));
            assert!(rows.iter().all(|r| (r - 1.0 / n as f64).abs() < 1e-10));
        }
        Ok(())
    }

    #[test]
    fn emd_of_unequal_measures_on_a_line_equals_the_cdf_distance() -> Result<()> {
        // On the real line W1 = integral |F_a - F_b|, a closed form.
        let xs = [0.0f64, 1.0, 2.5, 4.0];
        let ys = [0.5, 3.0, 3.5];
        let a = array![0.1, 0.4, 0.3, 0.2];
        let b = array![0.5, 0.25, 0.25];
        let cost = Array2::from_shape_fn((4, 3), |(i, j)| (xs[i] - ys[j]).abs());
        let got = emd(a.view(), b.view(), cost.view())?.cost;
        let mut grid: Vec<f64> = xs.iter().chain(ys.iter()).copied().collect();
        grid.sort_by(f64::total_cmp);
        let cdf = |points: &[f64], w: &Array1<f64>, t: f64| -> f64 {
            points
                .iter()
                .zip(w.iter())
                .filter(|(p, _)| **p <= t)
                .map(|(_, w)| w)
                .sum()
        };
        let want: f64 = grid
            .windows(2)
            .map(|s| (cdf(&xs, &a, s[0]) - cdf(&ys, &b, s[0])).abs() * (s[1] - s[0]))
            .sum();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        Ok(())
    }

    #[test]
    fn sinkhorn_approaches_the_exact_cost() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((40, 2), |_| rng.random_range(-1.0..1.0));
        let y = Array2::from_shape_fn((30, 2), |_| rng.random_range(0.0..2.0));
        let cost = pairwise_distances(x.view(), y.view());
        let (a, b) = (Array1::ones(40), Array1::ones(30));
        let exact = emd(a.view(), b.view(), cost.view())?.cost;
        let approx = sinkhorn(a.view(), b.view(), cost.view(), 0.005, 2000)?.cost;
        assert!((approx - exact).abs() < 0.01 * exact, "{approx} vs {exact}");
        Ok(())
    }

    #[test]
    fn mds_recovers_points_on_a_line_and_spearman_ranks() -> Result<()> {
        let positions = [0.0f64, 1.0, 3.0, 3.5, 7.0];
        let d = Array2::from_shape_fn((5, 5), |(i, j)| (positions[i] - positions[j]).abs());
        let coords = classical_mds(d.view(), 2)?;
        let recovered = pairwise_distances(coords.view(), coords.view());
        assert!((&recovered - &d).iter().all(|v| v.abs() < 1e-9));
        let first: Vec<f64> = coords.column(0).to_vec();
        assert!((spearman(&first, &positions)?.abs() - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0])? - 0.8).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn kmeans_finds_separated_blobs() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let points = Array2::from_shape_fn((300, 2), |(i, c)| {
            centres[i % 3][c] + rng.random_range(-1.0..1.0)
        });
        let clustering = kmeans(points.view(), 3, 1, 50)?;
        for i in 0..300 {
            assert_eq!(clustering.labels[i], clustering.labels[i % 3], "point {i}");
        }
        Ok(())
    }
}
