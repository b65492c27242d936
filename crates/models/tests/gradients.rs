//! The critic's hand-written input gradient against burn's autodiff and finite differences, and
//! the gradient penalty's weight gradient against central finite differences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::module::Param;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use neuroforge_models::{Architecture, Critic, SpikeGanConfig};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

fn small_config(architecture: Architecture) -> SpikeGanConfig {
    let mut config = SpikeGanConfig::paper(5, 16);
    config.architecture = architecture;
    config.critic_widths = vec![6, 8];
    config.critic_dense_width = neuroforge_models::DenseWidth::Fixed(12);
    config.dense_layers = 3;
    config
}

fn random_input(device: &Device, seed: u64, shape: [usize; 3]) -> Tensor<3> {
    device.seed(seed);
    Tensor::<3>::random(shape, Distribution::Uniform(0.0, 1.0), device)
}

/// Every pre-activation of the critic at `x`, flattened (to detect a leaky-ReLU mask flip).
fn pre_activation_signs(critic: &Critic, x: Tensor<3>) -> Vec<bool> {
    let mut signs = Vec::new();
    let mut h = x;
    for conv in &critic.convs {
        let pre = conv.forward(h);
        signs.extend(values(pre.clone()).into_iter().map(|v| v > 0.0));
        h = leaky_relu(pre, critic.leaky_slope);
    }
    let [b, c, l] = h.dims();
    let mut f: Tensor<2> = h.reshape([b, c * l]);
    for layer in critic.dense.iter().take(critic.dense.len() - 1) {
        let pre = layer.forward(f);
        signs.extend(values(pre.clone()).into_iter().map(|v| v > 0.0));
        f = leaky_relu(pre, critic.leaky_slope);
    }
    signs
}

#[test]
fn input_gradient_equals_autodiff_input_gradient() {
    let device = Device::flex().autodiff();
    for architecture in [Architecture::Conv, Architecture::Dense] {
        let config = small_config(architecture);
        for seed in 0..3 {
            let critic = Critic::new(&config, seed, &device).unwrap();
            let x = random_input(&device, 100 + seed, [4, 5, 16]).require_grad();
            let grads = critic.forward(x.clone()).sum().backward();
            let autodiff = values(x.grad(&grads).unwrap());
            let explicit = values(critic.input_gradient(x.detach()));
            assert_eq!(autodiff.len(), explicit.len());
            let scale = autodiff.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, e) in autodiff.iter().zip(&explicit) {
                assert!(
                    (a - e).abs() <= 1e-5 * scale,
                    "{architecture:?} seed {seed}: autodiff {a} vs explicit {e}"
                );
            }
        }
    }
}

#[test]
fn input_gradient_matches_finite_differences_of_the_scores() {
    let device = Device::flex();
    let config = small_config(Architecture::Conv);
    let critic = Critic::new(&config, 11, &device).unwrap();
    let x = random_input(&device, 5, [2, 5, 16]);
    let base = values(x.clone());
    let grad = values(critic.input_gradient(x.clone()));
    let h = 1e-2f32;
    let mut checked = 0;
    for index in (0..base.len()).step_by(7) {
        let shifted = |delta: f32| {
            let mut v = base.clone();
            v[index] += delta;
            Tensor::<3>::from_data(TensorData::new(v, [2, 5, 16]), &device)
        };
        let (plus, minus) = (shifted(h), shifted(-h));
        if pre_activation_signs(&critic, plus.clone())
            != pre_activation_signs(&critic, minus.clone())
        {
            continue; // a kink between the two points: the difference quotient is not a derivative
        }
        let fd = (values(critic.forward(plus)).iter().sum::<f32>()
            - values(critic.forward(minus)).iter().sum::<f32>())
            / (2.0 * h);
        assert!(
            (fd - grad[index]).abs() <= 2e-3 * grad[index].abs().max(1e-2),
            "entry {index}: finite difference {fd} vs {}",
            grad[index]
        );
        checked += 1;
    }
    assert!(checked > 15, "only {checked} entries away from kinks");
}

/// Replaces one entry of a parameter tensor.
fn perturbed<const D: usize>(
    param: &Param<Tensor<D>>,
    index: usize,
    delta: f32,
    device: &Device,
) -> Param<Tensor<D>> {
    let tensor = param.val();
    let shape = tensor.shape();
    let mut v = values(tensor);
    v[index] += delta;
    Param::from_data(TensorData::new(v, shape), device)
}

fn penalty_value(critic: &Critic, x: Tensor<3>) -> f64 {
    f64::from(values(critic.gradient_penalty(x))[0])
}

#[test]
fn penalty_weight_gradient_matches_central_differences() {
    let device = Device::flex().autodiff();
    for architecture in [Architecture::Conv, Architecture::Dense] {
        let config = small_config(architecture);
        for seed in 0..2u64 {
            let critic = Critic::new(&config, 20 + seed, &device).unwrap();
            let x = random_input(&device, 40 + seed, [3, 5, 16]);
            let grads = critic.gradient_penalty(x.clone()).backward();
            // Check entries of the first and last weight tensors of the layer stack.
            let mut checked = 0;
            let h = 1e-2f32;
            let first_is_conv = !critic.convs.is_empty();
            let analytic = if first_is_conv {
                values(critic.convs[0].weight.val().grad(&grads).unwrap())
            } else {
                values(critic.dense[0].weight.val().grad(&grads).unwrap())
            };
            let head = critic.dense.len() - 1;
            let analytic_head = values(critic.dense[head].weight.val().grad(&grads).unwrap());
            for (which, analytic) in [(0usize, &analytic), (1, &analytic_head)] {
                for index in (0..analytic.len()).step_by(analytic.len() / 12 + 1) {
                    let build = |delta: f32| {
                        let mut c = Critic::new(&config, 20 + seed, &device).unwrap();
                        if which == 0 && first_is_conv {
                            c.convs[0].weight =
                                perturbed(&c.convs[0].weight, index, delta, &device);
                        } else if which == 0 {
                            c.dense[0].weight =
                                perturbed(&c.dense[0].weight, index, delta, &device);
                        } else {
                            c.dense[head].weight =
                                perturbed(&c.dense[head].weight, index, delta, &device);
                        }
                        c
                    };
                    let (plus, minus) = (build(h), build(-h));
                    if pre_activation_signs(&plus, x.clone())
                        != pre_activation_signs(&minus, x.clone())
                    {
                        continue;
                    }
                    let fd = (penalty_value(&plus, x.clone()) - penalty_value(&minus, x.clone()))
                        / (2.0 * f64::from(h));
                    let a = f64::from(analytic[index]);
                    assert!(
                        (fd - a).abs() <= 1e-2 * a.abs().max(1e-2),
                        "{architecture:?} seed {seed} tensor {which} entry {index}: finite difference {fd} vs autodiff {a}"
                    );
                    checked += 1;
                }
            }
            assert!(
                checked >= 8,
                "{architecture:?}: only {checked} entries checked"
            );
        }
    }
}

#[test]
fn input_gradient_of_a_one_hidden_layer_critic_has_its_closed_form() {
    // D(x) = w2 . lrelu(W1^T x + b1) + b2, so dD/dx = W1 diag(lrelu'(W1^T x + b1)) w2.
    let device = Device::flex();
    let mut config = small_config(Architecture::Dense);
    config.dense_layers = 1;
    let critic = Critic::new(&config, 3, &device).unwrap();
    let w1 = values(critic.dense[0].weight.val());
    assert_eq!(w1.len(), 80 * 12);
    let x = random_input(&device, 9, [2, 5, 16]);
    let grad = values(critic.input_gradient(x.clone()));
    // Per sample: grad = W1 diag(mask) w2; check against a direct evaluation.
    let w2 = values(critic.dense[1].weight.val());
    let pre = values(critic.dense[0].forward(x.reshape([2, 80])));
    for b in 0..2 {
        for i in 0..80 {
            let mut expected = 0f32;
            for j in 0..12 {
                let slope = if pre[b * 12 + j] > 0.0 { 1.0 } else { 0.2 };
                expected += w1[i * 12 + j] * slope * w2[j];
            }
            assert!((grad[b * 80 + i] - expected).abs() < 1e-5);
        }
    }
}
