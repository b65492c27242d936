//! With the `tch` feature, compiles `cpp/convolution_backward.cpp` (aten's
//! `convolution_backward`, which tch does not expose) and `cpp/adam_step.cpp` (a one-pass Adam
//! update) against the libtorch that torch-sys found, and sets the cfg
//! `neuroforge_aten_conv_backward`. Without the feature, or when torch-sys did not report a
//! libtorch (as on docs.rs), nothing is compiled: the libtorch convolutions keep their autograd
//! path and Adam runs as burn's tensor operations.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(neuroforge_aten_conv_backward)");
    println!("cargo::rerun-if-changed=cpp/convolution_backward.cpp");
    println!("cargo::rerun-if-changed=cpp/adam_step.cpp");
    println!("cargo::rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    if env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    // torch-sys (`links = "tch"`) passes its libtorch's library directory to the crates that
    // depend on it directly.
    let root = env::var_os("DEP_TCH_LIBTORCH_LIB")
        .map(PathBuf::from)
        .and_then(|lib_dir| lib_dir.parent().map(PathBuf::from));
    let Some(root) = root else {
        println!(
            "cargo::warning=torch-sys reported no libtorch: the libtorch convolutions' backward \
             pass goes through libtorch's autograd"
        );
        return;
    };
    let include = root.join("include");
    // The same default as torch-sys: libtorch since 2.7 (and its pip wheels) use the C++11 ABI.
    let cxx11_abi = env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        // adam_step.cpp rounds each operation as libtorch's kernels do: no fused multiply-adds;
        // a square root without errno, so that its loop vectorises.
        .flag("-ffp-contract=off")
        .flag("-fno-math-errno")
        .file("cpp/convolution_backward.cpp")
        .file("cpp/adam_step.cpp")
        .compile("neuroforge_aten_conv_backward");
    println!("cargo::rustc-cfg=neuroforge_aten_conv_backward");
}
