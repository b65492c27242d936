//! The three 1-D convolution maps of a Spike-GAN layer on plain `f32` buffers, each one matrix
//! product over the whole batch on the gemm crate's kernels (the ones burn's flex backend uses
//! for its matrix products):
//!
//! - [`forward`]: `x [B, C_in, L] -> y [B, C_out, L_out]`, `y = W · cols(x)`;
//! - [`adjoint`]: `g [B, C_out, L_out] -> [B, C_in, L]`, the transpose of [`forward`]:
//!   `cols⁻¹(Wᵀ · g)`, where `cols⁻¹` adds every column entry back where [`forward`] read it;
//! - [`weight_gradient`]: `(x, g) -> [C_out, C_in, K]`, `g · cols(x)ᵀ`, the gradient of
//!   `<forward(x, W), g>` with respect to `W`.
//!
//! `cols(x)` is the im2col matrix `[C_in * K, B * L_out]`: row `c * K + k`, column
//! `b * L_out + t` holds `x[b, c, stride * t + k - padding]` (zero outside the input). The
//! channel-major layout `[C, B * L_out]` gives every product an inner or outer dimension of the
//! whole batch times the output length, where burn-flex's own convolution runs one small
//! product per sample and tile (docs/BENCHMARKS.md, issue 28). The weight gradient is computed
//! transposed (`cols(x) · gᵀ`) and written into the weights' layout through gemm's output
//! strides. Stride-1 convolutions (the generator's) skip the im2col matrix: with the input
//! channel-major and padded, each tap is one product with a shifted view of it
//! (`forward_by_shifts`, `weight_gradient_by_shifts`), and the transpose is the stride-1
//! convolution with the taps reversed and the channels swapped.
//!
//! Threads: the batch (forward, transpose) or the output channels (weight gradient) are split
//! among rayon's threads, each part one whole product on one thread; the copies around the
//! products write disjoint parts. Every output element is the same sum in the same order
//! whatever the number of threads (a test checks 1 against 2 threads bit for bit).

use std::cell::RefCell;
use std::ops::Range;

use rayon::prelude::*;

/// The shape of one convolution: `x [batch, c_in, input_len]`, weights
/// `[c_out, c_in, kernel]`, output `[batch, c_out, output_len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvShape {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub input_len: usize,
    pub output_len: usize,
}

impl ConvShape {
    /// Rows of the im2col matrix.
    fn patch(&self) -> usize {
        self.c_in * self.kernel
    }

    /// Columns of the im2col matrix (and of every channel-major matrix).
    fn columns(&self) -> usize {
        self.batch * self.output_len
    }

    /// Whether the stride-1 form applies: the convolution as `K` products of shifted views of
    /// the padded input, without an im2col matrix (`forward_by_shifts`).
    fn shifts_apply(&self) -> bool {
        self.stride == 1
            && self.padding < self.kernel
            && self.output_len + self.kernel == self.input_len + 2 * self.padding + 1
    }

    /// Length of one padded sample in the stride-1 form.
    fn padded_len(&self) -> usize {
        self.input_len + 2 * self.padding
    }

    /// The stride-1 convolution whose forward map is this one's transpose, and its weights
    /// `[c_in, c_out, K]` (taps reversed) from this one's `weight`.
    fn transposed(&self, weight: &[f32]) -> (ConvShape, Vec<f32>) {
        let k = self.kernel;
        let mut flipped = vec![0f32; weight.len()];
        for o in 0..self.c_out {
            for c in 0..self.c_in {
                for tap in 0..k {
                    flipped[(c * self.c_out + o) * k + (k - 1 - tap)] =
                        weight[(o * self.c_in + c) * k + tap];
                }
            }
        }
        let shape = ConvShape {
            batch: self.batch,
            c_in: self.c_out,
            c_out: self.c_in,
            kernel: k,
            stride: 1,
            padding: k - 1 - self.padding,
            input_len: self.output_len,
            output_len: self.input_len,
        };
        (shape, flipped)
    }

    /// The output positions `t` whose input index `stride * t + tap - padding` lies inside
    /// the input.
    fn valid_outputs(&self, tap: usize) -> std::ops::Range<usize> {
        let s = self.stride;
        // First t with s * t + tap >= padding.
        let first = self.padding.saturating_sub(tap).div_ceil(s);
        // Last t with s * t + tap - padding <= input_len - 1.
        let end = match (self.input_len + self.padding).checked_sub(tap + 1) {
            Some(last) => (last / s + 1).min(self.output_len),
            None => 0,
        };
        first..end.max(first)
    }
}

/// Whether the work is large enough to split among rayon's threads.
fn parallel(work: usize) -> bool {
    // Below ~256 k elements the thread hand-off costs more than it saves.
    work >= 1 << 18 && rayon::current_num_threads() > 1
}

/// `count` ranges of (nearly) equal length covering `0..total`.
fn even_ranges(total: usize, count: usize) -> Vec<Range<usize>> {
    let count = count.clamp(1, total.max(1));
    (0..count)
        .map(|k| total * k / count..total * (k + 1) / count)
        .collect()
}

/// How many parts of `total` to run side by side for `work` multiply-adds.
fn part_count(work: usize, total: usize) -> usize {
    if parallel(work / 64) {
        rayon::current_num_threads().min(total)
    } else {
        1
    }
}

thread_local! {
    /// Two reusable buffers per thread for the matrices that never leave a call (im2col
    /// matrices, channel-major copies): no allocation, page fault or zeroing per call once
    /// they have grown to the largest layer.
    static SCRATCH: RefCell<[Vec<f32>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Runs `f` with two scratch buffers of lengths `lens`, whose contents are unspecified (every
/// caller writes each element before reading it).
fn with_scratch<R>(lens: [usize; 2], f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => {
            for (buffer, &len) in buffers.iter_mut().zip(&lens) {
                if buffer.len() < len {
                    buffer.resize(len, 0.0);
                }
            }
            let [first, second] = &mut *buffers;
            f(&mut first[..lens[0]], &mut second[..lens[1]])
        }
        // Already in use further up this thread's stack (a nested call): fresh buffers.
        Err(_) => f(&mut vec![0.0; lens[0]], &mut vec![0.0; lens[1]]),
    })
}

/// Rows `rows` of the im2col matrix of the samples `batches` of `x [B, C_in, L]`, into `cols`
/// (`rows.len()` rows of `batches.len() * L_out`; every element written).
fn im2col_into(
    x: &[f32],
    shape: &ConvShape,
    batches: Range<usize>,
    rows: Range<usize>,
    cols: &mut [f32],
) {
    let (len, out_len, stride) = (shape.input_len, shape.output_len, shape.stride);
    let columns = batches.len() * out_len;
    if columns == 0 {
        return;
    }
    for (row, out) in rows.zip(cols.chunks_exact_mut(columns)) {
        let (channel, tap) = (row / shape.kernel, row % shape.kernel);
        let valid = shape.valid_outputs(tap);
        // The first input index read (when any is).
        let first = (stride * valid.start + tap).saturating_sub(shape.padding);
        for (b, out) in batches.clone().zip(out.chunks_exact_mut(out_len)) {
            let input = &x[(b * shape.c_in + channel) * len..][..len];
            out[..valid.start].fill(0.0);
            out[valid.end..].fill(0.0);
            for (o, &v) in out[valid.clone()]
                .iter_mut()
                .zip(input[first.min(len)..].iter().step_by(stride))
            {
                *o = v;
            }
        }
    }
}

/// The adjoint of [`im2col_into`] over all rows: `dx` (`[count, C_in, L]`, the samples whose
/// columns `cols` holds) set to the sum of every entry of `cols` where im2col read it.
fn col2im_into(cols: &[f32], shape: &ConvShape, count: usize, dx: &mut [f32]) {
    let (len, out_len, stride) = (shape.input_len, shape.output_len, shape.stride);
    let columns = count * out_len;
    dx.fill(0.0);
    if len == 0 || out_len == 0 {
        return;
    }
    for (b, sample) in dx.chunks_exact_mut(shape.c_in * len).enumerate() {
        for (channel, out) in sample.chunks_exact_mut(len).enumerate() {
            for tap in 0..shape.kernel {
                let valid = shape.valid_outputs(tap);
                if valid.is_empty() {
                    continue;
                }
                let row =
                    &cols[(channel * shape.kernel + tap) * columns + b * out_len..][..out_len];
                let first = stride * valid.start + tap - shape.padding;
                for (o, &v) in out[first..].iter_mut().step_by(stride).zip(&row[valid]) {
                    *o += v;
                }
            }
        }
    }
}

/// `values [B, C, L]` (the samples `batches`) -> `out [C, batches.len() * L]`.
fn to_channel_major(
    values: &[f32],
    channels: usize,
    len: usize,
    batches: Range<usize>,
    out: &mut [f32],
) {
    let columns = batches.len() * len;
    if columns == 0 {
        return;
    }
    to_channel_major_rows(values, channels, len, batches, 0..channels, out);
}

/// Rows `rows` of [`to_channel_major`] into `out` (`rows.len()` rows).
fn to_channel_major_rows(
    values: &[f32],
    channels: usize,
    len: usize,
    batches: Range<usize>,
    rows: Range<usize>,
    out: &mut [f32],
) {
    let columns = batches.len() * len;
    if columns == 0 {
        return;
    }
    for (c, row) in rows.zip(out.chunks_exact_mut(columns)) {
        for (b, run) in batches.clone().zip(row.chunks_exact_mut(len)) {
            run.copy_from_slice(&values[(b * channels + c) * len..][..len]);
        }
    }
}

/// Runs `f(rows, part)` over parts of the `row_len`-long rows of `out`, side by side when
/// `out` is large.
fn by_rows(out: &mut [f32], row_len: usize, f: impl Fn(Range<usize>, &mut [f32]) + Sync) {
    if row_len == 0 {
        return;
    }
    let rows = out.len() / row_len;
    let parts = even_ranges(rows, part_count(out.len() * 64, rows));
    over_parts(out, row_len, &parts, f);
}

/// `values [C, n * L]` -> `out [n, C, L]` (the inverse of [`to_channel_major`]).
fn from_channel_major(values: &[f32], channels: usize, len: usize, out: &mut [f32]) {
    if len == 0 || channels == 0 {
        return;
    }
    let columns = values.len() / channels;
    for (b, sample) in out.chunks_exact_mut(channels * len).enumerate() {
        for (c, run) in sample.chunks_exact_mut(len).enumerate() {
            run.copy_from_slice(&values[c * columns + b * len..][..len]);
        }
    }
}

/// A read-only strided matrix view: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
struct Strided<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Strided<'a> {
    /// The row-major contiguous `rows x cols` matrix `data`.
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of this view.
    fn transposed(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst [m, n]` (row-major, contiguous) `= lhs [m, k] · rhs [k, n]`, on rayon's threads when
/// `threaded` and the product is large.
fn matmul(dst: &mut [f32], lhs: Strided<'_>, rhs: Strided<'_>, threaded: bool) {
    let n = rhs.cols;
    product(dst, [n, 1], lhs, rhs, threaded, false);
}

/// `dst += lhs · rhs` (one thread; `dst` row-major, contiguous).
fn matmul_add(dst: &mut [f32], lhs: Strided<'_>, rhs: Strided<'_>) {
    let n = rhs.cols;
    product(dst, [n, 1], lhs, rhs, false, true);
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, where element `(i, j)` of the
/// product goes to `dst[i * dst_strides[0] + j * dst_strides[1]]`; on rayon's threads when
/// `threaded` and the product is large. The strides must not map two elements to one place
/// (every caller uses a row-major or column-major layout).
fn product(
    dst: &mut [f32],
    dst_strides: [usize; 2],
    lhs: Strided<'_>,
    rhs: Strided<'_>,
    threaded: bool,
    accumulate: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    let target = Strided {
        data: dst,
        rows: m,
        cols: n,
        row_stride: dst_strides[0],
        col_stride: dst_strides[1],
    };
    let distinct = dst_strides[0] > n.saturating_sub(1) * dst_strides[1]
        || dst_strides[1] > m.saturating_sub(1) * dst_strides[0];
    assert!(
        rhs.rows == k && target.in_bounds() && distinct && lhs.in_bounds() && rhs.in_bounds(),
        "matmul: operand shapes disagree"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_strides[0] + j * dst_strides[1]] = 0.0;
                }
            }
        }
        return;
    }
    let parallelism = if threaded && parallel(m * n * k / 64) {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    let stride = |s: usize| s as isize;
    // SAFETY: the assertion above checks that every element `(i, j)` of the `m x n` product
    // lies inside `dst` at `i * dst_strides[0] + j * dst_strides[1]`, that no two elements
    // share a place (one stride exceeds the other's whole extent), and that every element of
    // `lhs` (`m x k`) and of `rhs` (`k x n`) lies inside its slice; `dst` is borrowed mutably,
    // so it aliases neither. With `read_dst = false` gemm writes `dst` without reading it; with
    // `true` it reads the same initialised elements first.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            stride(dst_strides[1]),
            stride(dst_strides[0]),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Whether the buffers have the lengths `shape` gives them.
fn lengths_agree(
    shape: &ConvShape,
    x_len: Option<usize>,
    w_len: usize,
    g_len: Option<usize>,
) -> bool {
    let x_ok = x_len.is_none_or(|len| len == shape.batch * shape.c_in * shape.input_len);
    let g_ok = g_len.is_none_or(|len| len == shape.batch * shape.c_out * shape.output_len);
    x_ok && g_ok && w_len == shape.c_out * shape.patch() && shape.stride > 0
}

/// Runs `f(range, part)` for every range of `parts` side by side, where `part` is the slice of
/// `out` holding `per_item` values for each index of `range`.
fn over_parts(
    out: &mut [f32],
    per_item: usize,
    parts: &[Range<usize>],
    f: impl Fn(Range<usize>, &mut [f32]) + Sync,
) {
    let mut pieces = Vec::with_capacity(parts.len());
    let mut rest = out;
    for range in parts {
        let (piece, tail) = rest.split_at_mut(range.len() * per_item);
        pieces.push((range.clone(), piece));
        rest = tail;
    }
    if pieces.len() <= 1 {
        pieces
            .into_iter()
            .for_each(|(range, piece)| f(range, piece));
    } else {
        pieces
            .into_par_iter()
            .for_each(|(range, piece)| f(range, piece));
    }
}

/// The convolution `x [B, C_in, L]` with `weight [C_out, C_in, K]` (no bias):
/// `[B, C_out, L_out]`. `None` when the buffers do not have the lengths `shape` gives.
pub(crate) fn forward(x: &[f32], weight: &[f32], shape: &ConvShape) -> Option<Vec<f32>> {
    if !lengths_agree(shape, Some(x.len()), weight.len(), None) {
        return None;
    }
    if shape.shifts_apply() {
        return Some(forward_by_shifts(x, weight, shape));
    }
    let patch = shape.patch();
    let per_sample = shape.c_out * shape.output_len;
    let mut out = vec![0f32; shape.batch * per_sample];
    // The batch in parts, one per thread: each part's columns are a whole product of its own.
    let parts = even_ranges(
        shape.batch,
        part_count(shape.c_out * patch * shape.columns(), shape.batch),
    );
    over_parts(&mut out, per_sample, &parts, |batches, out| {
        let columns = batches.len() * shape.output_len;
        with_scratch([patch * columns, shape.c_out * columns], |cols, product| {
            im2col_into(x, shape, batches, 0..patch, cols);
            matmul(
                product,
                Strided::row_major(weight, shape.c_out, patch),
                Strided::row_major(cols, patch, columns),
                false,
            );
            from_channel_major(product, shape.c_out, shape.output_len, out);
        });
    });
    Some(out)
}

/// The transpose of [`forward`] at `weight`: `grad_output [B, C_out, L_out] -> [B, C_in, L]`.
pub(crate) fn adjoint(grad_output: &[f32], weight: &[f32], shape: &ConvShape) -> Option<Vec<f32>> {
    if !lengths_agree(shape, None, weight.len(), Some(grad_output.len())) {
        return None;
    }
    if shape.shifts_apply() {
        // A stride-1 convolution's transpose is the stride-1 convolution with the taps
        // reversed, the channels swapped and padding `K - 1 - padding`.
        let (transposed, flipped) = shape.transposed(weight);
        return Some(forward_by_shifts(grad_output, &flipped, &transposed));
    }
    let patch = shape.patch();
    let per_sample = shape.c_in * shape.input_len;
    let mut out = vec![0f32; shape.batch * per_sample];
    let parts = even_ranges(
        shape.batch,
        part_count(shape.c_out * patch * shape.columns(), shape.batch),
    );
    over_parts(&mut out, per_sample, &parts, |batches, out| {
        let count = batches.len();
        let columns = count * shape.output_len;
        with_scratch([shape.c_out * columns, patch * columns], |grad, cols| {
            to_channel_major(grad_output, shape.c_out, shape.output_len, batches, grad);
            matmul(
                cols,
                Strided::row_major(weight, shape.c_out, patch).transposed(),
                Strided::row_major(grad, shape.c_out, columns),
                false,
            );
            col2im_into(cols, shape, count, out);
        });
    });
    Some(out)
}

/// `values [B, C, L]` (the samples `batches`) -> `out [C, batches.len() * (L + 2 pad)]`, each
/// sample's run of `L` preceded and followed by `pad` zeros.
fn to_padded_channel_major(
    values: &[f32],
    channels: usize,
    len: usize,
    pad: usize,
    batches: Range<usize>,
    out: &mut [f32],
) {
    let padded = len + 2 * pad;
    let columns = batches.len() * padded;
    by_rows(out, columns, |rows, part| {
        for (c, row) in rows.zip(part.chunks_exact_mut(columns)) {
            for (b, run) in batches.clone().zip(row.chunks_exact_mut(padded)) {
                run[..pad].fill(0.0);
                run[pad + len..].fill(0.0);
                run[pad..pad + len].copy_from_slice(&values[(b * channels + c) * len..][..len]);
            }
        }
    });
}

/// The stride-1 convolution as `K` accumulated products: with the input channel-major and
/// padded, `X [C_in, B * (L + 2p)]`, output column `j` is `Σ_k W_k · X[:, j + k]`, so each tap
/// is one product with a shifted view of `X` (the columns that straddle two samples are
/// computed and dropped). No im2col matrix (`K` times the input) is written.
fn forward_by_shifts(x: &[f32], weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let (k, out_len) = (shape.kernel, shape.output_len);
    let per_sample = shape.c_out * out_len;
    let mut out = vec![0f32; shape.batch * per_sample];
    let parts = even_ranges(
        shape.batch,
        part_count(shape.c_out * shape.patch() * shape.columns(), shape.batch),
    );
    over_parts(&mut out, per_sample, &parts, |batches, out| {
        let count = batches.len();
        let padded = count * shape.padded_len();
        // Columns computed: every start whose K taps stay inside the padded input.
        let columns = padded + 1 - k;
        with_scratch(
            [shape.c_in * padded, shape.c_out * columns],
            |input, product| {
                to_padded_channel_major(
                    x,
                    shape.c_in,
                    shape.input_len,
                    shape.padding,
                    batches,
                    input,
                );
                for tap in 0..k {
                    let lhs = Strided {
                        data: weight,
                        rows: shape.c_out,
                        cols: shape.c_in,
                        row_stride: shape.c_in * k,
                        col_stride: k,
                    };
                    let rhs = Strided {
                        data: &input[tap..],
                        rows: shape.c_in,
                        cols: columns,
                        row_stride: padded,
                        col_stride: 1,
                    };
                    let lhs = Strided {
                        data: &weight[tap..],
                        ..lhs
                    };
                    if tap == 0 {
                        matmul(product, lhs, rhs, false);
                    } else {
                        matmul_add(product, lhs, rhs);
                    }
                }
                for (b, sample) in out.chunks_exact_mut(per_sample).enumerate() {
                    for (o, run) in sample.chunks_exact_mut(out_len).enumerate() {
                        run.copy_from_slice(
                            &product[o * columns + b * shape.padded_len()..][..out_len],
                        );
                    }
                }
            },
        );
    });
    out
}

/// The weight gradient of the stride-1 form: `∂W_k = G · X[:, k..]ᵀ` with the output gradient
/// `G [C_out, B * (L + 2p)]` laid out on the padded columns (zero on the dropped ones).
fn weight_gradient_by_shifts(x: &[f32], grad_output: &[f32], shape: &ConvShape) -> Vec<f32> {
    let k = shape.kernel;
    let padded = shape.batch * shape.padded_len();
    let columns = padded + 1 - k;
    let mut out = vec![0f32; k * shape.c_out * shape.c_in];
    with_scratch(
        [shape.c_in * padded, shape.c_out * padded],
        |input, grad| {
            to_padded_channel_major(
                x,
                shape.c_in,
                shape.input_len,
                shape.padding,
                0..shape.batch,
                input,
            );
            // The gradient at column `b * (L + 2p) + t`, zero after each sample's L_out outputs.
            let grad_len = shape.output_len;
            by_rows(grad, padded, |rows, part| {
                for (o, row) in rows.zip(part.chunks_exact_mut(padded)) {
                    for (b, run) in row.chunks_exact_mut(shape.padded_len()).enumerate() {
                        run[..grad_len].copy_from_slice(
                            &grad_output[(b * shape.c_out + o) * grad_len..][..grad_len],
                        );
                        run[grad_len..].fill(0.0);
                    }
                }
            });
            // The output channels in parts side by side; in each, tap by tap, one product
            // computed transposed (`X_k · G_partᵀ`, `[C_in, C_out part]`) and written straight
            // into the part's rows of `[C_out, C_in, K]`. Every weight is one whole sum.
            let per_channel = shape.c_in * k;
            let parts = even_ranges(
                shape.c_out,
                part_count(shape.c_out * shape.c_in * k * columns, shape.c_out),
            );
            over_parts(&mut out, per_channel, &parts, |channels, part| {
                let grad_part = &grad[channels.start * padded..];
                for tap in 0..k {
                    product(
                        &mut part[tap..],
                        [k, per_channel],
                        Strided {
                            data: &input[tap..],
                            rows: shape.c_in,
                            cols: columns,
                            row_stride: padded,
                            col_stride: 1,
                        },
                        Strided {
                            data: grad_part,
                            rows: channels.len(),
                            cols: columns,
                            row_stride: padded,
                            col_stride: 1,
                        }
                        .transposed(),
                        false,
                        false,
                    );
                }
            });
        },
    );
    out
}

/// The gradient of `<forward(x, W), grad_output>` with respect to `W`: `[C_out, C_in, K]`.
pub(crate) fn weight_gradient(
    x: &[f32],
    grad_output: &[f32],
    shape: &ConvShape,
) -> Option<Vec<f32>> {
    let weight_len = shape.c_out * shape.patch();
    if !lengths_agree(shape, Some(x.len()), weight_len, Some(grad_output.len())) {
        return None;
    }
    if shape.shifts_apply() {
        return Some(weight_gradient_by_shifts(x, grad_output, shape));
    }
    let (patch, columns) = (shape.patch(), shape.columns());
    let mut out = vec![0f32; weight_len];
    with_scratch([patch * columns, shape.c_out * columns], |cols, grad| {
        // The im2col rows in parts side by side (every row whole, so the values are the same).
        let rows = even_ranges(patch, part_count(shape.c_out * patch * columns, patch));
        over_parts(cols, columns, &rows, |rows, part| {
            im2col_into(x, shape, 0..shape.batch, rows, part);
        });
        by_rows(grad, columns, |rows, part| {
            to_channel_major_rows(
                grad_output,
                shape.c_out,
                shape.output_len,
                0..shape.batch,
                rows,
                part,
            );
        });
        // The output channels in parts side by side, each part one product computed
        // transposed (`cols · G_partᵀ`, `[C_in K, C_out part]`) and written straight into its
        // rows of `[C_out, C_in K]`: every weight is one whole sum over the batch.
        let parts = even_ranges(
            shape.c_out,
            part_count(shape.c_out * patch * columns, shape.c_out),
        );
        over_parts(&mut out, patch, &parts, |channels, part| {
            product(
                part,
                [1, patch],
                Strided::row_major(cols, patch, columns),
                Strided::row_major(&grad[channels.start * columns..], channels.len(), columns)
                    .transposed(),
                false,
                false,
            );
        });
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn shape(
        batch: usize,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        input_len: usize,
    ) -> ConvShape {
        ConvShape {
            batch,
            c_in,
            c_out,
            kernel,
            stride,
            padding,
            input_len,
            output_len: crate::output_len(input_len, kernel, stride, padding),
        }
    }

    /// The convolution by its definition, in f64.
    fn direct(x: &[f32], w: &[f32], s: &ConvShape) -> Vec<f64> {
        let mut out = vec![0f64; s.batch * s.c_out * s.output_len];
        for b in 0..s.batch {
            for o in 0..s.c_out {
                for t in 0..s.output_len {
                    let mut sum = 0f64;
                    for c in 0..s.c_in {
                        for k in 0..s.kernel {
                            let i = (s.stride * t + k) as isize - s.padding as isize;
                            if (0..s.input_len as isize).contains(&i) {
                                sum += f64::from(w[(o * s.c_in + c) * s.kernel + k])
                                    * f64::from(x[(b * s.c_in + c) * s.input_len + i as usize]);
                            }
                        }
                    }
                    out[(b * s.c_out + o) * s.output_len + t] = sum;
                }
            }
        }
        out
    }

    fn dot(a: &[f32], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(&a, &b)| f64::from(a) * b).sum()
    }

    const SHAPES: [(usize, usize, usize, usize, usize, usize, usize); 6] = [
        // batch, c_in, c_out, kernel, stride, padding, input_len
        (3, 4, 5, 5, 2, 2, 16),
        (2, 3, 4, 5, 1, 2, 9),
        (2, 2, 3, 3, 3, 1, 11),
        (1, 3, 2, 4, 2, 0, 10),
        (4, 1, 1, 5, 2, 2, 3),
        (2, 5, 3, 1, 1, 0, 7),
    ];

    #[test]
    fn forward_matches_the_definition() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for &(b, ci, co, k, s, p, l) in &SHAPES {
            let shape = shape(b, ci, co, k, s, p, l);
            let x = random(&mut rng, b * ci * l);
            let w = random(&mut rng, co * ci * k);
            let ours = forward(&x, &w, &shape).unwrap();
            let reference = direct(&x, &w, &shape);
            assert_eq!(ours.len(), reference.len());
            for (a, r) in ours.iter().zip(&reference) {
                assert!((f64::from(*a) - r).abs() < 1e-5, "{shape:?}: {a} vs {r}");
            }
        }
    }

    /// `<A x, g> = <x, Aᵀ g>` and `<A_W x, g> = <W, ∂_W>` for the weight gradient, both
    /// against the f64 definition of `A`.
    #[test]
    fn adjoint_and_weight_gradient_satisfy_their_identities() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for &(b, ci, co, k, s, p, l) in &SHAPES {
            let shape = shape(b, ci, co, k, s, p, l);
            let x = random(&mut rng, b * ci * l);
            let w = random(&mut rng, co * ci * k);
            let g = random(&mut rng, b * co * shape.output_len);
            let ax_g = dot(&g, &direct(&x, &w, &shape));
            let adj = adjoint(&g, &w, &shape).unwrap();
            assert_eq!(adj.len(), x.len());
            let x_atg = dot(&x, &adj.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
            assert!(
                (ax_g - x_atg).abs() < 1e-4 * (1.0 + ax_g.abs()),
                "{shape:?}"
            );
            let dw = weight_gradient(&x, &g, &shape).unwrap();
            // Each weight's gradient by its definition: the output for a unit weight.
            for (index, &value) in dw.iter().enumerate() {
                let mut unit = vec![0f32; w.len()];
                unit[index] = 1.0;
                let expected = dot(&g, &direct(&x, &unit, &shape));
                assert!(
                    (f64::from(value) - expected).abs() < 1e-4,
                    "{shape:?} weight {index}"
                );
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        // The im2col form (stride 2) and the shifted form (stride 1).
        same_bits_on_one_and_two_threads(shape(64, 50, 128, 5, 2, 2, 32));
        same_bits_on_one_and_two_threads(shape(64, 128, 64, 5, 1, 2, 32));
    }

    fn same_bits_on_one_and_two_threads(shape: ConvShape) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (b, ci, co, l) = (shape.batch, shape.c_in, shape.c_out, shape.input_len);
        let x = random(&mut rng, b * ci * l);
        let w = random(&mut rng, co * ci * shape.kernel);
        let g = random(&mut rng, b * co * shape.output_len);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    forward(&x, &w, &shape).unwrap(),
                    adjoint(&g, &w, &shape).unwrap(),
                    weight_gradient(&x, &g, &shape).unwrap(),
                )
            })
        };
        let one = run(1);
        let two = run(2);
        let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one.0), bits(&two.0));
        assert_eq!(bits(&one.1), bits(&two.1));
        assert_eq!(bits(&one.2), bits(&two.2));
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let shape = shape(2, 3, 4, 5, 2, 2, 8);
        assert!(forward(&[0.0; 47], &[0.0; 60], &shape).is_none());
        assert!(forward(&[0.0; 48], &[0.0; 59], &shape).is_none());
        assert!(adjoint(&[0.0; 31], &[0.0; 60], &shape).is_none());
        assert!(weight_gradient(&[0.0; 48], &[0.0; 33], &shape).is_none());
        assert!(forward(&[0.0; 48], &[0.0; 60], &shape).is_some());
    }
}
