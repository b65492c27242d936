//! The human-readable form of `neuroforge inspect`.

use std::fmt::Write;
use std::path::Path;

use neuroforge_io::{ActivityKind, RecordingSummary};

/// A few aligned lines describing a recording.
pub fn human(file: &Path, s: &RecordingSummary) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<12} {value}");
    };
    line("file", file.display().to_string());
    let kind = match (s.kind, s.binary) {
        (ActivityKind::Binned, Some(true)) => "binned (binary spike words)".to_string(),
        (ActivityKind::Binned, _) => "binned (spike counts)".to_string(),
        (k, _) => k.name().to_string(),
    };
    line("kind", kind);
    line("quantity", format!("{} ({})", s.quantity, s.units));
    line("neurons", s.neurons.to_string());
    if let Some(b) = s.bins {
        let width = s.bin_width_s.map_or(
            "bin width unknown: set it with --bin-ms at import".to_string(),
            |w| format!("{} ms per bin", w * 1000.0),
        );
        line("bins", format!("{b} ({width})"));
    }
    if let Some(f) = s.frames {
        let rate = s.frame_rate_hz.map_or(
            "frame rate unknown: set it with --frame-rate at import".to_string(),
            |r| format!("{r} Hz"),
        );
        line("frames", format!("{f} ({rate})"));
    }
    if let Some(d) = s.duration_s {
        line("duration", format!("{d:.3} s"));
    }
    if let Some(r) = s.mean_rate {
        let range = match (s.neuron_rate_min, s.neuron_rate_max) {
            (Some(lo), Some(hi)) => format!(" (per neuron {lo:.4} to {hi:.4})"),
            _ => String::new(),
        };
        line(
            "mean rate",
            format!("{r:.5} spikes per bin per neuron{range}"),
        );
    }
    if let Some(hz) = s.mean_rate_hz {
        let range = match (s.kind, s.neuron_rate_min, s.neuron_rate_max) {
            (ActivityKind::SpikeTimes, Some(lo), Some(hi)) => {
                format!(" (per neuron {lo:.3} to {hi:.3} Hz)")
            }
            _ => String::new(),
        };
        line("rate", format!("{hz:.3} Hz per neuron{range}"));
    }
    if let Some(n) = s.total_spikes {
        line("spikes", n.to_string());
    }
    if let Some(m) = s.max_count {
        line("max count", m.to_string());
    }
    if let Some(v) = s.mean_value {
        line("mean value", format!("{v:.6}"));
    }
    if !s.covariates.is_empty() {
        line("covariates", s.covariates.join(", "));
    }
    if let Some(layout) = &s.layout {
        let note = if s.layout_assumed {
            " (assumed; pass --layout to change)"
        } else {
            ""
        };
        line("layout", format!("{layout}{note}"));
    }
    if let Some(src) = &s.source_file {
        line("source", src.clone());
    }
    out
}
