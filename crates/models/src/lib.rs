//! Backend-free burn modules for neuroforge.
//!
//! - Spike-GAN ([`Generator`], [`Critic`]), below;
//! - the CycleGAN generators and PatchGAN discriminators for pre -> post learning
//!   ([`cyclegan`]);
//! - the MARBLE network ([`marble`]).
//!
//! The Spike-GAN generator and critic ([`Generator`], [`Critic`]) in the paper's convolutional
//! layout and in the fully connected comparison layout, both built from one serde
//! [`SpikeGanConfig`]. Tensors carry no backend type: the [`burn::tensor::Device`] the modules are
//! created on picks the backend at run time, so this crate enables no backend feature.
//!
//! The critic also computes its own input gradient, `d sum(D(x)) / dx`, as ordinary tensor
//! operations built from its weights ([`Critic::input_gradient`]). burn's autodiff is first order
//! only; with this explicit backward pass the WGAN-GP penalty `(||dD/dx|| - 1)^2` is an ordinary
//! differentiable function of the weights, and its weight gradient is exact.
//!
//! ```
//! # fn main() -> Result<(), neuroforge_models::ModelError> {
//! use burn::tensor::{Device, Tensor};
//! use neuroforge_models::{Critic, Generator, SpikeGanConfig};
//!
//! let device = Device::flex();
//! let config = SpikeGanConfig::paper(16, 32);
//! let generator = Generator::new(&config, 7, &device)?;
//! let critic = Critic::new(&config, 8, &device)?;
//! let z = Tensor::<2>::zeros([4, config.latent_dim], &device);
//! let probabilities = generator.forward(z); // [4, 16, 32], in (0, 1)
//! let scores = critic.forward(probabilities); // [4, 1]
//! assert_eq!(scores.dims(), [4, 1]);
//! # Ok(())
//! # }
//! ```

mod config;
mod critic;
pub mod cyclegan;
mod generator;
mod layers;
pub mod marble;

pub use config::{Architecture, DenseWidth, Initialisation, ModelPreset, SpikeGanConfig};
pub use critic::Critic;
pub use cyclegan::{CycleGanConfig, CycleGenerator, CycleLayout, PatchDiscriminator};
pub use generator::Generator;
pub use layers::{ConvLayer, DenseLayer};
pub use marble::{Marble, MarbleConfig, MarbleInput};

/// Errors building a model from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The configuration cannot describe a valid network.
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
}
