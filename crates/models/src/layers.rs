//! The two layer types the Spike-GAN networks are made of, with their forward maps and the
//! transposed (input-gradient) maps that the critic's explicit backward pass needs.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::Initialisation;

/// Draws `count` values from U(-bound, bound).
fn uniform(rng: &mut ChaCha8Rng, count: usize, bound: f64) -> Vec<f32> {
    (0..count)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect()
}

/// Weights and biases of a layer with `fan_in` inputs per output, drawn as `init` says.
fn initial_values(
    init: Initialisation,
    rng: &mut ChaCha8Rng,
    fan_in: usize,
    weights: usize,
    biases: usize,
) -> (Vec<f32>, Vec<f32>) {
    match init {
        Initialisation::Torch => {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let weight = uniform(rng, weights, bound);
            (weight, uniform(rng, biases, bound))
        }
        Initialisation::Authors => {
            // Uniform with standard deviation 0.02: half-width 0.02 * sqrt(3).
            let weight = uniform(rng, weights, 0.02 * 3f64.sqrt());
            (weight, vec![0.0; biases])
        }
    }
}

/// A 1-D convolution over time with 'same'-style symmetric zero padding `kernel_size / 2`.
#[derive(Module, Debug)]
pub struct ConvLayer {
    /// Weights `[out_channels, in_channels, kernel_size]`.
    pub weight: Param<Tensor<3>>,
    /// Bias `[out_channels]`.
    pub bias: Param<Tensor<1>>,
    /// Stride over time (2 in the critic, 1 in the generator).
    pub stride: usize,
    /// Zero padding on each side (`kernel_size / 2`).
    pub padding: usize,
}

impl ConvLayer {
    /// A layer initialised like PyTorch's `Conv1d` from `rng`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self::with_initialisation(
            Initialisation::Torch,
            [in_channels, out_channels, kernel_size, stride],
            rng,
            device,
        )
    }

    /// A layer of `[in_channels, out_channels, kernel_size, stride]` initialised as `init` says
    /// from `rng`.
    pub fn with_initialisation(
        init: Initialisation,
        [in_channels, out_channels, kernel_size, stride]: [usize; 4],
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let (weight, bias) = initial_values(
            init,
            rng,
            in_channels * kernel_size,
            out_channels * in_channels * kernel_size,
            out_channels,
        );
        Self {
            weight: Param::from_data(
                TensorData::new(weight, [out_channels, in_channels, kernel_size]),
                device,
            ),
            bias: Param::from_data(TensorData::new(bias, [out_channels]), device),
            stride,
            padding: kernel_size / 2,
        }
    }

    /// `x [B, C_in, L] -> [B, C_out, L_out]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.convolve(x, self.weight.val(), self.bias.val())
    }

    /// The same convolution with the weights and bias detached from any autodiff graph (used
    /// to read the activation pattern without recording it).
    pub fn forward_detached(&self, x: Tensor<3>) -> Tensor<3> {
        self.convolve(x, self.weight.val().detach(), self.bias.val().detach())
    }

    fn convolve(&self, x: Tensor<3>, weight: Tensor<3>, bias: Tensor<1>) -> Tensor<3> {
        let out_channels = bias.dims()[0];
        neuroforge_kernels::conv1d(x, weight, self.stride, self.padding)
            + bias.reshape([1, out_channels, 1])
    }

    /// The adjoint of the (bias-free) convolution: maps a gradient with respect to the output
    /// `[B, C_out, L_out]` to the gradient with respect to an input of length `input_len`.
    /// Differentiable in the weights.
    pub fn backward_input(&self, grad_output: Tensor<3>, input_len: usize) -> Tensor<3> {
        neuroforge_kernels::conv1d_adjoint(
            grad_output,
            self.weight.val(),
            self.stride,
            self.padding,
            input_len,
        )
    }
}

/// A fully connected layer `y = x W + b`, `W` of shape `[in, out]`.
#[derive(Module, Debug)]
pub struct DenseLayer {
    /// Weights `[in_features, out_features]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[out_features]`.
    pub bias: Param<Tensor<1>>,
}

impl DenseLayer {
    /// A layer initialised like PyTorch's `Linear` from `rng`.
    pub fn new(
        in_features: usize,
        out_features: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self::with_initialisation(
            Initialisation::Torch,
            in_features,
            out_features,
            rng,
            device,
        )
    }

    /// A layer initialised as `init` says from `rng`.
    pub fn with_initialisation(
        init: Initialisation,
        in_features: usize,
        out_features: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let (weight, bias) = initial_values(
            init,
            rng,
            in_features,
            in_features * out_features,
            out_features,
        );
        Self {
            weight: Param::from_data(TensorData::new(weight, [in_features, out_features]), device),
            bias: Param::from_data(TensorData::new(bias, [out_features]), device),
        }
    }

    /// `x [B, in] -> [B, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }

    /// The same map with weights and bias detached from any autodiff graph.
    pub fn forward_detached(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val().detach()) + self.bias.val().detach().unsqueeze::<2>()
    }

    /// The adjoint of the linear map: `grad_output [B, out] -> [B, in]`, differentiable in the
    /// weights.
    pub fn backward_input(&self, grad_output: Tensor<2>) -> Tensor<2> {
        grad_output.matmul(self.weight.val().transpose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_authors_initialisation_has_standard_deviation_0_02_and_zero_biases() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (weights, biases) = initial_values(Initialisation::Authors, &mut rng, 250, 64_000, 128);
        let n = weights.len() as f64;
        let mean = weights.iter().map(|&w| f64::from(w)).sum::<f64>() / n;
        let sd = (weights
            .iter()
            .map(|&w| (f64::from(w) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        // The standard deviation of 64,000 uniform draws is within 1% of 0.02 (its own
        // standard error is about 0.3%); every draw lies inside +-0.02 sqrt(3).
        assert!((sd - 0.02).abs() < 2e-4, "sd {sd}");
        assert!(mean.abs() < 5e-4, "mean {mean}");
        let bound = 0.02 * 3f64.sqrt();
        assert!(weights.iter().all(|&w| f64::from(w).abs() <= bound));
        assert!(biases.iter().all(|&b| b == 0.0));
        // PyTorch's: uniform on +-1/sqrt(fan_in) for weights and biases.
        let (weights, biases) = initial_values(Initialisation::Torch, &mut rng, 250, 64_000, 128);
        let bound = 1.0 / 250f64.sqrt();
        let max = weights
            .iter()
            .map(|&w| f64::from(w).abs())
            .fold(0.0, f64::max);
        assert!(max <= bound && max > 0.99 * bound, "{max} vs {bound}");
        assert!(biases.iter().any(|&b| b != 0.0));
    }
}
