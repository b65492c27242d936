//! The k-pairwise maximum-entropy model (Tkacik et al., PLoS Comput Biol 2014) of single-bin
//! spike words: `P(x) ~ exp(sum_i h_i x_i + sum_{i<j} J_ij x_i x_j + V(k))`, `k = sum_i x_i`,
//! the least structured distribution with the data's firing rates, pairwise coincidence rates
//! and distribution of the population count. It has no temporal structure: successive samples
//! are independent words.
//!
//! Fitting matches moments with Monte-Carlo estimates (Boltzmann learning): persistent Gibbs
//! chains give the model's rates `<x_i>`, coincidences `<x_i x_j>` and `P(k)`; each iteration
//! moves the parameters along the difference to the data's, scaled by the data moment's
//! Bernoulli variance (a diagonal natural-gradient step, which equalises the very different
//! scales of rates and rare coincidences), with a step size falling as `1 / (1 + t / T0)` and
//! the parameters averaged over the second half (Polyak averaging); then a few polishing
//! iterations at a quarter of the final step on many more Monte-Carlo states. The parametrisation is
//! redundant (a uniform field and a uniform coupling can be moved between `V` and `h, J`, and a
//! constant added to `V`); all parameters are updated, and `V` is shifted to `V(0) = 0` at the
//! end. Counts never seen in the data get `V(k) = -30` (forbidden). Couplings and potentials
//! stay within +-30.
//!
//! Chains run in parallel in fixed groups, each with its own seeded stream, so results do not
//! depend on the number of threads.

use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};
use crate::moments::Moments;

/// Settings of the k-pairwise fit and sampler. Defaults in brackets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KPairwiseConfig {
    /// Learning iterations [1500]; the parameters are averaged over the second half.
    pub iterations: usize,
    /// Persistent Gibbs chains [512].
    pub chains: usize,
    /// Gibbs sweeps per chain per iteration; every sweep's state counts [8].
    pub sweeps_per_iteration: usize,
    /// Initial step size [0.4].
    pub learning_rate: f64,
    /// Polishing iterations [12].
    pub polish_iterations: usize,
    /// Sweeps per chain in each polishing iteration [200].
    pub polish_sweeps: usize,
    /// Sweeps between kept samples when sampling [20].
    pub thin: usize,
    /// Sweeps discarded before sampling [50].
    pub burn_in: usize,
    /// Seed of the chains [0].
    pub seed: u64,
}

impl Default for KPairwiseConfig {
    fn default() -> Self {
        Self {
            iterations: 1500,
            chains: 512,
            sweeps_per_iteration: 8,
            learning_rate: 0.4,
            polish_iterations: 12,
            polish_sweeps: 200,
            thin: 20,
            burn_in: 50,
            seed: 0,
        }
    }
}

/// A fitted k-pairwise model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPairwise {
    /// Fields `h_i`.
    pub fields: Vec<f64>,
    /// Couplings `J_ij` (row-major neurons x neurons, symmetric, zero diagonal).
    pub couplings: Vec<f64>,
    /// Population-count potential `V(k)`, `k = 0..=neurons`.
    pub count_potential: Vec<f64>,
    /// How well the model's Monte-Carlo moments matched the data's at the end of the fit.
    pub fit: KPairwiseFit,
    /// The settings used.
    pub config: KPairwiseConfig,
}

/// Moment errors of the fitted model (Monte-Carlo estimates from the last polishing
/// iteration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPairwiseFit {
    /// `sum_i |<x_i>_model - <x_i>_data|`.
    pub rate_l1: f64,
    /// `sum_{i<j} |<x_i x_j>_model - <x_i x_j>_data|`.
    pub coincidence_l1: f64,
    /// `sum_k |P_model(k) - P_data(k)|`.
    pub population_count_l1: f64,
    /// Monte-Carlo states behind those estimates.
    pub states: usize,
}

/// Model moments accumulated over Gibbs states.
#[derive(Debug, Clone)]
struct Tally {
    states: f64,
    ones: Vec<f64>,
    pairs: Vec<f64>,
    counts: Vec<f64>,
}

impl Tally {
    fn new(n: usize) -> Self {
        Self {
            states: 0.0,
            ones: vec![0.0; n],
            pairs: vec![0.0; n * n],
            counts: vec![0.0; n + 1],
        }
    }

    fn record(&mut self, chain: &Chain) {
        let n = self.ones.len();
        self.states += 1.0;
        let active = &chain.active;
        for (p, &i) in active.iter().enumerate() {
            self.ones[i] += 1.0;
            for &j in &active[p + 1..] {
                let (a, b) = if i < j { (i, j) } else { (j, i) };
                self.pairs[a * n + b] += 1.0;
            }
        }
        self.counts[active.len()] += 1.0;
    }

    fn add(&mut self, other: &Self) {
        self.states += other.states;
        for (a, b) in self.ones.iter_mut().zip(&other.ones) {
            *a += b;
        }
        for (a, b) in self.pairs.iter_mut().zip(&other.pairs) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

/// One Gibbs chain: the state, its local fields `h_i + sum_j J_ij x_j`, the active neurons.
#[derive(Debug, Clone)]
struct Chain {
    state: Vec<bool>,
    field: Vec<f64>,
    active: Vec<usize>,
    rng: ChaCha8Rng,
}

impl Chain {
    fn new(model: &Params, seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self {
            state: vec![false; model.n],
            field: model.fields.clone(),
            active: Vec::new(),
            rng,
        }
    }

    /// Recompute the fields from the state (after the parameters changed).
    fn refresh(&mut self, model: &Params) {
        let n = model.n;
        self.field.copy_from_slice(&model.fields);
        for &j in &self.active {
            for i in 0..n {
                self.field[i] += model.couplings[i * n + j];
            }
        }
    }

    fn sweep(&mut self, model: &Params) {
        let n = model.n;
        for i in 0..n {
            let on = self.state[i];
            let rest = self.active.len() - usize::from(on);
            let drive = self.field[i] + model.potential[rest + 1] - model.potential[rest];
            let p = 1.0 / (1.0 + (-drive).exp());
            let next = self.rng.random::<f64>() < p;
            if next != on {
                self.state[i] = next;
                let sign = if next { 1.0 } else { -1.0 };
                let row = &model.couplings[i * n..(i + 1) * n];
                for (f, j) in self.field.iter_mut().zip(row) {
                    *f += sign * j;
                }
                if next {
                    self.active.push(i);
                } else if let Some(pos) = self.active.iter().position(|&a| a == i) {
                    self.active.swap_remove(pos);
                }
            }
        }
    }
}

/// The parameters in the layout the sampler uses.
#[derive(Debug, Clone)]
struct Params {
    n: usize,
    fields: Vec<f64>,
    couplings: Vec<f64>,
    potential: Vec<f64>,
}

const GROUPS: usize = 32;
const LIMIT: f64 = 30.0;
/// Smallest moment variance a step is divided by: rare coincidences have noisy Monte-Carlo
/// estimates, and dividing by their tiny variance would turn that noise into large steps.
const VARIANCE_FLOOR: f64 = 1e-3;

/// Run every chain `sweeps` sweeps, recording each state (`record`), chains in fixed groups in
/// parallel; the group tallies are summed in group order.
fn run_chains(chains: &mut [Chain], model: &Params, sweeps: usize, record: bool) -> Tally {
    let per_group = chains.len().div_ceil(GROUPS).max(1);
    let tallies: Vec<Tally> = chains
        .par_chunks_mut(per_group)
        .map(|group| {
            let mut tally = Tally::new(model.n);
            for chain in group {
                for _ in 0..sweeps {
                    chain.sweep(model);
                    if record {
                        tally.record(chain);
                    }
                }
            }
            tally
        })
        .collect();
    let mut total = Tally::new(model.n);
    for t in &tallies {
        total.add(t);
    }
    total
}

impl KPairwise {
    /// Fit to binary single-bin words `x` (neurons x bins).
    pub fn fit(x: ArrayView2<'_, f64>, config: &KPairwiseConfig) -> Result<Self> {
        super::check_binary(x)?;
        let (n, bins) = x.dim();
        if bins == 0 || n == 0 {
            return Err(data("a k-pairwise model needs data"));
        }
        if config.chains == 0 || config.sweeps_per_iteration == 0 || config.thin == 0 {
            return Err(parameter("chains, sweeps and thinning must be at least 1"));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate > 0.0) {
            return Err(parameter("the learning rate must be positive"));
        }
        let m = Moments::of(x);
        let rates: Vec<f64> = m.firing_rate().to_vec();
        let coincidences: Vec<f64> = m.cross.iter().map(|c| c / m.bins).collect();
        let counts = m.population_count(n + 1);
        // Start from the independent model.
        let mut params = Params {
            n,
            fields: rates
                .iter()
                .map(|&r| {
                    let r = r.clamp(1e-6, 1.0 - 1e-6);
                    (r / (1.0 - r)).ln()
                })
                .collect(),
            couplings: vec![0.0; n * n],
            potential: counts
                .iter()
                .map(|&p| if p > 0.0 { 0.0 } else { -LIMIT })
                .collect(),
        };
        let mut chains: Vec<Chain> = (0..config.chains)
            .map(|c| Chain::new(&params, config.seed, c as u64 + 1))
            .collect();
        run_chains(&mut chains, &params, 20, false);
        let variance = |p: f64| (p * (1.0 - p)).max(VARIANCE_FLOOR);
        // Polyak averages of the parameters over the second half of the learning iterations.
        let mut average = params.clone();
        let mut averaged = 0.0;
        let total = config.iterations + config.polish_iterations;
        let mut last = Tally::new(n);
        for t in 0..total {
            let polishing = t >= config.iterations;
            let sweeps = if polishing {
                config.polish_sweeps
            } else {
                config.sweeps_per_iteration
            };
            // Polishing continues at a quarter of the final step on many more states.
            let step = config.learning_rate
                / (1.0
                    + t.min(config.iterations) as f64 / (config.iterations as f64 / 10.0).max(1.0))
                * if polishing { 0.25 } else { 1.0 };
            let tally = run_chains(&mut chains, &params, sweeps, true);
            let s = tally.states.max(1.0);
            for i in 0..n {
                let diff = rates[i] - tally.ones[i] / s;
                params.fields[i] =
                    (params.fields[i] + step * diff / variance(rates[i])).clamp(-LIMIT, LIMIT);
                for j in i + 1..n {
                    let target = coincidences[i * n + j];
                    let diff = target - tally.pairs[i * n + j] / s;
                    let v = (params.couplings[i * n + j] + step * diff / variance(target))
                        .clamp(-LIMIT, LIMIT);
                    params.couplings[i * n + j] = v;
                    params.couplings[j * n + i] = v;
                }
            }
            for ((v, &target), &seen) in params.potential.iter_mut().zip(&counts).zip(&tally.counts)
            {
                if target > 0.0 {
                    let diff = target - seen / s;
                    *v = (*v + step * diff / variance(target)).clamp(-LIMIT, LIMIT);
                }
            }
            if !polishing && 2 * t >= config.iterations {
                averaged += 1.0;
                let w = 1.0 / averaged;
                for (a, p) in average.fields.iter_mut().zip(&params.fields) {
                    *a += w * (p - *a);
                }
                for (a, p) in average.couplings.iter_mut().zip(&params.couplings) {
                    *a += w * (p - *a);
                }
                for (a, p) in average.potential.iter_mut().zip(&params.potential) {
                    *a += w * (p - *a);
                }
                if t + 1 == config.iterations {
                    params = average.clone();
                }
            }
            for chain in &mut chains {
                chain.refresh(&params);
            }
            last = tally;
        }
        let v0 = params.potential[0];
        for v in &mut params.potential {
            *v -= v0;
        }
        let s = last.states.max(1.0);
        let mut coincidence_l1 = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                coincidence_l1 += (coincidences[i * n + j] - last.pairs[i * n + j] / s).abs();
            }
        }
        let fit = KPairwiseFit {
            rate_l1: (0..n).map(|i| (rates[i] - last.ones[i] / s).abs()).sum(),
            coincidence_l1,
            population_count_l1: (0..=n)
                .map(|k| (counts[k] - last.counts[k] / s).abs())
                .sum(),
            states: last.states as usize,
        };
        Ok(Self {
            fields: params.fields,
            couplings: params.couplings,
            count_potential: params.potential,
            fit,
            config: config.clone(),
        })
    }

    /// Draw `bins` independent-ish words (neurons x bins): the model's chains after `burn_in`
    /// sweeps, one word every `thin` sweeps, chains interleaved.
    pub fn sample(&self, bins: usize, seed: u64) -> Result<Array2<f64>> {
        let n = self.fields.len();
        if self.couplings.len() != n * n || self.count_potential.len() != n + 1 {
            return Err(data("inconsistent k-pairwise parameters"));
        }
        let params = Params {
            n,
            fields: self.fields.clone(),
            couplings: self.couplings.clone(),
            potential: self.count_potential.clone(),
        };
        let chains = self.config.chains.max(1).min(bins.max(1));
        let per_chain = bins.div_ceil(chains);
        let thin = self.config.thin.max(1);
        let burn_in = self.config.burn_in;
        let words: Vec<Vec<Vec<usize>>> = (0..chains)
            .into_par_iter()
            .map(|c| {
                let mut chain = Chain::new(&params, seed, c as u64 + 1);
                for _ in 0..burn_in {
                    chain.sweep(&params);
                }
                let mut out = Vec::with_capacity(per_chain);
                for _ in 0..per_chain {
                    for _ in 0..thin {
                        chain.sweep(&params);
                    }
                    out.push(chain.active.clone());
                }
                out
            })
            .collect();
        let mut x = Array2::<f64>::zeros((n, bins));
        let mut t = 0;
        'outer: for k in 0..per_chain {
            for chain in &words {
                if t == bins {
                    break 'outer;
                }
                for &i in &chain[k] {
                    x[[i, t]] = 1.0;
                }
                t += 1;
            }
        }
        Ok(x)
    }
}
