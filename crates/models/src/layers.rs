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

    /// The convolution of `x [B, C_in, L]` upsampled by 2 (each bin repeated twice), `[B,
    /// C_out, 2L]`, for a stride-1 layer with an odd kernel: the generator's upsample +
    /// convolution stage, without forming the upsampled input.
    ///
    /// Output bin `2j + r` (`r` the parity) sees upsampled bins `2j + r + k - p` (`k` the tap,
    /// `p` the padding), which are input bin `j + floor((r + k - p) / 2)`; so each parity is a
    /// convolution of `x` itself whose taps are sums of the layer's taps (for kernel 5: `w0 + w1,
    /// w2 + w3, w4` at even bins and `w0, w1 + w2, w3 + w4` at odd ones). Both parities run as
    /// one convolution with `2 C_out` outputs and kernel `2q + 1` (`q = (p + 1) / 2`, 3 for
    /// kernel 5), whose outputs are then interleaved: 3/5 of the multiply-adds over half the
    /// bins' worth of input, the same function up to rounding. The combined taps are one
    /// product of the weights with a constant 0/1 matrix, so the weights' gradient flows back
    /// through it.
    pub fn forward_upsampled2(&self, x: Tensor<3>) -> Tensor<3> {
        let weight = self.weight.val();
        let [out_channels, in_channels, kernel] = weight.dims();
        if self.stride != 1 || kernel != 2 * self.padding + 1 {
            // Not the generator's geometry: the upsampled input, literally.
            return self.forward(upsample_nearest2(x));
        }
        let [batch, _, length] = x.dims();
        let half = self.padding.div_ceil(2);
        let taps = 2 * half + 1;
        // combine[k, r * taps + d + half] = 1 where tap k of parity r lands on input offset d.
        let mut combine = vec![0f32; kernel * 2 * taps];
        for k in 0..kernel {
            for parity in 0..2 {
                let offset = (parity + k) as i64 - self.padding as i64;
                let input_offset = offset.div_euclid(2) + half as i64;
                let column = parity * taps + input_offset as usize;
                combine[k * 2 * taps + column] = 1.0;
            }
        }
        let combine =
            Tensor::<2>::from_data(TensorData::new(combine, [kernel, 2 * taps]), &x.device());
        // [C_out C_in, K] x [K, 2 taps] -> [C_out, C_in, 2, taps] -> [C_out, 2, C_in, taps]:
        // output channel 2c + r is channel c at parity r.
        let phases: Tensor<3> = weight
            .reshape([out_channels * in_channels, kernel])
            .matmul(combine)
            .reshape([out_channels, in_channels, 2, taps])
            .swap_dims(1, 2)
            .reshape([2 * out_channels, in_channels, taps]);
        let both: Tensor<3> = neuroforge_kernels::conv1d(x, phases, 1, half);
        let interleaved: Tensor<3> = both
            .reshape([batch, out_channels, 2, length])
            .swap_dims(2, 3)
            .reshape([batch, out_channels, 2 * length]);
        interleaved + self.bias.val().reshape([1, out_channels, 1])
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

/// Nearest-neighbour upsampling by 2 over the last axis: `[B, C, L] -> [B, C, 2L]`, each bin
/// repeated twice. Written as one product with the 0/1 matrix `U [L, 2L]`
/// (`U[m, 2m] = U[m, 2m + 1] = 1`), which is exact (each output is one input times 1 plus
/// zeros) and whose backward pass (`g Uᵀ`, the sum of each pair) is one product too: on flex,
/// `repeat_dim` over a new last axis copies element by element and took 5% of an iteration at
/// 16 x 128, the product a fraction of that.
pub(crate) fn upsample_nearest2(x: Tensor<3>) -> Tensor<3> {
    let [batch, channels, length] = x.dims();
    let mut spread = vec![0f32; length * 2 * length];
    for m in 0..length {
        spread[m * 2 * length + 2 * m] = 1.0;
        spread[m * 2 * length + 2 * m + 1] = 1.0;
    }
    let spread = Tensor::<2>::from_data(TensorData::new(spread, [length, 2 * length]), &x.device());
    x.reshape([batch * channels, length])
        .matmul(spread)
        .reshape([batch, channels, 2 * length])
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

    /// `[values]` of a tensor as f64.
    fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    fn max_difference(a: &[f64], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// The polyphase stage against the literal one (upsample, then convolve), in value and in
    /// the gradients of a weighted sum with respect to the input, the weights and the bias, on
    /// flex with autodiff, for odd kernels with even and odd padding and lengths down to 1.
    #[test]
    fn upsampled_convolution_matches_upsample_then_convolve() {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (kernel, length) in [(1, 4), (3, 5), (5, 8), (5, 1), (7, 6), (9, 3)] {
            let (batch, in_channels, out_channels) = (3, 4, 5);
            let layer = ConvLayer::new(in_channels, out_channels, kernel, 1, &mut rng, &device);
            let input: Vec<f32> = uniform(&mut rng, batch * in_channels * length, 1.0);
            let weights = uniform(&mut rng, batch * out_channels * 2 * length, 1.0);
            let weights = Tensor::<1>::from_floats(weights.as_slice(), &device).reshape([
                batch,
                out_channels,
                2 * length,
            ]);
            let run = |polyphase: bool| {
                let x = Tensor::<1>::from_floats(input.as_slice(), &device)
                    .reshape([batch, in_channels, length])
                    .require_grad();
                let y = if polyphase {
                    layer.forward_upsampled2(x.clone())
                } else {
                    layer.forward(upsample_nearest2(x.clone()))
                };
                assert_eq!(y.dims(), [batch, out_channels, 2 * length]);
                let grads = (y.clone() * weights.clone()).sum().backward();
                let grad = |t: Option<Tensor<1>>| t.map(values).unwrap_or_default();
                (
                    values(y),
                    grad(x.grad(&grads).map(|g| g.flatten(0, 2))),
                    grad(layer.weight.val().grad(&grads).map(|g| g.flatten(0, 2))),
                    grad(layer.bias.val().grad(&grads)),
                )
            };
            let (ours, reference) = (run(true), run(false));
            let context = format!("kernel {kernel}, length {length}");
            assert!(
                !reference.1.is_empty() && !reference.2.is_empty(),
                "{context}"
            );
            assert!(
                max_difference(&ours.0, &reference.0) < 1e-5,
                "value, {context}"
            );
            assert!(
                max_difference(&ours.1, &reference.1) < 1e-4,
                "input gradient, {context}"
            );
            assert!(
                max_difference(&ours.2, &reference.2) < 1e-4,
                "weight gradient, {context}"
            );
            assert!(
                max_difference(&ours.3, &reference.3) < 1e-4,
                "bias gradient, {context}"
            );
        }
    }

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
