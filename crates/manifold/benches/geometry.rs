//! MARBLE preprocessing at scale: the CkNN graph, and the whole geometry (graph, Laplacian,
//! local frames, connections, gradient operators) of 40,000 points in 8 dimensions lying near
//! a curved 3-dimensional manifold. `cargo bench -p neuroforge-manifold`; the peak memory of
//! the same job comes from `cargo run --release -p neuroforge-manifold --example scale`.

use criterion::{Criterion, criterion_group, criterion_main};
use neuroforge_manifold::frames::FrameConfig;
use neuroforge_manifold::{Geometry, GeometryConfig, GraphConfig, ProximityGraph};

#[path = "../examples/common/cloud.rs"]
mod cloud;

fn bench(c: &mut Criterion) {
    let points = cloud::curved_manifold(40_000, 8, 3, 1);
    let mut group = c.benchmark_group("marble_preprocessing_40k_8d");
    group.sample_size(10);
    group.bench_function("cknn_graph", |b| {
        b.iter(|| ProximityGraph::build(points.view(), GraphConfig::default()))
    });
    group.bench_function("geometry_local_frames", |b| {
        b.iter(|| {
            Geometry::build(
                points.view(),
                GeometryConfig {
                    local_frames: Some(FrameConfig::default()),
                    ..GeometryConfig::default()
                },
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
