//! Furthest point sampling: thins a point cloud to a roughly even spacing before the graph is
//! built, as MARBLE does (`furthest_point_sampling` with a `spacing` given as a fraction of
//! the cloud's diameter). Dense stretches (slow parts of a trajectory, many samples of the same
//! orbit) otherwise dominate the k nearest neighbours and the graph falls apart into
//! trajectories.
//!
//! Greedy: start from `start`, repeatedly add the point farthest from everything chosen so
//! far, and stop once that distance falls below `spacing x extent`. The extent is the diagonal
//! of the bounding box (an upper bound of the diameter, computed in O(n d) instead of the
//! reference's O(n²) distance matrix); each step updates one distance per point, so the cost is
//! O(n m d) for m kept points and the memory O(n).

use ndarray::ArrayView2;

use crate::error::{ManifoldError, Result, invalid_config};
use crate::kdtree::row_distance;

/// Indices of the kept points, in the order they were chosen.
pub fn furthest_point_sampling(
    points: ArrayView2<'_, f64>,
    spacing: f64,
    start: usize,
) -> Result<Vec<usize>> {
    let (n, d) = points.dim();
    if n == 0 {
        return Err(ManifoldError::InvalidData("no points to sample".into()));
    }
    if !(spacing.is_finite() && (0.0..1.0).contains(&spacing)) {
        return Err(invalid_config(
            "subsample_spacing",
            format!("must lie in [0, 1), got {spacing}"),
        ));
    }
    if spacing == 0.0 {
        return Ok((0..n).collect());
    }
    if start >= n {
        return Err(ManifoldError::InvalidData(format!(
            "start point {start} of {n} points"
        )));
    }
    let mut extent2 = 0.0;
    for c in 0..d {
        let column = points.column(c);
        let lo = column.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        extent2 += (hi - lo) * (hi - lo);
    }
    let threshold = spacing * extent2.sqrt();
    let distance = |i: usize, j: usize| row_distance(points, i, j);
    let mut nearest: Vec<f64> = (0..n).map(|i| distance(i, start)).collect();
    let mut kept = vec![start];
    loop {
        let (far, gap) =
            nearest
                .iter()
                .copied()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, v)| {
                    if v > best.1 { (i, v) } else { best }
                });
        if gap < threshold || kept.len() == n {
            break;
        }
        kept.push(far);
        for (i, slot) in nearest.iter_mut().enumerate() {
            let dist = distance(i, far);
            if dist < *slot {
                *slot = dist;
            }
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn sampling_a_dense_line_keeps_an_even_spacing() -> Result<()> {
        // 1001 points on [0, 1]: spacing 0.1 of the extent keeps 0, then 1, 0.5, the quarters
        // and the eighths (each added at a gap >= 0.1); the next gap would be 1/16 < 0.1, so
        // the eighths remain: 9 points, 0.125 apart.
        let points = Array2::from_shape_fn((1001, 1), |(i, _)| i as f64 / 1000.0);
        let kept = furthest_point_sampling(points.view(), 0.1, 0)?;
        let mut values: Vec<f64> = kept.iter().map(|&i| points[[i, 0]]).collect();
        values.sort_by(f64::total_cmp);
        assert_eq!(values.len(), 9, "{values:?}");
        for w in values.windows(2) {
            assert!((w[1] - w[0] - 0.125).abs() < 1e-12);
        }
        assert_eq!(furthest_point_sampling(points.view(), 0.0, 0)?.len(), 1001);
        assert!(furthest_point_sampling(points.view(), 1.5, 0).is_err());
        Ok(())
    }
}
