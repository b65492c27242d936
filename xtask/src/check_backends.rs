//! `cargo xtask check-backends [--skip-install]`: the model and training tests on every CPU
//! backend this machine can build, against flex.
//!
//! 1. ndarray: `cargo test -p neuroforge --features ndarray --test it backends::` (the same weights
//!    give the same outputs, input gradients and penalty gradients as on flex, and a short
//!    seeded run reaches the same statistics).
//! 2. libtorch: in the Python virtual environment outside the repository (`$NEUROFORGE_VENV`,
//!    default `~/.cache/neuroforge/venv`), PyTorch of the version torch-sys expects
//!    ([`TORCH_VERSION`]) is installed from PyPI when missing (a ~3 GB download the first
//!    time; `--skip-install` skips libtorch instead). Then, with `LIBTORCH_USE_PYTORCH=1`,
//!    `VIRTUAL_ENV` and the library path set to that install, it runs the cross-backend tests
//!    with `--features tch,ndarray`, and the command-line Spike-GAN tests (train, sample,
//!    explain, SIGKILL + resume to identical weights) with `BURN_DEVICE=tch` (the same feature set, so the build is shared),
//!    and neuroforge-kernels' own tests with `--features tch` (aten's `convolution_backward`
//!    against libtorch's autograd).
//! 3. CUDA cannot be built here (its build downloads an LLVM bundle; no GPU): it is
//!    type-checked with `DOCS_RS=1 cargo check -p neuroforge --features cuda`.
//!
//! The tch builds share the default target directory: only burn, torch-sys and our crates are
//! built a second time, with the other feature set.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, venv};

/// The PyTorch version torch-sys 0.22 (burn-tch 0.22's libtorch binding) links against.
pub const TORCH_VERSION: &str = "2.9.0";

pub fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {command:?}");
    let status = command
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// `python`'s torch version and library directory, when it has torch.
fn torch_install(python: &Path) -> Option<(String, PathBuf)> {
    let output = Command::new(python)
        .args([
            "-c",
            "import torch, os; print(torch.__version__.split('+')[0]); \
             print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    Some((lines.next()?.to_string(), PathBuf::from(lines.next()?)))
}

/// Sets what torch-sys needs to build against, and the binary to load, the PyTorch install in
/// `venv` whose libraries are in `lib`.
pub fn libtorch_env(command: &mut Command, venv: &Path, lib: &Path) {
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let library_path = match std::env::var("LD_LIBRARY_PATH") {
        Ok(old) if !old.is_empty() => format!("{}:{old}", lib.display()),
        _ => lib.display().to_string(),
    };
    command
        .env("LIBTORCH_USE_PYTORCH", "1")
        .env("VIRTUAL_ENV", venv)
        .env("PATH", path)
        .env("LD_LIBRARY_PATH", library_path);
}

/// The library directory of the virtual environment's torch when it is the version torch-sys
/// expects.
pub fn expected_torch(venv: &Path) -> Option<PathBuf> {
    torch_install(&venv.join("bin/python"))
        .filter(|(version, _)| version == TORCH_VERSION)
        .map(|(_, lib)| lib)
}

pub fn run_checks(args: &[String]) -> Result<()> {
    let skip_install = args.iter().any(|a| a == "--skip-install");
    if let Some(other) = args.iter().find(|a| *a != "--skip-install") {
        bail!("check-backends: unknown option '{other}' (use --skip-install)");
    }

    eprintln!("== ndarray against flex");
    run(Command::new("cargo").args([
        "test",
        "-p",
        "neuroforge",
        "--features",
        "ndarray",
        "--test",
        "it",
        "backends::",
    ]))?;

    eprintln!("== CUDA: type-check only (DOCS_RS=1 skips the LLVM download)");
    run(Command::new("cargo")
        .args(["check", "-p", "neuroforge", "--features", "cuda"])
        .env("DOCS_RS", "1"))?;

    eprintln!("== libtorch {TORCH_VERSION} (CPU) against flex");
    let venv = venv();
    let python = venv.join("bin/python");
    if !python.exists() {
        if skip_install {
            eprintln!(
                "libtorch skipped: no virtual environment at {}",
                venv.display()
            );
            return Ok(());
        }
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let install = match torch_install(&python) {
        Some((version, lib)) if version == TORCH_VERSION => (version, lib),
        found => {
            if skip_install {
                eprintln!(
                    "libtorch skipped: {} has {} (torch-sys needs {TORCH_VERSION})",
                    venv.display(),
                    found.map_or("no torch".to_string(), |(v, _)| format!("torch {v}"))
                );
                return Ok(());
            }
            run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                &format!("torch=={TORCH_VERSION}"),
            ]))?;
            torch_install(&python)
                .filter(|(v, _)| v == TORCH_VERSION)
                .with_context(|| format!("torch {TORCH_VERSION} did not install into {python:?}"))?
        }
    };
    // The cross-backend tests, then the command-line tests on libtorch: one feature set, so
    // the second build is shared with the first.
    for (module, device) in [("backends::", None), ("spikegan::", Some("tch"))] {
        let mut command = Command::new("cargo");
        command.args([
            "test",
            "-p",
            "neuroforge",
            "--features",
            "tch,ndarray",
            "--test",
            "it",
            module,
        ]);
        if let Some(device) = device {
            command.env("BURN_DEVICE", device);
        }
        libtorch_env(&mut command, &venv, &install.1);
        run(&mut command)?;
    }
    // neuroforge-kernels' own libtorch tests: aten's `convolution_backward` (compiled from
    // crates/kernels/cpp) against libtorch's autograd, and the extension against burn's ops.
    let mut command = Command::new("cargo");
    command.args(["test", "-p", "neuroforge-kernels", "--features", "tch"]);
    libtorch_env(&mut command, &venv, &install.1);
    run(&mut command)?;
    eprintln!("check-backends: flex, ndarray and tch agree; cuda type-checks");
    Ok(())
}
