//! The convolutions on libtorch: the backward pass through aten's own `convolution_backward`
//! (one native call for both gradients) instead of burn's generic rules.
//!
//! burn's generic weight-gradient rule runs a second convolution with the batch and channel
//! axes swapped and the output gradient as its kernel; oneDNN is slow at that shape (2.0-2.3 ms
//! against 0.4 ms for aten's native weight gradient, critic layer 1 at 16 x 128).
//!
//! When the build script compiled `cpp/convolution_backward.cpp` (cfg
//! `neuroforge_aten_conv_backward`: the `tch` feature with a libtorch torch-sys reported), the
//! forward pass is a plain libtorch convolution and the backward pass calls aten's
//! `convolution_backward` directly, outside libtorch's autograd engine. Otherwise the forward
//! pass runs in libtorch with gradient recording on for the inputs burn tracks, keeps that
//! one-node libtorch graph in the autodiff state, and the backward pass asks libtorch's autograd
//! for the gradients of `sum(output * grad)` with respect to those inputs: the same
//! vector-Jacobian product, with an extra product, a sum and the engine's bookkeeping around
//! each call (docs/BENCHMARKS.md, attempt 20).

// burn 0.22 marks its libtorch backend deprecated; it is the one this module exists for.
#![allow(deprecated)]

use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;

use crate::conv::{ConvKernels, ConvKind, RecordedConv, generic_conv_backward};

impl ConvKernels for LibTorch {}

/// The convolution `kind` in libtorch.
fn apply_tch(kind: ConvKind, input: &tch::Tensor, weight: &tch::Tensor) -> tch::Tensor {
    match kind {
        ConvKind::Forward { stride, padding } => input.conv1d(
            weight,
            None::<tch::Tensor>,
            [stride as i64],
            [padding as i64],
            [1],
            1,
        ),
        ConvKind::Adjoint {
            stride,
            padding,
            padding_out,
        } => input.conv_transpose1d(
            weight,
            None::<tch::Tensor>,
            [stride as i64],
            [padding as i64],
            [padding_out as i64],
            1,
            [1],
        ),
    }
}

/// aten's `convolution_backward`, compiled by the build script from
/// `cpp/convolution_backward.cpp`.
#[cfg(neuroforge_aten_conv_backward)]
#[allow(unsafe_code)]
mod aten {
    use std::ffi::{CStr, c_char, c_int};

    use torch_sys::C_tensor;

    use super::ConvKind;

    unsafe extern "C" {
        fn neuroforge_convolution_backward(
            grad_output: *const C_tensor,
            input: *const C_tensor,
            weight: *const C_tensor,
            stride: i64,
            padding: i64,
            output_padding: i64,
            transposed: c_int,
            need_input: c_int,
            need_weight: c_int,
            grad_input: *mut *mut C_tensor,
            grad_weight: *mut *mut C_tensor,
            error: *mut c_char,
            error_len: usize,
        ) -> c_int;
    }

    /// The gradients `[input, weight]` flagged in `needs` of the convolution `kind` of `input`
    /// with `weight`, for the output gradient `grad`; libtorch's message if it threw.
    pub(super) fn convolution_backward(
        kind: ConvKind,
        grad: &tch::Tensor,
        input: &tch::Tensor,
        weight: &tch::Tensor,
        needs: [bool; 2],
    ) -> Result<[Option<tch::Tensor>; 2], String> {
        let (stride, padding, output_padding) = kind.parameters();
        let transposed = matches!(kind, ConvKind::Adjoint { .. });
        let mut grad_input: *mut C_tensor = std::ptr::null_mut();
        let mut grad_weight: *mut C_tensor = std::ptr::null_mut();
        let mut error = [0 as c_char; 512];
        // SAFETY: the three tensor pointers come from live tch tensors borrowed for the call,
        // which the C++ side only reads; the output pointers and the error buffer (with its
        // true length) are valid for writes. On success each flagged output is a new
        // `at::Tensor` on the heap that nothing else owns, which is what `Tensor::from_ptr`
        // takes over (tch frees it on drop); on failure both are null.
        let status = unsafe {
            neuroforge_convolution_backward(
                grad.as_ptr(),
                input.as_ptr(),
                weight.as_ptr(),
                stride as i64,
                padding as i64,
                output_padding as i64,
                c_int::from(transposed),
                c_int::from(needs[0]),
                c_int::from(needs[1]),
                &mut grad_input,
                &mut grad_weight,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        // SAFETY: as above, each non-null pointer is a tensor only we own.
        let take = |pointer: *mut C_tensor| {
            (!pointer.is_null()).then(|| unsafe { tch::Tensor::from_ptr(pointer) })
        };
        let grads = [take(grad_input), take(grad_weight)];
        if status != 0 {
            // SAFETY: the C++ side NUL-terminates the message inside the buffer.
            let message = unsafe { CStr::from_ptr(error.as_ptr()) };
            return Err(message.to_string_lossy().into_owned());
        }
        if grads
            .iter()
            .zip(needs)
            .any(|(grad, need)| grad.is_some() != need)
        {
            return Err("convolution_backward returned other gradients than asked".to_owned());
        }
        Ok(grads)
    }

    unsafe extern "C" {
        fn neuroforge_adam_step(
            param: *const C_tensor,
            grad: *const C_tensor,
            moment_1: *const C_tensor,
            moment_2: *const C_tensor,
            beta_1: f64,
            beta_2: f64,
            combined: f64,
            epsilon_term: f64,
            learning_rate: f64,
            param_out: *mut *mut C_tensor,
            moment_1_out: *mut *mut C_tensor,
            moment_2_out: *mut *mut C_tensor,
            error: *mut c_char,
            error_len: usize,
        ) -> c_int;
    }

    /// One Adam update in one pass (`cpp/adam_step.cpp`): the new parameter and moments, or
    /// libtorch's message. `coefficients` are [`crate::AdamStep::coefficients`].
    pub(crate) fn adam_step(
        param: &tch::Tensor,
        grad: &tch::Tensor,
        moment_1: &tch::Tensor,
        moment_2: &tch::Tensor,
        [beta_1, beta_2, combined, epsilon_term, learning_rate]: [f64; 5],
    ) -> Result<[tch::Tensor; 3], String> {
        let mut outputs: [*mut C_tensor; 3] = [std::ptr::null_mut(); 3];
        let mut error = [0 as c_char; 512];
        let [param_out, moment_1_out, moment_2_out] = &mut outputs;
        // SAFETY: the four tensor pointers come from live tch tensors borrowed for the call,
        // which the C++ side only reads; the output pointers and the error buffer (with its
        // true length) are valid for writes. On success each output is a new `at::Tensor` on
        // the heap that nothing else owns, which `Tensor::from_ptr` takes over; on failure all
        // three are null.
        let status = unsafe {
            neuroforge_adam_step(
                param.as_ptr(),
                grad.as_ptr(),
                moment_1.as_ptr(),
                moment_2.as_ptr(),
                beta_1,
                beta_2,
                combined,
                epsilon_term,
                learning_rate,
                param_out,
                moment_1_out,
                moment_2_out,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        if status != 0 || outputs.iter().any(|pointer| pointer.is_null()) {
            // SAFETY: the C++ side NUL-terminates the message inside the buffer.
            let message = unsafe { CStr::from_ptr(error.as_ptr()) };
            return Err(message.to_string_lossy().into_owned());
        }
        // SAFETY: as above, each pointer is a tensor only we own.
        Ok(outputs.map(|pointer| unsafe { tch::Tensor::from_ptr(pointer) }))
    }
}

#[cfg(neuroforge_aten_conv_backward)]
pub(crate) use aten::adam_step;

/// What the backward pass of a libtorch convolution needs.
#[derive(Debug, Clone)]
pub(crate) struct TchConvRecord {
    kind: ConvKind,
    /// burn's input and weight, held so that burn sees their storage shared and never
    /// overwrites it in place while the record refers to it (and for the fallback).
    input: TchTensor,
    weight: TchTensor,
    /// Without aten's `convolution_backward`: libtorch's leaves (detached views of `input` and
    /// `weight`, recording where needed) and the output that still carries libtorch's graph.
    #[cfg(not(neuroforge_aten_conv_backward))]
    graph: TchConvGraph,
    needs: [bool; 2],
}

/// The one-node libtorch graph of a convolution, for the autograd path.
#[cfg(not(neuroforge_aten_conv_backward))]
#[derive(Debug, Clone)]
struct TchConvGraph {
    input_leaf: TchTensor,
    weight_leaf: TchTensor,
    output: TchTensor,
}

impl RecordedConv for LibTorch {
    type Record = TchConvRecord;

    fn conv_recorded(
        kind: ConvKind,
        input: TchTensor,
        weight: TchTensor,
        needs: [bool; 2],
    ) -> (TchTensor, TchConvRecord) {
        #[cfg(neuroforge_aten_conv_backward)]
        {
            let output = TchTensor::new(apply_tch(kind, &input.tensor, &weight.tensor));
            let record = TchConvRecord {
                kind,
                input,
                weight,
                needs,
            };
            (output, record)
        }
        #[cfg(not(neuroforge_aten_conv_backward))]
        {
            let input_leaf = input.tensor.detach().set_requires_grad(needs[0]);
            let weight_leaf = weight.tensor.detach().set_requires_grad(needs[1]);
            let output = tch::with_grad(|| apply_tch(kind, &input_leaf, &weight_leaf));
            let detached = TchTensor::new(output.detach());
            let record = TchConvRecord {
                kind,
                input,
                weight,
                graph: TchConvGraph {
                    input_leaf: TchTensor::new(input_leaf),
                    weight_leaf: TchTensor::new(weight_leaf),
                    output: TchTensor::new(output),
                },
                needs,
            };
            (detached, record)
        }
    }

    fn conv_backward(record: TchConvRecord, grad: TchTensor) -> [Option<TchTensor>; 2] {
        #[cfg(neuroforge_aten_conv_backward)]
        let grads = aten::convolution_backward(
            record.kind,
            &grad.tensor,
            &record.input.tensor,
            &record.weight.tensor,
            record.needs,
        );
        #[cfg(not(neuroforge_aten_conv_backward))]
        let grads = autograd_backward(&record.graph, &grad.tensor, record.needs);
        match grads {
            Ok(grads) => grads.map(|grad| grad.map(TchTensor::new)),
            // libtorch refused (it should not): burn's generic rules give the same values.
            Err(_) => generic_conv_backward::<LibTorch>(
                record.kind,
                record.input,
                record.weight,
                grad,
                record.needs,
            ),
        }
    }
}

/// The gradients `[input, weight]` flagged in `needs`, from libtorch's autograd: those of
/// `sum(output * grad)` with respect to the graph's leaves.
#[cfg(not(neuroforge_aten_conv_backward))]
fn autograd_backward(
    graph: &TchConvGraph,
    grad: &tch::Tensor,
    needs: [bool; 2],
) -> Result<[Option<tch::Tensor>; 2], tch::TchError> {
    let leaves: Vec<&tch::Tensor> = [&graph.input_leaf, &graph.weight_leaf]
        .into_iter()
        .zip(needs)
        .filter_map(|(leaf, need)| need.then_some(&leaf.tensor))
        .collect();
    let grads = tch::with_grad(|| {
        let objective = graph.output.tensor.f_mul(grad)?.f_sum(None)?;
        tch::Tensor::f_run_backward(&[objective], &leaves, false, false)
    })?;
    if grads.len() != leaves.len() {
        return Err(tch::TchError::Shape(
            "autograd returned other gradients than asked".to_owned(),
        ));
    }
    let mut grads = grads.into_iter();
    Ok(needs.map(|need| if need { grads.next() } else { None }))
}

#[cfg(all(test, neuroforge_aten_conv_backward))]
mod tests {
    use super::*;

    /// The gradients of `sum(apply(kind, input, weight) * grad)` from libtorch's autograd.
    fn autograd_reference(
        kind: ConvKind,
        input: &tch::Tensor,
        weight: &tch::Tensor,
        grad: &tch::Tensor,
    ) -> (tch::Tensor, tch::Tensor) {
        let input_leaf = input.detach().set_requires_grad(true);
        let weight_leaf = weight.detach().set_requires_grad(true);
        let grads = tch::with_grad(|| {
            let objective = (apply_tch(kind, &input_leaf, &weight_leaf) * grad).sum(None);
            tch::Tensor::run_backward(&[objective], &[&input_leaf, &weight_leaf], false, false)
        });
        match <[tch::Tensor; 2]>::try_from(grads) {
            Ok([input_grad, weight_grad]) => (input_grad, weight_grad),
            Err(grads) => panic!("autograd gave {} gradients for two leaves", grads.len()),
        }
    }

    fn max_abs_difference(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn aten_convolution_backward_matches_libtorch_autograd() {
        tch::manual_seed(7);
        let options = (tch::Kind::Float, tch::Device::Cpu);
        let cases = [
            // (kind, input shape, weight shape)
            (
                ConvKind::Forward {
                    stride: 2,
                    padding: 2,
                },
                [3, 4, 17],
                [6, 4, 5],
            ),
            (
                ConvKind::Forward {
                    stride: 1,
                    padding: 1,
                },
                [2, 5, 9],
                [3, 5, 3],
            ),
            // The adjoint of the stride-2 convolution over 17 samples (9 outputs).
            (
                ConvKind::Adjoint {
                    stride: 2,
                    padding: 2,
                    padding_out: 0,
                },
                [3, 6, 9],
                [6, 4, 5],
            ),
            // Over 16 samples (8 outputs), which needs one sample of output padding.
            (
                ConvKind::Adjoint {
                    stride: 2,
                    padding: 2,
                    padding_out: 1,
                },
                [3, 6, 8],
                [6, 4, 5],
            ),
        ];
        for (kind, input_shape, weight_shape) in cases {
            let input = tch::Tensor::randn(input_shape, options);
            let weight = tch::Tensor::randn(weight_shape, options);
            let output = apply_tch(kind, &input, &weight);
            let grad = tch::Tensor::randn(output.size(), options);
            let (input_reference, weight_reference) =
                autograd_reference(kind, &input, &weight, &grad);
            for needs in [[true, true], [true, false], [false, true]] {
                let grads = aten::convolution_backward(kind, &grad, &input, &weight, needs)
                    .unwrap_or_else(|message| panic!("{kind:?}: aten refused: {message}"));
                let [input_grad, weight_grad] = grads;
                assert_eq!(input_grad.is_some(), needs[0], "{kind:?} {needs:?}");
                assert_eq!(weight_grad.is_some(), needs[1], "{kind:?} {needs:?}");
                if let Some(input_grad) = input_grad {
                    assert_eq!(input_grad.size(), input.size());
                    let error = max_abs_difference(&input_grad, &input_reference);
                    assert!(error < 1e-4, "{kind:?} input gradient off by {error}");
                }
                if let Some(weight_grad) = weight_grad {
                    assert_eq!(weight_grad.size(), weight.size());
                    let error = max_abs_difference(&weight_grad, &weight_reference);
                    assert!(error < 1e-4, "{kind:?} weight gradient off by {error}");
                }
            }
        }
    }

    #[test]
    fn aten_convolution_backward_reports_libtorch_errors() {
        let options = (tch::Kind::Float, tch::Device::Cpu);
        let kind = ConvKind::Forward {
            stride: 1,
            padding: 0,
        };
        let input = tch::Tensor::zeros([2, 4, 8], options);
        // Three input channels in the weights where the input has four.
        let weight = tch::Tensor::zeros([5, 3, 3], options);
        let grad = tch::Tensor::zeros([2, 5, 6], options);
        match aten::convolution_backward(kind, &grad, &input, &weight, [true, true]) {
            Ok(_) => panic!("mismatched channels were accepted"),
            Err(message) => assert!(!message.is_empty()),
        }
    }
}
