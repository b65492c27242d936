//! # neuroforge-stop
//!
//! Stop requests from Ctrl-C (SIGINT) and SIGTERM, handled the same way by the `neuroforge`
//! binary and by `cargo xtask reproduce`:
//!
//! - the first signal raises a flag that the program polls: a training session stops after its
//!   current step and writes a checkpoint; xtask starts no further command and says how to
//!   resume;
//! - a second signal ends the process at once, with the conventional status (128 + the signal:
//!   130 for SIGINT, 143 for SIGTERM), after the program's "last words" (the binary records the
//!   run as `interrupted`), which get at most [`LAST_WORDS_LIMIT`]; a third signal does not
//!   wait for them. Checkpoints are written to a temporary directory and renamed, so even then
//!   none is left half-written.
//!
//! Programs install the handlers only around the work a signal should stop gracefully, so that
//! elsewhere Ctrl-C keeps its default effect of ending the program.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

/// The signals caught, each with the exit status a second one ends the process with.
pub const STOP_SIGNALS: [(i32, i32); 2] = [(SIGINT, 130), (SIGTERM, 143)];

/// How long the last words of a second signal may take before the process ends anyway.
pub const LAST_WORDS_LIMIT: Duration = Duration::from_secs(3);

/// A signal whose handler could not be installed (it keeps its default effect: the process
/// ends at once).
#[derive(Debug)]
pub struct NotCaught {
    /// The signal number.
    pub signal: i32,
    /// Why the handler could not be installed.
    pub error: std::io::Error,
}

/// Installs the handlers of SIGINT and SIGTERM: the first of either sets `flag`; a second
/// runs `last_words` (on a thread of its own, given at most [`LAST_WORDS_LIMIT`]) and ends the
/// process with 130 (SIGINT) or 143 (SIGTERM); a third ends it at once. Returns the signals
/// that could not be caught, for the caller to report in its own way.
pub fn on_stop_signals(
    flag: &Arc<AtomicBool>,
    last_words: impl Fn() + Send + Sync + 'static,
) -> Vec<NotCaught> {
    let last_words: Arc<dyn Fn() + Send + Sync> = Arc::new(last_words);
    let received = Arc::new(AtomicUsize::new(0));
    // Raised when the last words start: from then on a signal ends the process at once.
    let ending = Arc::new(AtomicBool::new(false));
    let mut not_caught = Vec::new();
    for (signal, status) in STOP_SIGNALS {
        let installed = watch(signal, status, flag, &received, &ending, &last_words);
        if let Err(error) = installed {
            not_caught.push(NotCaught { signal, error });
        }
    }
    not_caught
}

/// Install the handlers of one signal: the flag (set inside the handler, so it is raised by
/// the time the signal returns), the immediate exit once `ending` is raised, and a byte
/// written to a socket per delivery, counted by a thread of this signal's own.
fn watch(
    signal: i32,
    status: i32,
    flag: &Arc<AtomicBool>,
    received: &Arc<AtomicUsize>,
    ending: &Arc<AtomicBool>,
    last_words: &Arc<dyn Fn() + Send + Sync>,
) -> std::io::Result<()> {
    // The conditional exit is registered first, so it sees `ending` as it was before this
    // signal.
    signal_hook::flag::register_conditional_shutdown(signal, status, Arc::clone(ending))?;
    signal_hook::flag::register(signal, Arc::clone(flag))?;
    let (mut reader, writer) = UnixStream::pair()?;
    signal_hook::low_level::pipe::register(signal, writer)?;
    let received = Arc::clone(received);
    let ending = Arc::clone(ending);
    let last_words = Arc::clone(last_words);
    std::thread::Builder::new()
        .name(format!("signal-{signal}"))
        .spawn(move || {
            let mut byte = [0u8; 1];
            while matches!(reader.read(&mut byte), Ok(1)) {
                if received.fetch_add(1, Ordering::SeqCst) + 1 < 2 {
                    continue;
                }
                ending.store(true, Ordering::SeqCst);
                let (done, wait) = std::sync::mpsc::channel::<()>();
                let speak = Arc::clone(&last_words);
                let spoke = std::thread::Builder::new().spawn(move || {
                    speak();
                    let _ = done.send(());
                });
                if spoke.is_ok() {
                    let _ = wait.recv_timeout(LAST_WORDS_LIMIT);
                }
                std::process::exit(status);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_raises_the_flag_and_the_process_goes_on() {
        let flag = Arc::new(AtomicBool::new(false));
        assert!(on_stop_signals(&flag, || {}).is_empty());
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
        let said = std::env::var_os("NEUROFORGE_STOP_CHILD_SAYS");
        assert!(
            on_stop_signals(&flag, move || {
                if let Some(path) = &said {
                    let _ = std::fs::write(path, "interrupted");
                }
            })
            .is_empty()
        );
        signal_hook::low_level::raise(SIGINT).unwrap();
        assert!(flag.load(Ordering::Relaxed));
        signal_hook::low_level::raise(SIGINT).unwrap();
        // Not reached: the second signal ends the process with 130 once its last words are
        // said.
        std::thread::sleep(Duration::from_secs(30));
        std::process::exit(0);
    }

    #[test]
    fn a_second_signal_ends_the_process_with_128_plus_the_signal_after_its_last_words() {
        let said = std::env::temp_dir().join(format!("neuroforge-stop-{}", std::process::id()));
        let _ = std::fs::remove_file(&said);
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "tests::child_receiving_two_signals",
                "--test-threads=1",
            ])
            .env("NEUROFORGE_STOP_CHILD", "1")
            .env("NEUROFORGE_STOP_CHILD_SAYS", &said)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(130));
        assert_eq!(std::fs::read_to_string(&said).unwrap(), "interrupted");
        let _ = std::fs::remove_file(&said);
    }
}
