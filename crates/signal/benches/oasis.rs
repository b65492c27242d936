//! OASIS AR(1) throughput on the peer's setting (../shared/peers/oasis_python.py): 100 neurons x
//! 20,000 frames of simulated calcium (spike probability 0.02 per frame, g = 0.95, noise 0.3),
//! g known, noise and penalty chosen per neuron (oasis-deconv's `deconvolve(y, g, penalty=1)`).
//! `cargo xtask bench` runs this next to the peer script and prints both.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use neuroforge_signal::{
    OasisConfig, constrained_exact_ar2, constrained_oasis_ar1, constrained_oasis_ar2,
    deconvolve_population, noise_level, oasis_ar1, oasis_ar2,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn simulated(neurons: usize, frames: usize) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let noise = Normal::new(0.0, 0.3).unwrap_or_else(|_| unreachable!("valid normal"));
    let mut y = Array2::<f64>::zeros((neurons, frames));
    for mut row in y.rows_mut() {
        let mut c = 0.0;
        for v in row.iter_mut() {
            let s = if rng.random::<f64>() < 0.02 { 1.0 } else { 0.0 };
            c = 0.95 * c + s;
            *v = c + noise.sample(&mut rng);
        }
    }
    y
}

/// One AR(2) trace (roots 0.95 and 0.6, the fixture's kernel), spike probability 0.02, noise 0.3.
fn simulated_ar2(frames: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let noise = Normal::new(0.0, 0.3).unwrap_or_else(|_| unreachable!("valid normal"));
    let (g1, g2) = (1.55, -0.57);
    let (mut c1, mut c2) = (0.0, 0.0);
    (0..frames)
        .map(|_| {
            let s = if rng.random::<f64>() < 0.02 { 1.0 } else { 0.0 };
            let c = s + g1 * c1 + g2 * c2;
            c2 = c1;
            c1 = c;
            c + noise.sample(&mut rng)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (neurons, frames) = (100, 20_000);
    let y = simulated(neurons, frames);
    let mut group = c.benchmark_group("oasis_ar1");
    group.sample_size(10);
    group.throughput(Throughput::Elements((neurons * frames) as u64));
    let constrained = OasisConfig {
        g: Some(vec![0.95]),
        ..OasisConfig::default()
    };
    group.bench_function("constrained_100x20000_parallel", |b| {
        b.iter(|| deconvolve_population(y.view(), &constrained))
    });
    let row: Vec<f64> = y.row(0).to_vec();
    group.throughput(Throughput::Elements(frames as u64));
    group.bench_function("fixed_penalty_1x20000", |b| {
        b.iter(|| oasis_ar1(&row, 0.95, 0.3, 0.0))
    });
    group.bench_function("constrained_1x20000", |b| {
        b.iter(|| constrained_oasis_ar1(&row, 0.95, 0.3))
    });
    group.bench_function("noise_level_1x20000", |b| b.iter(|| noise_level(&row)));
    let ar2 = simulated_ar2(frames);
    let sn = noise_level(&ar2).unwrap_or(0.3);
    group.bench_function("ar2_fixed_penalty_1x20000", |b| {
        b.iter(|| oasis_ar2(&ar2, 1.55, -0.57, 0.3, 0.0))
    });
    group.bench_function("ar2_greedy_constrained_1x20000", |b| {
        b.iter(|| constrained_oasis_ar2(&ar2, 1.55, -0.57, sn))
    });
    group.bench_function("ar2_exact_constrained_1x20000", |b| {
        b.iter(|| constrained_exact_ar2(&ar2, 1.55, -0.57, sn))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
