//! # neuroforge-manifold
//!
//! The geometry MARBLE (Gosztolai et al., Nature Methods 2025) builds before any learning,
//! written so that memory grows with the number of edges (O(n k)) and never with n²:
//!
//! - [`kdtree`]: exact k-nearest-neighbour and radius queries;
//! - [`graph`]: the continuous-kNN proximity graph and its connectivity check;
//! - [`frames`]: local frames by local PCA, the manifold dimension, Procrustes connections;
//! - [`laplacian`]: graph Laplacians (combinatorial, symmetric, random walk) and the
//!   matrix-free connection Laplacian;
//! - [`gradient`]: directional-derivative operators, one sparse matrix per frame direction;
//! - [`diffusion`]: heat-kernel diffusion `exp(-t L) x` and its derivative in `t` by a
//!   Chebyshev expansion;
//! - [`features`]: the network inputs (diffused signal and its gradient filters) as a sum
//!   over Chebyshev terms, so the diffusion time stays learnable;
//! - [`sampling`]: furthest point sampling to an even spacing;
//! - [`geometry`]: all of the above for one point cloud in one call.
//!
//! Plain `ndarray` in and out: usable without the rest of neuroforge.

pub mod diffusion;
mod error;
pub mod features;
pub mod frames;
pub mod geometry;
pub mod gradient;
pub mod graph;
pub mod kdtree;
pub mod laplacian;
pub mod sampling;
pub mod sparse;

pub use error::{ManifoldError, Result};
pub use geometry::{Geometry, GeometryConfig};
pub use graph::{GraphConfig, ProximityGraph};
pub use sparse::CsrMatrix;
