//! The convolutions on libtorch: the backward pass through libtorch's own
//! `convolution_backward` (one native call for both gradients) instead of burn's generic rules.
//!
//! burn's generic weight-gradient rule runs a second convolution with the batch and channel
//! axes swapped and the output gradient as its kernel; oneDNN is slow at that shape (2.0-2.3 ms
//! against 0.4 ms for aten's native weight gradient, critic layer 1 at 16 x 128). Here the
//! forward pass runs in libtorch with gradient recording on for the inputs burn tracks, keeps
//! that one-node libtorch graph in the autodiff state, and hands burn a detached output; the
//! backward pass asks libtorch for the gradients of `sum(output * grad)` with respect to those
//! inputs, which is exactly the vector-Jacobian product burn needs.

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

/// A libtorch convolution with gradient recording on for the inputs that need it.
#[derive(Debug, Clone)]
pub(crate) struct TchConvRecord {
    kind: ConvKind,
    /// burn's input and weight, held so that burn sees their storage shared and never
    /// overwrites it in place while libtorch's graph refers to it (and for the fallback).
    input: TchTensor,
    weight: TchTensor,
    /// libtorch's leaves (detached views of `input` and `weight`, recording where needed) and
    /// the output that still carries libtorch's graph.
    input_leaf: TchTensor,
    weight_leaf: TchTensor,
    output: TchTensor,
    needs: [bool; 2],
}

impl RecordedConv for LibTorch {
    type Record = TchConvRecord;

    fn conv_recorded(
        kind: ConvKind,
        input: TchTensor,
        weight: TchTensor,
        needs: [bool; 2],
    ) -> (TchTensor, TchConvRecord) {
        let input_leaf = input.tensor.detach().set_requires_grad(needs[0]);
        let weight_leaf = weight.tensor.detach().set_requires_grad(needs[1]);
        let output = tch::with_grad(|| apply_tch(kind, &input_leaf, &weight_leaf));
        let detached = TchTensor::new(output.detach());
        let record = TchConvRecord {
            kind,
            input,
            weight,
            input_leaf: TchTensor::new(input_leaf),
            weight_leaf: TchTensor::new(weight_leaf),
            output: TchTensor::new(output),
            needs,
        };
        (detached, record)
    }

    fn conv_backward(record: TchConvRecord, grad: TchTensor) -> [Option<TchTensor>; 2] {
        let leaves: Vec<&tch::Tensor> = [&record.input_leaf, &record.weight_leaf]
            .into_iter()
            .zip(record.needs)
            .filter_map(|(leaf, need)| need.then_some(&leaf.tensor))
            .collect();
        let grads = tch::with_grad(|| {
            let objective = record.output.tensor.f_mul(&grad.tensor)?.f_sum(None)?;
            tch::Tensor::f_run_backward(&[objective], &leaves, false, false)
        });
        match grads {
            Ok(grads) if grads.len() == leaves.len() => {
                let mut grads = grads.into_iter().map(TchTensor::new);
                record
                    .needs
                    .map(|need| if need { grads.next() } else { None })
            }
            // libtorch refused (it should not): burn's generic rules give the same values.
            _ => generic_conv_backward::<LibTorch>(
                record.kind,
                record.input,
                record.weight,
                grad,
                record.needs,
            ),
        }
    }
}
