//! Times MARBLE's preprocessing of a large synthetic point cloud and reports the peak memory
//! (Linux VmHWM), for docs/BENCHMARKS.md:
//!
//! ```text
//! cargo run --release -p neuroforge-manifold --example scale -- [points] [dimensions] [latent dimensions]
//! ```

use std::time::Instant;

use neuroforge_manifold::frames::FrameConfig;
use neuroforge_manifold::{Geometry, GeometryConfig};

#[path = "common/cloud.rs"]
mod cloud;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let points: usize = args.next().map_or(Ok(40_000), |a| a.parse())?;
    let dims: usize = args.next().map_or(Ok(8), |a| a.parse())?;
    let latent: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let cloud = cloud::curved_manifold(points, dims, latent, 1);
    let before = peak_rss_mib().unwrap_or(f64::NAN);
    let clock = Instant::now();
    let geometry = Geometry::build(
        cloud.view(),
        GeometryConfig {
            local_frames: Some(FrameConfig::default()),
            ..GeometryConfig::default()
        },
    )?;
    let total = clock.elapsed().as_secs_f64();
    let s = geometry.seconds;
    println!(
        "points {points} dims {dims} latent {latent} edges {} manifold dimension {} threads {}",
        geometry.graph.edges(),
        geometry.frames.dimension(),
        rayon::current_num_threads()
    );
    println!(
        "seconds: total {total:.2} (graph {:.2}, laplacian {:.2}, frames+connections {:.2}, gradients {:.2})",
        s.graph, s.laplacian, s.frames, s.gradients
    );
    println!(
        "memory: peak RSS {:.0} MiB (input cloud and allocator included; {:.0} MiB before), operators {:.0} MiB",
        peak_rss_mib().unwrap_or(f64::NAN),
        before,
        geometry.operator_bytes() as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
