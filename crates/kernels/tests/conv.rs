//! The layer primitives against burn's own ops on flex (and, with the `tch` feature, on
//! libtorch, where the convolutions' backward pass is libtorch's): values, the adjoint identity,
//! autodiff gradients, a finite-difference check, and the native leaky ReLU's gradient.

use burn::tensor::module::{conv_transpose1d, conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData};
use neuroforge_kernels as kernels;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (batch, in channels, out channels, input length, kernel, stride, padding): the paper's
/// critic and generator layers in miniature, odd lengths, a kernel without padding.
const CASES: [(usize, usize, usize, usize, usize, usize, usize); 5] = [
    (4, 3, 5, 16, 5, 2, 2),
    (3, 4, 2, 9, 5, 1, 2),
    (2, 3, 4, 33, 5, 2, 2),
    (2, 2, 3, 12, 3, 1, 1),
    (2, 3, 2, 11, 4, 3, 0),
];

fn random(shape: [usize; 3], rng: &mut ChaCha8Rng, device: &Device) -> Tensor<3> {
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

fn assert_close(ours: &[f32], reference: &[f32], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: lengths differ");
    assert!(!ours.is_empty(), "{what}: empty");
    let scale = reference
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(1.0);
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "{what}: element {i} is {a}, burn gives {b}"
        );
    }
}

fn options(stride: usize, padding: usize) -> ConvOptions<1> {
    ConvOptions::new([stride], [padding], [1], 1)
}

/// The autodiff devices whose convolution gradients are checked against burn's own rules.
#[allow(deprecated)] // burn 0.22 marks its libtorch backend deprecated
fn autodiff_devices() -> Vec<Device> {
    #[allow(unused_mut)] // extended only with the tch feature
    let mut devices = vec![Device::flex().autodiff()];
    #[cfg(feature = "tch")]
    devices.push(Device::libtorch().autodiff());
    devices
}

/// The same backends without autodiff.
fn plain_devices() -> Vec<Device> {
    autodiff_devices().into_iter().map(Device::inner).collect()
}

#[cfg(feature = "tch")]
#[allow(deprecated)]
#[test]
fn libtorch_devices_take_the_native_path() {
    assert!(kernels::uses_native_kernels(&Device::libtorch().autodiff()));
    // Without autodiff only the leaky ReLU is native (the convolutions are libtorch's anyway).
    assert!(kernels::uses_native_kernels(&Device::libtorch()));
}

#[test]
fn flex_devices_take_the_native_path() {
    assert!(kernels::uses_native_kernels(&Device::flex()));
    assert!(kernels::uses_native_kernels(&Device::flex().autodiff()));
}

#[test]
fn convolution_and_adjoint_values_match_burn() {
    let device = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (batch, c_in, c_out, len, k, stride, padding) in CASES {
        let l_out = kernels::output_len(len, k, stride, padding);
        let x = random([batch, c_in, len], &mut rng, &device);
        let w = random([c_out, c_in, k], &mut rng, &device);
        let g = random([batch, c_out, l_out], &mut rng, &device);
        let ours = kernels::conv1d(x.clone(), w.clone(), stride, padding);
        let reference = conv1d(x.clone(), w.clone(), None, options(stride, padding));
        assert_eq!(ours.dims(), [batch, c_out, l_out]);
        assert_close(&values(ours.clone()), &values(reference), "conv1d");

        let adjoint = kernels::conv1d_adjoint(g.clone(), w.clone(), stride, padding, len);
        assert_eq!(adjoint.dims(), [batch, c_in, len]);
        let padding_out = kernels::adjoint_output_padding(len, l_out, k, stride, padding);
        let reference = conv_transpose1d(
            g.clone(),
            w.clone(),
            None,
            ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1),
        );
        assert_close(&values(adjoint.clone()), &values(reference), "adjoint");

        // <A x, g> = <x, A^T g>.
        let dot = |a: Tensor<3>, b: Tensor<3>| -> f64 {
            values(a)
                .iter()
                .zip(values(b))
                .map(|(p, q)| f64::from(*p) * f64::from(q))
                .sum()
        };
        let left = dot(ours, g);
        let right = dot(x, adjoint);
        assert!(
            (left - right).abs() < 1e-4 * (1.0 + left.abs()),
            "<Ax,g> {left} vs <x,A'g> {right}"
        );
    }
}

/// Gradients of `sum(f(a, w) * probe)` with respect to `a` and `w`, where `f` is either our map
/// or burn's; `tracked` says which of the two require a gradient (the other is a constant, and
/// its gradient comes back empty).
fn gradients(
    a: &Tensor<3>,
    w: &Tensor<3>,
    probe: &Tensor<3>,
    f: impl Fn(Tensor<3>, Tensor<3>) -> Tensor<3>,
    tracked: [bool; 2],
) -> (Vec<f32>, Vec<f32>) {
    let track = |t: &Tensor<3>, on: bool| {
        if on {
            t.clone().require_grad()
        } else {
            t.clone()
        }
    };
    let a = track(a, tracked[0]);
    let w = track(w, tracked[1]);
    let loss = (f(a.clone(), w.clone()) * probe.clone()).sum();
    let grads = loss.backward();
    let grad_a = a.grad(&grads).map(values).unwrap_or_default();
    let grad_w = w.grad(&grads).map(values).unwrap_or_default();
    (grad_a, grad_w)
}

/// Gradients with respect to both arguments, each alone (the other a constant), of our map and
/// burn's, compared.
fn compare_gradients(
    a: &Tensor<3>,
    w: &Tensor<3>,
    probe: &Tensor<3>,
    ours: impl Fn(Tensor<3>, Tensor<3>) -> Tensor<3>,
    reference: impl Fn(Tensor<3>, Tensor<3>) -> Tensor<3>,
    what: &str,
) {
    let both = gradients(a, w, probe, &ours, [true, true]);
    let expected = gradients(a, w, probe, &reference, [true, true]);
    assert_close(&both.0, &expected.0, &format!("{what} input gradient"));
    assert_close(&both.1, &expected.1, &format!("{what} weight gradient"));
    // Only the weights tracked (the input is data), then only the input.
    let (_, weight_only) = gradients(a, w, probe, &ours, [false, true]);
    assert_close(
        &weight_only,
        &expected.1,
        &format!("{what} weight gradient alone"),
    );
    let (input_only, _) = gradients(a, w, probe, &ours, [true, false]);
    assert_close(
        &input_only,
        &expected.0,
        &format!("{what} input gradient alone"),
    );
}

#[test]
fn convolution_gradients_match_burn_autodiff() {
    for device in autodiff_devices() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for (batch, c_in, c_out, len, k, stride, padding) in CASES {
            let l_out = kernels::output_len(len, k, stride, padding);
            let x = random([batch, c_in, len], &mut rng, &device);
            let w = random([c_out, c_in, k], &mut rng, &device);
            let probe = random([batch, c_out, l_out], &mut rng, &device);
            compare_gradients(
                &x,
                &w,
                &probe,
                |x, w| kernels::conv1d(x, w, stride, padding),
                |x, w| conv1d(x, w, None, options(stride, padding)),
                &format!("conv1d on {device:?}"),
            );
        }
    }
}

#[test]
fn adjoint_gradients_match_burn_autodiff() {
    for device in autodiff_devices() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (batch, c_in, c_out, len, k, stride, padding) in CASES {
            let l_out = kernels::output_len(len, k, stride, padding);
            let padding_out = kernels::adjoint_output_padding(len, l_out, k, stride, padding);
            let g = random([batch, c_out, l_out], &mut rng, &device);
            let w = random([c_out, c_in, k], &mut rng, &device);
            let probe = random([batch, c_in, len], &mut rng, &device);
            compare_gradients(
                &g,
                &w,
                &probe,
                |g, w| kernels::conv1d_adjoint(g, w, stride, padding, len),
                |g, w| {
                    conv_transpose1d(
                        g,
                        w,
                        None,
                        ConvTransposeOptions::new([stride], [padding], [padding_out], [1], 1),
                    )
                },
                &format!("adjoint on {device:?}"),
            );
        }
    }
}

/// The weight gradient through the convolution against central differences of a loss quadratic
/// in the weights, summed in f64 on the host.
#[test]
fn weight_gradient_matches_finite_differences() {
    for device in autodiff_devices() {
        weight_gradient_matches_finite_differences_on(&device);
    }
}

fn weight_gradient_matches_finite_differences_on(device: &Device) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (batch, c_in, c_out, len, k, stride, padding) = (2, 2, 3, 10, 5, 2, 2);
    let l_out = kernels::output_len(len, k, stride, padding);
    let x = random([batch, c_in, len], &mut rng, device);
    let w = random([c_out, c_in, k], &mut rng, device);
    let probe = random([batch, c_out, l_out], &mut rng, device);
    // The loss is quadratic in w through the square, so the derivative is not trivially linear.
    let loss = |w: Tensor<3>| {
        let y = kernels::conv1d(x.clone(), w, stride, padding) * probe.clone();
        y.clone() * y
    };
    let w_tracked = w.clone().require_grad();
    let grads = loss(w_tracked.clone()).sum().backward();
    let analytic = w_tracked.grad(&grads).map(values).unwrap_or_default();
    let base = values(w.clone());
    let h = 1e-2f32;
    for (i, &a) in analytic.iter().enumerate() {
        let shifted = |delta: f32| {
            let mut v = base.clone();
            v[i] += delta;
            let w = Tensor::<3>::from_data(TensorData::new(v, [c_out, c_in, k]), device);
            let total: f64 = values(loss(w).detach()).iter().map(|&v| f64::from(v)).sum();
            total
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * f64::from(h));
        assert!(
            (f64::from(a) - numeric).abs() < 2e-3 * (1.0 + numeric.abs()),
            "{device:?} weight {i}: autodiff {a}, central difference {numeric}"
        );
    }
}

#[test]
fn leaky_relu_and_its_gradient_match_burn() {
    for device in autodiff_devices() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = random([3, 4, 17], &mut rng, &device);
        let probe = random([3, 4, 17], &mut rng, &device);
        for slope in [0.2, 0.01] {
            let ours = kernels::leaky_relu(x.clone().require_grad(), slope);
            let reference = burn::tensor::activation::leaky_relu(x.clone(), slope);
            assert_close(&values(ours.detach()), &values(reference), "leaky ReLU");

            let run = |f: &dyn Fn(Tensor<3>) -> Tensor<3>| {
                let tracked = x.clone().require_grad();
                let grads = (f(tracked.clone()) * probe.clone()).sum().backward();
                tracked.grad(&grads).map(values).unwrap_or_default()
            };
            let ours = run(&|t| kernels::leaky_relu(t, slope));
            let reference = run(&|t| burn::tensor::activation::leaky_relu(t, slope));
            assert_close(&ours, &reference, "leaky ReLU gradient");
            // And the definition: probe where x > 0, slope * probe elsewhere.
            let expected = masked(&values(x.clone()), &values(probe.clone()), slope);
            assert_close(&ours, &expected, "leaky ReLU gradient vs definition");
        }
    }
    // Without autodiff too.
    for plain in plain_devices() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let x = random([2, 3, 5], &mut rng, &plain);
        let ours = kernels::leaky_relu(x.clone(), 0.2);
        assert_close(
            &values(ours),
            &values(burn::tensor::activation::leaky_relu(x, 0.2)),
            "leaky ReLU without autodiff",
        );
    }
}

/// `grad` where `pre > 0`, `slope * grad` elsewhere: the leaky ReLU's backward map by its
/// definition.
fn masked(pre: &[f32], grad: &[f32], slope: f64) -> Vec<f32> {
    pre.iter()
        .zip(grad)
        .map(|(&p, &g)| if p > 0.0 { g } else { slope as f32 * g })
        .collect()
}

#[test]
fn leaky_relu_backward_map_and_its_gradient_match_the_definition() {
    for device in autodiff_devices().into_iter().chain(plain_devices()) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let pre = random([3, 4, 17], &mut rng, &device);
        let grad = random([3, 4, 17], &mut rng, &device);
        let probe = random([3, 4, 17], &mut rng, &device);
        for slope in [0.2, 0.01] {
            let expected = masked(&values(pre.clone()), &values(grad.clone()), slope);
            let ours = kernels::leaky_relu_backward(pre.clone(), grad.clone(), slope);
            assert_close(&values(ours), &expected, "backward map vs definition");
            // The same as differentiating the activation with `grad` as the output gradient.
            if device.is_autodiff() {
                let tracked_pre = pre.clone().require_grad();
                let grads = (kernels::leaky_relu(tracked_pre.clone(), slope) * grad.clone())
                    .sum()
                    .backward();
                let via_autodiff = tracked_pre.grad(&grads).map(values).unwrap_or_default();
                assert_close(&via_autodiff, &expected, "backward map vs autodiff");

                // Its own gradient in `grad` is the backward map of the probe (a diagonal,
                // self-adjoint Jacobian); the pre-activations get none.
                let tracked_grad = grad.clone().require_grad();
                let tracked_pre = pre.clone().require_grad();
                let output =
                    kernels::leaky_relu_backward(tracked_pre.clone(), tracked_grad.clone(), slope);
                let grads = (output * probe.clone()).sum().backward();
                let ours = tracked_grad.grad(&grads).map(values).unwrap_or_default();
                let expected = masked(&values(pre.clone()), &values(probe.clone()), slope);
                assert_close(&ours, &expected, "gradient of the backward map");
                let pre_grad = tracked_pre.grad(&grads).map(values).unwrap_or_default();
                assert!(
                    pre_grad.iter().all(|g| *g == 0.0),
                    "{device:?}: the pre-activations got a non-zero gradient"
                );
            }
        }
    }
}
