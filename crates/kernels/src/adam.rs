//! The Adam update as a backend extension: one pass over the parameter, its gradient and its two
//! moments on libtorch (`cpp/adam_step.cpp`, compiled when the build script found a libtorch),
//! where burn's Adam runs thirteen tensor operations, each a pass with a new tensor. Other
//! backends have no fused update (`None`): the caller keeps burn's.

// burn 0.22 marks its libtorch backend deprecated; it is the one this module serves.
#![allow(deprecated)]

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

use crate::AdamStep;

/// One Adam update as a backend operation: the new parameter and moments, or `None` where the
/// backend has no fused update.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    LibTorch: cfg(feature = "tch"),
    Autodiff: cfg(feature = "autodiff")
)]
pub trait AdamKernels: Backend {
    /// The update of `param` with gradient `grad` and moments `moment_1`, `moment_2` by the
    /// coefficients `[beta_1, beta_2, combined factor, epsilon term, learning rate]` of
    /// [`AdamStep`]: `(param, moment_1, moment_2)` after it.
    #[allow(clippy::type_complexity)]
    fn nf_adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        coefficients: [f64; 5],
    ) -> Option<(FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>)> {
        let _ = (param, grad, moment_1, moment_2, coefficients);
        None
    }
}

#[cfg(feature = "flex")]
impl AdamKernels for burn::backend::Flex {}

#[cfg(feature = "autodiff")]
impl<B: Backend, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> AdamKernels
    for burn::backend::autodiff::Autodiff<B, C>
{
}

#[cfg(feature = "tch")]
impl AdamKernels for burn::backend::LibTorch {
    #[cfg(neuroforge_aten_conv_backward)]
    fn nf_adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        coefficients: [f64; 5],
    ) -> Option<(FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>)> {
        use burn::backend::libtorch::TchTensor;
        let [p, m, v] = crate::libtorch::adam_step(
            &param.tensor,
            &grad.tensor,
            &moment_1.tensor,
            &moment_2.tensor,
            coefficients,
        )
        .ok()?;
        Some((TchTensor::new(p), TchTensor::new(m), TchTensor::new(v)))
    }
}

/// [`crate::adam_step`] through the extension.
#[cfg_attr(
    not(all(feature = "tch", neuroforge_aten_conv_backward)),
    allow(dead_code)
)]
pub(crate) fn adam_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
    step: &AdamStep,
) -> Option<[Tensor<D>; 3]> {
    let (p, m, v) = <Dispatch as AdamKernels>::nf_adam_step(
        param.into_dispatch(),
        grad.into_dispatch(),
        moment_1.into_dispatch(),
        moment_2.into_dispatch(),
        step.coefficients(),
    )?;
    Some([
        Tensor::from_dispatch(p),
        Tensor::from_dispatch(m),
        Tensor::from_dispatch(v),
    ])
}

#[cfg(all(test, feature = "tch", neuroforge_aten_conv_backward))]
mod tests {
    use burn::optim::{AdamConfig, AdamState, Optimizer};
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::AdamStep;

    fn values(t: &Tensor<2>) -> Vec<f32> {
        t.clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default()
    }

    /// How many elements differ in their bits.
    fn bits_differing(a: &Tensor<2>, b: &Tensor<2>) -> usize {
        let (a, b) = (values(a), values(b));
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count()
    }

    /// The largest difference between two updates of `before`, relative to the reference's
    /// step, beyond one rounding of the new parameter.
    fn worst_step_error(before: &Tensor<2>, ours: &Tensor<2>, reference: &Tensor<2>) -> f64 {
        let (before, ours, reference) = (values(before), values(ours), values(reference));
        let mut worst = 0f64;
        for ((&p, &o), &r) in before.iter().zip(&ours).zip(&reference) {
            let step = (f64::from(r) - f64::from(p)).abs();
            let rounding = f64::from(r).abs() * f64::from(f32::EPSILON);
            let excess = ((f64::from(o) - f64::from(r)).abs() - rounding).max(0.0);
            if step > 0.0 {
                worst = worst.max(excess / step);
            }
        }
        worst
    }

    /// Four updates of burn's Adam against its first update followed by three of
    /// `crate::adam_step` from the same states, on libtorch, with the authors' betas (0, 0.9)
    /// and Adam's usual ones: both moments agree bit for bit after every step (the kernel does
    /// burn's arithmetic, operation by operation) and each parameter's step to within a
    /// fifty-thousandth of itself, beyond one rounding (the square root's last bit).
    #[test]
    fn one_pass_update_gives_burns_adam() {
        let device = Device::libtorch();
        for (beta_1, beta_2, learning_rate) in [(0.0, 0.9, 1e-4), (0.9, 0.999, 3e-3)] {
            let epsilon = 1e-8;
            let adam = AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .build();
            // 300 x 250: above aten's grain, so the update runs split among threads.
            let mut param =
                Tensor::<2>::random([300, 250], Distribution::Normal(0.0, 1.0), &device);
            let grad = || Tensor::<2>::random([300, 250], Distribution::Normal(0.0, 0.1), &device);
            let (next, state) = adam.step(learning_rate, param.clone(), grad(), None);
            param = next;
            let mut state: AdamState<2> = state.expect("Adam keeps a state");
            for time in 2..=4 {
                let g = grad();
                let (reference, reference_state) =
                    adam.step(learning_rate, param.clone(), g.clone(), Some(state.clone()));
                let reference_state = reference_state.expect("Adam keeps a state");
                let step = AdamStep {
                    beta_1,
                    beta_2,
                    epsilon,
                    time,
                    learning_rate,
                };
                let [ours, moment_1, moment_2] = crate::adam_step(
                    &param,
                    &g,
                    &state.momentum.moment_1,
                    &state.momentum.moment_2,
                    &step,
                )
                .expect("libtorch has the one-pass update");
                let context = format!("betas ({beta_1}, {beta_2}), step {time}");
                // The moments bit for bit; the step within the square root's rounding (libtorch's
                // is MKL's, one unit in the last place away from the exact one on about 1% of
                // values, the kernel's is correctly rounded).
                assert_eq!(
                    bits_differing(&moment_1, &reference_state.momentum.moment_1),
                    0,
                    "first moment, {context}"
                );
                assert_eq!(
                    bits_differing(&moment_2, &reference_state.momentum.moment_2),
                    0,
                    "second moment, {context}"
                );
                let error = worst_step_error(&param, &ours, &reference);
                assert!(
                    error < 2e-5,
                    "parameter step off by {error:e} of itself, {context}"
                );
                assert_eq!(reference_state.momentum.time, time as usize);
                param = reference;
                state = reference_state;
            }
        }
    }

    /// Tensors the kernel does not take (moments of another shape, a parameter on flex) give
    /// `None`, for the caller to run burn's Adam; nothing panics.
    #[test]
    fn other_inputs_fall_back() {
        let step = AdamStep {
            beta_1: 0.0,
            beta_2: 0.9,
            epsilon: 1e-8,
            time: 2,
            learning_rate: 1e-4,
        };
        let device = Device::libtorch();
        let a = Tensor::<2>::ones([3, 4], &device);
        let b = Tensor::<2>::ones([4, 3], &device);
        assert!(crate::adam_step(&a, &a, &a, &b, &step).is_none());
        let flex = Device::flex();
        let c = Tensor::<2>::ones([3, 4], &flex);
        assert!(crate::adam_step(&c, &c, &c, &c, &step).is_none());
        assert!(crate::adam_step(&a, &a, &a, &a, &step).is_some());
    }
}
