//! The MARBLE network (Gosztolai et al., Nature Methods 2025; METHODS.md section 3): learnable
//! heat-kernel diffusion, gradient filters of orders 0..=p, an MLP with batch norm, and an
//! optional L2-normalised output.
//!
//! The geometry (graph, gradient operators, Chebyshev terms of the heat kernel) is computed
//! once by `neuroforge-manifold`, which hands the network, per node, a `terms x channels`
//! block `G_k` with `features(t) = sum_k c_k(t) G_k`. The coefficients are
//! `c_k(t) = sum_j w_kj exp(-t lambda_j)` for a fixed Chebyshev-Gauss quadrature, evaluated
//! here with tensor operations, so the diffusion time `t` is an ordinary parameter under
//! first-order autodiff. `t` is kept in `[1e-8, t_max]` (the range the precomputed terms are
//! accurate on).

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::layers::DenseLayer;

/// The network's settings. Defaults are MARBLE's (`default_params.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarbleConfig {
    /// Widths of the hidden layers (default `[32]`).
    pub hidden: Vec<usize>,
    /// Embedding dimension (default 3).
    pub out_channels: usize,
    /// Batch norm after each hidden layer (default true).
    pub batch_norm: bool,
    /// Divide each embedding by its L2 norm (default false, MARBLE's `emb_norm`).
    pub normalize_output: bool,
    /// Initial diffusion time (default 0.1).
    pub t_init: f64,
    /// Feed the MLP rotation-aware scalars instead of the raw features (default false, as
    /// MARBLE's `inner_product_features`): the features are read as vectors of the signal's
    /// dimension (the field, then its directional derivatives of each order) and vector i
    /// becomes `tanh(<x_i, sum_j O_j x_j>)` with learnable matrices `O_j`, initialised to
    /// the identity. A one-dimensional signal gives the magnitudes instead.
    pub inner_product_features: bool,
    /// Feed the MLP each node's position (its state) beside the features (default false, as
    /// MARBLE's `include_positions`; its rat-hippocampus example turns it on).
    pub include_positions: bool,
}

impl Default for MarbleConfig {
    fn default() -> Self {
        Self {
            hidden: vec![32],
            out_channels: 3,
            batch_norm: true,
            normalize_output: false,
            t_init: 0.1,
            inner_product_features: false,
            include_positions: false,
        }
    }
}

/// What the network is fed: the shape of the precomputed features and the quadrature of the
/// Chebyshev coefficients (see `neuroforge_manifold::features`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarbleInput {
    /// Feature channels per node (`s (1 + m + ... + m^p)`).
    pub channels: usize,
    /// Chebyshev terms per node (1 without diffusion).
    pub terms: usize,
    /// Quadrature nodes `lambda_j` (empty without diffusion).
    pub lambdas: Vec<f64>,
    /// `terms x lambdas` quadrature weights, row-major (empty without diffusion).
    pub weights: Vec<f64>,
    /// Largest diffusion time the terms represent.
    pub t_max: f64,
    /// Components of the signal (the vector field's dimension s); the channels are
    /// `s (1 + m + ... + m^p)`.
    #[serde(default)]
    pub signal_channels: usize,
    /// Components of each node's position appended after the features in every term (0: the
    /// positions are not fed). Never diffused: the network reads them from the first term.
    #[serde(default)]
    pub position_channels: usize,
}

/// The MARBLE network.
#[derive(Module, Debug)]
pub struct Marble {
    /// The diffusion time (one value; clamped to `[1e-8, t_max]` in use).
    pub t: Param<Tensor<1>>,
    /// The inner-product matrices `O_j`, `[vectors, s, s]` (absent without inner-product
    /// features).
    pub inner: Option<Param<Tensor<3>>>,
    /// Components per vector of the inner-product features (0: no inner products).
    pub vector_dim: usize,
    /// Components of the signal the features were computed from.
    pub signal_channels: usize,
    /// Hidden layers.
    pub hidden: Vec<DenseLayer>,
    /// Batch norms of the hidden layers (empty when disabled).
    pub norms: Vec<BatchNorm>,
    /// The output layer.
    pub output: DenseLayer,
    /// Quadrature nodes.
    pub lambdas: Vec<f64>,
    /// Quadrature weights, `terms x lambdas`.
    pub weights: Vec<f64>,
    /// Chebyshev terms.
    pub terms: usize,
    /// Feature channels.
    pub channels: usize,
    /// Position channels after the features (0: none).
    pub position_channels: usize,
    /// Upper bound of `t`.
    pub t_max: f64,
    /// L2-normalise the output.
    pub normalize_output: bool,
}

impl Marble {
    /// A network for `input`, with weights drawn from `seed`.
    pub fn new(
        config: &MarbleConfig,
        input: &MarbleInput,
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        if input.channels == 0 || input.terms == 0 {
            return Err(ModelError::InvalidConfig(
                "the MARBLE input needs at least one channel and one term".into(),
            ));
        }
        if input.terms > 1 && input.weights.len() != input.terms * input.lambdas.len() {
            return Err(ModelError::InvalidConfig(format!(
                "quadrature weights ({}) are not terms ({}) x nodes ({})",
                input.weights.len(),
                input.terms,
                input.lambdas.len()
            )));
        }
        if config.out_channels == 0 || config.hidden.contains(&0) {
            return Err(ModelError::InvalidConfig(
                "marble.hidden and marble.out_channels must be positive widths".into(),
            ));
        }
        if !(config.t_init.is_finite() && config.t_init >= 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "marble.t_init must be >= 0, got {}",
                config.t_init
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut hidden = Vec::new();
        let mut norms = Vec::new();
        let mut width = input.channels;
        let mut inner = None;
        let vector_dim = input.signal_channels;
        if config.inner_product_features {
            if vector_dim == 0 || !input.channels.is_multiple_of(vector_dim) {
                return Err(ModelError::InvalidConfig(format!(
                    "inner-product features need the signal's dimension to divide the {} \
                     channels (got {vector_dim})",
                    input.channels
                )));
            }
            let vectors = input.channels / vector_dim;
            if vector_dim > 1 {
                let mut identity = vec![0.0f32; vectors * vector_dim * vector_dim];
                for v in 0..vectors {
                    for d in 0..vector_dim {
                        identity[(v * vector_dim + d) * vector_dim + d] = 1.0;
                    }
                }
                inner = Some(Param::from_data(
                    TensorData::new(identity, [vectors, vector_dim, vector_dim]),
                    device,
                ));
            }
            width = vectors;
        }
        if config.include_positions != (input.position_channels > 0) {
            return Err(ModelError::InvalidConfig(format!(
                "marble.include_positions is {} but the input carries {} position channels",
                config.include_positions, input.position_channels
            )));
        }
        width += input.position_channels;
        for &next in &config.hidden {
            hidden.push(DenseLayer::new(width, next, &mut rng, device));
            if config.batch_norm {
                norms.push(BatchNormConfig::new(next).init(device));
            }
            width = next;
        }
        let output = DenseLayer::new(width, config.out_channels, &mut rng, device);
        let t = Param::from_data(
            TensorData::new(vec![config.t_init.min(input.t_max) as f32], [1]),
            device,
        );
        Ok(Self {
            t,
            inner,
            vector_dim: if config.inner_product_features {
                vector_dim
            } else {
                0
            },
            signal_channels: input.signal_channels,
            hidden,
            norms,
            output,
            lambdas: input.lambdas.clone(),
            weights: input.weights.clone(),
            terms: input.terms,
            channels: input.channels,
            position_channels: input.position_channels,
            t_max: input.t_max,
            normalize_output: config.normalize_output,
        })
    }

    /// The diffusion time in use.
    pub fn diffusion_time(&self) -> f64 {
        let t: f32 = self.t.val().clamp(1e-8, self.t_max).into_scalar();
        f64::from(t)
    }

    /// The Chebyshev coefficients `c_k(t)` as a `[terms]` tensor.
    pub fn coefficients(&self) -> Tensor<1> {
        let device = self.t.device();
        if self.terms == 1 {
            return Tensor::ones([1], &device);
        }
        let nodes = self.lambdas.len();
        let lambdas = Tensor::<1>::from_data(
            TensorData::new(self.lambdas.iter().map(|&v| v as f32).collect(), [nodes]),
            &device,
        );
        let weights = Tensor::<2>::from_data(
            TensorData::new(
                self.weights.iter().map(|&v| v as f32).collect(),
                [self.terms, nodes],
            ),
            &device,
        );
        let t = self.t.val().clamp(1e-8, self.t_max);
        let decay = (lambdas * t.neg()).exp().reshape([nodes, 1]);
        weights.matmul(decay).reshape([self.terms])
    }

    /// The diffused, filtered features of a batch: `[B, terms, channels] -> [B, channels]`.
    pub fn features(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, terms, channels] = x.dims();
        if terms == 1 {
            return x.reshape([batch, channels]);
        }
        let c = self.coefficients().reshape([1, terms, 1]);
        (x * c).sum_dim(1).reshape([batch, channels])
    }

    /// MARBLE's inner-product features of `[B, channels]` features: `[B, vectors]` with
    /// entry i = `tanh(sum_j <x_i, O_j x_j>) = tanh(<x_i, sum_j O_j x_j>)`, or the vectors'
    /// magnitudes for a one-dimensional signal. The input itself without inner products.
    pub fn inner_products(&self, h: Tensor<2>) -> Tensor<2> {
        if self.vector_dim == 0 {
            return h;
        }
        let [batch, channels] = h.dims();
        let d = self.vector_dim;
        let vectors = channels / d;
        let x = h.reshape([batch, vectors, d]);
        match &self.inner {
            None => x
                .powf_scalar(2.0)
                .sum_dim(2)
                .sqrt()
                .reshape([batch, vectors]),
            Some(o) => {
                // (O_j x_j)[k] = sum_l O_j[k, l] x_j[l]: [B, C, 1, D] x [1, C, D, D]^T.
                let ox = x
                    .clone()
                    .reshape([batch, vectors, 1, d])
                    .matmul(o.val().swap_dims(1, 2).unsqueeze_dim::<4>(0))
                    .reshape([batch, vectors, d]);
                let total = ox.sum_dim(1); // [B, 1, D]
                (x * total).sum_dim(2).reshape([batch, vectors]).tanh()
            }
        }
    }

    /// Embeddings of a batch of nodes: `[B, terms, channels + position_channels] ->
    /// [B, out_channels]`. The MLP sees `[positions, features]`, as MARBLE's.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let mut h = if self.position_channels == 0 {
            self.inner_products(self.features(x))
        } else {
            let [batch, _, _] = x.dims();
            let positions = x
                .clone()
                .narrow(1, 0, 1)
                .narrow(2, self.channels, self.position_channels)
                .reshape([batch, self.position_channels]);
            let features = self.inner_products(self.features(x.narrow(2, 0, self.channels)));
            Tensor::cat(vec![positions, features], 1)
        };
        for (i, layer) in self.hidden.iter().enumerate() {
            h = layer.forward(h);
            if let Some(norm) = self.norms.get(i) {
                h = norm.forward(h);
            }
            h = relu(h);
        }
        let out = self.output.forward(h);
        if self.normalize_output {
            let norm = out
                .clone()
                .powf_scalar(2.0)
                .sum_dim(1)
                .sqrt()
                .clamp_min(1e-12);
            out / norm
        } else {
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadrature(terms: usize, lambda_max: f64) -> (Vec<f64>, Vec<f64>) {
        // The Chebyshev-Gauss quadrature of neuroforge-manifold, written out independently.
        let nodes = (2 * terms).max(16);
        let theta = |j: usize| std::f64::consts::PI * (j as f64 + 0.5) / nodes as f64;
        let lambdas = (0..nodes)
            .map(|j| lambda_max * (theta(j).cos() + 1.0) / 2.0)
            .collect();
        let mut weights = Vec::new();
        for k in 0..terms {
            let scale = if k == 0 { 1.0 } else { 2.0 };
            weights.extend((0..nodes).map(|j| scale * (k as f64 * theta(j)).cos() / nodes as f64));
        }
        (lambdas, weights)
    }

    #[test]
    fn coefficients_sum_to_the_heat_kernel_on_chebyshev_polynomials() -> Result<(), ModelError> {
        // sum_k c_k(t) T_k(y) = exp(-t lambda(y)) with lambda(y) = lambda_max (y + 1) / 2.
        let device = Device::flex();
        let (lambdas, weights) = quadrature(30, 2.0);
        let input = MarbleInput {
            channels: 4,
            terms: 30,
            lambdas,
            weights,
            t_max: 10.0,
            signal_channels: 2,
            position_channels: 0,
        };
        let config = MarbleConfig {
            t_init: 1.3,
            ..MarbleConfig::default()
        };
        let net = Marble::new(&config, &input, 1, &device)?;
        let c: Vec<f32> = net
            .coefficients()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        for y in [-1.0f64, -0.3, 0.4, 1.0] {
            let (mut t0, mut t1) = (1.0, y);
            let mut sum = f64::from(c[0]) + f64::from(c[1]) * y;
            for &ck in &c[2..] {
                let t2 = 2.0 * y * t1 - t0;
                sum += f64::from(ck) * t2;
                (t0, t1) = (t1, t2);
            }
            let want = (-1.3 * (y + 1.0)).exp();
            assert!((sum - want).abs() < 1e-5, "y {y}: {sum} vs {want}");
        }
        Ok(())
    }

    #[test]
    fn inner_products_at_initialisation_are_tanh_of_dot_products_with_the_sum()
    -> Result<(), ModelError> {
        let device = Device::flex();
        // One term (no diffusion), signal dimension 2, three vectors.
        let input = MarbleInput {
            channels: 6,
            terms: 1,
            lambdas: vec![],
            weights: vec![],
            t_max: 1.0,
            signal_channels: 2,
            position_channels: 0,
        };
        let config = MarbleConfig {
            inner_product_features: true,
            ..MarbleConfig::default()
        };
        let net = Marble::new(&config, &input, 3, &device)?;
        let values = vec![
            1.0f32, 2.0, -0.5, 0.25, 0.0, -1.0, 0.3, 0.3, 0.2, -0.1, 1.5, 0.5,
        ];
        let h = Tensor::<2>::from_data(TensorData::new(values.clone(), [2, 6]), &device);
        let got: Vec<f32> = net
            .inner_products(h)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        for b in 0..2 {
            let v = |i: usize| [values[b * 6 + 2 * i], values[b * 6 + 2 * i + 1]];
            let sum = [v(0)[0] + v(1)[0] + v(2)[0], v(0)[1] + v(1)[1] + v(2)[1]];
            for i in 0..3 {
                let want = (v(i)[0] * sum[0] + v(i)[1] * sum[1]).tanh();
                assert!(
                    (got[b * 3 + i] - want).abs() < 1e-6,
                    "{b} {i}: {} vs {want}",
                    got[b * 3 + i]
                );
            }
        }
        // The MLP takes one input per vector.
        let x = Tensor::<3>::from_data(TensorData::new(values, [2, 1, 6]), &device);
        assert_eq!(net.forward(x).dims(), [2, 3]);
        Ok(())
    }

    #[test]
    fn the_diffusion_time_gets_a_gradient_matching_finite_differences() -> Result<(), ModelError> {
        let device = Device::flex().autodiff();
        let (lambdas, weights) = quadrature(20, 2.0);
        let input = MarbleInput {
            channels: 3,
            terms: 20,
            lambdas,
            weights,
            t_max: 10.0,
            signal_channels: 3,
            position_channels: 0,
        };
        let config = MarbleConfig {
            t_init: 0.8,
            batch_norm: false,
            ..MarbleConfig::default()
        };
        let net = Marble::new(&config, &input, 2, &device)?;
        let values: Vec<f32> = (0..5 * 20 * 3)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 9.0)
            .collect();
        let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [5, 20, 3]), &device);
        let loss = net.forward(x).sum();
        let grads = loss.backward();
        let analytic: f32 = net
            .t
            .grad(&grads)
            .map(|g| g.into_scalar())
            .unwrap_or(f32::NAN);
        let eval = |t: f64| -> f64 {
            let plain = Device::flex();
            let cfg = MarbleConfig {
                t_init: t,
                ..config.clone()
            };
            let n = Marble::new(&cfg, &input, 2, &plain).map_err(|e| e.to_string());
            let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [5, 20, 3]), &plain);
            n.map(|n| f64::from(n.forward(x).sum().into_scalar::<f32>()))
                .unwrap_or(f64::NAN)
        };
        let h = 1e-2;
        let numeric = (eval(0.8 + h) - eval(0.8 - h)) / (2.0 * h);
        let err = (f64::from(analytic) - numeric).abs();
        assert!(
            err < 2e-3 * (1.0 + numeric.abs()),
            "{analytic} vs {numeric}"
        );
        Ok(())
    }

    #[test]
    fn positions_are_read_from_the_first_term_and_fed_before_the_features() -> Result<(), ModelError>
    {
        // Two Chebyshev terms of 2 feature channels, then 1 position channel per term; no
        // hidden layer, so the output is [p, c_0 x_0 + c_1 x_1] W + b, checked by hand.
        let device = Device::flex();
        let (lambdas, weights) = quadrature(2, 2.0);
        let input = MarbleInput {
            channels: 2,
            terms: 2,
            lambdas,
            weights,
            t_max: 10.0,
            signal_channels: 2,
            position_channels: 1,
        };
        let config = MarbleConfig {
            hidden: Vec::new(),
            out_channels: 2,
            include_positions: true,
            t_init: 0.5,
            ..MarbleConfig::default()
        };
        let net = Marble::new(&config, &input, 7, &device)?;
        // Node 0: terms [1, 2 | 5] and [3, 4 | 99]; the second term's position is ignored.
        let values = vec![1.0f32, 2.0, 5.0, 3.0, 4.0, 99.0];
        let x = Tensor::<3>::from_data(TensorData::new(values, [1, 2, 3]), &device);
        let out: Vec<f32> = net
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let c: Vec<f32> = net
            .coefficients()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let w: Vec<f32> = net
            .output
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let b: Vec<f32> = net
            .output
            .bias
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let fed = [
            5.0,
            f64::from(c[0]) + 3.0 * f64::from(c[1]),
            2.0 * f64::from(c[0]) + 4.0 * f64::from(c[1]),
        ];
        assert_eq!(out.len(), 2);
        for o in 0..2 {
            let expected: f64 = (0..3)
                .map(|i| fed[i] * f64::from(w[i * 2 + o]))
                .sum::<f64>()
                + f64::from(b[o]);
            assert!(
                (f64::from(out[o]) - expected).abs() < 1e-4,
                "output {o}: {} against {expected}",
                out[o]
            );
        }
        // The setting and the input must agree.
        let without = MarbleConfig {
            include_positions: false,
            ..config
        };
        assert!(Marble::new(&without, &input, 7, &device).is_err());
        Ok(())
    }
}
