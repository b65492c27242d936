//! Dynamical systems with known flows, for MARBLE (Gosztolai et al. 2025): the van der Pol
//! oscillator (optionally embedded on a curved surface) and the Lorenz system. Each trajectory
//! is integrated with the classical 4th-order Runge-Kutta method on a uniform time grid; the
//! velocity reported at each state is the vector field evaluated there (exact, not a finite
//! difference).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// One integrated trajectory: states and velocities (time points x dimensions).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// States.
    pub states: Array2<f64>,
    /// The vector field at each state.
    pub velocities: Array2<f64>,
}

/// Integrate `field` from `x0` over `steps` steps of `dt` by RK4 (`steps + 1` time points).
pub fn integrate(
    field: impl Fn(&[f64]) -> Vec<f64>,
    x0: &[f64],
    dt: f64,
    steps: usize,
) -> Result<Trajectory> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(invalid(format!("time step {dt} must be positive")));
    }
    let d = x0.len();
    let mut states = Array2::<f64>::zeros((steps + 1, d));
    let mut velocities = Array2::<f64>::zeros((steps + 1, d));
    let mut x = x0.to_vec();
    let axpy = |x: &[f64], k: &[f64], h: f64| -> Vec<f64> {
        x.iter().zip(k).map(|(a, b)| a + h * b).collect()
    };
    for step in 0..=steps {
        let k1 = field(&x);
        states.row_mut(step).assign(&ndarray::ArrayView1::from(&x));
        velocities
            .row_mut(step)
            .assign(&ndarray::ArrayView1::from(&k1));
        if step == steps {
            break;
        }
        let k2 = field(&axpy(&x, &k1, dt / 2.0));
        let k3 = field(&axpy(&x, &k2, dt / 2.0));
        let k4 = field(&axpy(&x, &k3, dt));
        for i in 0..d {
            x[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "the trajectory diverged at step {step}; use a smaller time step"
            )));
        }
    }
    Ok(Trajectory { states, velocities })
}

/// The van der Pol vector field `x' = y`, `y' = mu (1 - x^2) y - x`.
pub fn van_der_pol_field(mu: f64) -> impl Fn(&[f64]) -> Vec<f64> {
    move |s: &[f64]| vec![s[1], mu * (1.0 - s[0] * s[0]) * s[1] - s[0]]
}

/// Settings of a van der Pol experiment (MARBLE: mu in [-1, 1], many initial conditions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VanDerPolConfig {
    /// Damping parameter of each condition. Default [-1, -0.5, 0, 0.5, 1].
    pub mu: Vec<f64>,
    /// Initial conditions per condition, on a grid in [-extent, extent]^2. Default 10.
    pub initial_conditions: usize,
    /// Half-width of the grid of initial conditions. Default 3. For mu < 0 the limit cycle
    /// is unstable and trajectories starting outside it (radius about 2) diverge: keep the
    /// extent near 1 when negative mu are simulated.
    pub extent: f64,
    /// Time step. Default 0.05.
    pub dt: f64,
    /// Steps per trajectory. Default 200.
    pub steps: usize,
    /// Curvature `a` of the embedding surface `z = a (x^2 + y^2)`; 0 keeps the plane (2-D).
    /// Default 0.
    pub curvature: f64,
}

impl Default for VanDerPolConfig {
    fn default() -> Self {
        Self {
            mu: vec![-1.0, -0.5, 0.0, 0.5, 1.0],
            initial_conditions: 10,
            extent: 3.0,
            dt: 0.05,
            steps: 200,
            curvature: 0.0,
        }
    }
}

/// All trajectories of a van der Pol experiment: (condition index, trajectory index, trajectory).
/// On a curved surface, states are `(x, y, a (x^2 + y^2))` and velocities follow by the chain
/// rule, `z' = 2 a (x x' + y y')`.
pub fn van_der_pol(config: &VanDerPolConfig) -> Result<Vec<(usize, usize, Trajectory)>> {
    if !(config.extent.is_finite() && config.extent > 0.0) {
        return Err(invalid(format!(
            "extent must be a positive number, got {}",
            config.extent
        )));
    }
    if config.initial_conditions == 0 || config.mu.is_empty() {
        return Err(invalid(
            "at least one mu and one initial condition are needed",
        ));
    }
    let side = (config.initial_conditions as f64).sqrt().ceil() as usize;
    let grid = |k: usize| -> [f64; 2] {
        let (i, j) = (k % side, k / side);
        let at = |v: usize| {
            if side > 1 {
                config.extent * (-1.0 + 2.0 * v as f64 / (side - 1) as f64)
            } else {
                0.5
            }
        };
        [at(i), at(j)]
    };
    let mut out = Vec::new();
    for (ci, &mu) in config.mu.iter().enumerate() {
        for k in 0..config.initial_conditions {
            let mut tr = integrate(van_der_pol_field(mu), &grid(k), config.dt, config.steps)?;
            if config.curvature != 0.0 {
                tr = embed_on_paraboloid(&tr, config.curvature);
            }
            out.push((ci, k, tr));
        }
    }
    Ok(out)
}

fn embed_on_paraboloid(tr: &Trajectory, a: f64) -> Trajectory {
    let n = tr.states.nrows();
    let mut states = Array2::<f64>::zeros((n, 3));
    let mut velocities = Array2::<f64>::zeros((n, 3));
    for t in 0..n {
        let (x, y) = (tr.states[(t, 0)], tr.states[(t, 1)]);
        let (vx, vy) = (tr.velocities[(t, 0)], tr.velocities[(t, 1)]);
        states
            .row_mut(t)
            .assign(&ndarray::arr1(&[x, y, a * (x * x + y * y)]));
        velocities
            .row_mut(t)
            .assign(&ndarray::arr1(&[vx, vy, 2.0 * a * (x * vx + y * vy)]));
    }
    Trajectory { states, velocities }
}

/// The Lorenz vector field with parameters (sigma, rho, beta); the classic chaotic setting is
/// (10, 28, 8/3).
pub fn lorenz_field(sigma: f64, rho: f64, beta: f64) -> impl Fn(&[f64]) -> Vec<f64> {
    move |s: &[f64]| {
        vec![
            sigma * (s[1] - s[0]),
            s[0] * (rho - s[2]) - s[1],
            s[0] * s[1] - beta * s[2],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonic_limit_matches_the_closed_form_with_fourth_order_error() {
        // mu = 0: x(t) = x0 cos t + y0 sin t. Halving dt shrinks the error about 16-fold.
        let err = |dt: f64| {
            let steps = (2.0 / dt).round() as usize;
            let tr = integrate(van_der_pol_field(0.0), &[1.0, 0.5], dt, steps).unwrap();
            let t = dt * steps as f64;
            (tr.states[(steps, 0)] - (t.cos() + 0.5 * t.sin())).abs()
        };
        let (e1, e2) = (err(0.1), err(0.05));
        assert!(e1 < 1e-5, "{e1}");
        let ratio = e1 / e2;
        assert!((12.0..20.0).contains(&ratio), "convergence ratio {ratio}");
    }

    #[test]
    fn velocities_are_the_field_and_surfaces_keep_points_on_them() {
        let cfg = VanDerPolConfig {
            mu: vec![1.0],
            initial_conditions: 4,
            steps: 50,
            curvature: 0.3,
            ..Default::default()
        };
        let all = van_der_pol(&cfg).unwrap();
        assert_eq!(all.len(), 4);
        for (_, _, tr) in &all {
            for t in 0..tr.states.nrows() {
                let (x, y, z) = (tr.states[(t, 0)], tr.states[(t, 1)], tr.states[(t, 2)]);
                assert!((z - 0.3 * (x * x + y * y)).abs() < 1e-12);
                let f = van_der_pol_field(1.0)(&[x, y]);
                assert!(
                    (tr.velocities[(t, 0)] - f[0]).abs() < 1e-12
                        && (tr.velocities[(t, 1)] - f[1]).abs() < 1e-12
                );
            }
        }
        // Lorenz: the non-trivial fixed points do not move.
        let (s, r, b) = (10.0, 28.0, 8.0 / 3.0);
        let q = (b * (r - 1.0f64)).sqrt();
        let tr = integrate(lorenz_field(s, r, b), &[q, q, r - 1.0], 0.01, 10).unwrap();
        assert!(tr.velocities.iter().all(|v| v.abs() < 1e-9));
    }
}
