//! The backend extension: the leaky ReLU and its backward map as backend operations, the
//! backward native on flex, with a handwritten autodiff rule.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

/// The leaky ReLU as a backend operation with its backward map. The default bodies are burn's
/// own operations; flex overrides the backward map with one loop, and the autodiff backend
/// records the pair as one node.
#[backend_extension(Flex, Autodiff: cfg(feature = "autodiff"))]
pub trait LeakyReluKernels: Backend {
    /// The leaky ReLU `x` where `x >= 0`, `negative_slope * x` elsewhere.
    fn nf_leaky_relu(x: FloatTensor<Self>, negative_slope: f64) -> FloatTensor<Self> {
        Self::leaky_relu(x, negative_slope.into())
    }

    /// The leaky ReLU's backward map: `grad` where `x > 0`, `negative_slope * grad` elsewhere.
    fn nf_leaky_relu_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        negative_slope: f64,
    ) -> FloatTensor<Self> {
        default_leaky_relu_backward::<Self>(x, grad, negative_slope)
    }
}

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

/// `grad[i] *= slope` where `x[i] <= 0` (and NaN `x`, as the default rule's mask does).
fn leaky_relu_backward_in_place(x: &[f32], grad: &mut [f32], slope: f32) {
    for (g, &value) in grad.iter_mut().zip(x) {
        // A select rather than a branch, so the loop vectorises.
        *g *= if value > 0.0 { 1.0 } else { slope };
    }
}

/// The generic backward rule: the trait's default body, and flex's fallback for inputs the
/// native loop does not take.
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
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::autodiff::{Autodiff, NodeId};
    use burn::backend::tensor::FloatTensor;

    use super::LeakyReluKernels;

    #[derive(Debug)]
    struct LeakyReluBackward;

    impl<B: Backend + LeakyReluKernels> Backward<B, 1> for LeakyReluBackward {
        type State = (NodeId, f64);

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let (x_state, negative_slope) = ops.state;
            if let Some(node) = node_x {
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
                grads.register::<B>(node.id, B::nf_leaky_relu_backward(x, grad, negative_slope));
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
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let output = B::nf_leaky_relu(x.into_primitive(), negative_slope);
                    prep.finish((x_state, negative_slope), output)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::nf_leaky_relu(x.into_primitive(), negative_slope))
                }
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
