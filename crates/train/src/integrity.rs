//! Checkpoint checksums: every checkpoint directory holds `checksums.sha256`, the SHA-256 of
//! each of its files in the format `sha256sum -c` reads, written before the directory is
//! published; loading verifies it. The run's manifest records the SHA-256 of each checkpoint's
//! list, so a list damaged or deleted along with a file is caught too.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Result, TrainError};

/// The checksum list of a checkpoint directory.
pub const CHECKSUMS_FILE: &str = "checksums.sha256";

/// What checking one checkpoint directory found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum CheckpointState {
    /// Every file matches its checksum.
    Intact,
    /// Written before checkpoints carried checksums (no list, none recorded in the manifest):
    /// used as it is.
    Unverified,
    /// A file is missing, changed or unreadable, or the list itself is damaged.
    Damaged {
        /// What is wrong, in one line.
        problem: String,
    },
}

impl CheckpointState {
    /// Whether the checkpoint may be loaded.
    pub fn is_usable(&self) -> bool {
        !matches!(self, Self::Damaged { .. })
    }
}

/// The SHA-256 of `bytes`, as lowercase hex.
fn hex_digest(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the file at `path`, as lowercase hex, read in blocks.
fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Write `dir/checksums.sha256` listing every other file of `dir` (sorted by name) with its
/// SHA-256; returns the SHA-256 of the list, which the manifest records.
pub(crate) fn write_checksums(dir: &Path) -> Result<String> {
    let mut names = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| TrainError::file(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::file(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != CHECKSUMS_FILE && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    let mut list = String::new();
    for name in &names {
        let path = dir.join(name);
        let digest = file_digest(&path).map_err(|e| TrainError::file(&path, e))?;
        list.push_str(&format!("{digest}  {name}\n"));
    }
    let path = dir.join(CHECKSUMS_FILE);
    fs::write(&path, &list).map_err(|e| TrainError::file(&path, e))?;
    Ok(hex_digest(list.as_bytes()))
}

/// The SHA-256 of `dir`'s checksum list, `None` when it has none.
pub(crate) fn list_digest(dir: &Path) -> Option<String> {
    fs::read(dir.join(CHECKSUMS_FILE))
        .ok()
        .map(|bytes| hex_digest(&bytes))
}

/// Parse a checksum list: `(file name, sha256)` per line, or the first malformed line.
fn parse_list(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut files = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        // `sha256sum` writes "<hex>  <name>" (text mode) or "<hex> *<name>" (binary mode).
        let parsed = line.split_once(' ').and_then(|(digest, rest)| {
            let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
            let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
            let hex = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
            (plain && hex).then(|| (name.to_string(), digest.to_ascii_lowercase()))
        });
        match parsed {
            Some((name, digest)) => {
                files.insert(name, digest);
            }
            None => {
                return Err(format!(
                    "{CHECKSUMS_FILE} line {} is not `<sha256>  <file name>`",
                    index + 1
                ));
            }
        }
    }
    if files.is_empty() {
        return Err(format!("{CHECKSUMS_FILE} lists no file"));
    }
    Ok(files)
}

/// Check the checkpoint directory `dir` against its checksum list and, when the manifest
/// recorded one, against `recorded`, the SHA-256 of the list it was written with.
pub fn check_checkpoint(dir: &Path, recorded: Option<&str>) -> CheckpointState {
    let damaged = |problem: String| CheckpointState::Damaged { problem };
    let bytes = match fs::read(dir.join(CHECKSUMS_FILE)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match recorded {
                Some(_) => damaged(format!("{CHECKSUMS_FILE} is missing")),
                None => CheckpointState::Unverified,
            };
        }
        Err(e) => return damaged(format!("{CHECKSUMS_FILE} cannot be read: {e}")),
    };
    if let Some(recorded) = recorded
        && hex_digest(&bytes) != recorded
    {
        return damaged(format!(
            "{CHECKSUMS_FILE} differs from the one the manifest recorded for this checkpoint"
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => return damaged(format!("{CHECKSUMS_FILE} is not text")),
    };
    let files = match parse_list(&text) {
        Ok(files) => files,
        Err(problem) => return damaged(problem),
    };
    let mut problems = Vec::new();
    for (name, expected) in &files {
        let path = dir.join(name);
        match file_digest(&path) {
            Ok(actual) if &actual == expected => {}
            Ok(_) => problems.push(format!(
                "{name} does not match its checksum (it changed after it was written)"
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("{name} is missing"));
            }
            Err(e) => problems.push(format!("{name} cannot be read: {e}")),
        }
    }
    if problems.is_empty() {
        CheckpointState::Intact
    } else {
        damaged(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(files: &[(&str, &[u8])]) -> Result<(tempfile::TempDir, String)> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        for (name, bytes) in files {
            fs::write(tmp.path().join(name), bytes).map_err(|e| TrainError::file(name, e))?;
        }
        let digest = write_checksums(tmp.path())?;
        Ok((tmp, digest))
    }

    #[test]
    fn the_list_is_what_sha256sum_writes() -> Result<()> {
        // Digests from `printf 'abc' | sha256sum` and `printf '' | sha256sum`.
        let (tmp, digest) = checkpoint(&[("b.bpk", b"abc"), ("a.json", b"")])?;
        let list = fs::read_to_string(tmp.path().join(CHECKSUMS_FILE))
            .map_err(|e| TrainError::file("list", e))?;
        assert_eq!(
            list,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.json\n\
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.bpk\n"
        );
        assert_eq!(digest, hex_digest(list.as_bytes()));
        assert_eq!(list_digest(tmp.path()), Some(digest.clone()));
        assert_eq!(
            check_checkpoint(tmp.path(), Some(&digest)),
            CheckpointState::Intact
        );
        Ok(())
    }

    #[test]
    fn a_changed_missing_or_unlisted_file_and_a_damaged_list_are_named() -> Result<()> {
        let (tmp, digest) = checkpoint(&[("weights.bpk", b"0123456789"), ("state.json", b"{}")])?;
        let dir = tmp.path();
        let problem = |recorded: Option<&str>| match check_checkpoint(dir, recorded) {
            CheckpointState::Damaged { problem } => problem,
            other => format!("{other:?}"),
        };
        // One flipped byte.
        fs::write(dir.join("weights.bpk"), b"0123456788").map_err(|e| TrainError::file("w", e))?;
        assert_eq!(
            problem(Some(&digest)),
            "weights.bpk does not match its checksum (it changed after it was written)"
        );
        fs::remove_file(dir.join("state.json")).map_err(|e| TrainError::file("s", e))?;
        assert!(problem(None).contains("state.json is missing"));
        // A list rewritten to match the damage is caught by the manifest's record of it.
        let rewritten = write_checksums(dir)?;
        assert_ne!(rewritten, digest);
        assert_eq!(check_checkpoint(dir, None), CheckpointState::Intact);
        assert!(problem(Some(&digest)).contains("differs from the one the manifest recorded"));
        // A deleted list: unverifiable for an old run, damaged when the manifest has a record.
        fs::remove_file(dir.join(CHECKSUMS_FILE)).map_err(|e| TrainError::file("l", e))?;
        assert_eq!(check_checkpoint(dir, None), CheckpointState::Unverified);
        assert_eq!(problem(Some(&digest)), "checksums.sha256 is missing");
        fs::write(dir.join(CHECKSUMS_FILE), "not a list\n")
            .map_err(|e| TrainError::file("l", e))?;
        assert_eq!(
            problem(None),
            "checksums.sha256 line 1 is not `<sha256>  <file name>`"
        );
        fs::write(dir.join(CHECKSUMS_FILE), "").map_err(|e| TrainError::file("l", e))?;
        assert_eq!(problem(None), "checksums.sha256 lists no file");
        Ok(())
    }

    #[test]
    fn binary_mode_lines_and_upper_case_digests_are_read() {
        let digest = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        let files = parse_list(&format!("{digest} *b.bpk\n")).unwrap_or_default();
        assert_eq!(
            files.get("b.bpk").map(String::as_str),
            Some(digest.to_ascii_lowercase().as_str())
        );
        assert!(parse_list(&format!("{digest}  ../b.bpk\n")).is_err());
    }
}
