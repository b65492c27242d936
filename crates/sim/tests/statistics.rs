//! Simulated populations have the statistics they are built to have, within sampling error:
//! tolerances are 5 standard errors computed from the number of samples, not guesses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::{Array2, Axis};
use neuroforge_sim::{PacketsConfig, UniformConfig, packets, uniform};

/// Rows are neurons; all samples concatenated in time.
fn concatenated(x: &ndarray::Array3<u8>) -> Array2<f64> {
    let (s, n, t) = x.dim();
    let mut out = Array2::<f64>::zeros((n, s * t));
    for (k, sample) in x.outer_iter().enumerate() {
        for (i, row) in sample.axis_iter(Axis(0)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                out[(i, k * t + j)] = f64::from(v);
            }
        }
    }
    out
}

fn pearson(a: ndarray::ArrayView1<'_, f64>, b: ndarray::ArrayView1<'_, f64>) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.sum() / n, b.sum() / n);
    let cov: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn uniform_rates_and_correlations_match_their_ground_truth() {
    // Without the refractory rule, each neuron is Bernoulli(rate) i.i.d. over bins and two
    // neurons of a group have correlation c; other pairs are independent.
    let config = UniformConfig {
        refractory: 0.0,
        ..UniformConfig::default()
    };
    let samples = 2000;
    let (x, truth) = uniform(&config, samples, 7).unwrap();
    let data = concatenated(&x);
    let n = data.ncols() as f64;
    for (i, row) in data.rows().into_iter().enumerate() {
        let p = truth.rates[i];
        let se = (p * (1.0 - p) / n).sqrt();
        let got = row.sum() / n;
        assert!(
            (got - p).abs() < 5.0 * se,
            "neuron {i}: rate {got} vs {p} (se {se})"
        );
    }
    for i in 0..config.neurons {
        for j in i + 1..config.neurons {
            let r = pearson(data.row(i), data.row(j));
            let want = if truth.groups[i] == truth.groups[j] {
                truth.correlations[i]
            } else {
                0.0
            };
            // Large-sample standard error of a correlation coefficient, (1 - r^2) / sqrt(n).
            let se = (1.0 - want * want) / n.sqrt();
            assert!(
                (r - want).abs() < 5.0 * se,
                "pair ({i}, {j}): r {r} vs {want} (se {se})"
            );
        }
    }
    // Correlated neurons were moved apart: the permutation is not the identity.
    assert_ne!(truth.permutation, (0..config.neurons).collect::<Vec<_>>());
}

#[test]
fn refractory_rule_depletes_short_intervals_and_seeds_reproduce() {
    let samples = 500;
    let plain = UniformConfig {
        refractory: 0.0,
        correlation: 0.0,
        ..UniformConfig::default()
    };
    let refr = UniformConfig {
        correlation: 0.0,
        ..UniformConfig::default()
    };
    let p_next = |cfg: &UniformConfig| {
        let (x, _) = uniform(cfg, samples, 3).unwrap();
        let (mut pairs, mut both) = (0.0, 0.0);
        for sample in x.outer_iter() {
            for row in sample.axis_iter(Axis(0)) {
                for w in row.as_slice().unwrap().windows(2) {
                    if w[0] == 1 {
                        pairs += 1.0;
                        both += f64::from(w[1]);
                    }
                }
            }
        }
        both / pairs
    };
    let (without, with) = (p_next(&plain), p_next(&refr));
    // Without the rule P(spike | spike one bin before) is the rate (~0.25); the rule removes
    // such spikes with probability exp(-1 / (2/1.5)^2) = 0.57 per pass.
    assert!(
        without > 0.2 && with < 0.6 * without,
        "P(next) {without} -> {with}"
    );
    let (a, ta) = uniform(&refr, 5, 11).unwrap();
    let (b, tb) = uniform(&refr, 5, 11).unwrap();
    let (c, _) = uniform(&refr, 5, 12).unwrap();
    assert_eq!((a.clone(), ta), (b, tb));
    assert_ne!(a, c);
}

#[test]
fn packets_fire_their_group_in_sequence() {
    let config = PacketsConfig {
        refractory: 0.0,
        ..PacketsConfig::default()
    };
    let (x, truth) = packets(&config, 300, 5).unwrap();
    let mut checked = 0;
    for (sample, onsets) in x.outer_iter().zip(&truth.onsets) {
        for &(g, onset) in onsets {
            for (j, &n) in truth.packet_neurons[g].iter().enumerate() {
                if onset + j < config.bins {
                    assert_eq!(sample[(n, onset + j)], 1, "neuron {n} at {}", onset + j);
                    checked += 1;
                }
            }
        }
        // Onsets of a group are at least group_size bins apart.
        for w in onsets.windows(2) {
            assert!(w[1].1 >= w[0].1 + config.group_size);
        }
    }
    assert!(checked > 1000);
    // Background neurons outside the packet group keep their rates.
    let data = concatenated(&x);
    let n = data.ncols() as f64;
    for i in config.group_size..config.neurons {
        let p = truth.rates[i];
        let got = data.row(i).sum() / n;
        assert!(
            (got - p).abs() < 5.0 * (p * (1.0 - p) / n).sqrt(),
            "neuron {i}: {got} vs {p}"
        );
    }
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn prepost_changes_exactly_the_chosen_neurons_as_specified() {
    let config = neuroforge_sim::PrePostConfig::default();
    let samples = 3000;
    let (pre, post, truth) = neuroforge_sim::prepost(&config, samples, 9).unwrap();
    // Pre is the uniform population of the same seed.
    let (same, _) = uniform(&config.population, samples, 9).unwrap();
    assert_eq!(pre, same);
    let bins = config.population.bins;
    let (pre_c, post_c) = (concatenated(&pre), concatenated(&post));
    let n = pre_c.ncols() as f64;
    for r in 0..config.population.neurons {
        if !truth.changed_neurons.contains(&r) {
            assert_eq!(pre_c.row(r), post_c.row(r), "unchanged neuron {r} differs");
        }
    }
    for &r in &truth.gain_neurons {
        // Spikes are added in empty bins with probability a = (g - 1) p / (1 - p), p the drawn
        // rate: the post rate is m + (1 - m) a for the pre rate m (g p exactly when m = p, i.e.
        // without the refractory rule).
        let p = truth.pre.rates[r];
        let add = (config.rate_gain - 1.0) * p / (1.0 - p);
        let m = pre_c.row(r).sum() / n;
        let want = m + (1.0 - m) * add;
        let got = post_c.row(r).sum() / n;
        let se = (want * (1.0 - want) / n).sqrt();
        assert!(
            (got - want).abs() < 5.0 * se,
            "gain neuron {r}: {got} vs {want}"
        );
    }
    for &r in &truth.shift_neurons {
        for (a, b) in pre.outer_iter().zip(post.outer_iter()) {
            for t in 0..bins {
                assert_eq!(b[(r, (t + config.timing_shift) % bins)], a[(r, t)]);
            }
        }
    }
    // Assembly members become correlated: with m_i the pre rate and q the shared rate, the
    // post covariance of two members from different (independent) groups is
    // q (1 - q) (1 - m_i)(1 - m_j).
    let a = &truth.assembly_neurons;
    let q = config.assembly_rate;
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            if truth.pre.groups[a[i]] == truth.pre.groups[a[j]] {
                continue;
            }
            let (pi, pj) = (pre_c.row(a[i]).sum() / n, pre_c.row(a[j]).sum() / n);
            let cov_want = q * (1.0 - q) * (1.0 - pi) * (1.0 - pj);
            let (ri, rj) = (post_c.row(a[i]), post_c.row(a[j]));
            let (mi, mj) = (ri.sum() / n, rj.sum() / n);
            let cov: f64 = ri
                .iter()
                .zip(rj.iter())
                .map(|(x, y)| (x - mi) * (y - mj))
                .sum::<f64>()
                / n;
            let sd_i = (mi * (1.0 - mi)).sqrt();
            let sd_j = (mj * (1.0 - mj)).sqrt();
            // Standard error of a covariance estimate, about sd_i sd_j / sqrt(n).
            assert!(
                (cov - cov_want).abs() < 5.0 * sd_i * sd_j / n.sqrt(),
                "assembly ({}, {}): {cov} vs {cov_want}",
                a[i],
                a[j]
            );
        }
    }
}
