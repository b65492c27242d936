//! A decoded numeric array, as MAT and NPY files hold them, and its conversion to activity
//! matrices (neurons x time).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Which axis of a 2-D array file is time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Rows are time points (bins or frames), columns are neurons (MATLAB and CSV habit).
    TimeByNeurons,
    /// Rows are neurons, columns are time points (suite2p and NumPy habit).
    NeuronsByTime,
}

impl Layout {
    /// The name used on the command line and in provenance.
    pub fn name(self) -> &'static str {
        match self {
            Self::TimeByNeurons => "time-by-neurons",
            Self::NeuronsByTime => "neurons-by-time",
        }
    }
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "time-by-neurons" => Ok(Self::TimeByNeurons),
            "neurons-by-time" => Ok(Self::NeuronsByTime),
            other => Err(format!(
                "unknown layout '{other}': use time-by-neurons or neurons-by-time"
            )),
        }
    }
}

/// Element type of a decoded array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// Logical / boolean.
    Bool,
    /// 8-bit unsigned integer.
    U8,
    /// 16-bit unsigned integer.
    U16,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit unsigned integer.
    U64,
    /// 8-bit signed integer.
    I8,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl Dtype {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::Bool | Self::U8 | Self::I8 => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 => 8,
        }
    }

    /// Whether the type holds whole numbers only (booleans included).
    pub fn is_integral(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }

    /// A short name (`uint8`, `float64`, ...), as NumPy spells them.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::U8 => "uint8",
            Self::U16 => "uint16",
            Self::U32 => "uint32",
            Self::U64 => "uint64",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::I64 => "int64",
            Self::F32 => "float32",
            Self::F64 => "float64",
        }
    }
}

/// The elements of a decoded array, in the array's storage order.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum NumericData {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Apply `$body` to the vector inside any `NumericData` variant.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            NumericData::Bool($v) => $body,
            NumericData::U8($v) => $body,
            NumericData::U16($v) => $body,
            NumericData::U32($v) => $body,
            NumericData::U64($v) => $body,
            NumericData::I8($v) => $body,
            NumericData::I16($v) => $body,
            NumericData::I32($v) => $body,
            NumericData::I64($v) => $body,
            NumericData::F32($v) => $body,
            NumericData::F64($v) => $body,
        }
    };
}

impl NumericData {
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            Self::Bool(_) => Dtype::Bool,
            Self::U8(_) => Dtype::U8,
            Self::U16(_) => Dtype::U16,
            Self::U32(_) => Dtype::U32,
            Self::U64(_) => Dtype::U64,
            Self::I8(_) => Dtype::I8,
            Self::I16(_) => Dtype::I16,
            Self::I32(_) => Dtype::I32,
            Self::I64(_) => Dtype::I64,
            Self::F32(_) => Dtype::F32,
            Self::F64(_) => Dtype::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as f64 (exact for every type but 64-bit integers above 2^53), or `None`
    /// past the end.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        match self {
            Self::Bool(v) => v.get(i).map(|&b| f64::from(u8::from(b))),
            Self::U8(v) => v.get(i).map(|&x| f64::from(x)),
            Self::U16(v) => v.get(i).map(|&x| f64::from(x)),
            Self::U32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::U64(v) => v.get(i).map(|&x| x as f64),
            Self::I8(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I16(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::I64(v) => v.get(i).map(|&x| x as f64),
            Self::F32(v) => v.get(i).map(|&x| f64::from(x)),
            Self::F64(v) => v.get(i).copied(),
        }
    }
}

/// Storage order of the elements of a multi-dimensional array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Last index varies fastest (C, NumPy default).
    RowMajor,
    /// First index varies fastest (Fortran, MATLAB).
    ColumnMajor,
}

/// A numeric array read from a file: its shape, storage order and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericArray {
    /// The shape as the file states it.
    pub shape: Vec<usize>,
    /// The storage order of `data`.
    pub order: Order,
    /// The elements.
    pub data: NumericData,
}

/// Axis names used in error messages about one element.
#[derive(Debug, Clone, Copy)]
pub enum TimeAxis {
    /// Time points are bins.
    Bins,
    /// Time points are frames.
    Frames,
}

impl TimeAxis {
    fn singular(self) -> &'static str {
        match self {
            Self::Bins => "bin",
            Self::Frames => "frame",
        }
    }
}

impl NumericArray {
    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.data.dtype()
    }

    /// The shape with the text NumPy would print, e.g. `(283041, 50)`.
    pub fn shape_text(&self) -> String {
        shape_text(&self.shape)
    }

    /// Rows and columns of the array seen as a matrix: 1-D arrays are one row, dimensions of
    /// size one beyond the second are dropped; anything still above two dimensions, or empty,
    /// is refused.
    pub fn matrix_dims(&self) -> Result<(usize, usize), String> {
        let dims: Vec<usize> = match self.shape.len() {
            0 => return Err("the array is a scalar, not a 2-D array".into()),
            1 => vec![1, self.shape[0]],
            2 => self.shape.clone(),
            _ => {
                let kept: Vec<usize> = self.shape.iter().copied().filter(|&d| d != 1).collect();
                if kept.len() > 2 {
                    return Err(format!(
                        "the array has shape {}: a 2-D array (time x neurons) is needed",
                        self.shape_text()
                    ));
                }
                let mut kept = kept;
                while kept.len() < 2 {
                    kept.insert(0, 1);
                }
                kept
            }
        };
        let (rows, cols) = (dims[0], dims[1]);
        if rows == 0 || cols == 0 {
            return Err(format!("the array is empty (shape {})", self.shape_text()));
        }
        Ok((rows, cols))
    }

    /// The (neurons, time points) of this array under `layout`; 1-D arrays are one neuron.
    pub fn neurons_and_time(&self, layout: Layout) -> Result<(usize, usize), String> {
        let (rows, cols) = self.matrix_dims()?;
        if self.shape.len() == 1 {
            return Ok((1, cols));
        }
        Ok(match layout {
            Layout::TimeByNeurons => (cols, rows),
            Layout::NeuronsByTime => (rows, cols),
        })
    }

    /// Flat index of matrix element (row, col) of the [`matrix_dims`](Self::matrix_dims)
    /// `rows` x `cols` view.
    pub(crate) fn flat_index(&self, rows: usize, cols: usize, row: usize, col: usize) -> usize {
        match self.order {
            Order::RowMajor => row * cols + col,
            Order::ColumnMajor => col * rows + row,
        }
    }

    /// Convert to a neurons x time matrix, converting each element with `convert`, which
    /// returns the reason an element is refused.
    fn to_matrix<T: Clone + Default>(
        &self,
        layout: Layout,
        axis: TimeAxis,
        convert: impl Fn(usize) -> Result<T, String>,
    ) -> Result<Array2<T>, String> {
        let (rows, cols) = self.matrix_dims()?;
        let (neurons, time) = self.neurons_and_time(layout)?;
        let transposed = self.shape.len() != 1 && layout == Layout::TimeByNeurons;
        let mut out = Array2::<T>::default((neurons, time));
        for ((n, t), slot) in out.indexed_iter_mut() {
            let (row, col) = if transposed { (t, n) } else { (n, t) };
            let i = self.flat_index(rows, cols, row, col);
            *slot = convert(i)
                .map_err(|why| format!("{why} at {} {t}, neuron {n} (0-based)", axis.singular()))?;
        }
        Ok(out)
    }

    /// Binned spike counts (neurons x bins): every element must be a finite, non-negative
    /// whole number that fits in 32 bits.
    pub fn to_counts(&self, layout: Layout) -> Result<Array2<u32>, String> {
        let data = &self.data;
        let too_big = |v: String| format!("count {v} is larger than 4294967295");
        self.to_matrix(layout, TimeAxis::Bins, |i| match data {
            NumericData::Bool(v) => Ok(u32::from(v[i])),
            NumericData::U8(v) => Ok(u32::from(v[i])),
            NumericData::U16(v) => Ok(u32::from(v[i])),
            NumericData::U32(v) => Ok(v[i]),
            NumericData::U64(v) => u32::try_from(v[i]).map_err(|_| too_big(v[i].to_string())),
            NumericData::I8(v) => signed_count(i64::from(v[i])),
            NumericData::I16(v) => signed_count(i64::from(v[i])),
            NumericData::I32(v) => signed_count(i64::from(v[i])),
            NumericData::I64(v) => signed_count(v[i]),
            NumericData::F32(v) => float_count(f64::from(v[i])),
            NumericData::F64(v) => float_count(v[i]),
        })
        .map_err(|why| {
            if why.starts_with("non-integer") {
                format!(
                    "{why}: binned counts must be whole numbers (import continuous data with \
                     --kind traces)"
                )
            } else {
                why
            }
        })
    }

    /// Continuous traces (neurons x frames) as f32: every element must be finite.
    pub fn to_traces(&self, layout: Layout) -> Result<Array2<f32>, String> {
        let data = &self.data;
        self.to_matrix(layout, TimeAxis::Frames, |i| {
            let value = data.get_f64(i).unwrap_or(f64::NAN);
            if value.is_nan() {
                return Err("NaN".into());
            }
            if value.is_infinite() {
                return Err(format!("{value}"));
            }
            let narrowed = value as f32;
            if narrowed.is_infinite() {
                return Err(format!("value {value} does not fit in float32"));
            }
            Ok(narrowed)
        })
        .map_err(|why| format!("{why}: traces must be finite numbers"))
    }
}

fn signed_count(value: i64) -> Result<u32, String> {
    if value < 0 {
        return Err(format!("negative count {value}"));
    }
    u32::try_from(value).map_err(|_| format!("count {value} is larger than 4294967295"))
}

fn float_count(value: f64) -> Result<u32, String> {
    if value.is_nan() {
        Err("NaN where a spike count is expected".into())
    } else if value.is_infinite() {
        Err(format!("{value} where a spike count is expected"))
    } else if value < 0.0 {
        Err(format!("negative count {value}"))
    } else if value.fract() != 0.0 {
        Err(format!("non-integer count {value}"))
    } else if value > f64::from(u32::MAX) {
        Err(format!("count {value} is larger than 4294967295"))
    } else {
        Ok(value as u32)
    }
}

/// A shape written as NumPy prints it: `(3, 4)`, `(7,)`.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// The number of elements of `shape`, refusing overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(shape: Vec<usize>, order: Order, data: NumericData) -> NumericArray {
        NumericArray { shape, order, data }
    }

    #[test]
    fn column_major_time_by_neurons_is_transposed_to_neurons_by_time() {
        // MATLAB [1 2 3; 4 5 6] (2 bins x 3 neurons) stored column-major: 1 4 2 5 3 6.
        let a = array(
            vec![2, 3],
            Order::ColumnMajor,
            NumericData::U8(vec![1, 4, 2, 5, 3, 6]),
        );
        let counts = a.to_counts(Layout::TimeByNeurons).unwrap();
        assert_eq!(counts.dim(), (3, 2));
        assert_eq!(counts.row(0).to_vec(), vec![1, 4]);
        assert_eq!(counts.row(2).to_vec(), vec![3, 6]);
        let same = a.to_counts(Layout::NeuronsByTime).unwrap();
        assert_eq!(same.dim(), (2, 3));
        assert_eq!(same.row(1).to_vec(), vec![4, 5, 6]);
    }

    #[test]
    fn row_major_orders_agree_with_column_major() {
        let c = array(
            vec![2, 3],
            Order::RowMajor,
            NumericData::I32(vec![1, 2, 3, 4, 5, 6]),
        );
        let f = array(
            vec![2, 3],
            Order::ColumnMajor,
            NumericData::I32(vec![1, 4, 2, 5, 3, 6]),
        );
        for layout in [Layout::TimeByNeurons, Layout::NeuronsByTime] {
            assert_eq!(c.to_counts(layout).unwrap(), f.to_counts(layout).unwrap());
        }
    }

    #[test]
    fn refused_counts_name_the_element() {
        let a = array(
            vec![2, 2],
            Order::RowMajor,
            NumericData::F64(vec![0.0, 1.0, 0.5, 2.0]),
        );
        let err = a.to_counts(Layout::TimeByNeurons).unwrap_err();
        assert!(
            err.contains("non-integer count 0.5 at bin 1, neuron 0"),
            "{err}"
        );
        let a = array(vec![1, 2], Order::RowMajor, NumericData::I16(vec![0, -3]));
        let err = a.to_counts(Layout::TimeByNeurons).unwrap_err();
        assert!(
            err.contains("negative count -3 at bin 0, neuron 1"),
            "{err}"
        );
        let a = array(
            vec![1, 2],
            Order::RowMajor,
            NumericData::F32(vec![f32::NAN, 1.0]),
        );
        assert!(
            a.to_counts(Layout::TimeByNeurons)
                .unwrap_err()
                .starts_with("NaN")
        );
        let a = array(
            vec![1, 2],
            Order::RowMajor,
            NumericData::F32(vec![1.0, f32::INFINITY]),
        );
        assert!(
            a.to_counts(Layout::TimeByNeurons)
                .unwrap_err()
                .starts_with("inf")
        );
    }

    #[test]
    fn traces_refuse_non_finite_values() {
        let a = array(
            vec![3],
            Order::RowMajor,
            NumericData::F64(vec![0.5, f64::NEG_INFINITY, 1.0]),
        );
        let err = a.to_traces(Layout::NeuronsByTime).unwrap_err();
        assert!(err.contains("-inf at frame 1, neuron 0"), "{err}");
        let a = array(vec![1], Order::RowMajor, NumericData::F64(vec![1e300]));
        assert!(
            a.to_traces(Layout::NeuronsByTime)
                .unwrap_err()
                .contains("float32")
        );
    }

    #[test]
    fn empty_and_high_rank_arrays_are_refused() {
        let a = array(vec![0, 5], Order::RowMajor, NumericData::U8(vec![]));
        assert!(a.matrix_dims().unwrap_err().contains("empty"));
        let a = array(vec![2, 2, 2], Order::RowMajor, NumericData::U8(vec![0; 8]));
        assert!(a.matrix_dims().unwrap_err().contains("(2, 2, 2)"));
        let a = array(vec![1, 2, 3], Order::RowMajor, NumericData::U8(vec![0; 6]));
        assert_eq!(a.matrix_dims().unwrap(), (2, 3));
    }

    #[test]
    fn element_count_refuses_overflow() {
        assert_eq!(element_count(&[3, 4]), Some(12));
        assert_eq!(element_count(&[usize::MAX, 2]), None);
    }
}
