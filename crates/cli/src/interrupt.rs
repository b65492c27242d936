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
    let stop = StopHandle::new();
    for neuroforge_stop::NotCaught { signal, error } in
        neuroforge_stop::on_stop_signals(&stop.flag())
    {
        tracing::warn!(signal, error = %error, "cannot catch the signal: it will end training without a checkpoint");
    }
    stop
}
