//! The Spike-GAN model configuration.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Which family of networks to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// The paper's model: 1-D convolutions over time, neurons as channels.
    #[default]
    Conv,
    /// The fully connected comparison model.
    Dense,
}

/// Width of the hidden layers of a fully connected network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenseWidth {
    /// A fixed number of units per hidden layer.
    Fixed(usize),
    /// The width whose parameter count is closest to that of the convolutional network of the
    /// same role (the paper's rule for the comparison critic).
    MatchConv,
}

/// How the weights and biases of every layer are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Initialisation {
    /// The authors' (`tflib`'s `set_weights_stdev(0.02)`): weights uniform on
    /// `+-0.02 sqrt(3)` (standard deviation 0.02), biases zero, every layer.
    #[default]
    Authors,
    /// PyTorch's default for `Linear` and `Conv1d`: weights and biases uniform on
    /// `+-1 / sqrt(fan_in)`.
    Torch,
}

/// A named model setting, so that a run can say which one it trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ModelPreset {
    /// The authors' code as it ran (`num_features = 128`): critic 128 -> 256 channels,
    /// generator 256 -> 128 -> N, weights of standard deviation 0.02 and zero biases, a leaky
    /// ReLU before the generator's sigmoid.
    #[default]
    Paper,
    /// The half-width model neuroforge trained before 2026-12-04 (critic 64 -> 128, generator
    /// 128 -> 64 -> N, PyTorch's initialisation, no leaky ReLU before the sigmoid), kept for
    /// comparison with earlier runs.
    HalfWidth,
}

impl ModelPreset {
    /// The name used in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelPreset::Paper => "paper",
            ModelPreset::HalfWidth => "half-width",
        }
    }

    /// Parses a preset name (`paper`, `half-width`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "paper" => Some(ModelPreset::Paper),
            "half-width" => Some(ModelPreset::HalfWidth),
            _ => None,
        }
    }
}

/// Configuration of a Spike-GAN generator and critic. Defaults are the authors' code for the
/// paper's setting "128 features, 2 layers, kernel 5" (METHODS.md section 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeGanConfig {
    /// Convolutional (default) or fully connected networks.
    #[serde(default)]
    pub architecture: Architecture,
    /// Number of neurons N (the channels of a sample).
    pub neurons: usize,
    /// Number of time bins T of a sample. Must be divisible by `2^layers` of both networks.
    pub bins: usize,
    /// Dimension of the generator's Gaussian input. Default 128.
    #[serde(default = "default_latent_dim")]
    pub latent_dim: usize,
    /// Output channels of the critic's stride-2 convolutions, in order. Default `[128, 256]`
    /// (the authors' flag `num_features = 128`: halved to 64 internally, and layer `l` has
    /// `64 * 2^(l+1)` channels).
    #[serde(default = "default_critic_widths")]
    pub critic_widths: Vec<usize>,
    /// Channels of the generator's stages: the first is the width of the reshaped projection of
    /// `z`, the following ones the outputs of its upsample + convolution stages; a last stage to
    /// N channels is always added. Default `[256, 128]` (the authors').
    #[serde(default = "default_generator_widths")]
    pub generator_widths: Vec<usize>,
    /// Convolution kernel length (odd). Default 5.
    #[serde(default = "default_kernel_size")]
    pub kernel_size: usize,
    /// Negative slope of the leaky ReLUs. Default 0.2.
    #[serde(default = "default_leaky_slope")]
    pub leaky_slope: f64,
    /// How the weights are drawn. Default `authors` (standard deviation 0.02, zero biases).
    #[serde(default)]
    pub initialisation: Initialisation,
    /// Whether the convolutional generator applies a leaky ReLU before its final sigmoid, as
    /// the authors' code does (it bounds the probabilities below by `sigmoid(slope * x)`
    /// instead of 0 for negative pre-activations). Default true.
    #[serde(default = "default_true")]
    pub leaky_relu_before_sigmoid: bool,
    /// Hidden layers of the fully connected networks. Default 4.
    #[serde(default = "default_dense_layers")]
    pub dense_layers: usize,
    /// Hidden width of the fully connected generator. Default 512 (the paper's).
    #[serde(default = "default_generator_dense_width")]
    pub generator_dense_width: DenseWidth,
    /// Hidden width of the fully connected critic. Default: matched to the convolutional
    /// critic's parameter count.
    #[serde(default = "default_critic_dense_width")]
    pub critic_dense_width: DenseWidth,
}

fn default_latent_dim() -> usize {
    128
}
fn default_critic_widths() -> Vec<usize> {
    vec![128, 256]
}
fn default_generator_widths() -> Vec<usize> {
    vec![256, 128]
}
fn default_true() -> bool {
    true
}
fn default_kernel_size() -> usize {
    5
}
fn default_leaky_slope() -> f64 {
    0.2
}
fn default_dense_layers() -> usize {
    4
}
fn default_generator_dense_width() -> DenseWidth {
    DenseWidth::Fixed(512)
}
fn default_critic_dense_width() -> DenseWidth {
    DenseWidth::MatchConv
}

impl SpikeGanConfig {
    /// The paper's convolutional model (the authors' code) for samples of `neurons x bins`.
    pub fn paper(neurons: usize, bins: usize) -> Self {
        Self::preset(ModelPreset::Paper, neurons, bins)
    }

    /// The model of a named preset for samples of `neurons x bins`.
    pub fn preset(preset: ModelPreset, neurons: usize, bins: usize) -> Self {
        let mut config = Self::authors(neurons, bins);
        config.apply_preset(preset);
        config
    }

    /// Sets the widths, initialisation and output layer of a named preset (everything else is
    /// kept).
    pub fn apply_preset(&mut self, preset: ModelPreset) {
        match preset {
            ModelPreset::Paper => {
                self.critic_widths = default_critic_widths();
                self.generator_widths = default_generator_widths();
                self.initialisation = Initialisation::Authors;
                self.leaky_relu_before_sigmoid = true;
            }
            ModelPreset::HalfWidth => {
                self.critic_widths = vec![64, 128];
                self.generator_widths = vec![128, 64];
                self.initialisation = Initialisation::Torch;
                self.leaky_relu_before_sigmoid = false;
            }
        }
    }

    fn authors(neurons: usize, bins: usize) -> Self {
        Self {
            architecture: Architecture::Conv,
            neurons,
            bins,
            latent_dim: default_latent_dim(),
            critic_widths: default_critic_widths(),
            generator_widths: default_generator_widths(),
            kernel_size: default_kernel_size(),
            leaky_slope: default_leaky_slope(),
            initialisation: Initialisation::Authors,
            leaky_relu_before_sigmoid: true,
            dense_layers: default_dense_layers(),
            generator_dense_width: default_generator_dense_width(),
            critic_dense_width: default_critic_dense_width(),
        }
    }

    /// Checks that the configuration describes valid networks.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |message: String| Err(ModelError::InvalidConfig(message));
        if self.neurons == 0 || self.bins == 0 {
            return bad(format!(
                "a sample needs at least one neuron and one bin (got {} x {})",
                self.neurons, self.bins
            ));
        }
        if self.latent_dim == 0 {
            return bad("latent_dim must be positive".into());
        }
        if !(self.leaky_slope.is_finite() && (0.0..1.0).contains(&self.leaky_slope)) {
            return bad(format!(
                "leaky_slope must be in [0, 1) (got {})",
                self.leaky_slope
            ));
        }
        match self.architecture {
            Architecture::Conv => {
                if self.kernel_size == 0 || self.kernel_size.is_multiple_of(2) {
                    return bad(format!(
                        "kernel_size must be odd so that 'same' padding is symmetric (got {})",
                        self.kernel_size
                    ));
                }
                for (name, widths) in [
                    ("critic_widths", &self.critic_widths),
                    ("generator_widths", &self.generator_widths),
                ] {
                    if widths.is_empty() || widths.contains(&0) {
                        return bad(format!("{name} must be non-empty and positive"));
                    }
                }
                for (name, layers) in [
                    ("critic", self.critic_widths.len()),
                    ("generator", self.generator_widths.len()),
                ] {
                    let factor = 1usize.checked_shl(layers as u32).unwrap_or(0);
                    if factor == 0 || !self.bins.is_multiple_of(factor) {
                        return bad(format!(
                            "bins ({}) must be divisible by 2^{layers} for the {name}'s {layers} \
                             stride-2 stages",
                            self.bins
                        ));
                    }
                }
            }
            Architecture::Dense => {
                if self.dense_layers == 0 {
                    return bad("dense_layers must be at least 1".into());
                }
                for width in [self.generator_dense_width, self.critic_dense_width] {
                    if width == DenseWidth::Fixed(0) {
                        return bad("a fixed dense width must be positive".into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of values in one sample, `neurons * bins`.
    pub fn sample_len(&self) -> usize {
        self.neurons * self.bins
    }

    /// Parameter count of the convolutional critic this configuration describes.
    pub fn conv_critic_parameters(&self) -> usize {
        let mut channels = self.neurons;
        let mut length = self.bins;
        let mut total = 0;
        for &width in &self.critic_widths {
            total += channels * self.kernel_size * width + width;
            channels = width;
            length /= 2;
        }
        total + channels * length + 1
    }

    /// Parameter count of the convolutional generator this configuration describes.
    pub fn conv_generator_parameters(&self) -> usize {
        let stages = self.generator_widths.len();
        let base_len = self.bins >> stages;
        let mut channels = self.generator_widths.first().copied().unwrap_or(0);
        let mut total = self.latent_dim * channels * base_len + channels * base_len;
        for &width in self.generator_widths.iter().skip(1).chain([&self.neurons]) {
            total += channels * self.kernel_size * width + width;
            channels = width;
        }
        total
    }

    /// Hidden width of the fully connected critic.
    pub fn critic_hidden_width(&self) -> usize {
        match self.critic_dense_width {
            DenseWidth::Fixed(width) => width,
            DenseWidth::MatchConv => {
                // (H-1) w^2 + (NT + H + 1) w + 1 = P
                matched_width(
                    self.dense_layers,
                    self.sample_len() + self.dense_layers + 1,
                    self.conv_critic_parameters().saturating_sub(1),
                )
            }
        }
    }

    /// Hidden width of the fully connected generator.
    pub fn generator_hidden_width(&self) -> usize {
        match self.generator_dense_width {
            DenseWidth::Fixed(width) => width,
            DenseWidth::MatchConv => {
                // (H-1) w^2 + (Z + H + NT) w + NT = P
                matched_width(
                    self.dense_layers,
                    self.latent_dim + self.dense_layers + self.sample_len(),
                    self.conv_generator_parameters()
                        .saturating_sub(self.sample_len()),
                )
            }
        }
    }
}

/// The positive width w (at least 1) that makes `(layers - 1) w^2 + linear w` closest to
/// `target`.
fn matched_width(layers: usize, linear: usize, target: usize) -> usize {
    let a = (layers - 1) as f64;
    let b = linear as f64;
    let c = target as f64;
    let w = if a == 0.0 {
        c / b
    } else {
        (-b + (b * b + 4.0 * a * c).sqrt()) / (2.0 * a)
    };
    (w.round() as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_model_has_the_published_parameter_counts() {
        // The authors' code at N = 50, T = 32 (issue 23 and METHODS.md): Conv1d(50->128, k5) +
        // Conv1d(128->256, k5) + Linear(256*8 -> 1), and Linear(128 -> 256*8) +
        // Conv1d(256->128, k5) + Conv1d(128->50, k5).
        let config = SpikeGanConfig::paper(50, 32);
        assert_eq!(config.conv_critic_parameters(), 198_273);
        assert_eq!(config.conv_generator_parameters(), 460_210);
    }

    #[test]
    fn half_width_parameter_count_matches_the_layer_plan() {
        // Conv1d(16->64,k5) + Conv1d(64->128,k5) + Linear(128*32 -> 1).
        let config = SpikeGanConfig::preset(ModelPreset::HalfWidth, 16, 128);
        let expected = (16 * 5 * 64 + 64) + (64 * 5 * 128 + 128) + (128 * 32 + 1);
        assert_eq!(config.conv_critic_parameters(), expected);
        // Linear(128 -> 128*32), Conv1d(128->64), Conv1d(64->16).
        let expected_gen = (128 * 4096 + 4096) + (128 * 5 * 64 + 64) + (64 * 5 * 16 + 16);
        assert_eq!(config.conv_generator_parameters(), expected_gen);
    }

    #[test]
    fn matched_dense_critic_has_about_the_conv_parameter_count() {
        let mut config = SpikeGanConfig::paper(16, 128);
        config.architecture = Architecture::Dense;
        let w = config.critic_hidden_width();
        let h = config.dense_layers;
        let nt = config.sample_len();
        let params = |w: usize| (nt * w + w + (h - 1) * (w * w + w) + w + 1) as f64;
        let target = config.conv_critic_parameters() as f64;
        // The nearest whole width: no other width comes closer to the target.
        for other in [w - 1, w + 1] {
            assert!(
                (params(w) - target).abs() <= (params(other) - target).abs(),
                "width {w}: {} vs {target}",
                params(w)
            );
        }
        assert!((params(w) - target).abs() / target < 0.03);
    }

    #[test]
    fn bins_must_divide_by_the_stride_product() {
        let config = SpikeGanConfig::paper(16, 30);
        assert!(config.validate().is_err());
        assert!(SpikeGanConfig::paper(16, 32).validate().is_ok());
        let mut even_kernel = SpikeGanConfig::paper(16, 32);
        even_kernel.kernel_size = 4;
        assert!(even_kernel.validate().is_err());
    }
}
