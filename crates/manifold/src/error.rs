//! The one error type of `neuroforge-manifold`.

/// What went wrong while building the geometry of a point cloud; each message names the
/// setting or the data at fault and, where there is one, the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManifoldError {
    /// A configuration value outside its valid range.
    #[error("invalid setting {name}: {reason}")]
    InvalidConfig {
        /// The setting's name as it appears in the config (e.g. `graph.k`).
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The points (or a signal on them) cannot be used as given.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The proximity graph falls apart into several pieces, so diffusion and the contrastive
    /// loss cannot relate them.
    #[error(
        "the proximity graph is not connected: {components} components, the largest holds \
         {largest} of {points} points; raise graph.k (now {k}) or graph.delta (now {delta}), \
         or remove the isolated points"
    )]
    Disconnected {
        /// Number of connected components.
        components: usize,
        /// Size of the largest component.
        largest: usize,
        /// Number of points.
        points: usize,
        /// The neighbour count used.
        k: usize,
        /// The continuous-kNN scale used.
        delta: f64,
    },
}

/// The result type of this crate.
pub type Result<T, E = ManifoldError> = std::result::Result<T, E>;

pub(crate) fn invalid_config(name: &'static str, reason: impl Into<String>) -> ManifoldError {
    ManifoldError::InvalidConfig {
        name,
        reason: reason.into(),
    }
}
