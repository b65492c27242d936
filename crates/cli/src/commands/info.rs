//! `info`: version, compiled backends and devices.

use clap::Args;

use crate::device;
use crate::error::CliError;

/// `neuroforge info`.
#[derive(Debug, Args)]
pub struct Info {}

impl Info {
    /// Prints the version, the backends, the devices they see and the one that would be used.
    pub fn run(self) -> Result<(), CliError> {
        println!("neuroforge {}", env!("CARGO_PKG_VERSION"));
        if let Some(commit) = option_env!("NEUROFORGE_GIT_COMMIT").filter(|c| !c.is_empty()) {
            println!("commit     {commit}");
        }
        println!("backends   {}", device::compiled_backends().join(", "));
        for line in device::visible_devices() {
            println!("devices    {line}");
        }
        match device::select_device(None) {
            Ok((_, name)) => println!("device     {name} (--device or BURN_DEVICE to change)"),
            Err(e) => println!("device     none: {e}"),
        }
        Ok(())
    }
}
