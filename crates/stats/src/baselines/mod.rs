//! Classical models of binary population activity, fitted to data and sampled.
