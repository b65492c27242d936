//! First- and second-order statistics of binned activity from sufficient statistics that add up
//! over blocks of bins, so that a bootstrap over blocks costs sums, not passes over the data.
//!
//! Definitions (Spike-GAN's evaluation, with the conventions of its published retina numbers):
//! - firing rate of neuron `i`: mean count per bin, `r_i = sum_t x_i(t) / T`;
//! - covariance: `C_ij = (sum_t x_i x_j - T r_i r_j) / (T - 1)` (NumPy's `np.cov`, ddof 1);
//! - correlation: `C_ij / sqrt(C_ii C_jj)` (0 where a neuron never varies);
//! - lag-`k` covariance: the covariance of `x_i(t)` and `x_j(t + k)` over the `T - k` pairs of
//!   bins, each side with its own mean, ddof 1 (`np.cov(x[:, :-k], x[:, k:])`'s cross block);
//! - population count distribution `P(k)`: the fraction of bins in which `k` spikes (summed over
//!   neurons) occur, `k = 0..`;
//! - autocorrelogram: `A(l) = sum_i sum_t x_i(t) x_i(t + l)` for `l = 1..=10` over the pairs of
//!   bins inside one unit (the whole recording, or each window), summed over neurons and units,
//!   divided by its maximum over `l = 1..=10` (zero lag removed; symmetric, so `A(-l) = A(l)`).

use ndarray::{Array1, Array2, ArrayView2, Axis, s};

/// Largest autocorrelogram lag.
pub const ACG_LAGS: usize = 10;

/// Sufficient statistics of a run of bins (a block); they add up over blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Number of bins.
    pub bins: f64,
    /// `sum_t x(t)`, per neuron.
    pub sum: Array1<f64>,
    /// `sum_t x(t) x(t)^T`.
    pub cross: Array2<f64>,
    /// Number of lag-1 pairs `(t, t + 1)`.
    pub lag_pairs: f64,
    /// `sum x(t)` over the first bins of the lag-1 pairs.
    pub lag_from: Array1<f64>,
    /// `sum x(t + 1)` over the second bins of the lag-1 pairs.
    pub lag_to: Array1<f64>,
    /// `sum x(t) x(t + 1)^T`.
    pub lag_cross: Array2<f64>,
    /// Number of bins with population count `k`, for `k = 0..len`.
    pub count_histogram: Vec<f64>,
    /// `sum_i sum_t x_i(t) x_i(t + l)` for `l = 0..=ACG_LAGS`, pairs inside a unit.
    pub acg: [f64; ACG_LAGS + 1],
}

impl Moments {
    /// Zero statistics for `neurons` neurons.
    pub fn zeros(neurons: usize) -> Self {
        Self {
            bins: 0.0,
            sum: Array1::zeros(neurons),
            cross: Array2::zeros((neurons, neurons)),
            lag_pairs: 0.0,
            lag_from: Array1::zeros(neurons),
            lag_to: Array1::zeros(neurons),
            lag_cross: Array2::zeros((neurons, neurons)),
            count_histogram: Vec::new(),
            acg: [0.0; ACG_LAGS + 1],
        }
    }

    /// Statistics of `x` (neurons x bins) taken as one unit: lag pairs and autocorrelogram pairs
    /// inside it.
    pub fn of(x: ArrayView2<'_, f64>) -> Self {
        let (neurons, bins) = x.dim();
        let mut m = Self::zeros(neurons);
        m.bins = bins as f64;
        m.sum = x.sum_axis(Axis(1));
        m.cross = x.dot(&x.t());
        if bins > 1 {
            let from = x.slice(s![.., ..bins - 1]);
            let to = x.slice(s![.., 1..]);
            m.lag_pairs = (bins - 1) as f64;
            m.lag_from = from.sum_axis(Axis(1));
            m.lag_to = to.sum_axis(Axis(1));
            m.lag_cross = from.dot(&to.t());
        }
        let counts = x.sum_axis(Axis(0));
        for &k in &counts {
            let k = k.max(0.0) as usize;
            if m.count_histogram.len() <= k {
                m.count_histogram.resize(k + 1, 0.0);
            }
            m.count_histogram[k] += 1.0;
        }
        m.acg = autocorrelation_sums(x);
        m
    }

    /// The autocorrelogram sums of `x` as one unit (lags `0..=ACG_LAGS`).
    pub fn of_autocorrelation(x: ArrayView2<'_, f64>) -> [f64; ACG_LAGS + 1] {
        autocorrelation_sums(x)
    }

    /// Add `weight` times `other` (a bootstrap multiplicity, or 1).
    pub fn add_scaled(&mut self, other: &Self, weight: f64) {
        self.bins += weight * other.bins;
        self.sum.scaled_add(weight, &other.sum);
        self.cross.scaled_add(weight, &other.cross);
        self.lag_pairs += weight * other.lag_pairs;
        self.lag_from.scaled_add(weight, &other.lag_from);
        self.lag_to.scaled_add(weight, &other.lag_to);
        self.lag_cross.scaled_add(weight, &other.lag_cross);
        if self.count_histogram.len() < other.count_histogram.len() {
            self.count_histogram
                .resize(other.count_histogram.len(), 0.0);
        }
        for (a, b) in self.count_histogram.iter_mut().zip(&other.count_histogram) {
            *a += weight * b;
        }
        for (a, b) in self.acg.iter_mut().zip(&other.acg) {
            *a += weight * b;
        }
    }

    /// Mean count per bin of each neuron.
    pub fn firing_rate(&self) -> Array1<f64> {
        &self.sum / self.bins.max(1.0)
    }

    /// Covariance matrix (ddof 1).
    pub fn covariance(&self) -> Array2<f64> {
        let n = self.bins;
        let outer = outer(&self.sum, &self.sum);
        (&self.cross - &(outer / n.max(1.0))) / (n - 1.0).max(1.0)
    }

    /// Pearson correlation matrix (0 for pairs with a neuron of zero variance; 1 on the
    /// diagonal).
    pub fn correlation(&self) -> Array2<f64> {
        let c = self.covariance();
        let sd: Vec<f64> = c.diag().iter().map(|v| v.max(0.0).sqrt()).collect();
        let mut r = c;
        let neurons = sd.len();
        for i in 0..neurons {
            for j in 0..neurons {
                r[[i, j]] = if i == j {
                    1.0
                } else if sd[i] > 0.0 && sd[j] > 0.0 {
                    r[[i, j]] / (sd[i] * sd[j])
                } else {
                    0.0
                };
            }
        }
        r
    }

    /// Lag-1 covariance matrix: entry `(i, j)` is the covariance of `x_i(t)` and `x_j(t + 1)`.
    pub fn lag1_covariance(&self) -> Array2<f64> {
        let m = self.lag_pairs;
        let outer = outer(&self.lag_from, &self.lag_to);
        (&self.lag_cross - &(outer / m.max(1.0))) / (m - 1.0).max(1.0)
    }

    /// `P(k)` for `k = 0..len` (at least `min_len` entries).
    pub fn population_count(&self, min_len: usize) -> Vec<f64> {
        let mut p: Vec<f64> = self
            .count_histogram
            .iter()
            .map(|c| c / self.bins.max(1.0))
            .collect();
        if p.len() < min_len {
            p.resize(min_len, 0.0);
        }
        p
    }

    /// The autocorrelogram at lags `1..=ACG_LAGS`, divided by its maximum (all 0 without
    /// coincidences).
    pub fn autocorrelogram(&self) -> Vec<f64> {
        let lags = &self.acg[1..];
        let max = lags.iter().copied().fold(0.0, f64::max);
        lags.iter()
            .map(|v| if max > 0.0 { v / max } else { 0.0 })
            .collect()
    }
}

/// Lag-`k` covariance matrix of `x` (neurons x bins): entry `(i, j)` is the covariance of
/// `x_i(t)` and `x_j(t + k)` over the `T - k` pairs of bins, each side with its own mean, ddof 1
/// (`np.cov(x[:, :-k], x[:, k:])`'s cross block; `k = 0` is the covariance). `None` when fewer
/// than 2 pairs remain.
pub fn lag_covariance(x: ArrayView2<'_, f64>, k: usize) -> Option<Array2<f64>> {
    let bins = x.ncols();
    if bins < k + 2 {
        return None;
    }
    let from = x.slice(s![.., ..bins - k]);
    let to = x.slice(s![.., k..]);
    let m = (bins - k) as f64;
    let a = from.sum_axis(Axis(1));
    let b = to.sum_axis(Axis(1));
    let cross = from.dot(&to.t());
    Some((&cross - &(outer(&a, &b) / m)) / (m - 1.0))
}

fn outer(a: &Array1<f64>, b: &Array1<f64>) -> Array2<f64> {
    let n = a.len();
    let m = b.len();
    Array2::from_shape_fn((n, m), |(i, j)| a[i] * b[j])
}

/// `sum_i sum_t x_i(t) x_i(t + l)` for `l = 0..=ACG_LAGS`.
fn autocorrelation_sums(x: ArrayView2<'_, f64>) -> [f64; ACG_LAGS + 1] {
    let mut acg = [0.0; ACG_LAGS + 1];
    for row in x.rows() {
        let row: Vec<f64> = row.to_vec();
        for (lag, a) in acg.iter_mut().enumerate() {
            if lag < row.len() {
                *a += row[lag..].iter().zip(&row).map(|(u, v)| u * v).sum::<f64>();
            }
        }
    }
    acg
}

/// Lag-1 and autocorrelogram terms of the pairs of bins that straddle the boundary between two
/// adjacent blocks (`left` ends where `right` starts); added to the sum of the blocks' moments
/// they give the statistics of the blocks joined. Only the last `ACG_LAGS` bins of `left` and
/// the first `ACG_LAGS` of `right` matter.
pub fn boundary_terms(left: ArrayView2<'_, f64>, right: ArrayView2<'_, f64>) -> Moments {
    let neurons = left.nrows();
    let mut m = Moments::zeros(neurons);
    let (l, r) = (left.ncols(), right.ncols());
    if l == 0 || r == 0 {
        return m;
    }
    let last = left.column(l - 1);
    let first = right.column(0);
    m.lag_pairs = 1.0;
    m.lag_from = last.to_owned();
    m.lag_to = first.to_owned();
    m.lag_cross = outer(&last.to_owned(), &first.to_owned());
    for lag in 1..=ACG_LAGS {
        // Pairs (t, t + lag) with t in left, t + lag in right.
        for back in 1..=lag.min(l) {
            let ahead = lag - back;
            if ahead < r {
                let a = left.column(l - back);
                let b = right.column(ahead);
                m.acg[lag] += a.dot(&b);
            }
        }
    }
    m
}
