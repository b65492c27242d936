//! Reader for MATLAB level-5 MAT-files (the format of `save -v6` / `-v7`, and of
//! `scipy.io.savemat`): numeric and logical arrays, compressed or not, either byte order.
//!
//! Format reference: MathWorks, "MAT-File Format" (matfile_format.pdf), chapter 1. A file is a
//! 128-byte header (text, subsystem offset, version 0x0100, endian indicator `IM` or `MI`)
//! followed by data elements. Each element has an 8-byte tag (type, byte count) or a 4-byte
//! "small element" tag holding up to 4 data bytes; elements are padded to 8 bytes, except inside
//! `miCOMPRESSED` elements, whose zlib stream holds one uncompressed element. Arrays are
//! `miMATRIX` elements: array flags (class), dimensions, name, real part, optional imaginary
//! part, stored in column-major order.
//!
//! Every length read from the file is checked against the bytes actually present before any
//! allocation, so truncated or forged files give an error, never a panic or a huge allocation.

use std::io::Read;

use flate2::read::ZlibDecoder;

use crate::array::{NumericArray, NumericData, Order, element_count, shape_text};

/// Data-element types (miXXX) of the MAT v5 format.
mod mi {
    pub const INT8: u32 = 1;
    pub const UINT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const UINT16: u32 = 4;
    pub const INT32: u32 = 5;
    pub const UINT32: u32 = 6;
    pub const SINGLE: u32 = 7;
    pub const DOUBLE: u32 = 9;
    pub const INT64: u32 = 12;
    pub const UINT64: u32 = 13;
    pub const MATRIX: u32 = 14;
    pub const COMPRESSED: u32 = 15;
    pub const UTF8: u32 = 16;
}

/// Array classes (mxXXX_CLASS) of the MAT v5 format.
mod mx {
    pub const DOUBLE: u8 = 6;
    pub const SINGLE: u8 = 7;
    pub const INT8: u8 = 8;
    pub const UINT8: u8 = 9;
    pub const INT16: u8 = 10;
    pub const UINT16: u8 = 11;
    pub const INT32: u8 = 12;
    pub const UINT32: u8 = 13;
    pub const INT64: u8 = 14;
    pub const UINT64: u8 = 15;
}

const FLAG_COMPLEX: u32 = 0x0800;
const FLAG_LOGICAL: u32 = 0x0200;

/// A variable found in a MAT-file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatVariable {
    /// The variable's name.
    pub name: String,
    /// Its MATLAB class (`double`, `uint8`, `logical`, `cell`, `struct`, ...).
    pub class: String,
    /// Its dimensions.
    pub dims: Vec<usize>,
    /// The values, for numeric and logical arrays; otherwise why it cannot be imported.
    pub content: Result<NumericArray, String>,
}

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Self::Little => u32::from_le_bytes(b),
            Self::Big => u32::from_be_bytes(b),
        }
    }
}

/// A bounds-checked cursor over a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    endian: Endian,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "truncated: {what} needs {n} bytes at offset {} but only {} remain",
                self.pos,
                self.remaining()
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(self.endian.u32([b[0], b[1], b[2], b[3]]))
    }

    /// Read one data element: (type, payload). `padded` says whether the element is followed by
    /// padding to an 8-byte boundary (true everywhere but at the end of a stream).
    fn element(&mut self, what: &str) -> Result<(u32, &'a [u8]), String> {
        let first = self.u32(what)?;
        if first >> 16 != 0 {
            // Small data element: byte count in the upper half, type in the lower half, the
            // data in the next four bytes.
            let n = (first >> 16) as usize;
            let ty = first & 0xffff;
            if n > 4 {
                return Err(format!(
                    "corrupt small data element in {what} ({n} bytes > 4)"
                ));
            }
            let data = self.take(4, what)?;
            return Ok((ty, &data[..n]));
        }
        let n = self.u32(what)? as usize;
        let data = self.take(n, what)?;
        if first != mi::COMPRESSED {
            let pad = (8 - n % 8) % 8;
            // Writers pad every element; a file may legitimately end without the final padding.
            let pad = pad.min(self.remaining());
            self.pos += pad;
        }
        Ok((first, data))
    }
}

/// The byte order of a MAT v5 file, from its 128-byte header.
fn read_header(bytes: &[u8]) -> Result<Endian, String> {
    if bytes.len() >= 19 && bytes.starts_with(b"MATLAB 7.3 MAT-file") {
        return Err(
            "MATLAB v7.3 (HDF5) MAT-files are not supported: re-save in MATLAB with \
             save(..., '-v7') or export the array to NPY"
                .into(),
        );
    }
    if bytes.len() < 128 {
        return Err(format!(
            "not a MAT-file: {} bytes is shorter than the 128-byte MAT v5 header",
            bytes.len()
        ));
    }
    let endian = match &bytes[126..128] {
        b"IM" => Endian::Little,
        b"MI" => Endian::Big,
        _ => {
            return Err(
                "not a MATLAB v5 MAT-file (no 'IM'/'MI' endian indicator at byte 126; \
                 v4 and v7.3 files are not supported)"
                    .into(),
            );
        }
    };
    let version = match endian {
        Endian::Little => u16::from_le_bytes([bytes[124], bytes[125]]),
        Endian::Big => u16::from_be_bytes([bytes[124], bytes[125]]),
    };
    if version != 0x0100 {
        return Err(format!(
            "unsupported MAT-file version 0x{version:04x} (expected 0x0100)"
        ));
    }
    Ok(endian)
}

/// List the variables of a MAT v5 file held in memory, decoding the numeric ones.
pub fn parse(bytes: &[u8]) -> Result<Vec<MatVariable>, String> {
    let endian = read_header(bytes)?;
    let mut cur = Cursor {
        bytes,
        pos: 128,
        endian,
    };
    let mut vars = Vec::new();
    while cur.remaining() > 0 {
        let index = vars.len() + 1;
        let (ty, payload) = cur.element(&format!("data element {index}"))?;
        match ty {
            mi::MATRIX => vars.push(parse_matrix(payload, endian)?),
            mi::COMPRESSED => {
                let inner = inflate_element(payload, endian, index)?;
                let mut inner_cur = Cursor {
                    bytes: &inner,
                    pos: 0,
                    endian,
                };
                let (inner_ty, inner_payload) =
                    inner_cur.element(&format!("compressed data element {index}"))?;
                if inner_ty != mi::MATRIX {
                    return Err(format!(
                        "compressed data element {index} holds type {inner_ty}, not an array"
                    ));
                }
                vars.push(parse_matrix(inner_payload, endian)?);
            }
            // Other top-level elements (e.g. subsystem data) carry no variable.
            _ => {}
        }
    }
    Ok(vars)
}

/// Decompress one `miCOMPRESSED` element, reading no more than the inner tag announces.
fn inflate_element(payload: &[u8], endian: Endian, index: usize) -> Result<Vec<u8>, String> {
    let corrupt =
        |e: std::io::Error| format!("compressed data element {index} is corrupt or truncated: {e}");
    let mut decoder = ZlibDecoder::new(payload);
    let mut tag = [0u8; 8];
    decoder.read_exact(&mut tag).map_err(corrupt)?;
    let first = endian.u32([tag[0], tag[1], tag[2], tag[3]]);
    let inner_len = if first >> 16 != 0 {
        0
    } else {
        u64::from(endian.u32([tag[4], tag[5], tag[6], tag[7]]))
    };
    let mut out = tag.to_vec();
    decoder
        .take(inner_len)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    if (out.len() as u64) < 8 + inner_len {
        return Err(format!(
            "truncated: compressed data element {index} announces {inner_len} bytes but \
             decompresses to {}",
            out.len() - 8
        ));
    }
    Ok(out)
}

fn class_name(class: u8, logical: bool) -> String {
    if logical {
        return "logical".into();
    }
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        16 => "function handle",
        17 => "opaque object",
        _ => "unknown class",
    }
    .into()
}

/// Parse the body of an `miMATRIX` element.
fn parse_matrix(body: &[u8], endian: Endian) -> Result<MatVariable, String> {
    let mut cur = Cursor {
        bytes: body,
        pos: 0,
        endian,
    };
    let (flags_ty, flags) = cur.element("array flags")?;
    if flags_ty != mi::UINT32 || flags.len() < 4 {
        return Err("corrupt array: array flags sub-element missing".into());
    }
    let flag_word = endian.u32([flags[0], flags[1], flags[2], flags[3]]);
    let class = (flag_word & 0xff) as u8;
    let logical = flag_word & FLAG_LOGICAL != 0;
    let complex = flag_word & FLAG_COMPLEX != 0;

    let (dims_ty, dims_bytes) = cur.element("dimensions")?;
    if dims_ty != mi::INT32 || dims_bytes.len() % 4 != 0 || dims_bytes.is_empty() {
        return Err("corrupt array: dimensions sub-element missing".into());
    }
    let mut dims = Vec::with_capacity(dims_bytes.len() / 4);
    for c in dims_bytes.chunks_exact(4) {
        let d = endian.u32([c[0], c[1], c[2], c[3]]) as i32;
        if d < 0 {
            return Err(format!("corrupt array: negative dimension {d}"));
        }
        dims.push(d as usize);
    }

    let (name_ty, name_bytes) = cur.element("array name")?;
    if name_ty != mi::INT8 && name_ty != mi::UINT8 && name_ty != mi::UTF8 {
        return Err("corrupt array: name sub-element missing".into());
    }
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let class_text = class_name(class, logical);

    // A variable that cannot be imported is still listed, so that `--var` errors can name it;
    // a corrupt numeric variable is an error for the whole file.
    let content = if !(mx::DOUBLE..=mx::UINT64).contains(&class) {
        Err(format!(
            "variable '{name}' is a {class_text} array; only numeric and logical arrays can be imported"
        ))
    } else if complex {
        Err(format!(
            "variable '{name}' is complex; only real arrays can be imported"
        ))
    } else {
        let (real_ty, real) = cur.element(&format!("values of '{name}'"))?;
        Ok(decode_values(
            &name, &dims, class, logical, real_ty, real, endian,
        )?)
    };
    Ok(MatVariable {
        name,
        class: class_text,
        dims,
        content,
    })
}

/// Decode the real part of a numeric array and convert it to its class.
fn decode_values(
    name: &str,
    dims: &[usize],
    class: u8,
    logical: bool,
    stored_ty: u32,
    bytes: &[u8],
    endian: Endian,
) -> Result<NumericArray, String> {
    let width = match stored_ty {
        mi::INT8 | mi::UINT8 => 1,
        mi::INT16 | mi::UINT16 => 2,
        mi::INT32 | mi::UINT32 | mi::SINGLE => 4,
        mi::DOUBLE | mi::INT64 | mi::UINT64 => 8,
        other => {
            return Err(format!(
                "corrupt array '{name}': values stored as unknown type {other}"
            ));
        }
    };
    let count = element_count(dims).ok_or_else(|| {
        format!(
            "corrupt array '{name}': dimensions {} overflow",
            shape_text(dims)
        )
    })?;
    if count.checked_mul(width) != Some(bytes.len()) {
        return Err(format!(
            "array '{name}' has dimensions {} that claim {count} elements, but its data holds {} \
             bytes ({} elements of {width} bytes)",
            shape_text(dims),
            bytes.len(),
            bytes.len() / width
        ));
    }
    let stored = decode_stored(stored_ty, bytes, endian);
    let data = if logical {
        NumericData::Bool(
            (0..count)
                .map(|i| stored.get_f64(i).unwrap_or(0.0) != 0.0)
                .collect(),
        )
    } else {
        cast_to_class(stored, class)
    };
    Ok(NumericArray {
        shape: dims.to_vec(),
        order: Order::ColumnMajor,
        data,
    })
}

/// Decode raw bytes of a stored miXXX type (its width already checked).
fn decode_stored(stored_ty: u32, bytes: &[u8], endian: Endian) -> NumericData {
    macro_rules! decode {
        ($t:ty, $n:expr, $variant:ident) => {{
            let v: Vec<$t> = bytes
                .chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    match endian {
                        Endian::Little => <$t>::from_le_bytes(a),
                        Endian::Big => <$t>::from_be_bytes(a),
                    }
                })
                .collect();
            NumericData::$variant(v)
        }};
    }
    match stored_ty {
        mi::INT8 => decode!(i8, 1, I8),
        mi::UINT8 => NumericData::U8(bytes.to_vec()),
        mi::INT16 => decode!(i16, 2, I16),
        mi::UINT16 => decode!(u16, 2, U16),
        mi::INT32 => decode!(i32, 4, I32),
        mi::UINT32 => decode!(u32, 4, U32),
        mi::SINGLE => decode!(f32, 4, F32),
        mi::INT64 => decode!(i64, 8, I64),
        mi::UINT64 => decode!(u64, 8, U64),
        _ => decode!(f64, 8, F64),
    }
}

/// MATLAB stores values in the smallest type that holds them (a double array of 0/1 may be
/// stored as miUINT8); convert back to the array's class.
fn cast_to_class(stored: NumericData, class: u8) -> NumericData {
    macro_rules! cast {
        ($t:ty, $variant:ident) => {{
            if let NumericData::$variant(v) = stored {
                return NumericData::$variant(v);
            }
            let n = stored.len();
            NumericData::$variant(
                (0..n)
                    .map(|i| stored.get_f64(i).unwrap_or(0.0) as $t)
                    .collect(),
            )
        }};
    }
    match class {
        mx::SINGLE => cast!(f32, F32),
        mx::INT8 => cast!(i8, I8),
        mx::UINT8 => cast!(u8, U8),
        mx::INT16 => cast!(i16, I16),
        mx::UINT16 => cast!(u16, U16),
        mx::INT32 => cast!(i32, I32),
        mx::UINT32 => cast!(u32, U32),
        mx::INT64 => cast!(i64, I64),
        mx::UINT64 => cast!(u64, U64),
        _ => cast!(f64, F64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a MAT v5 file by hand, in either byte order.
    struct MatBuilder {
        big: bool,
        out: Vec<u8>,
    }

    impl MatBuilder {
        fn new(big: bool) -> Self {
            let mut out = vec![b' '; 128];
            out[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
            out[116..124].fill(0);
            if big {
                out[124..126].copy_from_slice(&0x0100u16.to_be_bytes());
                out[126..128].copy_from_slice(b"MI");
            } else {
                out[124..126].copy_from_slice(&0x0100u16.to_le_bytes());
                out[126..128].copy_from_slice(b"IM");
            }
            Self { big, out }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn element(&self, ty: u32, data: &[u8]) -> Vec<u8> {
            let mut e = Vec::new();
            e.extend(self.u32(ty));
            e.extend(self.u32(data.len() as u32));
            e.extend(data);
            while e.len() % 8 != 0 {
                e.push(0);
            }
            e
        }
        fn matrix(
            &self,
            name: &str,
            class: u32,
            dims: &[i32],
            stored_ty: u32,
            values: &[u8],
        ) -> Vec<u8> {
            let mut body = Vec::new();
            let mut flags = Vec::new();
            flags.extend(self.u32(class));
            flags.extend(self.u32(0));
            body.extend(self.element(mi::UINT32, &flags));
            let dim_bytes: Vec<u8> = dims.iter().flat_map(|&d| self.u32(d as u32)).collect();
            body.extend(self.element(mi::INT32, &dim_bytes));
            if name.len() <= 4 {
                // Small data element form for short names.
                let mut small = Vec::new();
                small.extend(self.u32(((name.len() as u32) << 16) | mi::INT8));
                let mut padded = name.as_bytes().to_vec();
                padded.resize(4, 0);
                small.extend(padded);
                body.extend(small);
            } else {
                body.extend(self.element(mi::INT8, name.as_bytes()));
            }
            body.extend(self.element(stored_ty, values));
            self.element(mi::MATRIX, &body)
        }
        fn push(&mut self, element: Vec<u8>) {
            self.out.extend(element);
        }
    }

    #[test]
    fn parses_both_byte_orders_and_small_name_elements() {
        for big in [false, true] {
            let mut b = MatBuilder::new(big);
            // 2 x 3 double stored as int16 (as MATLAB does for whole numbers), column-major.
            let vals: Vec<u8> = [1i16, 4, 2, 5, 3, -6]
                .iter()
                .flat_map(|v| {
                    if big {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    }
                })
                .collect();
            let m = b.matrix("x", mx::DOUBLE as u32, &[2, 3], mi::INT16, &vals);
            b.push(m);
            let vars = parse(&b.out).unwrap();
            assert_eq!(vars.len(), 1);
            assert_eq!(vars[0].name, "x");
            assert_eq!(vars[0].class, "double");
            let a = vars[0].content.clone().unwrap();
            assert_eq!(a.shape, vec![2, 3]);
            assert_eq!(
                a.data,
                NumericData::F64(vec![1.0, 4.0, 2.0, 5.0, 3.0, -6.0])
            );
        }
    }

    #[test]
    fn compressed_elements_are_inflated() {
        use flate2::{Compression, write::ZlibEncoder};
        use std::io::Write;
        let mut b = MatBuilder::new(false);
        let m = b.matrix(
            "spikes",
            (mx::UINT8 as u32) | FLAG_LOGICAL,
            &[3, 1],
            mi::UINT8,
            &[1, 0, 1],
        );
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&m).unwrap();
        let compressed = z.finish().unwrap();
        let mut el = Vec::new();
        el.extend(b.u32(mi::COMPRESSED));
        el.extend(b.u32(compressed.len() as u32));
        el.extend(&compressed);
        b.push(el);
        let vars = parse(&b.out).unwrap();
        assert_eq!(vars[0].class, "logical");
        assert_eq!(
            vars[0].content.clone().unwrap().data,
            NumericData::Bool(vec![true, false, true])
        );
    }

    #[test]
    fn forged_dimensions_are_refused_before_allocation() {
        let mut b = MatBuilder::new(false);
        let m = b.matrix(
            "big",
            mx::DOUBLE as u32,
            &[1_000_000, 1_000_000],
            mi::DOUBLE,
            &[0; 8],
        );
        b.push(m);
        let err = parse(&b.out).unwrap_err();
        assert!(
            err.contains("(1000000, 1000000)") && err.contains("claim"),
            "{err}"
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut b = MatBuilder::new(false);
        let vals: Vec<u8> = (0..12u8).collect();
        let m = b.matrix("data", mx::UINT8 as u32, &[4, 3], mi::UINT8, &vals);
        b.push(m);
        let full = b.out.clone();
        assert!(parse(&full).is_ok());
        for cut in 0..full.len() {
            let r = parse(&full[..cut]);
            let listed_data = matches!(&r, Ok(v) if !v.is_empty());
            assert!(!listed_data, "cut at {cut} parsed as {r:?}");
        }
    }

    #[test]
    fn non_numeric_variables_are_listed_with_a_reason() {
        let mut b = MatBuilder::new(false);
        let m = b.matrix("txt", 4, &[1, 2], mi::UINT16, &[104, 0, 105, 0]);
        b.push(m);
        let vars = parse(&b.out).unwrap();
        assert_eq!(vars[0].class, "char");
        assert!(vars[0].content.as_ref().unwrap_err().contains("char array"));
    }

    #[test]
    fn v73_and_garbage_headers_are_named() {
        let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".to_vec();
        v73.resize(512, 0);
        assert!(parse(&v73).unwrap_err().contains("v7.3"));
        assert!(parse(&[0u8; 200]).unwrap_err().contains("not a MATLAB v5"));
        assert!(parse(b"hello").unwrap_err().contains("shorter"));
    }
}
