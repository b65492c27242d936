//! Cutting recordings into samples: windows of `T` consecutive time points of all neurons,
//! taken every `stride` time points (Spike-GAN trains on 32-bin windows of the retina data with
//! stride 1; CalciumGAN uses 2048-frame segments with stride 2).

use ndarray::{Array3, ArrayView2, s};

use crate::error::{Result, data, parameter};

/// Start indices of the windows of length `window` with `stride` over `time_points` points:
/// `0, stride, 2 stride, ...` while the window fits.
pub fn window_starts(time_points: usize, window: usize, stride: usize) -> Result<Vec<usize>> {
    if window == 0 || stride == 0 {
        return Err(parameter(format!(
            "window ({window}) and stride ({stride}) must be at least 1"
        )));
    }
    if window > time_points {
        return Err(data(format!(
            "a window of {window} time points does not fit in {time_points}"
        )));
    }
    Ok((0..=time_points - window).step_by(stride).collect())
}

/// Windows of `x` (neurons x time) as samples x neurons x window.
pub fn windows<T: Clone + Default>(
    x: ArrayView2<'_, T>,
    window: usize,
    stride: usize,
) -> Result<Array3<T>> {
    let (neurons, time_points) = x.dim();
    let starts = window_starts(time_points, window, stride)?;
    let mut out = Array3::<T>::default((starts.len(), neurons, window));
    for (k, &t) in starts.iter().enumerate() {
        out.slice_mut(s![k, .., ..])
            .assign(&x.slice(s![.., t..t + window]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_the_stride_and_keep_only_full_windows() {
        let x = ndarray::Array2::from_shape_fn((2, 10), |(n, t)| (10 * n + t) as u32);
        let w = windows(x.view(), 4, 3).unwrap();
        assert_eq!(w.dim(), (3, 2, 4));
        assert_eq!(w.slice(s![1, 0, ..]).to_vec(), vec![3, 4, 5, 6]);
        assert_eq!(w.slice(s![2, 1, ..]).to_vec(), vec![16, 17, 18, 19]);
        assert_eq!(window_starts(10, 10, 1).unwrap(), vec![0]);
        assert!(window_starts(3, 4, 1).is_err());
        assert!(window_starts(10, 4, 0).is_err());
    }
}
