//! The pipeline as a library, without the CLI: a recording in, a trained Spike-GAN run, samples
//! back as a recording, and the statistics against the data, through the same calls the
//! `neuroforge` binary makes.
#![allow(clippy::expect_used)] // tests fail loudly by design

use std::cell::Cell;

use burn::tensor::Device;
use ndarray::Array2;
use neuroforge_io::{Activity, BinnedActivity, Provenance, Recording};
use neuroforge_pipeline::TrainingSession;
use neuroforge_pipeline::recording::samples_covariate;
use neuroforge_pipeline::spikegan::{self, SampleFlags, SpikeGanFlags};
use neuroforge_train::{RunContext, Silent, StopHandle};

/// `count` samples of 6 neurons x 16 bins; neuron `n` fires in every bin `t` with
/// `(t + n * k) % (n + 2) == 0`, so rates differ from neuron to neuron.
fn samples_recording(count: usize) -> Recording {
    let (neurons, bins) = (6, 16);
    let counts = Array2::from_shape_fn((neurons, count * bins), |(n, i)| {
        let (k, t) = (i / bins, i % bins);
        u32::from((t + n * k).is_multiple_of(n + 2))
    });
    Recording::new(
        (0..neurons).map(|n| format!("cell{n}")).collect(),
        Activity::Binned(BinnedActivity {
            counts,
            bin_width_s: Some(0.02),
        }),
        vec![samples_covariate(count, bins)],
        Provenance::default(),
    )
    .expect("a valid recording")
}

#[test]
fn a_recording_trains_samples_and_resumes_through_the_library() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data.parquet");
    let recording = samples_recording(64);
    neuroforge_io::write_recording(&data, &recording).expect("write the data");
    let run_dir = dir.path().join("run");
    let device = Device::flex();
    let context = RunContext {
        device: "flex".into(),
        ..RunContext::default()
    };
    let flags = SpikeGanFlags {
        iterations: Some(4),
        log_every: Some(2),
        checkpoint_every: Some(2),
        model_preset: neuroforge_models::ModelPreset::from_name("half-width"),
        ..SpikeGanFlags::default()
    };
    // The stop hook is asked once, when the first step is next.
    let asked = Cell::new(0);
    let stop = || {
        asked.set(asked.get() + 1);
        StopHandle::new()
    };
    let trained = spikegan::train(
        &data,
        &recording,
        &run_dir,
        &flags,
        TrainingSession {
            device: &device,
            context: &context,
            observer: &mut Silent,
            stop: &stop,
        },
    )
    .expect("training");
    assert_eq!(asked.get(), 1);
    let last = trained.last.as_ref().expect("a metrics line");
    assert_eq!(last.iteration, 4);
    assert!(trained.to_string().contains("4 iterations"), "{trained}");

    // Samples come back as a recording of the data's neurons, in samples of the data's length.
    let out = dir.path().join("samples.parquet");
    spikegan::sample(&run_dir, 10, &out, &device, &SampleFlags::default()).expect("sampling");
    let samples = neuroforge_io::read_recording(&out).expect("read the samples");
    assert_eq!(samples.neuron_ids(), recording.neuron_ids());
    let Activity::Binned(binned) = samples.activity() else {
        panic!("samples are binned");
    };
    assert_eq!(binned.counts.dim(), (6, 10 * 16));
    assert!(binned.counts.iter().all(|&c| c <= 1));

    // Resuming a finished run trains nothing and says so; the data file comes from the
    // manifest.
    let resumed = spikegan::resume(
        &run_dir,
        None,
        None,
        |path| Ok(neuroforge_io::read_recording(path)?),
        TrainingSession {
            device: &device,
            context: &context,
            observer: &mut Silent,
            stop: &stop,
        },
    )
    .expect("resume");
    assert!(resumed.last.is_none());
    assert!(
        resumed.to_string().ends_with("nothing left to train"),
        "{resumed}"
    );
}
