//! CycleGAN training over the calcium pipeline: the pipeline on simulated imaging, exact
//! resume, the attribution maps against their definitions (finite differences for the saliency),
//! and learning a known change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::flat_weights;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array3;
use neuroforge_explain::cyclegan_attributions;
use neuroforge_models::CycleGanConfig;
use neuroforge_sim::{PrePostCalciumConfig, PrePostConfig, prepost_imaging};
use neuroforge_train::{
    CalciumPipelineConfig, Condition, CycleData, CycleGanRunConfig, CycleTrainingConfig,
    DataDescription, NormalisationKind, RunContext, RunDir, Silent, StopHandle, load_cyclegan,
    process_condition, resume_cyclegan, start_cyclegan, translate_windows,
};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("n{i}")).collect()
}

fn simulated(seed: u64) -> neuroforge_sim::PrePostImaging {
    let mut config = PrePostCalciumConfig {
        prepost: PrePostConfig {
            gain_neurons: 2,
            assembly_neurons: 0,
            shift_neurons: 0,
            ..PrePostConfig::default()
        },
        train_samples: 60,
        heldout_samples: 10,
        ..PrePostCalciumConfig::default()
    };
    config.prepost.population.neurons = 8;
    config.prepost.population.bins = 32;
    prepost_imaging(&config, seed).unwrap()
}

fn small_pipeline() -> CalciumPipelineConfig {
    CalciumPipelineConfig {
        window: 32,
        stride: 8,
        ..CalciumPipelineConfig::default()
    }
}

fn small_data(seed: u64) -> (CycleData, Vec<usize>) {
    let sim = simulated(seed);
    let pipeline = small_pipeline();
    let data = CycleData::prepare(
        (sim.pre_train.fluorescence.view(), &ids(8)),
        (sim.post_train.fluorescence.view(), &ids(8)),
        &pipeline,
        seed,
    )
    .unwrap();
    (data, sim.truth.changed_neurons)
}

fn run_config(iterations: u64) -> CycleGanRunConfig {
    CycleGanRunConfig {
        seed: 4,
        pipeline: small_pipeline(),
        model: CycleGanConfig {
            generator_channels: 8,
            residual_blocks: 1,
            discriminator_channels: vec![8, 8],
            ..CycleGanConfig::default()
        },
        training: CycleTrainingConfig {
            iterations,
            batch_size: 4,
            log_every: 2,
            checkpoint_every: 3,
            ..CycleTrainingConfig::default()
        },
    }
}

fn description(n: usize) -> DataDescription {
    DataDescription {
        path: "memory".into(),
        neuron_ids: ids(n),
        bin_width_s: None,
        train_samples: 0,
        heldout_samples: 0,
    }
}

#[test]
fn the_pipeline_sorts_normalises_and_windows_both_conditions() {
    let (data, _) = small_data(1);
    let p = &data.preprocessing;
    // Pooled z-scoring: each neuron's offset is the mean of its signal over both recordings
    // (equally long), computed here from the two conditions processed separately.
    let sim = simulated(1);
    let pre = process_condition(sim.pre_train.fluorescence.view(), &small_pipeline()).unwrap();
    let post = process_condition(sim.post_train.fluorescence.view(), &small_pipeline()).unwrap();
    assert_eq!(p.pre_normalisation, p.post_normalisation);
    for n in 0..8 {
        let mean = (pre.signal.row(n).mean().unwrap() + post.signal.row(n).mean().unwrap()) / 2.0;
        assert!((p.pre_normalisation.offset[n] - mean).abs() < 1e-12);
    }
    // Min-max on each condition separately: every value in [0, 1], the maximum reached.
    let separate = CalciumPipelineConfig {
        normalisation: NormalisationKind::MinMax,
        pooled_normalisation: false,
        ..small_pipeline()
    };
    let data = CycleData::prepare(
        (sim.pre_train.fluorescence.view(), &ids(8)),
        (sim.post_train.fluorescence.view(), &ids(8)),
        &separate,
        1,
    )
    .unwrap();
    let p = &data.preprocessing;
    assert_ne!(p.pre_normalisation, p.post_normalisation);
    // 60 samples of 32 frames, windows of 32 every 8 frames.
    assert_eq!(p.frames, [1920, 1920]);
    assert_eq!(data.pre.len(), (1920 - 32) / 8 + 1);
    let mut order = p.order.clone();
    order.sort_unstable();
    assert_eq!(order, (0..8).collect::<Vec<_>>());
    let mut values = Vec::new();
    data.pre
        .gather_into(&(0..data.pre.len()).collect::<Vec<_>>(), &mut values);
    assert!(values.iter().all(|v| (-1e-6..=1.0 + 1e-6).contains(v)));
    assert!(values.iter().any(|&v| v > 0.999));
    // The decay OASIS estimates is near the simulated exp(-1 / 12) = 0.920.
    let g_mean: f64 = p.pre_g.iter().map(|g| g[0]).sum::<f64>() / 8.0;
    assert!((g_mean - (-1.0f64 / 12.0).exp()).abs() < 0.03, "{g_mean}");
    assert!(p.steps.iter().any(|s| s.contains("OASIS")));
}

#[test]
fn a_resumed_run_ends_with_the_weights_of_the_uninterrupted_run() {
    let (data, _) = small_data(2);
    let device = Device::flex();
    let context = RunContext::default();
    let whole = tempfile::tempdir().unwrap();
    let run = RunDir::create(whole.path()).unwrap();
    let files = [description(8), description(8)];
    start_cyclegan(
        &run,
        run_config(6),
        &data,
        files.clone(),
        &context,
        &device,
        &mut Silent,
        &StopHandle::new(),
    )
    .unwrap();
    let split = tempfile::tempdir().unwrap();
    let run2 = RunDir::create(split.path()).unwrap();
    start_cyclegan(
        &run2,
        run_config(3),
        &data,
        files,
        &context,
        &device,
        &mut Silent,
        &StopHandle::new(),
    )
    .unwrap();
    resume_cyclegan(
        &run2,
        &data,
        Some(6),
        &context,
        &device,
        &mut Silent,
        &StopHandle::new(),
    )
    .unwrap();
    let a = load_cyclegan(&run, &device).unwrap();
    let b = load_cyclegan(&run2, &device).unwrap();
    assert_eq!(flat_weights(&a.generators), flat_weights(&b.generators));
    assert_eq!(
        flat_weights(&a.discriminators),
        flat_weights(&b.discriminators)
    );
    crate::common::assert_same_checkpoint_bytes(&run, &run2);
    crate::common::assert_each_damaged_file_falls_back(&run2, |run| {
        load_cyclegan(run, &device).unwrap();
    });
    // Training moved the weights away from the untrained checkpoint.
    let fresh = neuroforge_train::cyclegan::cycle_networks(&a.config.model, 4, &device).unwrap();
    assert_ne!(flat_weights(&fresh.0), flat_weights(&a.generators));
    let metrics = run2.read_metrics().unwrap();
    let iterations: Vec<u64> = metrics
        .iter()
        .map(|m| m["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(iterations, vec![2, 3, 4, 6]);
}

#[test]
fn the_attribution_maps_follow_their_definitions() {
    let device = Device::flex();
    let config = CycleGanConfig {
        neurons: 5,
        bins: 12,
        generator_channels: 6,
        residual_blocks: 1,
        discriminator_channels: vec![6],
        ..CycleGanConfig::default()
    };
    let ad = device.clone().autodiff();
    let (gens, discs) = neuroforge_train::cyclegan::cycle_networks(&config, 9, &ad).unwrap();
    let x = Array3::from_shape_fn((2, 5, 12), |(s, n, t)| {
        (((s * 31 + n * 7 + t * 3) % 13) as f32) / 13.0
    });
    let maps = cyclegan_attributions(&gens.to_post, &discs.post, &x, &ad).unwrap();
    // |G(x) - x| from a separate translation.
    let translated = translate_windows(&gens, Condition::Pre, &x, &ad).unwrap();
    for ((c, t), v) in maps.change.iter().zip(&translated).zip(&x) {
        assert!((c - (t - v).abs()).abs() < 1e-5);
    }
    assert!(maps.grad_cam.iter().all(|&v| v >= 0.0));
    // Grad-CAM is rectified: for one random discriminator every position may weigh negative,
    // but not for all of several.
    let positive = (10..16).any(|seed| {
        let (g, d) = neuroforge_train::cyclegan::cycle_networks(&config, seed, &ad).unwrap();
        let m = cyclegan_attributions(&g.to_post, &d.post, &x, &ad).unwrap();
        m.grad_cam.iter().any(|&v| v > 0.0)
    });
    assert!(positive, "Grad-CAM is zero for every discriminator tried");
    // Saliency: |d sum D_post(G(x)) / dx| against central differences in f64 arithmetic on
    // the f32 network (h = 1e-2); a leaky-ReLU kink inside the step can spoil one element.
    let score = |x: &Array3<f32>| -> f64 {
        let t = Tensor::<3>::from_data(
            TensorData::new(x.iter().copied().collect::<Vec<f32>>(), [2, 5, 12]),
            &device,
        );
        let gv = gens.valid();
        let dv = discs.valid();
        f64::from(
            dv.post
                .forward(gv.to_post.forward(t))
                .sum()
                .into_scalar::<f32>(),
        )
    };
    let h = 1e-2f32;
    let mut checked = 0;
    let mut agree = 0;
    for k in 0..12 {
        let idx = (k % 2, (k * 3) % 5, (k * 5) % 12);
        let mut plus = x.clone();
        plus[idx] += h;
        let mut minus = x.clone();
        minus[idx] -= h;
        let numeric = ((score(&plus) - score(&minus)) / (2.0 * f64::from(h))).abs();
        let analytic = f64::from(maps.saliency[idx]);
        checked += 1;
        if (analytic - numeric).abs() <= 2e-2 * numeric.max(1e-2) + 1e-3 {
            agree += 1;
        }
    }
    assert!(
        agree >= checked - 1,
        "{agree} of {checked} saliency values match"
    );
}

#[test]
fn the_configuration_documented_in_docs_cyclegan_md_parses_to_the_defaults() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/CYCLEGAN.md"
    ))
    .expect("docs/CYCLEGAN.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let parsed: CycleGanRunConfig =
        toml::from_str(&doc[start..end]).expect("the documented TOML parses");
    let defaults = CycleGanRunConfig {
        seed: 0,
        pipeline: CalciumPipelineConfig::default(),
        model: CycleGanConfig::default(),
        training: CycleTrainingConfig::default(),
    };
    assert_eq!(parsed, defaults, "the documented values are the defaults");
}

#[test]
fn instance_noise_reaches_the_discriminators_only_and_is_seeded() {
    let (data, _) = small_data(3);
    let device = Device::flex();
    let with_noise = |sigma: f64| {
        let mut config = run_config(1);
        config.training.instance_noise = Some(sigma);
        config.model.neurons = data.pre.neurons();
        config.model.bins = data.pre.window();
        let mut trainer = neuroforge_train::CycleGanTrainer::new(config, &device).unwrap();
        let first = trainer.step(&data.pre, &data.post).unwrap();
        let second = trainer.step(&data.pre, &data.post).unwrap();
        (first, second, flat_weights(trainer.discriminators()))
    };
    let (clean, _, clean_d) = with_noise(0.0);
    let (noisy, noisy_next, noisy_d) = with_noise(0.5);
    // The generators' own terms of the first step see no noise: the same batches, the same
    // untrained networks, the same cycle and identity losses to the bit.
    assert_eq!(clean.cycle, noisy.cycle);
    assert_eq!(clean.identity, noisy.identity);
    // What the discriminators judge changed, and so did their update.
    assert_ne!(clean.adversarial, noisy.adversarial);
    assert_ne!(clean.discriminator_loss, noisy.discriminator_loss);
    assert_ne!(clean_d, noisy_d);
    // The noise comes from the run's seed: the same run twice is bit-identical.
    let (again, again_next, again_d) = with_noise(0.5);
    assert_eq!(noisy, again);
    assert_eq!(noisy_next, again_next);
    assert_eq!(noisy_d, again_d);
    // Unset, it is 1 for binned counts and off for calcium.
    let mut config = run_config(1);
    assert_eq!(config.instance_noise(), 0.0);
    config.pipeline.input = neuroforge_train::PipelineInput::Counts;
    assert_eq!(config.instance_noise(), 1.0);
    // A negative or non-finite standard deviation is refused before any training.
    for bad in [-0.1, f64::NAN] {
        let mut config = run_config(1);
        config.training.instance_noise = Some(bad);
        assert!(neuroforge_train::CycleGanTrainer::new(config, &device).is_err());
    }
}
