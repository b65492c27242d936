//! The convolution backend extension: [`crate::conv1d`] and [`crate::conv1d_adjoint`] as
//! backend operations whose forward and backward passes are native on flex (feature `flex`:
//! one matrix product over the whole batch each, `gemm_conv`) and on libtorch (feature `tch`:
//! libtorch's own `convolution_backward`), recorded by the autodiff backend as one node each.
//!
//! burn's generic weight-gradient rule runs a second convolution with the batch and channel
//! axes swapped and the output gradient as its kernel, which both flex and oneDNN are slow at;
//! flex's own forward convolution runs one small matrix product per sample (docs/BENCHMARKS.md).

// burn 0.22 marks its libtorch backend deprecated; it is one of the two this module serves.
#![allow(deprecated)]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
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
    /// `(stride, padding, output padding)`; the forward convolution has no output padding.
    pub(crate) fn parameters(self) -> (usize, usize, usize) {
        match self {
            ConvKind::Forward { stride, padding } => (stride, padding, 0),
            ConvKind::Adjoint {
                stride,
                padding,
                padding_out,
            } => (stride, padding, padding_out),
        }
    }

    fn conv_options(self) -> ConvOptions<1> {
        let (stride, padding, _) = self.parameters();
        ConvOptions::new([stride], [padding], [1], 1)
    }

    fn transpose_options(self) -> ConvTransposeOptions<1> {
        let (stride, padding, padding_out) = self.parameters();
        ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1)
    }

    /// burn's own operation, on any backend.
    pub(crate) fn apply<B: Backend>(
        self,
        input: FloatTensor<B>,
        weight: FloatTensor<B>,
    ) -> FloatTensor<B> {
        match self {
            ConvKind::Forward { .. } => B::conv1d(input, weight, None, self.conv_options()),
            ConvKind::Adjoint { .. } => {
                B::conv_transpose1d(input, weight, None, self.transpose_options())
            }
        }
    }

    /// The backend's own operation (native on flex, burn's elsewhere).
    fn apply_extension<B: ConvKernels>(
        self,
        input: FloatTensor<B>,
        weight: FloatTensor<B>,
    ) -> FloatTensor<B> {
        match self {
            ConvKind::Forward { stride, padding } => B::nf_conv1d(input, weight, stride, padding),
            ConvKind::Adjoint {
                stride,
                padding,
                padding_out,
            } => B::nf_conv1d_adjoint(input, weight, stride, padding, padding_out),
        }
    }
}

/// The two convolutions as backend operations. The default bodies are burn's own operations;
/// flex and libtorch override them, and the autodiff backend over either records each as one
/// node whose backward pass is the backend's own ([`RecordedConv`]).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    LibTorch: cfg(feature = "tch"),
    Autodiff: cfg(feature = "autodiff")
)]
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

/// A backend whose convolution can record its own backward pass (flex and libtorch); the
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

/// burn's generic backward rules for both convolutions: the native backward passes' fallback.
pub(crate) fn generic_conv_backward<B: Backend>(
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
    use burn::backend::autodiff::Autodiff;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};

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

    fn recorded<B: ConvKernels + RecordedConv, C: CheckpointStrategy>(
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
            OpsKind::UnTracked(prep) => prep
                .finish(kind.apply_extension::<B>(input.into_primitive(), weight.into_primitive())),
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
