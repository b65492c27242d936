//! The convolutions on libtorch under autodiff: the backward pass through libtorch's own
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

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, LibTorch, backend_extension};
use burn::tensor::Tensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// Which of the two convolutions, with its geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ConvKind {
    /// [`crate::conv1d`]: `x [B, C_in, L]` with weights `[C_out, C_in, K]`.
    Forward { stride: usize, padding: usize },
    /// [`crate::conv1d_adjoint`]: `grad_output [B, C_out, L_out]` with the same weights.
    Adjoint {
        stride: usize,
        padding: usize,
        padding_out: usize,
    },
}

impl ConvKind {
    fn conv_options(self) -> ConvOptions<1> {
        let (stride, padding) = match self {
            ConvKind::Forward { stride, padding }
            | ConvKind::Adjoint {
                stride, padding, ..
            } => (stride, padding),
        };
        ConvOptions::new([stride], [padding], [1], 1)
    }

    fn transpose_options(self) -> ConvTransposeOptions<1> {
        let (stride, padding, padding_out) = match self {
            ConvKind::Forward { stride, padding } => (stride, padding, 0),
            ConvKind::Adjoint {
                stride,
                padding,
                padding_out,
            } => (stride, padding, padding_out),
        };
        ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1)
    }

    /// burn's own operation, on any backend.
    fn apply<B: Backend>(self, input: FloatTensor<B>, weight: FloatTensor<B>) -> FloatTensor<B> {
        match self {
            ConvKind::Forward { .. } => B::conv1d(input, weight, None, self.conv_options()),
            ConvKind::Adjoint { .. } => {
                B::conv_transpose1d(input, weight, None, self.transpose_options())
            }
        }
    }

    /// The same operation in libtorch.
    fn apply_tch(self, input: &tch::Tensor, weight: &tch::Tensor) -> tch::Tensor {
        match self {
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
}

/// The two convolutions as backend operations. The default bodies are burn's own operations;
/// the autodiff backend over libtorch records each as one node with the native backward pass.
#[backend_extension(LibTorch, Autodiff: cfg(feature = "autodiff"))]
pub trait ConvKernels: Backend {
    /// [`crate::conv1d`].
    fn nf_conv1d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        ConvKind::Forward { stride, padding }.apply::<Self>(x, weight)
    }

    /// [`crate::conv1d_adjoint`], with the output padding already worked out.
    fn nf_conv1d_adjoint(
        grad_output: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FloatTensor<Self> {
        ConvKind::Adjoint {
            stride,
            padding,
            padding_out,
        }
        .apply::<Self>(grad_output, weight)
    }
}

impl ConvKernels for LibTorch {}

/// A backend whose convolution can record its own backward pass. Only libtorch does; the
/// autodiff rule below needs it of the backend it wraps.
pub(crate) trait RecordedConv: Backend {
    /// What the backward pass needs.
    type Record: Clone + Send + core::fmt::Debug + 'static;

    /// The convolution's output, and the record of it from which [`Self::conv_backward`]
    /// computes the gradients of the inputs flagged in `needs` (`[input, weight]`).
    fn conv_recorded(
        kind: ConvKind,
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        needs: [bool; 2],
    ) -> (FloatTensor<Self>, Self::Record);

    /// The gradients `[input, weight]` (those flagged when recording) for the output gradient
    /// `grad`.
    fn conv_backward(
        record: Self::Record,
        grad: FloatTensor<Self>,
    ) -> [Option<FloatTensor<Self>>; 2];
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
        let output = tch::with_grad(|| kind.apply_tch(&input_leaf, &weight_leaf));
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

/// burn's generic backward rules for both convolutions.
fn generic_conv_backward<B: Backend>(
    kind: ConvKind,
    input: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    needs: [bool; 2],
) -> [Option<FloatTensor<B>>; 2] {
    match kind {
        ConvKind::Forward { .. } => {
            let options = kind.conv_options();
            [
                needs[0].then(|| {
                    B::conv1d_x_backward(
                        input.clone(),
                        weight.clone(),
                        grad.clone(),
                        options.clone(),
                    )
                }),
                needs[1].then(|| B::conv1d_weight_backward(input, weight, grad, options)),
            ]
        }
        ConvKind::Adjoint { .. } => {
            let options = kind.transpose_options();
            [
                needs[0].then(|| {
                    B::conv_transpose1d_x_backward(weight.clone(), grad.clone(), options.clone())
                }),
                needs[1].then(|| B::conv_transpose1d_weight_backward(input, weight, grad, options)),
            ]
        }
    }
}

#[cfg(feature = "autodiff")]
mod autodiff {
    use super::*;

    #[derive(Debug)]
    struct RecordedConvBackward;

    impl<B: Backend + RecordedConv> Backward<B, 2> for RecordedConvBackward {
        type State = B::Record;

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let grad = grads.consume::<B>(&ops.node);
            let [input_grad, weight_grad] = B::conv_backward(ops.state, grad);
            let [node_input, node_weight] = ops.parents;
            if let (Some(node), Some(grad)) = (node_input, input_grad) {
                grads.register::<B>(node.id, grad);
            }
            if let (Some(node), Some(grad)) = (node_weight, weight_grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }

    fn recorded<B: Backend + RecordedConv, C: CheckpointStrategy>(
        kind: ConvKind,
        input: FloatTensor<Autodiff<B, C>>,
        weight: FloatTensor<Autodiff<B, C>>,
    ) -> FloatTensor<Autodiff<B, C>> {
        let needs = [input.is_tracked(), weight.is_tracked()];
        match RecordedConvBackward
            .prepare::<C>([input.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (output, record) =
                    B::conv_recorded(kind, input.into_primitive(), weight.into_primitive(), needs);
                prep.finish(record, output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(kind.apply::<B>(input.into_primitive(), weight.into_primitive()))
            }
        }
    }

    impl<B: Backend + ConvKernels + RecordedConv, C: CheckpointStrategy> ConvKernels
        for Autodiff<B, C>
    {
        fn nf_conv1d(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: usize,
            padding: usize,
        ) -> FloatTensor<Self> {
            recorded::<B, C>(ConvKind::Forward { stride, padding }, x, weight)
        }

        fn nf_conv1d_adjoint(
            grad_output: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            stride: usize,
            padding: usize,
            padding_out: usize,
        ) -> FloatTensor<Self> {
            let kind = ConvKind::Adjoint {
                stride,
                padding,
                padding_out,
            };
            recorded::<B, C>(kind, grad_output, weight)
        }
    }
}

/// [`crate::conv1d`] through the extension.
pub(crate) fn conv1d(x: Tensor<3>, weight: Tensor<3>, stride: usize, padding: usize) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as ConvKernels>::nf_conv1d(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
    ))
}

/// [`crate::conv1d_adjoint`] through the extension.
pub(crate) fn conv1d_adjoint(
    grad_output: Tensor<3>,
    weight: Tensor<3>,
    stride: usize,
    padding: usize,
    padding_out: usize,
) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as ConvKernels>::nf_conv1d_adjoint(
        grad_output.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
        padding_out,
    ))
}
