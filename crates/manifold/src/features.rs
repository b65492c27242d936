//! MARBLE's input features, precomputed so that the network's only geometric parameter, the
//! diffusion time `t`, enters as a weighted sum.
//!
//! The network computes, for a vector field `x` on the nodes (n x s):
//!
//! ```text
//! u = exp(-t L) x,     features = [u, K_j u, K_l K_j u, ...]   (orders 0..=p)
//! ```
//!
//! Everything after `exp(-t L)` is linear, and `exp(-t L) x = sum_k c_k(t) T_k(y) x` (see
//! [`crate::diffusion`]), so `features = sum_k c_k(t) G_k` with
//! `G_k = [T_k x, K_j T_k x, K_l K_j T_k x, ...]` computed here once. The coefficients come
//! from a fixed Chebyshev-Gauss quadrature ([`ChebyshevQuadrature`]) that the network evaluates
//! with tensor operations, so `t` is learned by ordinary autodiff. The number of terms covers
//! every `t` up to `t_max` to the stated tolerance.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

pub use crate::diffusion::ChebyshevQuadrature;
use crate::diffusion::{HeatKernelConfig, chebyshev_terms, heat_coefficients};
use crate::error::{ManifoldError, Result, invalid_config};
use crate::geometry::Geometry;

/// Settings of the precomputed features.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Orders of gradient filters p (default 2, MARBLE's default).
    pub order: usize,
    /// Learnable diffusion before the filters (default true).
    pub diffusion: bool,
    /// Largest diffusion time the expansion must represent (default 10, in units where the
    /// random-walk Laplacian's spectrum is `[0, 2]`).
    pub t_max: f64,
    /// Largest Chebyshev coefficient left out (default 1e-6, below float32 resolution of the
    /// features).
    pub tolerance: f64,
    /// Refuse feature tensors larger than this many bytes (default 4 GiB).
    pub memory_budget_bytes: u64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            order: 2,
            diffusion: true,
            t_max: 10.0,
            tolerance: 1e-6,
            memory_budget_bytes: 4 << 30,
        }
    }
}

/// The precomputed features of one point cloud: `nodes x terms x channels`, float32.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffusionFeatures {
    /// Number of nodes.
    pub nodes: usize,
    /// Chebyshev terms (1 without diffusion).
    pub terms: usize,
    /// Feature channels, `s (1 + m + ... + m^p)`.
    pub channels: usize,
    /// Row-major `[node][term][channel]`.
    pub values: Vec<f32>,
    /// The quadrature giving the term weights from `t` (`None` without diffusion: the single
    /// term has weight 1).
    pub quadrature: Option<ChebyshevQuadrature>,
}

impl DiffusionFeatures {
    /// The features at diffusion time `t` (n x channels), as the network computes them.
    pub fn at_time(&self, t: f64) -> Array2<f64> {
        let weights = match &self.quadrature {
            Some(q) => q.coefficients(t),
            None => vec![1.0],
        };
        Array2::from_shape_fn((self.nodes, self.channels), |(i, c)| {
            (0..self.terms)
                .map(|k| {
                    weights[k] * f64::from(self.values[(i * self.terms + k) * self.channels + c])
                })
                .sum()
        })
    }
}

/// Channels per input channel for `m` filter directions up to order `p`: 1 + m + ... + m^p.
pub fn channels_per_input(directions: usize, order: usize) -> usize {
    (0..=order).map(|o| directions.pow(o as u32)).sum()
}

/// Computes the features of the vector field `signal` (nodes x s) over `geometry`.
pub fn diffusion_features(
    geometry: &Geometry,
    signal: ArrayView2<'_, f64>,
    config: FeatureConfig,
) -> Result<DiffusionFeatures> {
    let n = geometry.graph.nodes();
    if signal.nrows() != n {
        return Err(ManifoldError::InvalidData(format!(
            "the signal has {} rows but the geometry {n} nodes",
            signal.nrows()
        )));
    }
    if signal.iter().any(|v| !v.is_finite()) {
        return Err(ManifoldError::InvalidData(
            "the signal holds non-finite values".into(),
        ));
    }
    if config.order > 4 {
        return Err(invalid_config("features.order", "must be at most 4"));
    }
    let (terms, quadrature) = if config.diffusion {
        if !(config.t_max.is_finite() && config.t_max > 0.0) {
            return Err(invalid_config(
                "features.t_max",
                "must be a positive number",
            ));
        }
        let heat = HeatKernelConfig {
            tolerance: config.tolerance,
            max_terms: 500,
        };
        let terms = heat_coefficients(config.t_max, geometry.spectral_bound, heat)?
            .value
            .len();
        (
            terms,
            Some(ChebyshevQuadrature::new(terms, geometry.spectral_bound)),
        )
    } else {
        (1, None)
    };
    let directions = geometry.gradients.len();
    let per_input = channels_per_input(directions, config.order);
    let channels = signal.ncols() * per_input;
    let bytes = (n * terms * channels * std::mem::size_of::<f32>()) as u64;
    if bytes > config.memory_budget_bytes {
        return Err(ManifoldError::InvalidData(format!(
            "the features would take {:.1} GiB ({n} nodes x {terms} Chebyshev terms x \
             {channels} channels), over the {:.1} GiB budget; lower features.order or \
             features.t_max, reduce the dimension (--pca), or raise features.memory_budget_bytes",
            bytes as f64 / f64::from(1u32 << 30),
            config.memory_budget_bytes as f64 / f64::from(1u32 << 30)
        )));
    }
    let mut values = vec![0.0f32; n * terms * channels];
    let s = signal.ncols();
    chebyshev_terms(
        &geometry.laplacian,
        geometry.spectral_bound,
        signal,
        terms,
        |k, term| {
            // Orders 0..=p of gradient filters on T_k x.
            let mut blocks = vec![term.clone()];
            let mut frontier = vec![term.clone()];
            for _ in 0..config.order {
                let mut next_frontier = Vec::with_capacity(frontier.len() * directions);
                for block in &frontier {
                    for operator in &geometry.gradients {
                        next_frontier.push(operator.mul_dense(block.view())?);
                    }
                }
                blocks.extend(next_frontier.iter().cloned());
                frontier = next_frontier;
            }
            for (b, block) in blocks.iter().enumerate() {
                for i in 0..n {
                    let base = (i * terms + k) * channels + b * s;
                    for c in 0..s {
                        values[base + c] = block[[i, c]] as f32;
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(DiffusionFeatures {
        nodes: n,
        terms,
        channels,
        values,
        quadrature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::heat_diffusion;
    use crate::geometry::GeometryConfig;
    use crate::graph::GraphConfig;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn weighted_terms_equal_diffusion_then_filters() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let points = Array2::from_shape_fn((300, 2), |_| rng.random_range(-1.0..1.0));
        let field = Array2::from_shape_fn((300, 2), |(i, c)| {
            [-points[[i, 1]], points[[i, 0]] - 0.3 * points[[i, 1]]][c]
        });
        let config = GeometryConfig {
            graph: GraphConfig { k: 10, delta: 1.0 },
            ..GeometryConfig::default()
        };
        let geometry = Geometry::build(points.view(), config)?;
        let features = diffusion_features(&geometry, field.view(), FeatureConfig::default())?;
        assert_eq!(features.channels, 2 * (1 + 2 + 4));
        for t in [0.0, 0.7, 4.0, 10.0] {
            // Independent path: the heat kernel with its own (1000-node) quadrature, then
            // the gradient operators applied one after another.
            let (u, _) = heat_diffusion(
                &geometry.laplacian,
                geometry.spectral_bound,
                t,
                field.view(),
                HeatKernelConfig::default(),
            )?;
            let mut want = vec![u.clone()];
            let first: Vec<Array2<f64>> = geometry
                .gradients
                .iter()
                .map(|k| k.mul_dense(u.view()))
                .collect::<Result<_>>()?;
            for g in &first {
                want.push(g.clone());
            }
            for g in &first {
                for k in &geometry.gradients {
                    want.push(k.mul_dense(g.view())?);
                }
            }
            let got = features.at_time(t);
            for (b, block) in want.iter().enumerate() {
                for i in 0..300 {
                    for c in 0..2 {
                        let err = (got[[i, b * 2 + c]] - block[[i, c]]).abs();
                        let scale = 1.0 + block[[i, c]].abs();
                        assert!(err < 1e-5 * scale, "t {t} block {b} node {i}: {err}");
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn an_oversized_feature_tensor_is_refused_before_allocation() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let points = Array2::from_shape_fn((100, 2), |_| rng.random_range(-1.0..1.0));
        let geometry = Geometry::build(
            points.view(),
            GeometryConfig {
                graph: GraphConfig { k: 8, delta: 1.0 },
                ..GeometryConfig::default()
            },
        )?;
        let config = FeatureConfig {
            memory_budget_bytes: 1000,
            ..FeatureConfig::default()
        };
        let err = diffusion_features(&geometry, points.view(), config)
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("budget"), "{err}");
        Ok(())
    }
}
