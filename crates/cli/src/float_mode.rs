//! Flush-to-zero for the compute threads.
//!
//! During Spike-GAN training, values far below float32's normal range appear (sigmoid outputs
//! of strongly negative logits, squared tiny gradients in Adam's second moment). x86 CPUs
//! process such subnormal numbers through a microcode assist that is tens of times slower than
//! a normal operation: a retina training run slowed from 5 to 1.3 iterations/s within 700
//! iterations without flushing (docs/BENCHMARKS.md). Setting the MXCSR flags FTZ (results
//! that would be subnormal become zero) and DAZ (subnormal inputs read as zero) on every thread
//! that computes removes that. The effect on the numbers is below float32's smallest normal
//! value, 1.2e-38; PyTorch offers the same switch (`torch.set_flush_denormal`).

/// Set FTZ and DAZ on the calling thread (x86-64; a no-op elsewhere).
#[allow(unsafe_code, deprecated)]
pub fn flush_subnormals_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        const FLUSH_TO_ZERO: u32 = 1 << 15;
        const DENORMALS_ARE_ZERO: u32 = 1 << 6;
        // SAFETY: MXCSR is per-thread floating-point control state; these two bits change
        // only how subnormal numbers are treated, never memory safety. x86-64 always has SSE2,
        // so both intrinsics are available.
        unsafe { _mm_setcsr(_mm_getcsr() | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO) };
    }
}

/// Flush subnormals on this thread and on every thread of rayon's global pool (which burn's
/// flex backend computes on). Call once, before any computation.
pub fn flush_subnormals_everywhere() {
    flush_subnormals_on_this_thread();
    // Fails only when the global pool already exists; then its threads keep their mode.
    if rayon::ThreadPoolBuilder::new()
        .start_handler(|_| flush_subnormals_on_this_thread())
        .build_global()
        .is_err()
    {
        tracing::warn!("rayon's thread pool was already started: subnormals are not flushed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_results_become_zero() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        std::thread::spawn(move || {
            assert!((tiny / 4.0) > 0.0, "subnormals exist before flushing");
            flush_subnormals_on_this_thread();
            if cfg!(target_arch = "x86_64") {
                assert_eq!(std::hint::black_box(tiny) / 4.0, 0.0);
            }
        })
        .join()
        .unwrap_or_else(|_| panic!("thread failed"));
    }
}
