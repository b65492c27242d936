//! Reader and writer for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0) and reader for `.npz`
//! archives.
//!
//! Format reference: NumPy Enhancement Proposal 1 and `numpy/lib/format.py`: the magic
//! `\x93NUMPY`, a major and minor version byte, a little-endian header length (u16 for 1.0, u32
//! after), an ASCII (3.0: UTF-8) Python dict literal with `descr`, `fortran_order` and `shape`,
//! then the raw elements. Only plain numeric and boolean dtypes are read; object arrays (which
//! is how NumPy stores ragged lists), strings, structured and complex dtypes are refused with a
//! reason.

use std::io::{Read, Write};

use crate::array::{Dtype, NumericArray, NumericData, Order, element_count, shape_text};

const MAGIC: &[u8] = b"\x93NUMPY";
/// The largest header NumPy itself writes or reads by default is far below this.
const MAX_HEADER_LEN: usize = 1 << 20;

/// Why an NPY stream could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyProblem {
    /// The stream is intact but holds a dtype that is not imported (object, string, complex,
    /// structured, ...).
    Unsupported(String),
    /// The stream is not NPY, or is corrupt or truncated.
    Corrupt(String),
}

impl std::fmt::Display for NpyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported(m) | Self::Corrupt(m) => f.write_str(m),
        }
    }
}

impl From<String> for NpyProblem {
    fn from(message: String) -> Self {
        Self::Corrupt(message)
    }
}

impl From<&str> for NpyProblem {
    fn from(message: &str) -> Self {
        Self::Corrupt(message.to_string())
    }
}

/// The parsed header of an NPY stream.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: Dtype,
    /// Whether multi-byte elements are big-endian.
    pub big_endian: bool,
    /// Storage order.
    pub order: Order,
    /// Shape.
    pub shape: Vec<usize>,
}

impl NpyHeader {
    /// Number of data bytes the header announces, refusing overflow.
    pub fn data_len(&self) -> Result<u64, String> {
        element_count(&self.shape)
            .and_then(|n| n.checked_mul(self.dtype.size()))
            .map(|n| n as u64)
            .ok_or_else(|| format!("shape {} overflows", shape_text(&self.shape)))
    }
}

/// Read the magic, version and header dict from `reader`; returns the header and the number
/// of bytes consumed.
pub fn read_header(reader: &mut impl Read) -> Result<(NpyHeader, u64), NpyProblem> {
    let (text, consumed) = read_header_text(reader)?;
    let header = parse_header_dict(&text)?;
    Ok((header, consumed))
}

/// The pickled object behind an object NPY (what `numpy.save` writes for a dict, e.g.
/// suite2p's `ops.npy`): the bytes after its header, refused for any other dtype.
pub(crate) fn object_payload(bytes: &[u8]) -> Result<&[u8], NpyProblem> {
    let mut reader = bytes;
    let (text, consumed) = read_header_text(&mut reader)?;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !compact.contains("'descr':'|O'") {
        return Err("not an object array (a pickled Python value)"
            .to_string()
            .into());
    }
    Ok(&bytes[consumed as usize..])
}

/// Read the magic, version and header text from `reader`; returns the text and the number of
/// bytes consumed.
fn read_header_text(reader: &mut impl Read) -> Result<(String, u64), NpyProblem> {
    let mut prefix = [0u8; 8];
    reader
        .read_exact(&mut prefix)
        .map_err(|_| "not an NPY file: shorter than the 8-byte preamble".to_string())?;
    if &prefix[..6] != MAGIC {
        return Err("not an NPY file (missing the \\x93NUMPY magic)".into());
    }
    let major = prefix[6];
    let (header_len, consumed) = match major {
        1 => {
            let mut b = [0u8; 2];
            reader
                .read_exact(&mut b)
                .map_err(|_| "truncated NPY preamble".to_string())?;
            (usize::from(u16::from_le_bytes(b)), 10u64)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader
                .read_exact(&mut b)
                .map_err(|_| "truncated NPY preamble".to_string())?;
            (u32::from_le_bytes(b) as usize, 12u64)
        }
        v => return Err(format!("unsupported NPY format version {v}.{}", prefix[7]).into()),
    };
    if header_len > MAX_HEADER_LEN {
        return Err(
            format!("NPY header claims {header_len} bytes; refusing a header over 1 MiB").into(),
        );
    }
    let mut text = vec![0u8; header_len];
    reader.read_exact(&mut text).map_err(|_| {
        format!("truncated: the NPY header announces {header_len} bytes that are not all there")
    })?;
    let text = String::from_utf8(text).map_err(|_| "NPY header is not valid text".to_string())?;
    Ok((text, consumed + header_len as u64))
}

/// Parse the Python dict literal of an NPY header.
fn parse_header_dict(text: &str) -> Result<NpyHeader, NpyProblem> {
    let mut p = DictParser {
        s: text.as_bytes(),
        pos: 0,
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.skip_ws();
    p.consume(b'{')?;
    loop {
        p.skip_ws();
        if p.peek() == Some(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.consume(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => {
                if p.peek() == Some(b'[') {
                    return Err(NpyProblem::Unsupported(
                        "structured (record) dtypes are not supported; save a plain numeric array"
                            .into(),
                    ));
                }
                descr = Some(p.string()?);
            }
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key '{other}' in NPY header").into()),
        }
        p.skip_ws();
        if p.peek() == Some(b',') {
            p.pos += 1;
        }
    }
    let descr = descr.ok_or("NPY header has no 'descr'")?;
    let fortran = fortran.ok_or("NPY header has no 'fortran_order'")?;
    let shape = shape.ok_or("NPY header has no 'shape'")?;
    let (dtype, big_endian) = parse_descr(&descr).map_err(NpyProblem::Unsupported)?;
    Ok(NpyHeader {
        dtype,
        big_endian,
        order: if fortran {
            Order::ColumnMajor
        } else {
            Order::RowMajor
        },
        shape,
    })
}

/// Map a NumPy type string (`<f8`, `|u1`, `>i4`, `|b1`, ...) to a dtype and byte order.
fn parse_descr(descr: &str) -> Result<(Dtype, bool), String> {
    let bytes = descr.as_bytes();
    if bytes.len() < 2 {
        return Err(format!("unknown NPY dtype '{descr}'"));
    }
    let (big_endian, rest) = match bytes[0] {
        b'<' | b'|' | b'=' => (false, &descr[1..]),
        b'>' => (true, &descr[1..]),
        _ => (false, descr),
    };
    let dtype = match rest {
        "b1" | "?" => Dtype::Bool,
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "u8" => Dtype::U64,
        "i1" => Dtype::I8,
        "i2" => Dtype::I16,
        "i4" => Dtype::I32,
        "i8" => Dtype::I64,
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        "O" => {
            return Err(
                "dtype object (ragged lists or Python objects) cannot be imported; \
                 save a rectangular numeric array"
                    .into(),
            );
        }
        other => {
            let what = match other.as_bytes().first() {
                Some(b'c') => "complex",
                Some(b'U') | Some(b'S') => "string",
                Some(b'M') | Some(b'm') => "date/time",
                Some(b'f') => "float of this width",
                _ => "this",
            };
            return Err(format!(
                "dtype '{descr}' is not supported ({what} data); use bool, integers, float32 or float64"
            ));
        }
    };
    Ok((dtype, big_endian))
}

struct DictParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl DictParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }
    fn consume(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "malformed NPY header (expected '{}' at {})",
                c as char, self.pos
            ))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed NPY header (expected a string at {})",
                    self.pos
                ));
            }
        };
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c != quote) {
            self.pos += 1;
        }
        let end = self.pos;
        self.consume(quote)?;
        Ok(String::from_utf8_lossy(&self.s[start..end]).into_owned())
    }
    fn boolean(&mut self) -> Result<bool, String> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.pos..].starts_with(word) {
                self.pos += word.len();
                return Ok(value);
            }
        }
        Err("malformed NPY header (fortran_order is not True or False)".into())
    }
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.consume(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(dims);
                }
                Some(b',') => self.pos += 1,
                Some(c) if c.is_ascii_digit() => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    // Python 2 wrote longs as "3L".
                    if self.peek() == Some(b'L') {
                        self.pos += 1;
                    }
                    let digits = std::str::from_utf8(&self.s[start..self.pos])
                        .unwrap_or("")
                        .trim_end_matches('L');
                    let d = digits
                        .parse::<usize>()
                        .map_err(|_| format!("NPY shape dimension {digits} is too large"))?;
                    dims.push(d);
                }
                _ => return Err("malformed NPY header (bad shape tuple)".into()),
            }
        }
    }
}

/// Read a whole NPY stream whose total length is `total_len` bytes. The header's shape is
/// checked against the bytes present before the data is read.
pub fn read(reader: &mut impl Read, total_len: u64) -> Result<NumericArray, NpyProblem> {
    let (header, consumed) = read_header(reader)?;
    let needed = header.data_len()?;
    let present = total_len.saturating_sub(consumed);
    if needed != present {
        let relation = if needed > present { "truncated: " } else { "" };
        return Err(format!(
            "{relation}shape {} of {} needs {needed} data bytes but the file holds {present}",
            shape_text(&header.shape),
            header.dtype.name(),
        )
        .into());
    }
    let mut bytes = Vec::with_capacity(needed as usize);
    reader
        .take(needed)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read NPY data: {e}"))?;
    if bytes.len() as u64 != needed {
        return Err(format!(
            "truncated: NPY data has {} of the {needed} bytes its shape needs",
            bytes.len()
        )
        .into());
    }
    Ok(NumericArray {
        data: decode(&bytes, header.dtype, header.big_endian),
        shape: header.shape,
        order: header.order,
    })
}

/// Parse an NPY file held in memory.
pub fn parse(bytes: &[u8]) -> Result<NumericArray, NpyProblem> {
    let mut r = bytes;
    read(&mut r, bytes.len() as u64)
}

fn decode(bytes: &[u8], dtype: Dtype, big: bool) -> NumericData {
    macro_rules! decode {
        ($t:ty, $n:expr, $variant:ident) => {
            NumericData::$variant(
                bytes
                    .chunks_exact($n)
                    .map(|c| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        if big {
                            <$t>::from_be_bytes(a)
                        } else {
                            <$t>::from_le_bytes(a)
                        }
                    })
                    .collect(),
            )
        };
    }
    match dtype {
        Dtype::Bool => NumericData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        Dtype::U8 => NumericData::U8(bytes.to_vec()),
        Dtype::I8 => NumericData::I8(bytes.iter().map(|&b| b as i8).collect()),
        Dtype::U16 => decode!(u16, 2, U16),
        Dtype::I16 => decode!(i16, 2, I16),
        Dtype::U32 => decode!(u32, 4, U32),
        Dtype::I32 => decode!(i32, 4, I32),
        Dtype::F32 => decode!(f32, 4, F32),
        Dtype::U64 => decode!(u64, 8, U64),
        Dtype::I64 => decode!(i64, 8, I64),
        Dtype::F64 => decode!(f64, 8, F64),
    }
}

/// One array of an NPZ archive: its name, and the array or why it cannot be imported.
pub type NpzEntry = (String, Result<NumericArray, String>);

/// The arrays of an NPZ archive (a zip of `.npy` files, as `numpy.savez` and
/// `numpy.savez_compressed` write), in archive order, read from memory.
pub fn parse_npz(bytes: &[u8]) -> Result<Vec<NpzEntry>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable NPZ (zip) archive: {e}"))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("NPZ entry {i} is unreadable: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|e| format!("NPZ entry {i} has an unreadable name: {e}"))?
            .trim_end_matches(".npy")
            .to_string();
        let size = entry.size();
        // A corrupt stream is an error for the archive; an unsupported dtype only for its entry.
        let array = match read(&mut entry, size) {
            Ok(a) => Ok(a),
            Err(NpyProblem::Unsupported(why)) => Err(format!("array '{name}': {why}")),
            Err(NpyProblem::Corrupt(why)) => return Err(format!("array '{name}': {why}")),
        };
        out.push((name, array));
    }
    if out.is_empty() {
        return Err("the NPZ archive holds no arrays".into());
    }
    Ok(out)
}

/// Write `data` (row-major, `shape`) as an NPY 1.0 stream, little-endian.
pub fn write(out: &mut impl Write, shape: &[usize], data: &NumericData) -> std::io::Result<()> {
    let descr = match data.dtype() {
        Dtype::Bool => "|b1",
        Dtype::U8 => "|u1",
        Dtype::I8 => "|i1",
        Dtype::U16 => "<u2",
        Dtype::I16 => "<i2",
        Dtype::U32 => "<u4",
        Dtype::I32 => "<i4",
        Dtype::F32 => "<f4",
        Dtype::U64 => "<u8",
        Dtype::I64 => "<i8",
        Dtype::F64 => "<f8",
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_text(shape)
    );
    // Pad with spaces so that magic + version + length + header + newline is a multiple of 64,
    // as NumPy does (aligned data for memory mapping).
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len())
        .map_err(|_| std::io::Error::other("NPY header too long for format 1.0"))?;
    out.write_all(MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&header_len.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    macro_rules! le {
        ($v:expr) => {{
            for x in $v {
                out.write_all(&x.to_le_bytes())?;
            }
        }};
    }
    match data {
        NumericData::Bool(v) => {
            let bytes: Vec<u8> = v.iter().map(|&b| u8::from(b)).collect();
            out.write_all(&bytes)?;
        }
        NumericData::U8(v) => out.write_all(v)?,
        NumericData::I8(v) => le!(v),
        NumericData::U16(v) => le!(v),
        NumericData::I16(v) => le!(v),
        NumericData::U32(v) => le!(v),
        NumericData::I32(v) => le!(v),
        NumericData::F32(v) => le!(v),
        NumericData::U64(v) => le!(v),
        NumericData::I64(v) => le!(v),
        NumericData::F64(v) => le!(v),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(shape: &[usize], data: NumericData) {
        let mut buf = Vec::new();
        write(&mut buf, shape, &data).unwrap();
        let header_end = buf.iter().position(|&b| b == b'\n').unwrap() + 1;
        assert_eq!(header_end % 64, 0, "data must start 64-byte aligned");
        let back = parse(&buf).unwrap();
        assert_eq!(back.shape, shape);
        assert_eq!(back.order, Order::RowMajor);
        assert_eq!(back.data, data);
    }

    #[test]
    fn write_then_read_is_identity_for_every_dtype() {
        roundtrip(&[2, 2], NumericData::Bool(vec![true, false, false, true]));
        roundtrip(&[3], NumericData::U8(vec![0, 1, 255]));
        roundtrip(&[1, 2], NumericData::I16(vec![-5, 7]));
        roundtrip(&[2, 1], NumericData::U32(vec![0, u32::MAX]));
        roundtrip(&[2], NumericData::I64(vec![i64::MIN, 3]));
        roundtrip(&[2], NumericData::F32(vec![0.1, -3.5e-30]));
        roundtrip(&[1, 1, 2], NumericData::F64(vec![f64::MIN_POSITIVE, 1e300]));
    }

    #[test]
    fn header_dicts_in_the_wild_parse() {
        let h = parse_header_dict("{'descr': '>u2', 'fortran_order': True, 'shape': (3L, 4L), }")
            .unwrap();
        assert_eq!(
            (h.dtype, h.big_endian, h.order),
            (Dtype::U16, true, Order::ColumnMajor)
        );
        assert_eq!(h.shape, vec![3, 4]);
        let h =
            parse_header_dict("{\"shape\": (7,), \"fortran_order\": False, \"descr\": \"|b1\"}")
                .unwrap();
        assert_eq!((h.dtype, h.shape.clone()), (Dtype::Bool, vec![7]));
        assert!(
            parse_header_dict("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }")
                .unwrap_err()
                .to_string()
                .contains("ragged")
        );
        assert!(
            parse_header_dict("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }")
                .unwrap_err()
                .to_string()
                .contains("complex")
        );
        assert!(
            parse_header_dict("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }")
                .unwrap_err()
                .to_string()
                .contains("structured")
        );
        assert!(
            parse_header_dict(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }"
            )
            .unwrap_err()
            .to_string()
            .contains("too large")
        );
    }

    #[test]
    fn forged_shapes_and_truncation_are_refused() {
        let mut buf = Vec::new();
        write(&mut buf, &[2, 3], &NumericData::F64(vec![0.0; 6])).unwrap();
        for cut in 0..buf.len() {
            assert!(parse(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let at = buf.windows(6).position(|w| w == b"(2, 3)").unwrap();
        let mut forged = buf[..at].to_vec();
        forged.extend_from_slice(b"(1000000, 1000000)");
        forged.extend_from_slice(&buf[at + 6..]);
        let err = parse(&forged).unwrap_err().to_string();
        assert!(
            err.contains("(1000000, 1000000)") && err.contains("truncated"),
            "{err}"
        );
        let mut extra = buf.clone();
        extra.extend([0u8; 8]);
        assert!(parse(&extra).unwrap_err().to_string().contains("holds"));
    }
}
