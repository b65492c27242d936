//! All statistics of the 50 x 283,041 retina recording (fixtures/retina-marre2014) against the
//! shipped dichotomized-Gaussian samples: `compare` without the bootstrap (the statistics
//! themselves, both recordings), and with the default 200-resample bootstrap. `cargo xtask bench`
//! runs this next to xtask/peers/stats_numpy.py doing the same set in NumPy/SciPy/elephant.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use neuroforge_io::{Activity, ImportOptions, open};
use neuroforge_stats::{CompareConfig, compare};

fn retina(name: &str) -> Array2<f64> {
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = std::path::Path::new(&dir)
        .join("../../fixtures/retina-marre2014")
        .join(name);
    let recording = open(&path, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("the retina fixture imports: {e}"));
    match recording.activity() {
        Activity::Binned(b) => b.counts.mapv(f64::from),
        _ => panic!("the retina recording is binned"),
    }
}

fn bench(c: &mut Criterion) {
    let real = retina("original_data_num_neurons_50_1.mat");
    let dg = retina("DG_num_neurons_50_1.mat");
    let mut group = c.benchmark_group("retina_50x283041");
    group.sample_size(10);
    let plain = CompareConfig {
        bootstrap: 0,
        ..CompareConfig::default()
    };
    group.bench_function("all_statistics_no_bootstrap", |b| {
        b.iter(|| compare(real.view(), dg.view(), &plain))
    });
    group.bench_function("all_statistics_bootstrap_200", |b| {
        b.iter(|| compare(real.view(), dg.view(), &CompareConfig::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
