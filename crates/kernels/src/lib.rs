//! The layer primitives of neuroforge's Spike-GAN networks: the 1-D convolution over time, its
//! adjoint (the transposed convolution the critic's explicit input gradient is made of), and
//! the leaky ReLU between them.
//!
//! The convolutions are burn's own `conv1d` and `conv_transpose1d` on every backend (with the
//! output padding that makes the transposed convolution the exact adjoint). The leaky ReLU is
//! burn's too, except on burn's flex backend with the `flex` feature (on by default): there it
//! goes through a backend extension with a handwritten autodiff rule, whose backward pass is one
//! vectorised loop over the input and the gradient where burn's generic rule records a compare,
//! a scale and a masked select forward and two masked selects backward. Which path a call takes
//! depends only on the tensor's device ([`uses_native_kernels`]); both give the same values.
//!
//! On libtorch with the `tch` feature (off by default: it needs libtorch to build), the two
//! convolutions under autodiff go through a second extension whose backward pass is libtorch's
//! own (one native `convolution_backward` call, through libtorch's autograd) instead of burn's
//! generic rules, which run a convolution with batch and channels swapped that oneDNN is slow
//! at.
//!
//! Features: `flex` (the native path; enables burn's `flex` and `extension`, and `x86-v4`, which
//! compiles gemm's AVX-512 micro-kernels for flex's matrix products; gemm picks them at run time
//! only on CPUs that have AVX-512), `tch` (the libtorch path) and `autodiff` (the autodiff
//! rules; enables burn's `autodiff`). Without them the crate is a thin, backend-free layer over
//! burn's ops.

use burn::tensor::module::{conv_transpose1d, conv1d as burn_conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor};

#[cfg(feature = "flex")]
mod extension;
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
/// generic rules: the leaky ReLU on flex (feature `flex`), the convolutions' backward pass on
/// libtorch (feature `tch`, under autodiff); an autodiff device needs the `autodiff` feature.
pub fn uses_native_kernels(device: &Device) -> bool {
    uses_native_leaky_relu(device) || uses_native_conv(device)
}

/// Whether an autodiff device (if `device` is one) is served by the compiled autodiff rules.
#[cfg(any(feature = "flex", feature = "tch"))]
fn autodiff_supported(device: &Device) -> bool {
    !device.is_autodiff() || cfg!(feature = "autodiff")
}

/// The flex leaky ReLU applies.
fn uses_native_leaky_relu(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        let inner = device.clone().inner();
        autodiff_supported(device)
            && matches!(inner.as_dispatch(), burn::backend::DispatchDevice::Flex(_))
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// The libtorch convolutions apply (only under autodiff: without it they are burn's ops).
fn uses_native_conv(device: &Device) -> bool {
    #[cfg(feature = "tch")]
    {
        let inner = device.clone().inner();
        device.is_autodiff()
            && autodiff_supported(device)
            && matches!(
                inner.as_dispatch(),
                burn::backend::DispatchDevice::LibTorch(_)
            )
    }
    #[cfg(not(feature = "tch"))]
    {
        let _ = device;
        false
    }
}

/// The leaky ReLU (`x` where `x >= 0`, `negative_slope * x` elsewhere), differentiable in `x`
/// with derivative 1 where `x > 0` and `negative_slope` elsewhere. On flex its backward pass is
/// one loop over the input and the gradient (burn's generic rule is three masked passes).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, negative_slope: f64) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if uses_native_leaky_relu(&x.device()) {
        return extension::leaky_relu(x, negative_slope);
    }
    burn::tensor::activation::leaky_relu(x, negative_slope)
}

/// The convolution `x [B, C_in, L] -> [B, C_out, L_out]` with weights `[C_out, C_in, K]`,
/// `stride` and symmetric zero padding `padding`, without bias. Differentiable in `x` and
/// `weight`.
pub fn conv1d(x: Tensor<3>, weight: Tensor<3>, stride: usize, padding: usize) -> Tensor<3> {
    #[cfg(feature = "tch")]
    if uses_native_conv(&x.device()) {
        return libtorch::conv1d(x, weight, stride, padding);
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
    #[cfg(feature = "tch")]
    if uses_native_conv(&grad_output.device()) {
        return libtorch::conv1d_adjoint(grad_output, weight, stride, padding, padding_out);
    }
    conv_transpose1d(
        grad_output,
        weight,
        None,
        ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1),
    )
}
