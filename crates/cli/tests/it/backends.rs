//! Cross-backend consistency: every backend compiled into this build against flex, the default.
//!
//! The models draw their initial weights on the host from a seeded ChaCha8 generator, so the
//! same seed gives bit-identical weights on every backend; what may differ is only the order of
//! floating-point operations inside each backend's kernels. The tests check
//! 1. that the weights are identical,
//! 2. generator outputs, critic scores, the critic's hand-written input gradient and the gradient
//!    penalty agree to a relative error below 1e-5 (max |a - b| / max |a|),
//! 3. the penalty's weight gradient (autodiff through the explicit backward pass) agrees to 1e-4,
//! 4. a short seeded WGAN-GP run gives generated firing rates within 0.02 (absolute, per neuron)
//!    of the flex run's, and both learn the data's rates.
//!
//! They run only when a second backend is compiled in:
//! `cargo test -p neuroforge --features ndarray --test it backends::` (CI), and on libtorch through
//! `cargo xtask check-backends` (docs/BACKENDS.md).
#![cfg(any(feature = "ndarray", feature = "tch"))]
#![allow(clippy::unwrap_used, clippy::expect_used, deprecated)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Axis};
use neuroforge_models::{Architecture, Critic, DenseWidth, Generator, ModelPreset, SpikeGanConfig};
use neuroforge_train::{
    DataConfig, SpikeGanRunConfig, SpikeGanTrainer, WganConfig, sample_spikes, split_samples,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The backends to compare with flex, by name.
fn other_backends() -> Vec<(&'static str, Device)> {
    let mut devices = Vec::new();
    #[cfg(feature = "ndarray")]
    devices.push(("ndarray", Device::ndarray()));
    #[cfg(feature = "tch")]
    devices.push(("tch", Device::libtorch()));
    devices
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

fn host_tensor<const D: usize>(v: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(v.to_vec(), shape), device)
}

fn uniform(len: usize, seed: u64, low: f32, high: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| low + (high - low) * rng.random::<f32>())
        .collect()
}

/// max |a - b| / max |a|, the relative error of `b` against the reference `a`.
fn relative_error(reference: &[f32], other: &[f32]) -> f32 {
    assert_eq!(reference.len(), other.len());
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = reference
        .iter()
        .zip(other)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale.max(f32::MIN_POSITIVE)
}

fn flat_weights<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(values(param.val()));
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// The penalty's gradient with respect to every critic weight that has one, flattened in
/// visiting order, and how many parameters have none.
fn penalty_weight_gradient(critic: &Critic, x: Tensor<3>) -> (Vec<f32>, usize) {
    struct Collect<'a> {
        grads: &'a burn::tensor::Gradients,
        out: Vec<f32>,
        missing: usize,
    }
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // The biases reach the penalty only through the detached leaky-ReLU masks: no
            // gradient, on every backend alike.
            match param.val().grad(self.grads) {
                Some(grad) => self.out.extend(values(grad)),
                None => self.missing += 1,
            }
        }
    }
    let grads = critic.gradient_penalty(x).backward();
    let mut collect = Collect {
        grads: &grads,
        out: Vec::new(),
        missing: 0,
    };
    critic.visit(&mut collect);
    (collect.out, collect.missing)
}

fn model_config(architecture: Architecture) -> SpikeGanConfig {
    let mut config = SpikeGanConfig::paper(12, 32);
    config.architecture = architecture;
    config.critic_widths = vec![16, 32];
    config.generator_widths = vec![32, 16];
    config.critic_dense_width = DenseWidth::Fixed(48);
    config.latent_dim = 24;
    config
}

#[test]
fn the_same_weights_give_the_same_outputs_on_every_backend() {
    let flex = Device::flex().autodiff();
    for (name, other) in other_backends() {
        let other = other.autodiff();
        for architecture in [Architecture::Conv, Architecture::Dense] {
            let config = model_config(architecture);
            let (g_ref, g_other) = (
                Generator::new(&config, 5, &flex).unwrap(),
                Generator::new(&config, 5, &other).unwrap(),
            );
            let (d_ref, d_other) = (
                Critic::new(&config, 6, &flex).unwrap(),
                Critic::new(&config, 6, &other).unwrap(),
            );
            assert_eq!(flat_weights(&g_ref), flat_weights(&g_other), "{name}");
            assert_eq!(flat_weights(&d_ref), flat_weights(&d_other), "{name}");

            let batch = 8;
            let z = uniform(batch * config.latent_dim, 1, -1.0, 1.0);
            let probabilities = |g: &Generator, device: &Device| {
                values(g.forward(host_tensor(&z, [batch, config.latent_dim], device)))
            };
            let p_ref = probabilities(&g_ref, &flex);
            let p_other = probabilities(&g_other, &other);
            let e = relative_error(&p_ref, &p_other);
            assert!(
                e < 1e-5,
                "{name} {architecture:?} generator: relative error {e}"
            );

            let shape = [batch, 12, 32];
            let x = uniform(batch * 12 * 32, 2, 0.0, 1.0);
            let checks: [(&str, fn(&Critic, Tensor<3>) -> Vec<f32>); 3] = [
                ("critic scores", |d, x| values(d.forward(x))),
                ("input gradient", |d, x| values(d.input_gradient(x))),
                ("gradient penalty", |d, x| values(d.gradient_penalty(x))),
            ];
            for (what, f) in checks {
                let a = f(&d_ref, host_tensor(&x, shape, &flex));
                let b = f(&d_other, host_tensor(&x, shape, &other));
                let e = relative_error(&a, &b);
                assert!(
                    e < 1e-5,
                    "{name} {architecture:?} {what}: relative error {e}"
                );
            }
            let (a, a_missing) = penalty_weight_gradient(&d_ref, host_tensor(&x, shape, &flex));
            let (b, b_missing) = penalty_weight_gradient(&d_other, host_tensor(&x, shape, &other));
            assert_eq!(a_missing, b_missing, "{name} {architecture:?}");
            assert!(
                a.len() > 1000,
                "{name} {architecture:?}: {} gradients",
                a.len()
            );
            let e = relative_error(&a, &b);
            assert!(
                e < 1e-4,
                "{name} {architecture:?} penalty weight gradient: relative error {e}"
            );
        }
    }
}

/// Generated firing rate per neuron after `iterations` of a seeded run on `device`.
fn rates_after_training(data: &Array2<u8>, iterations: u64, device: &Device) -> Vec<f64> {
    // The half-width preset's initialisation and output layer (this test's model since it was
    // written), at a smaller size.
    let mut model = SpikeGanConfig::preset(ModelPreset::HalfWidth, data.nrows(), 16);
    model.latent_dim = 16;
    model.critic_widths = vec![16, 32];
    model.generator_widths = vec![32, 16];
    let config = SpikeGanRunConfig {
        seed: 11,
        recipe: None,
        model_preset: None,
        data: DataConfig::default(),
        model,
        training: WganConfig {
            iterations,
            batch_size: 32,
            learning_rate: 1e-3,
            heldout_samples: 64,
            ..WganConfig::default()
        },
    };
    let split = split_samples(data.clone(), Some(16), &DataConfig::default()).unwrap();
    let mut trainer = SpikeGanTrainer::new(config, device).unwrap();
    for _ in 0..iterations {
        trainer.step(&split.train).unwrap();
    }
    let generator = trainer.generator().valid();
    let (p, _) = sample_spikes(&generator, 1024, 3, device).unwrap();
    (0..data.nrows())
        .map(|n| f64::from(p.index_axis(Axis(1), n).mean().unwrap()))
        .collect()
}

#[test]
fn a_short_seeded_training_run_reaches_the_same_statistics_on_every_backend() {
    let rates = [0.1, 0.3, 0.6, 0.2];
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let data = Array2::from_shape_fn((rates.len(), 400 * 16), |(n, _)| {
        u8::from(rng.random::<f64>() < rates[n])
    });
    let iterations = 150;
    let reference = rates_after_training(&data, iterations, &Device::flex());
    for (name, device) in other_backends() {
        let other = rates_after_training(&data, iterations, &device);
        for (n, (a, b)) in reference.iter().zip(&other).enumerate() {
            assert!(
                (a - b).abs() < 0.02,
                "{name}: neuron {n} generated rate {b:.4} vs flex {a:.4}"
            );
            assert!(
                (b - rates[n]).abs() < 0.1,
                "{name}: neuron {n} generated rate {b:.4}, data {:.2}",
                rates[n]
            );
        }
    }
}
