//! One Spike-GAN training iteration (5 critic steps with the exact gradient penalty + 1
//! generator step, batch 64, the authors' widths) at the paper's sizes, on the flex CPU backend
//! with one rayon thread and with two (groups `spikegan_iteration_1thread` and
//! `spikegan_iteration_2threads`) and, with `--features bench-tch`, on libtorch's CPU backend
//! (group `spikegan_iteration_tch`): the figures `cargo xtask bench` puts beside PyTorch's
//! (../shared/peers/spikegan_torch.py). Group `sgemm_1024` is one core's single-precision
//! matrix-multiply rate (flex's matmul, the gemm crate: a 1024 x 1024 product, 2.15 GFLOP),
//! the physical limit the iteration's FLOPs are set against. `BENCH_BATCH_PARTS=N` sets
//! `training.batch_parts` (default 2), to time the batch in other numbers of parts.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, deprecated)]

use std::sync::Arc;

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use neuroforge_models::SpikeGanConfig;
use neuroforge_train::{DataConfig, SampleWindows, SpikeGanRunConfig, SpikeGanTrainer, WganConfig};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The runs: group name, device and rayon threads (`None`: on criterion's own thread, as
/// libtorch runs, with its OpenMP threads from `OMP_NUM_THREADS`).
fn devices() -> Vec<(&'static str, Device, Option<usize>)> {
    #[allow(unused_mut)] // mutated only with bench-tch
    let mut devices = vec![
        ("spikegan_iteration_1thread", Device::flex(), Some(1)),
        ("spikegan_iteration_2threads", Device::flex(), Some(2)),
    ];
    #[cfg(feature = "bench-tch")]
    devices.push(("spikegan_iteration_tch", Device::libtorch(), None));
    devices
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn iteration(c: &mut Criterion) {
    // As `neuroforge` does at start-up (a no-op without libtorch).
    neuroforge_kernels::retain_freed_memory();
    for (group_name, device, threads) in devices() {
        iteration_on(c, group_name, &device, threads.map(pool).as_ref());
    }
}

/// A 1024 x 1024 x 1024 single-precision product on flex (the gemm crate on one thread: flex's
/// matmul does not split a single product of this size among threads).
fn sgemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm_1024");
    group.sample_size(20);
    let device = Device::flex();
    let a = Tensor::<2>::random([1024, 1024], Distribution::Default, &device);
    let b = Tensor::<2>::random([1024, 1024], Distribution::Default, &device);
    let pool = pool(1);
    group.bench_function("1thread", |bench| {
        bench.iter(|| pool.install(|| a.clone().matmul(b.clone()).into_data()))
    });
    group.finish();
}

fn iteration_on(
    c: &mut Criterion,
    group_name: &str,
    device: &Device,
    pool: Option<&rayon::ThreadPool>,
) {
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
            training: WganConfig {
                batch_parts: std::env::var("BENCH_BATCH_PARTS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(WganConfig::default().batch_parts),
                ..WganConfig::default()
            },
        };
        let mut trainer = SpikeGanTrainer::new(config, device).unwrap();
        group.bench_function(format!("{neurons}x{bins}"), |b| {
            b.iter(|| match pool {
                Some(pool) => pool.install(|| trainer.step(&train).unwrap()),
                None => trainer.step(&train).unwrap(),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgemm, iteration);
criterion_main!(benches);
