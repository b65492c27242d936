//! Writing output files atomically: into a temporary file beside the target, renamed over it
//! only once everything was written, so that a failure never leaves a partial file.

use std::fs::File;
use std::path::Path;

use crate::error::{IoError, Result};

/// Write `path` through `write`, which receives a temporary file in the same directory. The
/// temporary file is synced and renamed to `path` if `write` succeeds, and removed otherwise.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(IoError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other("the output path is a directory"),
        });
    }
    let write_error = |source| IoError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".neuroforge-").suffix(".partial");
    // Temporary files are private (0600) by default; an output file gets the ordinary mode
    // (0666 less the umask), as any other program's output would.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(write_error)?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all().map_err(write_error)?;
    tmp.persist(path).map_err(|e| write_error(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn failure_leaves_no_file_and_success_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let err = write_atomically(&target, |f| {
            f.write_all(b"partial").unwrap();
            Err(IoError::Usage("boom".into()))
        });
        assert!(err.is_err());
        assert!(!target.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp file left behind"
        );
        write_atomically(&target, |f| {
            f.write_all(b"done")
                .map_err(|e| IoError::Usage(e.to_string()))
        })
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The same mode as a file created the ordinary way (0666 less the umask).
            let plain = dir.path().join("plain");
            std::fs::write(&plain, b"x").unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&target), mode(&plain));
        }
        let missing = dir.path().join("no/such/dir/out.bin");
        assert!(matches!(
            write_atomically(&missing, |_| Ok(())),
            Err(IoError::Write { .. })
        ));
    }
}
