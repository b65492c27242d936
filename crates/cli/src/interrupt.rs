//! Ctrl-C (SIGINT) and SIGTERM while training.
//!
//! The first signal asks the training loop to stop after its current iteration; it writes a
//! checkpoint of that iteration, marks the run `interrupted` and the program exits with status
//! 130, so `neuroforge resume` continues exactly where it stopped. A second signal ends the
//! program at once (status 130 for SIGINT, 143 for SIGTERM); checkpoints are written to a
//! temporary directory and renamed, so even then none is left half-written.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT or SIGTERM after [`catch_stop_signals`].
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Install the handlers (training commands only; every other command keeps the default
/// behaviour of ending at once). A handler that cannot be installed is logged, not fatal.
pub fn catch_stop_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for (signal, status) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The conditional exit is registered first, so it sees the flag as it was before this
        // signal: only a second signal exits.
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, status, &STOP_REQUESTED)
                .and_then(|_| signal_hook::flag::register(signal, &STOP_REQUESTED));
        if let Err(e) = installed {
            tracing::warn!(signal, error = %e, "cannot catch the signal: it will end training without a checkpoint");
        }
    }
}

/// Whether a stop signal has arrived since [`catch_stop_signals`].
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::Relaxed)
}
