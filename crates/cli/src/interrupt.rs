//! Ctrl-C (SIGINT) and SIGTERM while training.
//!
//! The first signal raises the training session's [`StopHandle`]: the shared session loop stops
//! after its current iteration, writes a checkpoint of it and marks the run `interrupted`, and
//! the program exits with status 130, so `neuroforge resume` continues exactly where it
//! stopped. A second signal ends the program at once (status 130 for SIGINT, 143 for SIGTERM)
//! after recording the run as `interrupted` at its last checkpoint and removing a checkpoint
//! half-written at that moment; checkpoints are written to a temporary directory and renamed,
//! so none is ever left half-published.

use neuroforge_train::StopHandle;

/// Install the handlers and return the handle they raise (training commands only; every other
/// command keeps the default behaviour of ending at once). A handler that cannot be installed
/// is logged, not fatal.
pub fn catch_stop_signals() -> StopHandle {
    let stop = StopHandle::new();
    let last_words = || {
        if let Some((run_dir, last)) =
            neuroforge_train::record_abrupt_end("stopped at once by a second signal")
        {
            crate::progress::clear_bar();
            eprintln!(
                "interrupted: stopped at once by a second signal; {} keeps its checkpoint of \
                 {last}, which `neuroforge resume --run-dir {}` continues from",
                run_dir.display(),
                run_dir.display()
            );
        }
    };
    for neuroforge_stop::NotCaught { signal, error } in
        neuroforge_stop::on_stop_signals(&stop.flag(), last_words)
    {
        tracing::warn!(signal, error = %error, "cannot catch the signal: it will end training without a checkpoint");
    }
    stop
}
