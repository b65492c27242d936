//! The Spike-GAN generator.

use burn::module::Module;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use neuroforge_kernels::leaky_relu;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ModelError;
use crate::config::{Architecture, SpikeGanConfig};
use crate::layers::{ConvLayer, DenseLayer};

/// The generator: Gaussian noise `z [B, latent_dim]` to spike probabilities `[B, N, T]` in
/// (0, 1).
///
/// Convolutional layout (the paper's): a linear projection of `z` reshaped to
/// `[widths[0], T / 2^stages]` and a leaky ReLU, then per stage a nearest-neighbour upsampling
/// by 2 and a stride-1 convolution, computed together as one polyphase convolution
/// ([`ConvLayer::forward_upsampled2`]) (leaky ReLU between stages, a sigmoid after the last one,
/// which outputs N channels, preceded by a leaky ReLU in the authors' code). Fully connected layout: `dense_layers` linear layers with ReLUs,
/// then a linear layer to `N * T` values and a sigmoid.
#[derive(Module, Debug)]
pub struct Generator {
    /// The linear layers (one projection in the convolutional layout).
    pub dense: Vec<DenseLayer>,
    /// The upsample + convolution stages (empty in the fully connected layout).
    pub convs: Vec<ConvLayer>,
    /// Negative slope of the leaky ReLUs.
    #[module(skip)]
    pub leaky_slope: f64,
    /// Whether a leaky ReLU precedes the final sigmoid of the convolutional layout (the
    /// authors' code).
    #[module(skip)]
    pub leaky_relu_before_sigmoid: bool,
    /// Channels of the reshaped projection (convolutional layout).
    pub base_channels: usize,
    /// Length of the reshaped projection (convolutional layout).
    pub base_len: usize,
    /// Neurons per sample.
    pub neurons: usize,
    /// Bins per sample.
    pub bins: usize,
    /// Dimension of the input noise.
    pub latent_dim: usize,
}

impl Generator {
    /// A generator for `config`, its weights drawn from a ChaCha8 generator seeded with `seed`.
    pub fn new(config: &SpikeGanConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let init = config.initialisation;
        let mut dense = Vec::new();
        let mut convs = Vec::new();
        let (base_channels, base_len) = match config.architecture {
            Architecture::Conv => {
                let stages = config.generator_widths.len();
                let base_len = config.bins >> stages;
                let base_channels = config.generator_widths[0];
                dense.push(DenseLayer::with_initialisation(
                    init,
                    config.latent_dim,
                    base_channels * base_len,
                    &mut rng,
                    device,
                ));
                let mut channels = base_channels;
                for &width in config
                    .generator_widths
                    .iter()
                    .skip(1)
                    .chain([&config.neurons])
                {
                    convs.push(ConvLayer::with_initialisation(
                        init,
                        [channels, width, config.kernel_size, 1],
                        &mut rng,
                        device,
                    ));
                    channels = width;
                }
                (base_channels, base_len)
            }
            Architecture::Dense => {
                let width = config.generator_hidden_width();
                let mut features = config.latent_dim;
                for _ in 0..config.dense_layers {
                    dense.push(DenseLayer::with_initialisation(
                        init, features, width, &mut rng, device,
                    ));
                    features = width;
                }
                dense.push(DenseLayer::with_initialisation(
                    init,
                    features,
                    config.sample_len(),
                    &mut rng,
                    device,
                ));
                (config.neurons, config.bins)
            }
        };
        Ok(Self {
            dense,
            convs,
            leaky_slope: config.leaky_slope,
            leaky_relu_before_sigmoid: config.leaky_relu_before_sigmoid,
            base_channels,
            base_len,
            neurons: config.neurons,
            bins: config.bins,
            latent_dim: config.latent_dim,
        })
    }

    /// Spike probabilities `[B, N, T]` for noise `z [B, latent_dim]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<3> {
        let [batch, _] = z.dims();
        if self.convs.is_empty() {
            let mut h = z;
            let last = self.dense.len().saturating_sub(1);
            for (index, layer) in self.dense.iter().enumerate() {
                h = layer.forward(h);
                if index < last {
                    h = relu(h);
                }
            }
            return sigmoid(h).reshape([batch, self.neurons, self.bins]);
        }
        let mut projected = z;
        for layer in &self.dense {
            projected = layer.forward(projected);
        }
        let mut h: Tensor<3> = leaky_relu(
            projected.reshape([batch, self.base_channels, self.base_len]),
            self.leaky_slope,
        );
        let last = self.convs.len() - 1;
        for (index, conv) in self.convs.iter().enumerate() {
            h = conv.forward_upsampled2(h);
            h = if index < last {
                leaky_relu(h, self.leaky_slope)
            } else if self.leaky_relu_before_sigmoid {
                sigmoid(leaky_relu(h, self.leaky_slope))
            } else {
                sigmoid(h)
            };
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::upsample_nearest2;
    use burn::module::Param;
    use burn::tensor::TensorData;

    /// The mean output of a generator whose last convolution has bias -10 and zero weights.
    fn output_at_bias_minus_10(config: &SpikeGanConfig) -> Result<f64, Box<dyn std::error::Error>> {
        let device = Device::flex();
        let mut generator = Generator::new(config, 3, &device)?;
        let last = generator.convs.len() - 1;
        let conv = &mut generator.convs[last];
        let [out, inp, k] = conv.weight.val().dims();
        conv.weight = Param::from_data(TensorData::zeros::<f32, _>([out, inp, k]), &device);
        conv.bias = Param::from_data(TensorData::new(vec![-10.0f32; out], [out]), &device);
        let z = Tensor::<2>::zeros([2, config.latent_dim], &device);
        Ok(f64::from(generator.forward(z).mean().into_scalar::<f32>()))
    }

    #[test]
    fn the_authors_generator_applies_a_leaky_relu_before_its_sigmoid()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut config = SpikeGanConfig::paper(4, 8);
        config.generator_widths = vec![8, 8];
        // sigmoid(0.2 * -10) with the leaky ReLU, sigmoid(-10) without.
        let with = output_at_bias_minus_10(&config)?;
        assert!((with - 1.0 / (1.0 + 2f64.exp())).abs() < 1e-6, "{with}");
        config.leaky_relu_before_sigmoid = false;
        let without = output_at_bias_minus_10(&config)?;
        assert!(
            (without - 1.0 / (1.0 + 10f64.exp())).abs() < 1e-7,
            "{without}"
        );
        Ok(())
    }

    #[test]
    fn upsampling_repeats_each_bin() -> Result<(), Box<dyn std::error::Error>> {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device).reshape([1, 1, 3]);
        let y = upsample_nearest2(x).into_data();
        assert_eq!(
            y.as_slice::<f32>().map_err(|e| format!("{e:?}"))?,
            &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
        );
        Ok(())
    }

    /// Against `repeat_dim` (burn's own nearest upsampling) on a batch with channels, values
    /// and the gradient of a weighted sum (each input's gradient: the sum of its two copies'
    /// weights).
    #[test]
    fn upsampling_matches_repeat_in_value_and_gradient() -> Result<(), Box<dyn std::error::Error>> {
        let device = Device::flex().autodiff();
        let (batch, channels, length) = (3, 4, 5);
        let values: Vec<f32> = (0..batch * channels * length)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let weights: Vec<f32> = (0..batch * channels * 2 * length)
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let input = || {
            Tensor::<1>::from_floats(values.as_slice(), &device)
                .reshape([batch, channels, length])
                .require_grad()
        };
        let weight = Tensor::<1>::from_floats(weights.as_slice(), &device).reshape([
            batch,
            channels,
            2 * length,
        ]);
        let ours_in = input();
        let ours = upsample_nearest2(ours_in.clone());
        let reference_in = input();
        let reference = reference_in
            .clone()
            .unsqueeze_dim::<4>(3)
            .repeat_dim(3, 2)
            .reshape([batch, channels, 2 * length]);
        let flat = |t: Tensor<3>| -> Result<Vec<f32>, String> {
            t.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))
        };
        assert_eq!(
            flat(ours.clone().detach())?,
            flat(reference.clone().detach())?
        );
        let ours_grad = (ours * weight.clone()).sum().backward();
        let reference_grad = (reference * weight).sum().backward();
        let grad = |t: &Tensor<3>, g| -> Result<Vec<f32>, String> {
            let grad = t.grad(g).ok_or("no gradient")?;
            grad.into_data()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))
        };
        assert_eq!(
            grad(&ours_in, &ours_grad)?,
            grad(&reference_in, &reference_grad)?
        );
        Ok(())
    }
}
