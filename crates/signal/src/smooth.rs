//! Smoothing of rates along time: Gaussian and boxcar kernels.
//!
//! Both follow `scipy.ndimage.gaussian_filter1d` / `uniform_filter1d` with `mode='reflect'`
//! (the signal is mirrored about its edges, edge sample included: `d c b a | a b c d | d c b a`),
//! so results agree with SciPy to rounding.

use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::error::{Result, parameter};

/// Index of `i` (possibly outside `0..n`) after reflection about the edges, SciPy's 'reflect'.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// Correlate each row of `x` (neurons x time) with `weights` centred at `origin`.
fn correlate_rows(x: ArrayView2<'_, f64>, weights: &[f64], origin: isize) -> Array2<f64> {
    let (rows, n) = x.dim();
    let mut out = Array2::<f64>::zeros((rows, n));
    for (row, mut out_row) in x.rows().into_iter().zip(out.rows_mut()) {
        correlate_row(
            row,
            weights,
            origin,
            out_row.as_slice_mut().unwrap_or(&mut []),
        );
    }
    out
}

fn correlate_row(row: ArrayView1<'_, f64>, weights: &[f64], origin: isize, out: &mut [f64]) {
    let n = row.len();
    for (t, slot) in out.iter_mut().enumerate() {
        let mut acc = 0.0;
        for (k, w) in weights.iter().enumerate() {
            let i = t as isize + k as isize - origin;
            acc += w * row[reflect(i, n)];
        }
        *slot = acc;
    }
}

/// Gaussian kernel of standard deviation `sigma_bins`, truncated at `truncate` standard
/// deviations (radius `round(truncate * sigma)`), normalised to sum 1.
pub fn gaussian_kernel(sigma_bins: f64, truncate: f64) -> Result<Vec<f64>> {
    if !(sigma_bins.is_finite() && sigma_bins > 0.0) {
        return Err(parameter(format!(
            "Gaussian sigma must be a positive number of bins, got {sigma_bins}"
        )));
    }
    if !(truncate.is_finite() && truncate > 0.0) {
        return Err(parameter(format!(
            "truncate must be positive, got {truncate}"
        )));
    }
    let radius = (truncate * sigma_bins + 0.5) as isize;
    let mut w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x as f64 / sigma_bins).powi(2)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= sum);
    Ok(w)
}

/// Gaussian smoothing of each row (neuron) of `x` along time, with standard deviation
/// `sigma_bins` (in bins or frames), kernel truncated at 4 standard deviations.
pub fn gaussian_smooth(x: ArrayView2<'_, f64>, sigma_bins: f64) -> Result<Array2<f64>> {
    let w = gaussian_kernel(sigma_bins, 4.0)?;
    let radius = (w.len() / 2) as isize;
    Ok(correlate_rows(x, &w, radius))
}

/// Boxcar (moving average) smoothing of each row of `x` over `width` bins; for even widths the
/// window covers `width / 2` samples before and `width / 2 - 1` after, as SciPy does.
pub fn boxcar_smooth(x: ArrayView2<'_, f64>, width: usize) -> Result<Array2<f64>> {
    if width == 0 {
        return Err(parameter("boxcar width must be at least 1 bin"));
    }
    let w = vec![1.0 / width as f64; width];
    Ok(correlate_rows(x, &w, (width / 2) as isize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_mirrors_including_the_edge_sample() {
        let idx: Vec<usize> = (-4..8).map(|i| reflect(i, 4)).collect();
        assert_eq!(idx, vec![3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
    }

    #[test]
    fn smoothing_preserves_constants_and_refuses_bad_widths() {
        let x = Array2::from_elem((2, 9), 3.0);
        let g = gaussian_smooth(x.view(), 1.3).unwrap();
        assert!(g.iter().all(|v| (v - 3.0).abs() < 1e-12));
        let b = boxcar_smooth(x.view(), 4).unwrap();
        assert!(b.iter().all(|v| (v - 3.0).abs() < 1e-12));
        assert!(boxcar_smooth(x.view(), 0).is_err());
        assert!(gaussian_smooth(x.view(), 0.0).is_err());
        assert!(gaussian_smooth(x.view(), f64::NAN).is_err());
    }
}
