//! The CycleGAN networks for mapping pre-learning to post-learning population activity (Li,
//! Amvrosiadis, Rochefort, Onken 2021; METHODS.md section 2).
//!
//! A sample is `[N neurons, T frames]`. Two layouts, one code path (2-D convolutions):
//! - [`CycleLayout::Image`]: the sample is a one-channel `N x T` image and the kernels are
//!   `k x k`, so a convolution mixes neighbouring neurons; this is the layout in which the
//!   neuron order matters and pre-sorting can help;
//! - [`CycleLayout::NeuronChannels`]: the sample is `N` channels of a `1 x T` image and the
//!   kernels are `1 x k`; every layer sees every neuron, so the order does not matter.
//!
//! The generator is residual: `G(x) = x + r(x)`, with `r` a stack of convolutions (a stem,
//! residual blocks, a projection back to the input's shape) whose last layer starts small, so
//! an untrained generator is close to the identity the identity loss asks for and `G(x) - x`
//! is exactly what the network adds. The discriminator is a PatchGAN: stride-2 convolutions with
//! leaky ReLUs, then a convolution to one score per patch.

use burn::module::{Module, Param};
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// How a sample is laid out for the convolutions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CycleLayout {
    /// One channel, `N x T` image, `k x k` kernels (neighbouring neurons are mixed).
    #[default]
    Image,
    /// `N` channels of a `1 x T` image, `1 x k` kernels (all neurons in every layer).
    NeuronChannels,
}

/// The CycleGAN networks' shape. Defaults: image layout, 16 generator channels, 2 residual
/// blocks, 3-wide kernels, discriminator widths [16, 32], leaky slope 0.2, last generator layer
/// scaled by 0.1 at initialisation, learned neuron embeddings (image layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CycleGanConfig {
    /// Neurons per sample.
    pub neurons: usize,
    /// Frames per sample.
    pub bins: usize,
    /// The convolution layout.
    pub layout: CycleLayout,
    /// Channels of the generator's hidden layers.
    pub generator_channels: usize,
    /// Residual blocks (two convolutions each) of the generator.
    pub residual_blocks: usize,
    /// Kernel width (odd); `k x k` in the image layout, `1 x k` in the neuron-channel layout.
    pub kernel_size: usize,
    /// Output channels of the discriminator's stride-2 convolutions.
    pub discriminator_channels: Vec<usize>,
    /// Negative slope of the leaky ReLUs.
    pub leaky_slope: f64,
    /// Factor on the initial weights of the generator's last layer (small: start near the
    /// identity).
    pub output_init_scale: f64,
    /// Image layout: give every neuron row a learned bias per channel after the first
    /// convolution of each network, so that the networks can treat neurons differently (a
    /// convolution alone is blind to which row it is on). Starts at zero.
    pub neuron_embedding: bool,
}

impl Default for CycleGanConfig {
    fn default() -> Self {
        Self {
            neurons: 32,
            bins: 64,
            layout: CycleLayout::Image,
            generator_channels: 16,
            residual_blocks: 2,
            kernel_size: 3,
            discriminator_channels: vec![16, 32],
            leaky_slope: 0.2,
            output_init_scale: 0.1,
            neuron_embedding: true,
        }
    }
}

impl CycleGanConfig {
    /// Refuse shapes the networks cannot have.
    pub fn validate(&self) -> Result<(), ModelError> {
        let invalid = |m: String| Err(ModelError::InvalidConfig(m));
        if self.neurons == 0 || self.bins == 0 {
            return invalid("neurons and bins must be at least 1".into());
        }
        if self.kernel_size == 0 || self.kernel_size.is_multiple_of(2) {
            return invalid(format!(
                "the kernel size must be odd, got {}",
                self.kernel_size
            ));
        }
        if self.generator_channels == 0 || self.discriminator_channels.contains(&0) {
            return invalid("every layer needs at least one channel".into());
        }
        if !(self.leaky_slope.is_finite() && (0.0..1.0).contains(&self.leaky_slope)) {
            return invalid(format!(
                "the leaky slope must be in [0, 1), got {}",
                self.leaky_slope
            ));
        }
        if !(self.output_init_scale.is_finite() && self.output_init_scale >= 0.0) {
            return invalid("the output initialisation scale must be >= 0".into());
        }
        Ok(())
    }

    /// Channels of the image a sample becomes.
    pub fn image_channels(&self) -> usize {
        match self.layout {
            CycleLayout::Image => 1,
            CycleLayout::NeuronChannels => self.neurons,
        }
    }

    /// Height and width of the image a sample becomes.
    pub fn image_size(&self) -> [usize; 2] {
        match self.layout {
            CycleLayout::Image => [self.neurons, self.bins],
            CycleLayout::NeuronChannels => [1, self.bins],
        }
    }

    fn kernel(&self) -> [usize; 2] {
        match self.layout {
            CycleLayout::Image => [self.kernel_size, self.kernel_size],
            CycleLayout::NeuronChannels => [1, self.kernel_size],
        }
    }

    fn discriminator_stride(&self) -> [usize; 2] {
        match self.layout {
            CycleLayout::Image => [2, 2],
            CycleLayout::NeuronChannels => [1, 2],
        }
    }

    /// `x [B, N, T]` as the image `[B, C, H, W]` of this layout.
    pub fn to_image(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, n, t] = x.dims();
        match self.layout {
            CycleLayout::Image => x.reshape([b, 1, n, t]),
            CycleLayout::NeuronChannels => x.reshape([b, n, 1, t]),
        }
    }

    /// An image of this layout back as samples `[B, N, T]`.
    pub fn from_image(&self, x: Tensor<4>) -> Tensor<3> {
        let [b, _, _, _] = x.dims();
        x.reshape([b, self.neurons, self.bins])
    }
}

/// A 2-D convolution with 'same' zero padding `kernel / 2` on each axis.
#[derive(Module, Debug)]
pub struct Conv2dLayer {
    /// Weights `[out, in, kh, kw]`.
    pub weight: Param<Tensor<4>>,
    /// Bias `[out]`.
    pub bias: Param<Tensor<1>>,
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Padding `[ph, pw]`.
    pub padding: [usize; 2],
}

impl Conv2dLayer {
    /// A layer initialised like PyTorch's `Conv2d` (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), the
    /// weights then multiplied by `scale`.
    fn new(
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        scale: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let [cin, cout] = channels;
        let bound = 1.0 / ((cin * kernel[0] * kernel[1]) as f64).sqrt();
        let mut draw = |count: usize, factor: f64| -> Vec<f32> {
            (0..count)
                .map(|_| (rng.random_range(-bound..bound) * factor) as f32)
                .collect()
        };
        let weight = draw(cout * cin * kernel[0] * kernel[1], scale);
        let bias = draw(cout, scale);
        Self {
            weight: Param::from_data(
                TensorData::new(weight, [cout, cin, kernel[0], kernel[1]]),
                device,
            ),
            bias: Param::from_data(TensorData::new(bias, [cout]), device),
            stride,
            padding: [kernel[0] / 2, kernel[1] / 2],
        }
    }

    /// `x [B, C_in, H, W] -> [B, C_out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new(self.stride, self.padding, [1, 1], 1),
        )
    }
}

/// A learned bias per (channel, row), broadcast over time, when the layout and the config ask
/// for one.
fn row_embedding(
    config: &CycleGanConfig,
    channels: usize,
    rows: usize,
    device: &Device,
) -> Option<Param<Tensor<4>>> {
    (config.neuron_embedding && config.layout == CycleLayout::Image).then(|| {
        Param::from_data(
            TensorData::new(vec![0f32; channels * rows], [1, channels, rows, 1]),
            device,
        )
    })
}

fn add_embedding(h: Tensor<4>, embedding: &Option<Param<Tensor<4>>>) -> Tensor<4> {
    match embedding {
        Some(e) => h + e.val(),
        None => h,
    }
}

/// A CycleGAN generator `G(x) = x + r(x)` over samples `[B, N, T]`.
#[derive(Module, Debug)]
pub struct CycleGenerator {
    /// First convolution, image channels to hidden channels.
    pub stem: Conv2dLayer,
    /// Residual blocks: pairs of convolutions, `h + conv(act(conv(h)))`.
    pub blocks: Vec<Conv2dLayer>,
    /// Last convolution, hidden channels back to image channels.
    pub head: Conv2dLayer,
    /// Learned per-neuron bias after the stem `[1, C, N, 1]` (image layout).
    pub neuron_embedding: Option<Param<Tensor<4>>>,
    /// The shape.
    #[module(skip)]
    pub config: CycleGanConfig,
}

impl CycleGenerator {
    /// A generator for `config`, its weights drawn from ChaCha8 seeded with `seed`.
    pub fn new(config: &CycleGanConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (c, k) = (config.generator_channels, config.kernel());
        let stem = Conv2dLayer::new(
            [config.image_channels(), c],
            k,
            [1, 1],
            1.0,
            &mut rng,
            device,
        );
        let blocks = (0..2 * config.residual_blocks)
            .map(|_| Conv2dLayer::new([c, c], k, [1, 1], 1.0, &mut rng, device))
            .collect();
        let head = Conv2dLayer::new(
            [c, config.image_channels()],
            k,
            [1, 1],
            config.output_init_scale,
            &mut rng,
            device,
        );
        Ok(Self {
            stem,
            blocks,
            head,
            neuron_embedding: row_embedding(config, c, config.image_size()[0], device),
            config: config.clone(),
        })
    }

    /// What the generator adds, `r(x)`, `[B, N, T]`.
    pub fn residual(&self, x: Tensor<3>) -> Tensor<3> {
        let slope = self.config.leaky_slope;
        let stem = self.stem.forward(self.config.to_image(x));
        let mut h = leaky_relu(add_embedding(stem, &self.neuron_embedding), slope);
        for pair in self.blocks.chunks(2) {
            let mut inner = h.clone();
            for conv in pair {
                inner = leaky_relu(conv.forward(inner), slope);
            }
            h = h + inner;
        }
        self.config.from_image(self.head.forward(h))
    }

    /// The translation `x + r(x)` of samples `[B, N, T]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.clone() + self.residual(x)
    }
}

/// A PatchGAN discriminator: samples `[B, N, T]` to patch scores `[B, 1, H', W']`.
#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    /// Stride-2 convolutions with leaky ReLUs.
    pub convs: Vec<Conv2dLayer>,
    /// Convolution of the last features to one score per patch.
    pub head: Conv2dLayer,
    /// Learned per-row bias after the first convolution `[1, C, N', 1]` (image layout).
    pub neuron_embedding: Option<Param<Tensor<4>>>,
    /// The shape.
    #[module(skip)]
    pub config: CycleGanConfig,
}

impl PatchDiscriminator {
    /// A discriminator for `config`, its weights drawn from ChaCha8 seeded with `seed`.
    pub fn new(config: &CycleGanConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = config.kernel();
        let mut channels = config.image_channels();
        let mut convs = Vec::new();
        for &width in &config.discriminator_channels {
            convs.push(Conv2dLayer::new(
                [channels, width],
                k,
                config.discriminator_stride(),
                1.0,
                &mut rng,
                device,
            ));
            channels = width;
        }
        let head = Conv2dLayer::new([channels, 1], k, [1, 1], 1.0, &mut rng, device);
        let first = config.discriminator_channels.first().copied().unwrap_or(0);
        let rows = config.image_size()[0].div_ceil(config.discriminator_stride()[0]);
        Ok(Self {
            convs,
            head,
            neuron_embedding: (first > 0)
                .then(|| row_embedding(config, first, rows, device))
                .flatten(),
            config: config.clone(),
        })
    }

    /// The last hidden features `[B, C, H', W']` (what Grad-CAM weighs).
    pub fn features(&self, x: Tensor<3>) -> Tensor<4> {
        let mut h = self.config.to_image(x);
        for (i, conv) in self.convs.iter().enumerate() {
            let mut z = conv.forward(h);
            if i == 0 {
                z = add_embedding(z, &self.neuron_embedding);
            }
            h = leaky_relu(z, self.config.leaky_slope);
        }
        h
    }

    /// Patch scores of features from [`Self::features`].
    pub fn score_features(&self, features: Tensor<4>) -> Tensor<4> {
        self.head.forward(features)
    }

    /// Patch scores `[B, 1, H', W']` of samples `[B, N, T]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<4> {
        self.score_features(self.features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(device: &Device, dims: [usize; 3], seed: u64) -> Tensor<3> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        Tensor::from_data(TensorData::new(v, dims), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    #[test]
    fn shapes_of_both_layouts() -> Result<(), ModelError> {
        let device = Device::flex();
        for layout in [CycleLayout::Image, CycleLayout::NeuronChannels] {
            let config = CycleGanConfig {
                neurons: 6,
                bins: 20,
                layout,
                ..CycleGanConfig::default()
            };
            let g = CycleGenerator::new(&config, 1, &device)?;
            let d = PatchDiscriminator::new(&config, 2, &device)?;
            let x = sample(&device, [3, 6, 20], 3);
            assert_eq!(g.forward(x.clone()).dims(), [3, 6, 20]);
            let expect = match layout {
                CycleLayout::Image => [3, 1, 2, 5],
                CycleLayout::NeuronChannels => [3, 1, 1, 5],
            };
            assert_eq!(d.forward(x).dims(), expect);
        }
        Ok(())
    }

    /// In the neuron-channel layout a permutation of the neurons, applied to the input, the
    /// first layer's input channels and the last layer's output channels, permutes the output
    /// the same way: the layout is blind to the order. In the image layout it is not.
    #[test]
    fn only_the_image_layout_sees_the_neuron_order() -> Result<(), ModelError> {
        let device = Device::flex();
        let perm = [3usize, 0, 4, 1, 2];
        let permute_rows = |v: &[f32], bins: usize| -> Vec<f32> {
            let samples = v.len() / (perm.len() * bins);
            let mut out = Vec::with_capacity(v.len());
            for s in 0..samples {
                for &p in &perm {
                    let start = (s * perm.len() + p) * bins;
                    out.extend_from_slice(&v[start..start + bins]);
                }
            }
            out
        };
        let config = CycleGanConfig {
            neurons: 5,
            bins: 8,
            layout: CycleLayout::NeuronChannels,
            ..CycleGanConfig::default()
        };
        let g = CycleGenerator::new(&config, 9, &device)?;
        let x = sample(&device, [2, 5, 8], 4);
        let y = values(g.forward(x.clone()));
        // Permute the stem's input channels and the head's output channels and bias.
        let mut gp = CycleGenerator::new(&config, 9, &device)?;
        let stem_w = values(g.stem.weight.val());
        let k = config.kernel_size;
        let c = config.generator_channels;
        let mut stem_p = vec![0f32; stem_w.len()];
        for o in 0..c {
            for (i, &p) in perm.iter().enumerate() {
                for j in 0..k {
                    stem_p[(o * 5 + i) * k + j] = stem_w[(o * 5 + p) * k + j];
                }
            }
        }
        gp.stem.weight = Param::from_data(TensorData::new(stem_p, [c, 5, 1, k]), &device);
        let head_w = values(g.head.weight.val());
        let head_b = values(g.head.bias.val());
        let mut head_p = vec![0f32; head_w.len()];
        for (o, &p) in perm.iter().enumerate() {
            head_p[o * c * k..(o + 1) * c * k].copy_from_slice(&head_w[p * c * k..(p + 1) * c * k]);
        }
        gp.head.weight = Param::from_data(TensorData::new(head_p, [5, c, 1, k]), &device);
        let bias_p: Vec<f32> = perm.iter().map(|&p| head_b[p]).collect();
        gp.head.bias = Param::from_data(TensorData::new(bias_p, [5]), &device);
        let xp = Tensor::<3>::from_data(
            TensorData::new(permute_rows(&values(x), 8), [2, 5, 8]),
            &device,
        );
        let yp = values(gp.forward(xp.clone()));
        let want = permute_rows(&y, 8);
        let err = yp
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "neuron-channel layout not equivariant: {err}");
        // The image layout's output on permuted input is not the permuted output.
        let image = CycleGanConfig {
            layout: CycleLayout::Image,
            ..config
        };
        let gi = CycleGenerator::new(&image, 9, &device)?;
        let x = sample(&device, [2, 5, 8], 4);
        let yi = permute_rows(&values(gi.forward(x.clone())), 8);
        let xp = Tensor::<3>::from_data(
            TensorData::new(permute_rows(&values(x), 8), [2, 5, 8]),
            &device,
        );
        let yip = values(gi.forward(xp));
        let diff = yip
            .iter()
            .zip(&yi)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff > 1e-4, "image layout should mix neighbouring neurons");
        Ok(())
    }

    #[test]
    fn an_untrained_generator_is_near_the_identity() -> Result<(), ModelError> {
        let device = Device::flex();
        let config = CycleGanConfig::default();
        let g = CycleGenerator::new(&config, 5, &device)?;
        let x = sample(&device, [4, 32, 64], 6);
        let r = values(g.residual(x));
        let mean_abs = r.iter().map(|v| v.abs()).sum::<f32>() / r.len() as f32;
        // The head's weights are 0.1 of PyTorch's bound: |r| is a few hundredths, while
        // the inputs are U(0, 1).
        assert!(mean_abs > 1e-4 && mean_abs < 0.1, "{mean_abs}");
        Ok(())
    }

    #[test]
    fn bad_shapes_are_refused() {
        let device = Device::flex();
        for config in [
            CycleGanConfig {
                kernel_size: 4,
                ..CycleGanConfig::default()
            },
            CycleGanConfig {
                neurons: 0,
                ..CycleGanConfig::default()
            },
            CycleGanConfig {
                discriminator_channels: vec![8, 0],
                ..CycleGanConfig::default()
            },
        ] {
            assert!(CycleGenerator::new(&config, 0, &device).is_err());
        }
    }
}
