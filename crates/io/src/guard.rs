//! Containment of third-party decoders that panic on malformed input.
//!
//! arrow-rs' IPC and Parquet readers are not hardened against corrupt files: our property tests
//! found byte flips that make them panic (out-of-bounds buffer slices, failed assertions) instead
//! of returning an error. Every call into such a decoder goes through [`guarded`], which turns
//! a panic into the error a corrupt file deserves. Our own parsers never rely on this: they are
//! bounds-checked and fuzzed without it.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Run `decode`; a panic inside it becomes `Err("corrupt <what> (...)")`.
pub(crate) fn guarded<T>(
    what: &str,
    decode: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(decode)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(format!(
                "corrupt {what} (the decoder failed: {})",
                one_line(message)
            ))
        }
    }
}

/// `text` with every run of whitespace (newlines included) replaced by one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_and_results_pass_through() {
        let r: Result<u8, String> =
            guarded("thing", || panic!("index out of bounds:\n the len is 3"));
        assert_eq!(
            r.unwrap_err(),
            "corrupt thing (the decoder failed: index out of bounds: the len is 3)"
        );
        assert_eq!(guarded("thing", || Ok::<_, String>(7)).unwrap(), 7);
        assert_eq!(
            guarded::<u8>("thing", || Err("plain".into())).unwrap_err(),
            "plain"
        );
    }
}
