//! The Savitzky-Golay filter (Savitzky & Golay 1964): a least-squares polynomial fit over a
//! sliding window, evaluated (or differentiated) at the window's centre.
//!
//! Interior points use the convolution coefficients; the first and last `window / 2` points are
//! taken from a polynomial fitted to the first and last `window` points, as
//! `scipy.signal.savgol_filter(..., mode='interp')` does.

use crate::error::{Result, parameter};

/// Least-squares polynomial of degree `order` through (`z`, `y`); returns its coefficients,
/// lowest degree first. Positions should be centred for conditioning.
fn polyfit(z: &[f64], y: &[f64], order: usize) -> Vec<f64> {
    let m = order + 1;
    // Normal equations (A^T A) beta = A^T y, solved by Gaussian elimination with partial
    // pivoting; the systems are tiny (order <= window - 1) and positions are centred.
    let mut ata = vec![vec![0.0; m + 1]; m];
    for (&zi, &yi) in z.iter().zip(y) {
        let powers: Vec<f64> = (0..m).map(|k| zi.powi(k as i32)).collect();
        for r in 0..m {
            for c in 0..m {
                ata[r][c] += powers[r] * powers[c];
            }
            ata[r][m] += powers[r] * yi;
        }
    }
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&a, &b| ata[a][col].abs().total_cmp(&ata[b][col].abs()))
            .unwrap_or(col);
        ata.swap(col, pivot);
        let p = ata[col][col];
        let pivot_row = ata[col].clone();
        for (r, row) in ata.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / p;
                for (v, pv) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * pv;
                }
            }
        }
    }
    (0..m).map(|r| ata[r][m] / ata[r][r]).collect()
}

/// The `deriv`-th derivative at `z` of the polynomial with coefficients `beta`.
fn poly_derivative(beta: &[f64], deriv: usize, z: f64) -> f64 {
    beta.iter()
        .enumerate()
        .skip(deriv)
        .map(|(k, b)| {
            let falling: f64 = ((k - deriv + 1)..=k).map(|j| j as f64).product();
            b * falling * z.powi((k - deriv) as i32)
        })
        .sum()
}

/// Window positions centred and scaled to [-1, 1] (for a well-conditioned fit), and the scale
/// (half the window) that maps them back to samples.
fn scaled_positions(window: usize) -> (Vec<f64>, f64) {
    let half = (window / 2) as f64;
    (
        (0..window).map(|k| (k as f64 - half) / half).collect(),
        half,
    )
}

/// Check the filter settings: an odd window longer than the polynomial order, and a derivative
/// no higher than the order.
fn check(window: usize, order: usize, deriv: usize, len: usize) -> Result<()> {
    if window.is_multiple_of(2) || window < 3 {
        return Err(parameter(format!(
            "Savitzky-Golay window must be odd and at least 3, got {window}"
        )));
    }
    if order >= window {
        return Err(parameter(format!(
            "polynomial order {order} must be less than the window {window}"
        )));
    }
    if deriv > order {
        return Err(parameter(format!(
            "derivative {deriv} exceeds the polynomial order {order}"
        )));
    }
    if len < window {
        return Err(parameter(format!(
            "the signal ({len} samples) is shorter than the window {window}"
        )));
    }
    Ok(())
}

/// Convolution coefficients of the filter: `out[t] = sum_k coeffs[k] * y[t + k - window / 2]`.
pub fn savgol_coefficients(window: usize, order: usize, deriv: usize) -> Result<Vec<f64>> {
    check(window, order, deriv, window)?;
    let (z, scale) = scaled_positions(window);
    // Coefficient k is the response at the centre to a unit impulse at position k.
    Ok((0..window)
        .map(|k| {
            let mut e = vec![0.0; window];
            e[k] = 1.0;
            poly_derivative(&polyfit(&z, &e, order), deriv, 0.0) / scale.powi(deriv as i32)
        })
        .collect())
}

/// Savitzky-Golay filtering (or differentiation, `deriv > 0`, per sample) of `y`.
pub fn savgol_filter(y: &[f64], window: usize, order: usize, deriv: usize) -> Result<Vec<f64>> {
    check(window, order, deriv, y.len())?;
    let coeffs = savgol_coefficients(window, order, deriv)?;
    let half = window / 2;
    let n = y.len();
    let mut out = vec![0.0; n];
    for t in half..n - half {
        out[t] = coeffs
            .iter()
            .zip(&y[t - half..=t + half])
            .map(|(c, v)| c * v)
            .sum();
    }
    // Edges: fit the first and last windows and evaluate at their outer points.
    let (z, scale) = scaled_positions(window);
    let head = polyfit(&z, &y[..window], order);
    let tail = polyfit(&z, &y[n - window..], order);
    let unit = scale.powi(deriv as i32);
    for k in 0..half {
        out[k] = poly_derivative(&head, deriv, z[k]) / unit;
        out[n - half + k] = poly_derivative(&tail, deriv, z[window - half + k]) / unit;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_coefficients_and_exactness_on_polynomials() {
        // The classic 5-point quadratic smoother: (-3, 12, 17, 12, -3) / 35.
        let c = savgol_coefficients(5, 2, 0).unwrap();
        let want = [-3.0, 12.0, 17.0, 12.0, -3.0].map(|v| v / 35.0);
        assert!(
            c.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{c:?}"
        );
        // A cubic is reproduced exactly by an order-3 filter, its derivative too.
        let y: Vec<f64> = (0..20)
            .map(|t| {
                let t = t as f64;
                0.5 * t * t * t - 2.0 * t + 1.0
            })
            .collect();
        let f = savgol_filter(&y, 7, 3, 0).unwrap();
        assert!(f.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-8));
        let d = savgol_filter(&y, 7, 3, 1).unwrap();
        assert!(
            d.iter()
                .enumerate()
                .all(|(t, v)| (v - (1.5 * (t * t) as f64 - 2.0)).abs() < 1e-8)
        );
        assert!(savgol_filter(&y, 6, 2, 0).is_err());
        assert!(savgol_filter(&y, 5, 5, 0).is_err());
        assert!(savgol_filter(&y[..4], 5, 2, 0).is_err());
    }
}
