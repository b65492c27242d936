//! Reports and plots: the SVG figures ([`svg`]) and the Markdown reports built from them
//! ([`stats`]: a comparison of generated with real activity).

pub mod stats;
pub mod svg;
