//! The leaky-ReLU backend extension: the activation and its backward map (the vector-Jacobian
//! product at given pre-activations) as backend operations, native on flex (one vectorised loop)
//! and on libtorch (aten's fused `leaky_relu` and `leaky_relu_backward`), with handwritten
//! autodiff rules for both.

// burn 0.22 marks its libtorch backend deprecated; it is one of the two this module serves.
#![allow(deprecated)]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::Tensor;

/// The leaky ReLU as a backend operation with its backward map. The default bodies are burn's
/// own operations (a compare, a scale and a masked select); flex and libtorch override them
/// with one pass each, and the autodiff backend records each as one node.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    LibTorch: cfg(feature = "tch"),
    Autodiff: cfg(feature = "autodiff")
)]
pub trait LeakyReluKernels: Backend {
    /// The leaky ReLU `x` where `x >= 0`, `negative_slope * x` elsewhere.
    fn nf_leaky_relu(x: FloatTensor<Self>, negative_slope: f64) -> FloatTensor<Self> {
        Self::leaky_relu(x, negative_slope.into())
    }

    /// The leaky ReLU's backward map at the pre-activations `x`: `grad` where `x > 0`,
    /// `negative_slope * grad` elsewhere. Linear in `grad`; `x` is a constant of it.
    fn nf_leaky_relu_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        negative_slope: f64,
    ) -> FloatTensor<Self> {
        default_leaky_relu_backward::<Self>(x, grad, negative_slope)
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Flex, TensorMetadata};
    use burn::tensor::{DType, TensorData};

    use super::{LeakyReluKernels, default_leaky_relu_backward};

    impl LeakyReluKernels for Flex {
        fn nf_leaky_relu_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            negative_slope: f64,
        ) -> FloatTensor<Self> {
            let same_shape = x.shape() == grad.shape();
            if !(same_shape && x.dtype() == DType::F32 && grad.dtype() == DType::F32) {
                return default_leaky_relu_backward::<Self>(x, grad, negative_slope);
            }
            let x = x.to_contiguous();
            let mut grad = grad.to_contiguous();
            let shape = grad.shape();
            let slope = negative_slope as f32;
            let Some(x_values) = x.as_slice::<f32>() else {
                return default_leaky_relu_backward::<Self>(x, grad, negative_slope);
            };
            // Reuse the gradient's buffer when nothing else holds it.
            if let Some(values) = grad.try_storage_mut::<f32>()
                && values.len() == x_values.len()
            {
                leaky_relu_backward_in_place(x_values, values, slope);
                return grad;
            }
            let Some(grad_values) = grad.as_slice::<f32>() else {
                return default_leaky_relu_backward::<Self>(x, grad, negative_slope);
            };
            let mut out = grad_values.to_vec();
            leaky_relu_backward_in_place(x_values, &mut out, slope);
            FlexTensor::from_data(TensorData::new(out, shape))
        }
    }

    /// `grad[i] *= slope` where `x[i] <= 0` (and NaN `x`, as the default rule's mask does), in
    /// chunks on rayon's threads when the tensor is large (each element on its own, so the
    /// result does not depend on the threads).
    fn leaky_relu_backward_in_place(x: &[f32], grad: &mut [f32], slope: f32) {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 16;
        let scale = |(grad, x): (&mut [f32], &[f32])| {
            for (g, &value) in grad.iter_mut().zip(x) {
                // A select rather than a branch, so the loop vectorises.
                *g *= if value > 0.0 { 1.0 } else { slope };
            }
        };
        if grad.len() >= 4 * CHUNK && rayon::current_num_threads() > 1 {
            grad.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK))
                .for_each(scale);
        } else {
            scale((grad, x));
        }
    }
}

#[cfg(feature = "tch")]
mod libtorch {
    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;
    use burn::backend::ops::ActivationOps;
    use burn::backend::tensor::FloatTensor;

    use super::{LeakyReluKernels, default_leaky_relu_backward};

    /// aten's own kernels: one pass each, where burn's generic rules on libtorch run a compare,
    /// a scale and a `where` (which aten runs far slower than the fused activation).
    impl LeakyReluKernels for LibTorch {
        fn nf_leaky_relu(x: FloatTensor<Self>, negative_slope: f64) -> FloatTensor<Self> {
            // tch binds aten's `leaky_relu` only with its default slope (0.01); the backward
            // map evaluated at `grad = x` is the activation itself (`x` where `x > 0`,
            // `slope * x` elsewhere) for any slope, in one pass.
            match x
                .tensor
                .f_leaky_relu_backward(&x.tensor, negative_slope, false)
            {
                Ok(output) => TchTensor::new(output),
                Err(_) => Self::leaky_relu(x, negative_slope.into()),
            }
        }

        fn nf_leaky_relu_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            negative_slope: f64,
        ) -> FloatTensor<Self> {
            // aten's signature: `self` is the pre-activation, the argument the gradient.
            match x
                .tensor
                .f_leaky_relu_backward(&grad.tensor, negative_slope, false)
            {
                Ok(output) => TchTensor::new(output),
                // libtorch refused (shapes it cannot broadcast): burn's rule says why.
                Err(_) => default_leaky_relu_backward::<Self>(x, grad, negative_slope),
            }
        }
    }
}

/// The generic backward map: the trait's default body, and the native backends' fallback for
/// inputs their kernels do not take.
fn default_leaky_relu_backward<B: Backend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    negative_slope: f64,
) -> FloatTensor<B> {
    let bool_dtype = burn::backend::get_or_init_device_settings::<B>(&x.device()).bool_dtype;
    let positive = B::float_greater_elem(x, 0f32.into(), bool_dtype);
    let scaled = B::float_mul_scalar(grad.clone(), negative_slope.into());
    B::float_mask_where(scaled, positive, grad)
}

#[cfg(feature = "autodiff")]
mod autodiff {
    use burn::backend::Backend;
    use burn::backend::autodiff::Autodiff;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;

    use super::LeakyReluKernels;

    /// The rule of both operations: the activation's vector-Jacobian product is the backward
    /// map at its input, and the backward map's own is the backward map again, at the same
    /// pre-activations (it is linear in `grad` with a diagonal, self-adjoint Jacobian). The
    /// pre-activations of the backward map get no gradient: it is piecewise constant in them
    /// (its derivative is zero wherever no pre-activation is exactly zero).
    #[derive(Debug)]
    struct LeakyReluBackward;

    impl<B: Backend + LeakyReluKernels> Backward<B, 1> for LeakyReluBackward {
        type State = (B::FloatTensorPrimitive, f64);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [node] = ops.parents;
            let upstream = grads.consume::<B>(&ops.node);
            let (x, negative_slope) = ops.state;
            if let Some(node) = node {
                grads.register::<B>(
                    node.id,
                    B::nf_leaky_relu_backward(x, upstream, negative_slope),
                );
            }
        }
    }

    impl<B: Backend + LeakyReluKernels, C: CheckpointStrategy> LeakyReluKernels for Autodiff<B, C> {
        fn nf_leaky_relu(x: FloatTensor<Self>, negative_slope: f64) -> FloatTensor<Self> {
            match LeakyReluBackward
                .prepare::<C>([x.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let x = x.into_primitive();
                    let output = B::nf_leaky_relu(x.clone(), negative_slope);
                    prep.finish((x, negative_slope), output)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::nf_leaky_relu(x.into_primitive(), negative_slope))
                }
            }
        }

        fn nf_leaky_relu_backward(
            x: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            negative_slope: f64,
        ) -> FloatTensor<Self> {
            let x = x.into_primitive();
            match LeakyReluBackward
                .prepare::<C>([grad.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let output =
                        B::nf_leaky_relu_backward(x.clone(), grad.into_primitive(), negative_slope);
                    prep.finish((x, negative_slope), output)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::nf_leaky_relu_backward(
                    x,
                    grad.into_primitive(),
                    negative_slope,
                )),
            }
        }
    }
}

/// [`crate::leaky_relu`] through the extension.
pub(crate) fn leaky_relu<const D: usize>(x: Tensor<D>, negative_slope: f64) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as LeakyReluKernels>::nf_leaky_relu(
        x.into_dispatch(),
        negative_slope,
    ))
}

/// [`crate::leaky_relu_backward`] through the extension.
pub(crate) fn leaky_relu_backward<const D: usize>(
    pre_activation: Tensor<D>,
    grad: Tensor<D>,
    negative_slope: f64,
) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as LeakyReluKernels>::nf_leaky_relu_backward(
        pre_activation.into_dispatch(),
        grad.into_dispatch(),
        negative_slope,
    ))
}
