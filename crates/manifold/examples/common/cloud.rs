//! Synthetic point clouds for the scale benchmark.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` points in `ambient` dimensions near a curved `latent`-dimensional manifold: uniform
/// latent coordinates pushed through fixed random sinusoids, plus 1% noise; seeded.
pub fn curved_manifold(n: usize, ambient: usize, latent: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let frequencies = Array2::from_shape_fn((ambient, latent), |_| rng.random_range(-1.5..1.5));
    let phases: Vec<f64> = (0..ambient).map(|_| rng.random_range(0.0..6.3)).collect();
    let mut points = Array2::zeros((n, ambient));
    for i in 0..n {
        let u: Vec<f64> = (0..latent).map(|_| rng.random_range(-1.0..1.0)).collect();
        for a in 0..ambient {
            let arg: f64 = (0..latent).map(|l| frequencies[[a, l]] * u[l]).sum::<f64>() + phases[a];
            points[[i, a]] = arg.sin() + 0.01 * rng.random_range(-1.0..1.0);
        }
    }
    points
}
