//! Everything MARBLE precomputes for one point cloud, in one call: the proximity graph, its
//! weighted Laplacian, the local frames with their connections and connection Laplacian (when
//! local frames are on), and the gradient operators.

use std::time::Instant;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frames::{FrameConfig, LocalFrames};
use crate::gradient::gradient_operators;
use crate::graph::{GraphConfig, ProximityGraph};
use crate::laplacian::{
    ConnectionLaplacian, EdgeWeight, Normalization, laplacian, spectral_bound, weighted_adjacency,
};
use crate::sparse::CsrMatrix;

/// Settings of the whole geometry; every field has a documented default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GeometryConfig {
    /// The proximity graph (k 20, delta 1.0).
    pub graph: GraphConfig,
    /// Edge weights (default inverse distance, as MARBLE).
    pub edge_weight: EdgeWeight,
    /// The Laplacian used for diffusion (default random walk, as MARBLE).
    pub normalization: Normalization,
    /// Local frames (MARBLE's `local_gauges`); `None` (the default) uses the ambient
    /// coordinates as the frame everywhere, MARBLE's default.
    pub local_frames: Option<FrameConfig>,
}

/// Wall-clock seconds of each stage, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct StageSeconds {
    /// kd-tree and CkNN graph.
    pub graph: f64,
    /// Weights and Laplacian.
    pub laplacian: f64,
    /// Local PCA, connections and the connection Laplacian.
    pub frames: f64,
    /// Gradient operators.
    pub gradients: f64,
}

/// The precomputed geometry of one point cloud.
#[derive(Debug, Clone)]
pub struct Geometry {
    /// The CkNN graph.
    pub graph: ProximityGraph,
    /// The weighted adjacency.
    pub weights: CsrMatrix,
    /// The (scalar) graph Laplacian.
    pub laplacian: CsrMatrix,
    /// An upper bound on the Laplacian's spectrum, for the Chebyshev heat kernel.
    pub spectral_bound: f64,
    /// The frame at every node (the identity without local frames).
    pub frames: LocalFrames,
    /// The connection Laplacian, with local frames only.
    pub connection_laplacian: Option<ConnectionLaplacian>,
    /// One gradient operator per frame direction.
    pub gradients: Vec<CsrMatrix>,
    /// Time spent per stage.
    pub seconds: StageSeconds,
}

impl Geometry {
    /// Builds the geometry of the rows of `points` (n x d).
    pub fn build(points: ArrayView2<'_, f64>, config: GeometryConfig) -> Result<Self> {
        let mut seconds = StageSeconds::default();
        let clock = Instant::now();
        let graph = ProximityGraph::build(points, config.graph)?;
        seconds.graph = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let weights = weighted_adjacency(points, &graph, config.edge_weight)?;
        let laplacian = laplacian(&weights, config.normalization)?;
        let spectral_bound = spectral_bound(&weights, config.normalization);
        seconds.laplacian = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let (frames, connection_laplacian) = match config.local_frames {
            Some(frame_config) => {
                let frames = LocalFrames::fit(points, &graph, frame_config)?;
                let connections = frames.connections(&graph)?;
                let operator = ConnectionLaplacian::new(weights.clone(), connections)?;
                (frames, Some(operator))
            }
            None => (LocalFrames::ambient(points.nrows(), points.ncols()), None),
        };
        seconds.frames = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let gradients = gradient_operators(points, &graph, &frames)?;
        seconds.gradients = clock.elapsed().as_secs_f64();
        Ok(Self {
            graph,
            weights,
            laplacian,
            spectral_bound,
            frames,
            connection_laplacian,
            gradients,
            seconds,
        })
    }

    /// Bytes held by the sparse operators (graph, weights, Laplacian, gradients).
    pub fn operator_bytes(&self) -> usize {
        self.graph.adjacency().memory_bytes()
            + self.weights.memory_bytes()
            + self.laplacian.memory_bytes()
            + self
                .gradients
                .iter()
                .map(CsrMatrix::memory_bytes)
                .sum::<usize>()
    }
}
