//! Times MARBLE on a large point cloud: the precomputation (graph, gradient operators,
//! Chebyshev terms) and the embedding of every node with a trained network, for
//! docs/BENCHMARKS.md. The network is trained briefly on a 5,000-point subset first (the
//! weights do not change the cost of embedding).
//!
//! ```text
//! cargo run --release -p neuroforge-train --example marble_embed_scale -- [points]
//! ```

use std::time::Instant;

use burn::tensor::Device;
use ndarray::{Array2, s};
use neuroforge_train::{
    ConditionData, ContrastiveConfig, MarbleData, MarbleRunConfig, embed, train_contrastive,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(100_000), |a| a.parse())?;
    // A van der Pol field (mu = 1) sampled at uniform random points of [-2, 2]^2.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let states = Array2::from_shape_fn((n, 2), |_| rng.random_range(-2.0..2.0));
    let vectors = Array2::from_shape_fn((n, 2), |(i, c)| {
        let (x, y) = (states[[i, 0]], states[[i, 1]]);
        [y, (1.0 - x * x) * y - x][c]
    });
    let mut config = MarbleRunConfig::default();
    config.geometry.graph.k = 15;
    config.training = ContrastiveConfig {
        epochs: 5,
        ..ContrastiveConfig::default()
    };
    let device = Device::flex();
    let small = 5_000.min(n);
    let subset = [ConditionData {
        states: states.slice(s![..small, ..]),
        vectors: vectors.slice(s![..small, ..]),
    }];
    let trained = train_contrastive(
        &config,
        &MarbleData::prepare(&subset, &config)?,
        &device,
        |_| {},
    )?;
    let clock = Instant::now();
    let all = [ConditionData {
        states: states.view(),
        vectors: vectors.view(),
    }];
    let data = MarbleData::prepare(&all, &config)?;
    let prepare_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let z = embed(&trained.model, &data);
    let embed_s = clock.elapsed().as_secs_f64();
    println!(
        "points {n}: geometry + features {prepare_s:.2} s ({} terms x {} channels), network \
         forward {embed_s:.2} s, total {:.2} s; embedding {} x {}; threads {}",
        data.input.terms,
        data.input.channels,
        prepare_s + embed_s,
        z.nrows(),
        z.ncols(),
        rayon::current_num_threads()
    );
    Ok(())
}
