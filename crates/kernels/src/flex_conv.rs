//! The convolutions on flex: forward, adjoint and both gradients through `gemm_conv` (one matrix
//! product over the whole batch each) instead of flex's per-sample im2col and burn's generic
//! weight-gradient rule. Tensors other than 3-D `f32` fall back to burn's own operations.

use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::{DType, Shape, TensorData};

use crate::conv::{ConvKernels, ConvKind, RecordedConv, generic_conv_backward};
use crate::gemm_conv::{self, ConvShape};

impl ConvKernels for Flex {
    fn nf_conv1d(x: FlexTensor, weight: FlexTensor, stride: usize, padding: usize) -> FlexTensor {
        let kind = ConvKind::Forward { stride, padding };
        native_apply(kind, &x, &weight).unwrap_or_else(|| kind.apply::<Flex>(x, weight))
    }

    fn nf_conv1d_adjoint(
        grad_output: FlexTensor,
        weight: FlexTensor,
        stride: usize,
        padding: usize,
        padding_out: usize,
    ) -> FlexTensor {
        let kind = ConvKind::Adjoint {
            stride,
            padding,
            padding_out,
        };
        native_apply(kind, &grad_output, &weight)
            .unwrap_or_else(|| kind.apply::<Flex>(grad_output, weight))
    }
}

/// A contiguous 3-D `f32` tensor's dimensions and values.
fn values(tensor: &FlexTensor) -> Option<([usize; 3], FlexTensor)> {
    let shape = tensor.shape();
    if tensor.dtype() != DType::F32 || shape.num_dims() != 3 {
        return None;
    }
    let contiguous = tensor.to_contiguous();
    contiguous.as_slice::<f32>()?;
    Some((shape.dims::<3>(), contiguous))
}

/// The geometry of a convolution `kind` whose weights are `[c_out, c_in, kernel]` and whose
/// operand (the input of [`ConvKind::Forward`], the output gradient of [`ConvKind::Adjoint`])
/// is `operand`.
fn geometry(kind: ConvKind, operand: [usize; 3], weight: [usize; 3]) -> Option<ConvShape> {
    let [c_out, c_in, kernel] = weight;
    let [batch, channels, len] = operand;
    let (stride, padding, padding_out) = kind.parameters();
    if stride == 0 {
        return None;
    }
    let (input_len, output_len) = match kind {
        ConvKind::Forward { .. } => {
            (channels == c_in).then_some(())?;
            (len, crate::output_len(len, kernel, stride, padding))
        }
        ConvKind::Adjoint { .. } => {
            (channels == c_out && len > 0).then_some(())?;
            let produced = ((len - 1) * stride + kernel + padding_out).checked_sub(2 * padding)?;
            // The adjoint is only the transposed convolution when the forward pass over
            // `produced` samples has `len` outputs.
            (crate::output_len(produced, kernel, stride, padding) == len).then_some(())?;
            (produced, len)
        }
    };
    (output_len > 0).then_some(ConvShape {
        batch,
        c_in,
        c_out,
        kernel,
        stride,
        padding,
        input_len,
        output_len,
    })
}

/// The convolution `kind` natively, or `None` when the tensors are not 3-D `f32` of agreeing
/// shapes.
fn native_apply(kind: ConvKind, operand: &FlexTensor, weight: &FlexTensor) -> Option<FlexTensor> {
    let (operand_dims, operand) = values(operand)?;
    let (weight_dims, weight) = values(weight)?;
    let shape = geometry(kind, operand_dims, weight_dims)?;
    let (operand, weight) = (operand.as_slice::<f32>()?, weight.as_slice::<f32>()?);
    let (out, dims) = match kind {
        ConvKind::Forward { .. } => (
            gemm_conv::forward(operand, weight, &shape)?,
            [shape.batch, shape.c_out, shape.output_len],
        ),
        ConvKind::Adjoint { .. } => (
            gemm_conv::adjoint(operand, weight, &shape)?,
            [shape.batch, shape.c_in, shape.input_len],
        ),
    };
    Some(tensor(out, dims))
}

/// A 3-D flex tensor of `values`.
fn tensor(values: Vec<f32>, dims: [usize; 3]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, Shape::new(dims)))
}

/// What the backward pass of a native flex convolution needs.
#[derive(Debug, Clone)]
pub(crate) struct FlexConvRecord {
    kind: ConvKind,
    operand: FlexTensor,
    weight: FlexTensor,
    needs: [bool; 2],
}

impl RecordedConv for Flex {
    type Record = FlexConvRecord;

    fn conv_recorded(
        kind: ConvKind,
        input: FlexTensor,
        weight: FlexTensor,
        needs: [bool; 2],
    ) -> (FlexTensor, FlexConvRecord) {
        let output = match kind {
            ConvKind::Forward { stride, padding } => {
                Self::nf_conv1d(input.clone(), weight.clone(), stride, padding)
            }
            ConvKind::Adjoint {
                stride,
                padding,
                padding_out,
            } => {
                Self::nf_conv1d_adjoint(input.clone(), weight.clone(), stride, padding, padding_out)
            }
        };
        let record = FlexConvRecord {
            kind,
            operand: input,
            weight,
            needs,
        };
        (output, record)
    }

    fn conv_backward(record: FlexConvRecord, grad: FlexTensor) -> [Option<FlexTensor>; 2] {
        native_backward(&record, &grad).unwrap_or_else(|| {
            generic_conv_backward::<Flex>(
                record.kind,
                record.operand,
                record.weight,
                grad,
                record.needs,
            )
        })
    }
}

/// The gradients `[operand, weight]` natively.
///
/// For the forward convolution `y = A_W x`: `∂x = A_Wᵀ g` and `∂W = weight_gradient(x, g)`.
/// For the adjoint `y = A_Wᵀ u`: `∂u = A_W g` and, since `<A_Wᵀ u, g> = <u, A_W g>`,
/// `∂W = weight_gradient(g, u)`.
fn native_backward(record: &FlexConvRecord, grad: &FlexTensor) -> Option<[Option<FlexTensor>; 2]> {
    let (operand_dims, operand) = values(&record.operand)?;
    let (weight_dims, weight) = values(&record.weight)?;
    let (grad_dims, grad) = values(grad)?;
    let shape = geometry(record.kind, operand_dims, weight_dims)?;
    let (operand, weight, grad) = (
        operand.as_slice::<f32>()?,
        weight.as_slice::<f32>()?,
        grad.as_slice::<f32>()?,
    );
    let input_dims = [shape.batch, shape.c_in, shape.input_len];
    let output_dims = [shape.batch, shape.c_out, shape.output_len];
    // What differs between the two: the gradient's shape, the map that gives the operand's
    // gradient, and which tensor plays the input and which the output gradient in ∂W.
    type Map = fn(&[f32], &[f32], &ConvShape) -> Option<Vec<f32>>;
    let (grad_expected, operand_map, operand_grad_dims, (x, g)): (_, Map, _, _) = match record.kind
    {
        ConvKind::Forward { .. } => (output_dims, gemm_conv::adjoint, input_dims, (operand, grad)),
        ConvKind::Adjoint { .. } => (input_dims, gemm_conv::forward, output_dims, (grad, operand)),
    };
    (grad_dims == grad_expected).then_some(())?;
    let [need_operand, need_weight] = record.needs;
    let operand_grad = if need_operand {
        Some(tensor(
            operand_map(grad, weight, &shape)?,
            operand_grad_dims,
        ))
    } else {
        None
    };
    let weight_grad = if need_weight {
        Some(tensor(
            gemm_conv::weight_gradient(x, g, &shape)?,
            weight_dims,
        ))
    } else {
        None
    };
    Some([operand_grad, weight_grad])
}
