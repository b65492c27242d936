//! Records the git commit the binary is built from (NEUROFORGE_GIT_COMMIT), for run manifests.
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=NEUROFORGE_GIT_COMMIT={commit}");
    // A new commit moves HEAD or a branch ref; local edits are not tracked (a binary built
    // from a modified tree reports the commit it started from).
    for path in [
        "../../.git/HEAD",
        "../../.git/refs/heads",
        "../../.git/packed-refs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
