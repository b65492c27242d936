//! Ctrl-C (SIGINT) and SIGTERM while training.
//!
//! The first signal raises the training session's [`StopHandle`]: the shared session loop stops
//! after its current iteration, writes a checkpoint of it and marks the run `interrupted`, and
//! the program exits with status 130, so `neuroforge resume` continues exactly where it
//! stopped. A second signal ends the program at once (status 130 for SIGINT, 143 for SIGTERM);
//! checkpoints are written to a temporary directory and renamed, so even then none is left
//! half-written.

use neuroforge_train::StopHandle;

/// Install the handlers and return the handle they raise (training commands only; every other
/// command keeps the default behaviour of ending at once). A handler that cannot be installed
/// is logged, not fatal.
pub fn catch_stop_signals() -> StopHandle {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = StopHandle::new();
    for (signal, status) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The conditional exit is registered first, so it sees the flag as it was before this
        // signal: only a second signal exits.
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, status, stop.flag())
                .and_then(|_| signal_hook::flag::register(signal, stop.flag()));
        if let Err(e) = installed {
            tracing::warn!(signal, error = %e, "cannot catch the signal: it will end training without a checkpoint");
        }
    }
    stop
}
