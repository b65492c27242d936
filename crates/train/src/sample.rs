//! Spike trains from a trained generator: `x = 1[p > u]`, `p = G(z)`, `u ~ U(0, 1)`, every draw
//! from a seeded ChaCha8 generator on the host, so a seed gives the same samples on every
//! backend up to the floating-point differences of `p`.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array3;
use neuroforge_models::Generator;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{Result, TrainError};

/// Samples generated per forward pass.
const SAMPLING_BATCH: usize = 256;

/// The generator's spike probabilities for `count` noise vectors drawn with `seed`
/// (`count x neurons x bins`), and the binary samples drawn from them with the same generator.
pub fn sample_spikes(
    generator: &Generator,
    count: usize,
    seed: u64,
    device: &Device,
) -> Result<(Array3<f32>, Array3<u8>)> {
    sample_spikes_with(
        generator,
        count,
        &mut ChaCha8Rng::seed_from_u64(seed),
        device,
    )
}

/// As [`sample_spikes`], every draw from `rng`.
pub fn sample_spikes_with(
    generator: &Generator,
    count: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<(Array3<f32>, Array3<u8>)> {
    let (neurons, bins, latent) = (generator.neurons, generator.bins, generator.latent_dim);
    let mut probabilities = Vec::with_capacity(count * neurons * bins);
    let mut remaining = count;
    while remaining > 0 {
        let batch = remaining.min(SAMPLING_BATCH);
        let z: Vec<f32> = (0..batch * latent)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let z = Tensor::<2>::from_data(TensorData::new(z, [batch, latent]), device);
        let p = generator.forward(z).into_data().convert::<f32>();
        let p = p
            .as_slice::<f32>()
            .map_err(|e| TrainError::Data(format!("generator output: {e:?}")))?;
        probabilities.extend_from_slice(p);
        remaining -= batch;
    }
    let spikes: Vec<u8> = probabilities
        .iter()
        .map(|&p| u8::from(p > rng.random::<f32>()))
        .collect();
    let shape = (count, neurons, bins);
    let probabilities = Array3::from_shape_vec(shape, probabilities)
        .map_err(|e| TrainError::Data(e.to_string()))?;
    let spikes =
        Array3::from_shape_vec(shape, spikes).map_err(|e| TrainError::Data(e.to_string()))?;
    Ok((probabilities, spikes))
}
