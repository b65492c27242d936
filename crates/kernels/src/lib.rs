//! The layer primitives of neuroforge's Spike-GAN networks: the 1-D convolution over time, its
//! adjoint (the transposed convolution the critic's explicit input gradient is made of), the
//! leaky ReLU between them, and the leaky ReLU's backward map (the derivative masks of that
//! explicit input gradient).
//!
//! On burn's flex backend with the `flex` feature (on by default), the two convolutions and
//! their gradients are this crate's own (a backend extension with its own autodiff rule): each
//! map is one matrix product over the whole batch on the gemm crate's kernels (the im2col
//! matrix `[C_in K, B L_out]` against the weights), or for stride 1 `K` products of shifted
//! views of the padded input, with the batch split among rayon's threads and the same bits on
//! any number of them (docs/BENCHMARKS.md, issue 28). The leaky ReLU and its backward map go
//! through a second extension, one pass each (a vectorised loop on flex, aten's fused
//! `leaky_relu_backward` on libtorch) where burn's generic rules record a compare, a scale and a
//! masked select forward and two masked selects backward. Which path a call takes depends only
//! on the tensor's device ([`uses_native_kernels`]); every path gives the same values up to
//! rounding. On other backends the convolutions are burn's own `conv1d` and `conv_transpose1d`
//! (with the output padding that makes the transposed convolution the exact adjoint).
//!
//! On libtorch with the `tch` feature (off by default: it needs libtorch and a C++ compiler to
//! build), the two convolutions under autodiff go through the convolution extension with aten's
//! own backward pass (one native `convolution_backward` call, made from `cpp/` since tch does
//! not bind it; libtorch's autograd when the build script found no libtorch to compile it
//! against) instead of burn's generic rules, which run a convolution with batch and channels
//! swapped that oneDNN is slow at.
//!
//! On libtorch the crate also carries Adam's update in one pass ([`adam_step`], from
//! `cpp/adam_step.cpp`), which neuroforge-train's Spike-GAN optimizer uses there in place of
//! burn's thirteen tensor operations per parameter.
//!
//! Features: `flex` (the native convolutions and leaky ReLU on flex; enables burn's `flex` and `extension`, and `x86-v4`, which
//! compiles gemm's AVX-512 micro-kernels for flex's matrix products; gemm picks them at run time
//! only on CPUs that have AVX-512), `tch` (the libtorch kernels) and `autodiff` (the autodiff
//! rules; enables burn's `autodiff`). Without them the crate is a thin, backend-free layer over
//! burn's ops.

use burn::tensor::module::{conv_transpose1d, conv1d as burn_conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};

#[cfg(any(feature = "flex", feature = "tch"))]
mod activation;
#[cfg(any(feature = "flex", feature = "tch"))]
mod adam;
#[cfg(any(feature = "flex", feature = "tch"))]
mod conv;
#[cfg(feature = "flex")]
mod flex_conv;
#[cfg(feature = "flex")]
mod gemm_conv;
#[cfg(feature = "tch")]
mod libtorch;

/// Output length of a convolution over `input_len` samples with `kernel_size`, `stride` and
/// symmetric zero padding `padding`.
pub fn output_len(input_len: usize, kernel_size: usize, stride: usize, padding: usize) -> usize {
    let padded = input_len + 2 * padding;
    if padded < kernel_size || stride == 0 {
        0
    } else {
        (padded - kernel_size) / stride + 1
    }
}

/// The output padding that makes a transposed convolution of `output_len` samples return
/// exactly `input_len` samples (the adjoint of the convolution over `input_len`).
pub fn adjoint_output_padding(
    input_len: usize,
    output_len: usize,
    kernel_size: usize,
    stride: usize,
    padding: usize,
) -> usize {
    let produced =
        (output_len.saturating_sub(1) * stride + kernel_size).saturating_sub(2 * padding);
    input_len.saturating_sub(produced)
}

/// Whether tensors on `device` use one of this crate's native kernels rather than only burn's
/// generic rules: the leaky ReLU on flex (feature `flex`), the leaky ReLU and the convolutions'
/// backward pass on libtorch (feature `tch`; the convolutions only under autodiff); an autodiff
/// device needs the `autodiff` feature.
pub fn uses_native_kernels(device: &Device) -> bool {
    uses_native_leaky_relu(device) || uses_native_conv(device)
}

/// Whether an autodiff device (if `device` is one) is served by the compiled autodiff rules.
#[cfg(any(feature = "flex", feature = "tch"))]
fn autodiff_supported(device: &Device) -> bool {
    !device.is_autodiff() || cfg!(feature = "autodiff")
}

/// The native leaky ReLU applies (flex or libtorch).
fn uses_native_leaky_relu(device: &Device) -> bool {
    #[cfg(any(feature = "flex", feature = "tch"))]
    {
        let inner = device.clone().inner();
        #[allow(deprecated)] // burn 0.22 marks its libtorch backend deprecated
        let native = match inner.as_dispatch() {
            #[cfg(feature = "flex")]
            burn::backend::DispatchDevice::Flex(_) => true,
            #[cfg(feature = "tch")]
            burn::backend::DispatchDevice::LibTorch(_) => true,
            _ => false,
        };
        autodiff_supported(device) && native
    }
    #[cfg(not(any(feature = "flex", feature = "tch")))]
    {
        let _ = device;
        false
    }
}

/// The native convolutions apply: on flex always, on libtorch only under autodiff (without it
/// they are burn's ops, which are libtorch's).
fn uses_native_conv(device: &Device) -> bool {
    #[cfg(any(feature = "flex", feature = "tch"))]
    {
        let inner = device.clone().inner();
        #[allow(deprecated)] // burn 0.22 marks its libtorch backend deprecated
        let native = match inner.as_dispatch() {
            #[cfg(feature = "flex")]
            burn::backend::DispatchDevice::Flex(_) => true,
            #[cfg(feature = "tch")]
            burn::backend::DispatchDevice::LibTorch(_) => device.is_autodiff(),
            _ => false,
        };
        autodiff_supported(device) && native
    }
    #[cfg(not(any(feature = "flex", feature = "tch")))]
    {
        let _ = device;
        false
    }
}

/// The leaky ReLU (`x` where `x >= 0`, `negative_slope * x` elsewhere), differentiable in `x`
/// with derivative 1 where `x > 0` and `negative_slope` elsewhere. On flex and libtorch its
/// forward and backward passes are one pass each (burn's generic rule is three masked passes).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, negative_slope: f64) -> Tensor<D> {
    #[cfg(any(feature = "flex", feature = "tch"))]
    if uses_native_leaky_relu(&x.device()) {
        return activation::leaky_relu(x, negative_slope);
    }
    burn::tensor::activation::leaky_relu(x, negative_slope)
}

/// The leaky ReLU's backward map at the pre-activations `pre_activation`: `grad` where
/// `pre_activation > 0`, `negative_slope * grad` elsewhere (the vector-Jacobian product of
/// [`leaky_relu`]). Differentiable in `grad`; `pre_activation` is a constant of it (the map is
/// piecewise constant in it), so it receives no gradient. One pass on flex and libtorch.
pub fn leaky_relu_backward<const D: usize>(
    pre_activation: Tensor<D>,
    grad: Tensor<D>,
    negative_slope: f64,
) -> Tensor<D> {
    #[cfg(any(feature = "flex", feature = "tch"))]
    if uses_native_leaky_relu(&grad.device()) {
        return activation::leaky_relu_backward(pre_activation, grad, negative_slope);
    }
    let positive = pre_activation.detach().greater_elem(0.0);
    grad.clone()
        .mul_scalar(negative_slope)
        .mask_where(positive, grad)
}

/// The convolution `x [B, C_in, L] -> [B, C_out, L_out]` with weights `[C_out, C_in, K]`,
/// `stride` and symmetric zero padding `padding`, without bias. Differentiable in `x` and
/// `weight`.
pub fn conv1d(x: Tensor<3>, weight: Tensor<3>, stride: usize, padding: usize) -> Tensor<3> {
    #[cfg(any(feature = "flex", feature = "tch"))]
    if uses_native_conv(&x.device()) {
        return conv::conv1d(x, weight, stride, padding);
    }
    burn_conv1d(
        x,
        weight,
        None,
        ConvOptions::new([stride], [padding], [1], 1),
    )
}

/// The adjoint of [`conv1d`] over inputs of length `input_len`: maps `grad_output
/// [B, C_out, L_out]` to `[B, C_in, input_len]` (a transposed convolution). Differentiable in
/// `grad_output` and `weight`.
pub fn conv1d_adjoint(
    grad_output: Tensor<3>,
    weight: Tensor<3>,
    stride: usize,
    padding: usize,
    input_len: usize,
) -> Tensor<3> {
    let [_, _, output_len] = grad_output.dims();
    let kernel_size = weight.dims()[2];
    let padding_out = adjoint_output_padding(input_len, output_len, kernel_size, stride, padding);
    #[cfg(any(feature = "flex", feature = "tch"))]
    if uses_native_conv(&grad_output.device()) {
        return conv::conv1d_adjoint(grad_output, weight, stride, padding, padding_out);
    }
    conv_transpose1d(
        grad_output,
        weight,
        None,
        ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1),
    )
}

/// Makes the C library's allocator keep the memory libtorch frees, so that the next tensor of
/// the same size reuses it. Returns whether the settings were applied (only with the `tch`
/// feature on glibc; elsewhere it does nothing).
///
/// libtorch allocates tensor storage with the C library's `malloc`, not through Rust's global
/// allocator. glibc hands large freed blocks back to the system (by `munmap`, or by trimming
/// the top of the heap), so the next tensor faults fresh zeroed pages in again: 16% of a
/// Spike-GAN iteration on libtorch went to page faults and page clearing (docs/BENCHMARKS.md).
/// This raises glibc's mmap threshold to 32 MiB (its maximum; larger tensors are mapped as
/// before), its trim threshold to 1 GiB, and pads heap growth by 64 MiB. The cost is a process
/// that keeps up to that much freed memory. Call once at start-up, before the first tensor.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(feature = "tch", target_os = "linux", target_env = "gnu"))]
    {
        const MIB: libc::c_int = 1 << 20;
        let settings = [
            (libc::M_MMAP_THRESHOLD, 32 * MIB),
            (libc::M_TRIM_THRESHOLD, 1024 * MIB),
            (libc::M_TOP_PAD, 64 * MIB),
        ];
        settings.iter().all(|&(parameter, value)| {
            // SAFETY: `mallopt` only changes the allocator's tuning parameters, with values
            // glibc documents as valid for them; it touches no memory of the caller's.
            #[allow(unsafe_code)]
            let applied = unsafe { libc::mallopt(parameter, value) };
            applied == 1
        })
    }
    #[cfg(not(all(feature = "tch", target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// The coefficients of one Adam update at step `time` (1 for the first), as burn's Adam
/// computes them: `m' = beta_1 m + (1 - beta_1) g`, `v' = beta_2 v + (1 - beta_2) g²`, and the
/// parameter moves by `learning_rate (m' c) / (sqrt(v') + epsilon sqrt(1 - beta_2^time))` with
/// `c = sqrt(1 - beta_2^time) / (1 - beta_1^time)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// The first moment's decay.
    pub beta_1: f32,
    /// The second moment's decay.
    pub beta_2: f32,
    /// The denominator's floor before bias correction.
    pub epsilon: f32,
    /// The step's number, from 1.
    pub time: i32,
    /// The learning rate.
    pub learning_rate: f64,
}

impl AdamStep {
    /// `[beta_1, beta_2, c, epsilon sqrt(1 - beta_2^time), learning_rate]`, in burn's
    /// arithmetic (its betas and epsilon are `f32` widened to `f64`).
    pub fn coefficients(&self) -> [f64; 5] {
        let beta_1 = f64::from(self.beta_1);
        let beta_2 = f64::from(self.beta_2);
        let bias_correction2_sqrt = (1.0 - beta_2.powi(self.time)).sqrt();
        let combined = bias_correction2_sqrt / (1.0 - beta_1.powi(self.time));
        [
            beta_1,
            beta_2,
            combined,
            f64::from(self.epsilon) * bias_correction2_sqrt,
            self.learning_rate,
        ]
    }
}

/// One Adam update of `param` (gradient `grad`, moments `moment_1` and `moment_2` from the
/// previous steps) in one pass: `[param, moment_1, moment_2]` after it. The moments are bit for
/// bit burn's Adam's; the parameter's step can differ in its last bit (the square root here is
/// correctly rounded, libtorch's is not always). `None` unless the tensors are on libtorch (not under
/// autodiff) with the `tch` feature's compiled kernel: there burn's Adam is thirteen tensor
/// operations, each a pass over the parameter with a new tensor. The caller then runs its own.
pub fn adam_step<const D: usize>(
    param: &Tensor<D>,
    grad: &Tensor<D>,
    moment_1: &Tensor<D>,
    moment_2: &Tensor<D>,
    step: &AdamStep,
) -> Option<[Tensor<D>; 3]> {
    #[cfg(all(feature = "tch", neuroforge_aten_conv_backward))]
    {
        let device = param.device();
        #[allow(deprecated)] // burn 0.22 marks its libtorch backend deprecated
        let on_libtorch = matches!(
            device.as_dispatch(),
            burn::backend::DispatchDevice::LibTorch(_)
        );
        if on_libtorch && !device.is_autodiff() {
            return adam::adam_step(
                param.clone(),
                grad.clone(),
                moment_1.clone(),
                moment_2.clone(),
                step,
            );
        }
    }
    let _ = (param, grad, moment_1, moment_2, step);
    None
}
