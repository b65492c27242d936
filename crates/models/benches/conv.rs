//! Where a Spike-GAN convolution's time goes on the flex backend, layer by layer at the paper's
//! shapes (batch 64): the forward pass alone, the forward + backward pass as burn's autodiff
//! records it, and the three pieces of that backward pass computed directly (the input gradient
//! as a transposed convolution; the weight gradient as burn's generic rule computes it, a
//! convolution over the batch with a kernel as long as the output; and the same weight gradient
//! as one matrix product of the gradient with the strided input slices), and the forward +
//! backward pass through neuroforge-kernels, which the model uses. The figures behind the
//! weight-gradient attempts in docs/BENCHMARKS.md.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use burn::tensor::module::{conv_transpose1d, conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Slice, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

/// One layer: batch, input channels, output channels, input length, stride (kernel 5, padding 2).
struct Layer {
    name: &'static str,
    batch: usize,
    c_in: usize,
    c_out: usize,
    length: usize,
    stride: usize,
}

const KERNEL: usize = 5;
const PADDING: usize = 2;

const LAYERS: [Layer; 4] = [
    Layer {
        name: "critic1_16x128",
        batch: 64,
        c_in: 16,
        c_out: 64,
        length: 128,
        stride: 2,
    },
    Layer {
        name: "critic2_16x128",
        batch: 64,
        c_in: 64,
        c_out: 128,
        length: 64,
        stride: 2,
    },
    Layer {
        name: "critic1_50x32",
        batch: 64,
        c_in: 50,
        c_out: 64,
        length: 32,
        stride: 2,
    },
    Layer {
        name: "generator1_16x128",
        batch: 64,
        c_in: 128,
        c_out: 64,
        length: 64,
        stride: 1,
    },
];

/// The weight gradient `[C_out, C_in, K]` of `sum(conv1d(x, w) * g)` as one matrix product:
/// the padded input's K strided slices stacked along the channels, against the output gradient.
fn weight_gradient_by_matmul(x: Tensor<3>, g: Tensor<3>, stride: usize) -> Tensor<3> {
    let [batch, c_in, _] = x.dims();
    let [_, c_out, l_out] = g.dims();
    let padded = x.pad(
        [(0, 0), (0, 0), (PADDING, PADDING)],
        burn::tensor::ops::PadMode::Constant(0.0),
    );
    let columns: Vec<Tensor<3>> = (0..KERNEL)
        .map(|k| {
            let end = k + stride * (l_out - 1) + 1;
            padded.clone().slice_dim(
                2,
                Slice::new(k as isize, Some(end as isize), stride as isize),
            )
        })
        .collect();
    // [B, K*C_in, L_out] -> [K*C_in, B*L_out]
    let columns = Tensor::cat(columns, 1)
        .swap_dims(0, 1)
        .reshape([KERNEL * c_in, batch * l_out]);
    let g = g.swap_dims(0, 1).reshape([c_out, batch * l_out]);
    g.matmul(columns.transpose())
        .reshape([c_out, KERNEL, c_in])
        .swap_dims(1, 2)
}

fn conv(c: &mut Criterion) {
    let device = Device::flex();
    let mut group = c.benchmark_group("conv1d_flex");
    group.sample_size(20);
    for layer in &LAYERS {
        let l_out = layer.length / layer.stride;
        let options = ConvOptions::new([layer.stride], [PADDING], [1], 1);
        let x = Tensor::<3>::random(
            [layer.batch, layer.c_in, layer.length],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let w = Tensor::<3>::random(
            [layer.c_out, layer.c_in, KERNEL],
            Distribution::Normal(0.0, 0.1),
            &device,
        );
        let g = Tensor::<3>::random(
            [layer.batch, layer.c_out, l_out],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        // The matmul form must be the same weight gradient as autodiff's.
        {
            let wa = w.clone().autodiff().require_grad();
            let y = conv1d(x.clone().autodiff(), wa.clone(), None, options.clone());
            let grads = (y * g.clone().autodiff()).sum().backward();
            let reference = wa.grad(&grads).unwrap();
            let ours = weight_gradient_by_matmul(x.clone(), g.clone(), layer.stride);
            let error = (reference - ours).abs().max().into_scalar::<f32>();
            assert!(
                error < 1e-3,
                "{}: matmul weight gradient off by {error}",
                layer.name
            );
        }
        group.bench_function(format!("{}/forward", layer.name), |b| {
            b.iter(|| conv1d(x.clone(), w.clone(), None, options.clone()).into_data())
        });
        group.bench_function(format!("{}/forward_backward_autodiff", layer.name), |b| {
            b.iter(|| {
                let xa = x.clone().autodiff().require_grad();
                let wa = w.clone().autodiff().require_grad();
                let y = conv1d(xa.clone(), wa.clone(), None, options.clone());
                let grads = (y * g.clone().autodiff()).sum().backward();
                (
                    xa.grad(&grads).unwrap().into_data(),
                    wa.grad(&grads).unwrap().into_data(),
                )
            })
        });
        // The convolutions as the model runs them: neuroforge-kernels' extension, whose
        // weight gradient is one matrix product over the batch (im2col + gemm).
        group.bench_function(format!("{}/forward_backward_native", layer.name), |b| {
            b.iter(|| {
                let xa = x.clone().autodiff().require_grad();
                let wa = w.clone().autodiff().require_grad();
                let y = neuroforge_kernels::conv1d(xa.clone(), wa.clone(), layer.stride, PADDING);
                let grads = (y * g.clone().autodiff()).sum().backward();
                (
                    xa.grad(&grads).unwrap().into_data(),
                    wa.grad(&grads).unwrap().into_data(),
                )
            })
        });
        let padding_out = neuroforge_kernels::adjoint_output_padding(
            layer.length,
            l_out,
            KERNEL,
            layer.stride,
            PADDING,
        );
        let transpose_options =
            ConvTransposeOptions::new([layer.stride], [PADDING], [padding_out], [1], 1);
        group.bench_function(format!("{}/input_gradient", layer.name), |b| {
            b.iter(|| {
                conv_transpose1d(g.clone(), w.clone(), None, transpose_options.clone()).into_data()
            })
        });
        // burn-backend's generic rule (conv1d_weight_grad_no_groups): batch and channels
        // swapped, the output gradient as the kernel, dilation = stride.
        let generic = ConvOptions::new([1], [PADDING], [layer.stride], 1);
        group.bench_function(format!("{}/weight_gradient_generic", layer.name), |b| {
            b.iter(|| {
                let wg = conv1d(
                    x.clone().swap_dims(0, 1),
                    g.clone().swap_dims(0, 1),
                    None,
                    generic.clone(),
                )
                .swap_dims(0, 1);
                wg.slice([0..layer.c_out, 0..layer.c_in, 0..KERNEL])
                    .into_data()
            })
        });
        group.bench_function(format!("{}/weight_gradient_matmul", layer.name), |b| {
            b.iter(|| weight_gradient_by_matmul(x.clone(), g.clone(), layer.stride).into_data())
        });
    }
    group.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
