//! MARBLE's contrastive training on fields whose local shape differs: a rotation and an
//! expansion on the same disc. After training, the embedding tells the two apart node by node
//! (nearest-neighbour classification across conditions), which an untrained network cannot
//! do as well; a fixed seed gives the same embedding twice; a run stopped on request resumes
//! to exactly the uninterrupted run's network.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use burn::tensor::Device;
use ndarray::Array2;
use neuroforge_manifold::GraphConfig;
use neuroforge_train::{
    ConditionData, ContrastiveConfig, MarbleData, MarbleOptimizer, MarbleRunConfig, MarbleTrainer,
    RunContext, RunDir, RunStatus, SessionObserver, Silent, StopHandle, TrainError, Trainer, embed,
    load_marble, resume_marble, start_marble, train_contrastive,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn disc(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut points = Array2::zeros((n, 2));
    let mut i = 0;
    while i < n {
        let (x, y): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        if x * x + y * y <= 1.0 {
            points[[i, 0]] = x;
            points[[i, 1]] = y;
            i += 1;
        }
    }
    points
}

/// Energy distance between two point clouds (rows): E|X-Y| - (E|X-X'| + E|Y-Y'|) / 2.
fn energy_distance(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    let mean_distance = |a: &Array2<f64>, b: &Array2<f64>| {
        let mut total = 0.0;
        for i in 0..a.nrows() {
            for j in 0..b.nrows() {
                total += (&a.row(i) - &b.row(j)).mapv(|v| v * v).sum().sqrt();
            }
        }
        total / (a.nrows() * b.nrows()) as f64
    };
    mean_distance(x, y) - 0.5 * (mean_distance(x, x) + mean_distance(y, y))
}

/// The settings both trainings on 250-point discs use: k 10, delta 1.5, 30 epochs.
fn small_disc_config(seed: u64) -> MarbleRunConfig {
    let mut config = MarbleRunConfig {
        seed,
        ..MarbleRunConfig::default()
    };
    config.geometry.graph = GraphConfig { k: 10, delta: 1.5 };
    config.training = ContrastiveConfig {
        epochs: 30,
        ..ContrastiveConfig::default()
    };
    config
}

fn rows(z: &Array2<f64>, range: std::ops::Range<usize>) -> Array2<f64> {
    z.slice(ndarray::s![range, ..]).to_owned()
}

#[test]
fn embeddings_tell_rotation_from_expansion_and_repeat_with_the_seed() {
    // Two rotations sampled at different points and one expansion: after training, the two
    // rotations' embeddings are distributed alike and unlike the expansion's.
    let (a, b, c) = (disc(250, 1), disc(250, 2), disc(250, 3));
    let rotation =
        |p: &Array2<f64>| Array2::from_shape_fn((250, 2), |(i, k)| [-p[[i, 1]], p[[i, 0]]][k]);
    let (field_a, field_b, field_c) = (rotation(&a), rotation(&b), c.clone());
    let config = small_disc_config(5);
    let conditions = [
        ConditionData {
            states: a.view(),
            vectors: field_a.view(),
        },
        ConditionData {
            states: b.view(),
            vectors: field_b.view(),
        },
        ConditionData {
            states: c.view(),
            vectors: field_c.view(),
        },
    ];
    let data = MarbleData::prepare(&conditions, &config).expect("prepare");
    assert_eq!(data.nodes(), 750);
    assert_eq!(data.offsets, vec![0, 250, 500, 750]);
    let device = Device::flex();
    let outcome = train_contrastive(&config, &data, &device, |_| {}).expect("train");
    let first = &outcome.history[0];
    assert!(
        outcome.best_validation_loss < first.validation_loss,
        "{} vs {}",
        outcome.best_validation_loss,
        first.validation_loss
    );
    let z = embed(&outcome.model, &data);
    let same = energy_distance(&rows(&z, 0..250), &rows(&z, 250..500));
    let different = energy_distance(&rows(&z, 0..250), &rows(&z, 500..750));
    assert!(
        different > 5.0 * same,
        "rotation vs rotation {same}, vs expansion {different}"
    );
    let again = train_contrastive(&config, &data, &device, |_| {}).expect("train again");
    assert_eq!(embed(&again.model, &data), z);
}

#[test]
fn the_configuration_documented_in_docs_marble_md_parses_to_the_defaults() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/MARBLE.md"))
        .expect("docs/MARBLE.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let parsed: MarbleRunConfig =
        toml::from_str(&doc[start..end]).expect("the documented TOML parses");
    assert_eq!(
        parsed,
        MarbleRunConfig::default(),
        "the documented values are the defaults"
    );
}

#[test]
fn inner_product_features_train_and_tell_a_fast_rotation_from_a_slow_one() {
    // Inner products ignore a rotation of the vectors (a rotation field and an expansion give
    // the same scalars), so the contrast here is speed: the same rotation at twice the speed.
    let (a, b, c) = (disc(250, 1), disc(250, 2), disc(250, 3));
    let rotation = |p: &Array2<f64>, speed: f64| {
        Array2::from_shape_fn((250, 2), |(i, k)| speed * [-p[[i, 1]], p[[i, 0]]][k])
    };
    let (field_a, field_b, field_c) = (rotation(&a, 1.0), rotation(&b, 1.0), rotation(&c, 2.0));
    let mut config = small_disc_config(6);
    config.model.inner_product_features = true;
    let conditions = [
        ConditionData {
            states: a.view(),
            vectors: field_a.view(),
        },
        ConditionData {
            states: b.view(),
            vectors: field_b.view(),
        },
        ConditionData {
            states: c.view(),
            vectors: field_c.view(),
        },
    ];
    let data = MarbleData::prepare(&conditions, &config).expect("prepare");
    assert_eq!(data.input.signal_channels, 2);
    let outcome = train_contrastive(&config, &data, &Device::flex(), |_| {}).expect("train");
    assert!(outcome.model.inner.is_some());
    let z = embed(&outcome.model, &data);
    let same = energy_distance(&rows(&z, 0..250), &rows(&z, 250..500));
    let faster = energy_distance(&rows(&z, 0..250), &rows(&z, 500..750));
    assert!(
        faster > 3.0 * same,
        "rotation vs rotation {same}, vs twice as fast {faster}"
    );
}

/// Two 150-point discs (a rotation and an expansion) and a schedule whose learning rate drops
/// after every epoch without improvement, so the resumed run must restore the weights,
/// the optimiser's momentum, the learning rate, the plateau count and the epoch order.
fn resumable_setup() -> (MarbleRunConfig, MarbleData) {
    let (a, b) = (disc(150, 11), disc(150, 12));
    let rotation = Array2::from_shape_fn((150, 2), |(i, k)| [-a[[i, 1]], a[[i, 0]]][k]);
    let expansion = b.clone();
    let mut config = small_disc_config(9);
    config.training.epochs = 12;
    // A step large enough that the validation loss does not fall every epoch, and a drop of
    // the learning rate after each epoch that does not improve it.
    config.training.optimizer = MarbleOptimizer::Sgd {
        learning_rate: 0.1,
        momentum: 0.9,
    };
    config.training.plateau_patience = 1;
    config.training.plateau_factor = 0.5;
    config.training.checkpoint_every = 4;
    let conditions = [
        ConditionData {
            states: a.view(),
            vectors: rotation.view(),
        },
        ConditionData {
            states: b.view(),
            vectors: expansion.view(),
        },
    ];
    let data = MarbleData::prepare(&conditions, &config).expect("prepare");
    (config, data)
}

/// Raises `stop` once epoch `at` has finished (what Ctrl-C does in the CLI).
struct StopAt {
    at: u64,
    stop: StopHandle,
}

impl SessionObserver<MarbleTrainer> for StopAt {
    fn on_iteration(&mut self, epoch: u64, _losses: &neuroforge_train::EpochLosses) {
        if epoch >= self.at {
            self.stop.request();
        }
    }
}

#[test]
fn a_marble_run_stopped_on_request_resumes_to_the_uninterrupted_runs_network() {
    let (config, data) = resumable_setup();
    let device = Device::flex();
    let context = RunContext::default();
    let tmp = tempfile::tempdir().expect("tmp");

    let whole = RunDir::create(&tmp.path().join("whole")).expect("run");
    let summary = start_marble(
        &whole,
        config.clone(),
        &data,
        None,
        &context,
        &device,
        &mut Silent,
        &StopHandle::new(),
    )
    .expect("train");
    assert_eq!(summary.epochs, 12);

    // The same run stopped after epoch 7 (between the checkpoints at 4 and 8), then resumed.
    let parts = RunDir::create(&tmp.path().join("parts")).expect("run");
    let stop = StopHandle::new();
    let outcome = start_marble(
        &parts,
        config.clone(),
        &data,
        None,
        &context,
        &device,
        &mut StopAt {
            at: 7,
            stop: stop.clone(),
        },
        &stop,
    );
    assert!(
        matches!(outcome, Err(TrainError::Interrupted { iteration: 7 })),
        "{:?}",
        outcome.err()
    );
    assert_eq!(parts.latest_checkpoint().expect("checkpoint").0, 7);
    assert_eq!(
        parts.read_manifest().expect("manifest").status,
        RunStatus::Interrupted
    );
    let resumed = resume_marble(
        &parts,
        &data,
        None,
        &context,
        &device,
        &mut Silent,
        &StopHandle::new(),
    )
    .expect("resume");

    // The best checkpoint, its loss and every logged epoch agree exactly.
    assert_eq!(resumed.best_epoch, summary.best_epoch);
    assert_eq!(resumed.best_validation_loss, summary.best_validation_loss);
    let figures = |run: &RunDir| -> Vec<(u64, f64, f64, f64)> {
        run.read_metrics()
            .expect("metrics")
            .iter()
            .map(|m| {
                (
                    m["epoch"].as_u64().expect("epoch"),
                    m["train_loss"].as_f64().expect("train"),
                    m["validation_loss"].as_f64().expect("validation"),
                    m["learning_rate"].as_f64().expect("lr"),
                )
            })
            .collect()
    };
    let logged = figures(&whole);
    assert_eq!(
        logged.iter().map(|l| l.0).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    assert_eq!(figures(&parts), logged);
    // The learning rate did drop, so its restoration was tested.
    assert!(logged.iter().any(|l| l.3 < 0.1), "{logged:?}");
    let (_, a) = load_marble(whole.path(), &device).expect("load");
    let (_, b) = load_marble(parts.path(), &device).expect("load");
    assert_eq!(embed(&a, &data), embed(&b, &data));
    crate::common::assert_same_checkpoint_bytes(&whole, &parts);
    crate::common::assert_each_damaged_file_falls_back(&parts, |run| {
        load_marble(run.path(), &device).unwrap();
    });
    // The run's best is the network the in-memory training keeps.
    let in_memory = train_contrastive(&config, &data, &device, |_| {}).expect("train");
    assert_eq!(in_memory.best_epoch as u64, summary.best_epoch);
    assert_eq!(embed(&in_memory.model, &data), embed(&a, &data));
    // The best checkpoint survives pruning beside the newest.
    let kept: Vec<u64> = whole
        .checkpoints()
        .expect("checkpoints")
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert!(kept.contains(&0) && kept.contains(&12), "{kept:?}");
    assert!(kept.contains(&summary.best_epoch), "{kept:?}");
    assert!(kept.len() <= 3, "{kept:?}");
}

#[test]
fn the_kept_best_network_is_not_changed_by_later_epochs() {
    // burn's module clone shares batch norm's running statistics with the original: a best
    // network kept as a clone would take on the statistics of every later epoch.
    let (config, data) = resumable_setup();
    let device = Device::flex();
    let mut trainer = MarbleTrainer::new(config, &data, &device).expect("trainer");
    trainer.step(&data).expect("epoch 1");
    trainer.step(&data).expect("epoch 2");
    let kept = trainer.detached_model().expect("copy");
    let at_2 = embed(&kept, &data);
    assert_eq!(embed(trainer.model(), &data), at_2);
    trainer.step(&data).expect("epoch 3");
    assert_ne!(
        embed(trainer.model(), &data),
        at_2,
        "epoch 3 moved the network"
    );
    assert_eq!(embed(&kept, &data), at_2, "the kept copy did not move");
}
