//! Choosing the execution backend at run time: `--device`, else `BURN_DEVICE`, else the first
//! compiled backend (flex in a default build). Which backends exist is decided by cargo
//! features of this crate (`flex`, `ndarray`, `tch`, `cuda`); the models never name one.

use burn::tensor::Device;

use crate::error::CliError;

/// The backends compiled into this binary, by cargo feature name.
pub fn compiled_backends() -> Vec<&'static str> {
    [
        (cfg!(feature = "flex"), "flex"),
        (cfg!(feature = "ndarray"), "ndarray"),
        (cfg!(feature = "tch"), "tch"),
        (cfg!(feature = "cuda"), "cuda"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// The devices each compiled backend sees on this machine, one line per backend, e.g.
/// `flex: Flex` or `tch: Cpu, Cuda(0)`. A backend whose enumeration fails (a CUDA build on a
/// machine without a driver) reports that instead of aborting.
#[allow(deprecated)] // burn marks ndarray and tch deprecated
pub fn visible_devices() -> Vec<String> {
    #[allow(unused_mut)]
    let mut lines: Vec<String> = Vec::new();
    #[allow(unused_variables)]
    let list = |name: &str, kind: burn::tensor::DeviceType| -> String {
        let found = std::panic::catch_unwind(|| {
            burn::tensor::Device::enumerate(kind)
                .into_vec()
                .iter()
                .map(|d| format!("{:?}", d.as_dispatch()))
                .collect::<Vec<_>>()
        });
        match found {
            Ok(devices) if devices.is_empty() => format!("{name}: no devices"),
            Ok(devices) => format!("{name}: {}", devices.join(", ")),
            Err(_) => format!("{name}: cannot enumerate devices (driver missing?)"),
        }
    };
    #[cfg(feature = "flex")]
    lines.push(list("flex", burn::tensor::DeviceType::Flex));
    #[cfg(feature = "ndarray")]
    lines.push(list("ndarray", burn::tensor::DeviceType::NdArray));
    #[cfg(feature = "tch")]
    lines.push(list("tch", burn::tensor::DeviceType::LibTorch));
    #[cfg(feature = "cuda")]
    lines.push(list("cuda", burn::tensor::DeviceType::Cuda));
    lines
}

fn not_compiled(spec: &str, feature: &str) -> CliError {
    CliError::Usage(format!(
        "device '{spec}' needs the '{feature}' backend, which this binary was built without: \
         rebuild with `cargo build --release -p neuroforge --features {feature}` (compiled: {})",
        compiled_backends().join(", ")
    ))
}

fn device_index(spec: &str, prefix: &str) -> Result<Option<usize>, CliError> {
    match spec.strip_prefix(prefix) {
        None => Ok(None),
        Some("") => Ok(Some(0)),
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .map(Some)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "device '{spec}': write {prefix}:N with N the GPU index, e.g. {prefix}:0"
                ))
            }),
    }
}

/// The device named by `spec` (`flex`, `ndarray`, `tch`, `tch-cuda:N`, `cuda:N`).
#[allow(deprecated, unreachable_code, unused_variables)] // burn marks ndarray and tch deprecated
pub fn parse_device(spec: &str) -> Result<Device, CliError> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "flex" {
        #[cfg(feature = "flex")]
        return Ok(Device::flex());
        return Err(not_compiled(&spec, "flex"));
    }
    if spec == "ndarray" {
        #[cfg(feature = "ndarray")]
        return Ok(Device::ndarray());
        return Err(not_compiled(&spec, "ndarray"));
    }
    if spec == "tch" || spec == "tch-cpu" {
        #[cfg(feature = "tch")]
        return Ok(Device::libtorch());
        return Err(not_compiled(&spec, "tch"));
    }
    if let Some(index) = device_index(&spec, "tch-cuda")? {
        #[cfg(feature = "tch")]
        return Ok(Device::libtorch_cuda(index));
        return Err(not_compiled(&spec, "tch"));
    }
    if let Some(index) = device_index(&spec, "cuda")? {
        #[cfg(feature = "cuda")]
        return Ok(Device::cuda(index));
        return Err(not_compiled(&spec, "cuda"));
    }
    Err(CliError::Usage(format!(
        "unknown device '{spec}': use flex, ndarray, tch, tch-cuda:N or cuda:N"
    )))
}

/// The device to run on and its name: `requested` (the `--device` flag), else the
/// `BURN_DEVICE` environment variable, else the first compiled backend.
pub fn select_device(requested: Option<&str>) -> Result<(Device, String), CliError> {
    let from_env = std::env::var("BURN_DEVICE").ok().filter(|s| !s.is_empty());
    let spec = match (requested, from_env) {
        (Some(spec), _) => spec.to_string(),
        (None, Some(spec)) => spec,
        (None, None) => compiled_backends()
            .first()
            .map(|name| if *name == "cuda" { "cuda:0" } else { name }.to_string())
            .ok_or_else(|| {
                CliError::Usage(
                    "this binary was built without any backend: enable one of the features \
                     flex, ndarray, tch, cuda"
                        .into(),
                )
            })?,
    };
    let device = parse_device(&spec)?;
    Ok((device, spec.trim().to_ascii_lowercase()))
}

/// The context a run's manifest records: this command line, build and `device`.
pub fn run_context(device: &str) -> neuroforge_train::RunContext {
    neuroforge_train::RunContext {
        command: std::env::args().collect(),
        git_commit: option_env!("NEUROFORGE_GIT_COMMIT")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        version: env!("CARGO_PKG_VERSION").to_string(),
        features: compiled_backends().iter().map(|s| s.to_string()).collect(),
        device: device.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_malformed_devices_are_usage_errors() {
        assert!(matches!(parse_device("gpu"), Err(CliError::Usage(m)) if m.contains("unknown")));
        assert!(
            matches!(parse_device("cuda:x"), Err(CliError::Usage(m)) if m.contains("cuda:N") || m.contains("cuda:0"))
        );
    }

    #[test]
    fn a_backend_that_is_not_compiled_names_its_feature() {
        if !cfg!(feature = "cuda") {
            let err = parse_device("cuda:0").map(|_| ());
            assert!(matches!(err, Err(CliError::Usage(m)) if m.contains("--features cuda")));
        }
        if !cfg!(feature = "tch") {
            let err = parse_device("tch").map(|_| ());
            assert!(matches!(err, Err(CliError::Usage(m)) if m.contains("--features tch")));
        }
    }

    #[test]
    fn the_default_build_runs_on_flex() {
        if cfg!(feature = "flex") {
            assert!(parse_device("flex").is_ok());
        }
    }
}
