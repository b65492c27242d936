//! Importance maps against closed forms, and the packet read-out on simulated packets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ndarray::Array3;
use neuroforge_explain::{ImportanceConfig, importance_maps, packet_shape};
use neuroforge_sim::spikegan::{PacketsConfig, packets};

fn scores_by(
    neurons: usize,
    bins: usize,
    f: impl Fn(&[f32]) -> f64,
) -> impl FnMut(&[f32], usize) -> Result<Vec<f64>, String> {
    move |batch: &[f32], count: usize| {
        Ok(batch.chunks(neurons * bins).take(count).map(&f).collect())
    }
}

#[test]
fn a_lone_spike_the_scorer_reads_moves_away_with_probability_seven_eighths() {
    // One spike at neuron 1, bin 20; the score is that bin. A shuffle of a window of 8 bins
    // that contains it moves it away with probability 7/8, so E[M(1, 20)] = 7/8; nothing else
    // spikes, so the map is zero elsewhere.
    let (neurons, bins, count) = (3, 40, 400);
    let mut samples = Array3::<u8>::zeros((count, neurons, bins));
    for k in 0..count {
        samples[(k, 1, 20)] = 1;
    }
    let maps = importance_maps(
        &samples,
        &ImportanceConfig::default(),
        scores_by(neurons, bins, |x| f64::from(x[bins + 20])),
    )
    .unwrap();
    let mean = maps.maps.iter().sum::<f64>() / count as f64;
    // Per sample the estimate averages 4 windows x 5 shuffles of Bernoulli(7/8): sd of the
    // mean over 400 samples ~ sqrt(7/64 / 20 / 400) = 0.0037.
    assert!((mean - 0.875).abs() < 0.02, "mean importance {mean}");
    assert!(maps.scores.iter().all(|&s| s == 1.0));
    let importance = maps.neuron_importance();
    assert!(importance[0] == 0.0 && importance[2] == 0.0 && importance[1] > 0.0);
    let time = maps.time_importance();
    assert!(
        time.iter()
            .enumerate()
            .all(|(t, &v)| (t == 20) == (v > 0.0))
    );
}

#[test]
fn a_scorer_blind_to_order_within_windows_gives_no_importance() {
    // The total spike count is unchanged by any permutation inside a row.
    let (neurons, bins) = (4, 32);
    let (samples, _) = packets(
        &PacketsConfig {
            neurons,
            bins,
            group_size: 4,
            ..PacketsConfig::default()
        },
        20,
        3,
    )
    .unwrap();
    let maps = importance_maps(
        &samples,
        &ImportanceConfig::default(),
        scores_by(neurons, bins, |x| x.iter().map(|&v| f64::from(v)).sum()),
    )
    .unwrap();
    assert!(maps.maps.iter().all(|&m| m == 0.0));
}

#[test]
fn a_sequence_detector_s_maps_recover_the_packet_order() {
    // A critic that has learned the packets: it counts consecutive pairs of the sequence
    // (neuron j at t, neuron j + 1 at t + 1) of the packet group.
    let config = PacketsConfig::default();
    let (samples, truth) = packets(&config, 150, 11).unwrap();
    let group = truth.packet_neurons[0].clone();
    let (neurons, bins) = (config.neurons, config.bins);
    let members = group.clone();
    let detector = move |x: &[f32]| {
        let mut total = 0.0;
        for pair in members.windows(2) {
            for t in 0..bins - 1 {
                total += f64::from(x[pair[0] * bins + t] * x[pair[1] * bins + t + 1]);
            }
        }
        total
    };
    let maps = importance_maps(
        &samples,
        &ImportanceConfig::default(),
        scores_by(neurons, bins, detector),
    )
    .unwrap();
    // Importance concentrates on the packet neurons.
    let importance = maps.neuron_importance();
    let (inside, outside): (Vec<_>, Vec<_>) = (0..neurons).partition(|n| group.contains(n));
    let min_inside = inside
        .iter()
        .map(|&n| importance[n])
        .fold(f64::MAX, f64::min);
    let max_outside = outside.iter().map(|&n| importance[n]).fold(0.0, f64::max);
    assert!(min_inside > 2.0 * max_outside, "{importance:?}");
    let shape = packet_shape(&samples, &maps, 95.0, 12).unwrap();
    assert!(shape.aligned_samples > 50);
    assert_eq!(shape.order, group, "lags {:?}", shape.lags);
    // Each member peaks one bin after the previous one.
    let steps: Vec<i64> = shape.lags.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(steps.iter().all(|&s| s == 1), "lags {:?}", shape.lags);
}

#[test]
fn bad_settings_and_scorers_are_errors() {
    let samples = Array3::<u8>::zeros((2, 2, 6));
    let bad = ImportanceConfig {
        window: 8,
        ..ImportanceConfig::default()
    };
    assert!(importance_maps(&samples, &bad, scores_by(2, 6, |_| 0.0)).is_err());
    let wrong_count = |_: &[f32], _: usize| Ok::<_, String>(vec![0.0]);
    let small = ImportanceConfig {
        window: 4,
        ..ImportanceConfig::default()
    };
    assert!(importance_maps(&samples, &small, wrong_count).is_err());
}
