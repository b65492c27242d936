//! The Spike-GAN critic and its explicit input gradient.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use neuroforge_kernels::{leaky_relu, leaky_relu_backward};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ModelError;
use crate::config::{Architecture, SpikeGanConfig};
use crate::layers::{ConvLayer, DenseLayer};

/// The Wasserstein critic: a sample `[B, N, T]` to one unbounded score per sample `[B, 1]`.
///
/// Convolutional layout (the paper's): stride-2 convolutions over time with leaky ReLUs, then
/// one linear layer on the flattened features. Fully connected layout: `dense_layers` hidden
/// linear layers with leaky ReLUs, then a linear layer to the score. No normalisation layers
/// (they would break the per-sample gradient penalty).
#[derive(Module, Debug)]
pub struct Critic {
    /// The convolutions (empty in the fully connected layout).
    pub convs: Vec<ConvLayer>,
    /// The linear layers; the last one outputs the score.
    pub dense: Vec<DenseLayer>,
    /// Negative slope of the leaky ReLUs.
    #[module(skip)]
    pub leaky_slope: f64,
    /// Neurons per sample.
    pub neurons: usize,
    /// Bins per sample.
    pub bins: usize,
}

impl Critic {
    /// A critic for `config`, its weights drawn from a ChaCha8 generator seeded with `seed` (so
    /// the same seed gives the same weights on every backend).
    pub fn new(config: &SpikeGanConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let init = config.initialisation;
        let mut convs = Vec::new();
        let mut dense = Vec::new();
        match config.architecture {
            Architecture::Conv => {
                let mut channels = config.neurons;
                let mut length = config.bins;
                for &width in &config.critic_widths {
                    convs.push(ConvLayer::with_initialisation(
                        init,
                        [channels, width, config.kernel_size, 2],
                        &mut rng,
                        device,
                    ));
                    channels = width;
                    length /= 2;
                }
                dense.push(DenseLayer::with_initialisation(
                    init,
                    channels * length,
                    1,
                    &mut rng,
                    device,
                ));
            }
            Architecture::Dense => {
                let width = config.critic_hidden_width();
                let mut features = config.sample_len();
                for _ in 0..config.dense_layers {
                    dense.push(DenseLayer::with_initialisation(
                        init, features, width, &mut rng, device,
                    ));
                    features = width;
                }
                dense.push(DenseLayer::with_initialisation(
                    init, features, 1, &mut rng, device,
                ));
            }
        }
        Ok(Self {
            convs,
            dense,
            leaky_slope: config.leaky_slope,
            neurons: config.neurons,
            bins: config.bins,
        })
    }

    /// Scores `[B, 1]` of samples `x [B, N, T]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let mut h = x;
        for conv in &self.convs {
            h = leaky_relu(conv.forward(h), self.leaky_slope);
        }
        let [batch, channels, length] = h.dims();
        let mut features: Tensor<2> = h.reshape([batch, channels * length]);
        let last = self.dense.len().saturating_sub(1);
        for (index, layer) in self.dense.iter().enumerate() {
            features = layer.forward(features);
            if index < last {
                features = leaky_relu(features, self.leaky_slope);
            }
        }
        features
    }

    /// The gradient of `sum_b D(x)_b` with respect to the input, `[B, N, T]`: row `b` is
    /// `dD(x_b)/dx_b`.
    ///
    /// Computed by an explicit backward pass written as ordinary tensor operations: the linear
    /// layers' transposed weights, the leaky ReLUs' backward maps at the pre-activations of a
    /// detached forward pass (their derivative masks, 1 or the slope), and transposed
    /// convolutions with the convolution weights. The result is therefore differentiable with
    /// respect to the critic's weights by burn's first-order autodiff, which is what the
    /// WGAN-GP penalty needs. The masks are piecewise constant in the weights, so
    /// treating them as constants is exact wherever no pre-activation is exactly zero (as in
    /// PyTorch's double backward). The input `x` is treated as a constant.
    pub fn input_gradient(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.detach();
        let [batch, neurons, bins] = x.dims();
        // Forward pass for the activation pattern only: the pre-activations, detached.
        let mut conv_pre = Vec::with_capacity(self.convs.len());
        let mut conv_input_lengths = Vec::with_capacity(self.convs.len());
        // The activation after the last masked layer feeds only the head, whose derivative does
        // not depend on it, so it is not computed.
        let hidden = self.dense.len().saturating_sub(1);
        let mut h = x;
        for (index, conv) in self.convs.iter().enumerate() {
            conv_input_lengths.push(h.dims()[2]);
            let pre = conv.forward_detached(h);
            conv_pre.push(pre.clone());
            let feeds_a_masked_layer = index + 1 < self.convs.len() || hidden > 0;
            h = if feeds_a_masked_layer {
                leaky_relu(pre, self.leaky_slope)
            } else {
                pre
            };
        }
        let [_, channels, length] = h.dims();
        let mut features: Tensor<2> = h.reshape([batch, channels * length]);
        let mut dense_pre = Vec::with_capacity(self.dense.len());
        for (index, layer) in self.dense.iter().take(hidden).enumerate() {
            let pre = layer.forward_detached(features);
            dense_pre.push(pre.clone());
            features = if index + 1 < hidden {
                leaky_relu(pre, self.leaky_slope)
            } else {
                pre
            };
        }

        // Backward pass, differentiable in the weights.
        let device = self.devices().first().cloned().unwrap_or_default();
        let mut grad = Tensor::<2>::ones([batch, 1], &device);
        if let Some(head) = self.dense.last() {
            grad = head.backward_input(grad);
        }
        for (layer, pre) in self.dense.iter().take(hidden).zip(dense_pre).rev() {
            grad = layer.backward_input(leaky_relu_backward(pre, grad, self.leaky_slope));
        }
        let mut grad: Tensor<3> = if self.convs.is_empty() {
            grad.reshape([batch, neurons, bins])
        } else {
            grad.reshape([batch, channels, length])
        };
        for ((conv, pre), input_len) in self
            .convs
            .iter()
            .zip(conv_pre)
            .zip(conv_input_lengths)
            .rev()
        {
            grad = conv.backward_input(leaky_relu_backward(pre, grad, self.leaky_slope), input_len);
        }
        grad
    }

    /// The WGAN-GP penalty `mean_b (||dD/dx (x_b)||_2 - 1)^2` at the points `x [B, N, T]`,
    /// differentiable with respect to the critic's weights. A floor of 1e-12 under the squared
    /// norm keeps its gradient finite at a zero input gradient.
    pub fn gradient_penalty(&self, x: Tensor<3>) -> Tensor<1> {
        let grad = self.input_gradient(x);
        let [batch, neurons, bins] = grad.dims();
        let flat: Tensor<2> = grad.reshape([batch, neurons * bins]);
        let norms = flat.powi_scalar(2).sum_dim(1).add_scalar(1e-12).sqrt();
        norms.sub_scalar(1.0).powi_scalar(2).mean()
    }
}
