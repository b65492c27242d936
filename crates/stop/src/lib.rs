//! # neuroforge-stop
//!
//! Stop requests from Ctrl-C (SIGINT) and SIGTERM, handled the same way by the `neuroforge`
//! binary and by `cargo xtask reproduce`:
//!
//! - the first signal raises a flag that the program polls: a training session stops after its
//!   current step and writes a checkpoint; xtask starts no further command and says how to
//!   resume;
//! - a second signal ends the process at once, with the conventional status (128 + the signal:
//!   130 for SIGINT, 143 for SIGTERM). Checkpoints are written to a temporary directory and
//!   renamed, so even then none is left half-written.
//!
//! Programs install the handlers only around the work a signal should stop gracefully, so that
//! elsewhere Ctrl-C keeps its default effect of ending the program.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use signal_hook::consts::{SIGINT, SIGTERM};

/// The signals caught, each with the exit status a second one ends the process with.
pub const STOP_SIGNALS: [(i32, i32); 2] = [(SIGINT, 130), (SIGTERM, 143)];

/// A signal whose handler could not be installed (it keeps its default effect: the process
/// ends at once).
#[derive(Debug)]
pub struct NotCaught {
    /// The signal number.
    pub signal: i32,
    /// Why the handler could not be installed.
    pub error: std::io::Error,
}

/// Installs the handlers of SIGINT and SIGTERM: the first of either sets `flag`, a second ends
/// the process with 130 (SIGINT) or 143 (SIGTERM). Returns the signals that could not be
/// caught, for the caller to report in its own way.
pub fn on_stop_signals(flag: &Arc<AtomicBool>) -> Vec<NotCaught> {
    let mut not_caught = Vec::new();
    for (signal, status) in STOP_SIGNALS {
        // The conditional exit is registered first, so it sees the flag as it was before this
        // signal: only a second signal exits.
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, status, Arc::clone(flag))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(flag)));
        if let Err(error) = installed {
            not_caught.push(NotCaught { signal, error });
        }
    }
    not_caught
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn the_first_signal_raises_the_flag_and_the_process_goes_on() {
        let flag = Arc::new(AtomicBool::new(false));
        assert!(on_stop_signals(&flag).is_empty());
        assert!(!flag.load(Ordering::Relaxed));
        signal_hook::low_level::raise(SIGTERM).unwrap();
        // The handler ran before raise returned (same thread, synchronous delivery).
        assert!(flag.load(Ordering::Relaxed));
    }

    /// Run in a child process by the test below: two SIGINTs.
    #[test]
    fn child_receiving_two_signals() {
        if std::env::var_os("NEUROFORGE_STOP_CHILD").is_none() {
            return;
        }
        let flag = Arc::new(AtomicBool::new(false));
        assert!(on_stop_signals(&flag).is_empty());
        signal_hook::low_level::raise(SIGINT).unwrap();
        assert!(flag.load(Ordering::Relaxed));
        signal_hook::low_level::raise(SIGINT).unwrap();
        // Not reached: the second signal ends the process with 130.
        std::process::exit(0);
    }

    #[test]
    fn a_second_signal_ends_the_process_with_128_plus_the_signal() {
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "tests::child_receiving_two_signals",
                "--test-threads=1",
            ])
            .env("NEUROFORGE_STOP_CHILD", "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(130));
    }
}
