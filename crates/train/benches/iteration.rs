//! One Spike-GAN training iteration (5 critic steps with the exact gradient penalty + 1
//! generator step, batch 64) at the paper's sizes, on the flex CPU backend (group
//! `spikegan_iteration`) and, with `--features bench-tch`, on libtorch's CPU backend (group
//! `spikegan_iteration_tch`): the figures `cargo xtask bench` puts beside PyTorch's
//! (../shared/peers/spikegan_torch.py).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, deprecated)]

use std::sync::Arc;

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use neuroforge_models::SpikeGanConfig;
use neuroforge_train::{DataConfig, SampleWindows, SpikeGanRunConfig, SpikeGanTrainer, WganConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)] // mutated only with bench-tch
    let mut devices = vec![("spikegan_iteration", Device::flex())];
    #[cfg(feature = "bench-tch")]
    devices.push(("spikegan_iteration_tch", Device::libtorch()));
    devices
}

fn iteration(c: &mut Criterion) {
    // As `neuroforge` does at start-up (a no-op without libtorch).
    neuroforge_kernels::retain_freed_memory();
    for (group_name, device) in devices() {
        iteration_on(c, group_name, &device);
    }
}

fn iteration_on(c: &mut Criterion, group_name: &str, device: &Device) {
    let mut group = c.benchmark_group(group_name);
    group.sample_size(10);
    for (neurons, bins) in [(16, 128), (50, 32), (32, 64)] {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let count = 1024;
        let data = Array2::from_shape_fn((neurons, count * bins), |_| {
            u8::from(rng.random::<f64>() < 0.1)
        });
        let starts = (0..count).map(|k| k * bins).collect();
        let train = SampleWindows::new(Arc::new(data), bins, starts).unwrap();
        let config = SpikeGanRunConfig {
            seed: 0,
            recipe: None,
            model_preset: None,
            data: DataConfig::default(),
            model: SpikeGanConfig::paper(neurons, bins),
            training: WganConfig::default(),
        };
        let mut trainer = SpikeGanTrainer::new(config, device).unwrap();
        group.bench_function(format!("{neurons}x{bins}"), |b| {
            b.iter(|| trainer.step(&train).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, iteration);
criterion_main!(benches);
