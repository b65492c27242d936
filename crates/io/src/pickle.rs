//! A reader for the Python pickles labs' tools leave beside their arrays: suite2p's `ops.npy` is
//! a dict of settings pickled inside an object NPY (`numpy.save(path, ops)`). It decodes the
//! data opcodes of pickle protocols 0-5 (numbers, text, bytes, lists, tuples, dicts, sets) and
//! keeps class references, calls (`REDUCE`, `NEWOBJ`) and `BUILD`s as inert values: nothing is
//! ever executed. NumPy scalars (`numpy.float64(30.0)`) and `_codecs.encode` byte strings are
//! read back as their values by [`PyValue::as_f64`] and friends.
//!
//! Memoised values are copied when stored, so a container filled after it was memoised is seen
//! empty through a later `GET`: pickles of plain settings (and NumPy's) never do that. Copies
//! count against a budget of [`MAX_COPIED_NODES`] values, so a pickle that doubles a structure
//! at every step is refused instead of exhausting memory.

use std::collections::HashMap;

/// How many values `GET` and `DUP` may copy in all, for one pickle.
const MAX_COPIED_NODES: usize = 1_000_000;

/// A decoded Python value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in 64 bits (its little-endian two's-complement bytes).
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
    Set(Vec<PyValue>),
    /// A reference to `module.name` (never imported).
    Global(String),
    /// `callable(*args)`, not called.
    Call(Box<PyValue>, Box<PyValue>),
    /// `object.__setstate__(state)`, not applied.
    Built(Box<PyValue>, Box<PyValue>),
}

impl PyValue {
    /// The value of `key` in a dict with string keys.
    pub(crate) fn get(&self, key: &str) -> Option<&PyValue> {
        match self {
            Self::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, Self::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The first dict inside this value, depth first (the settings inside NumPy's wrapping of a
    /// pickled object array).
    pub(crate) fn first_dict(&self) -> Option<&PyValue> {
        match self {
            Self::Dict(_) => Some(self),
            Self::List(v) | Self::Tuple(v) | Self::Set(v) => v.iter().find_map(Self::first_dict),
            Self::Call(a, b) | Self::Built(a, b) => a.first_dict().or_else(|| b.first_dict()),
            _ => None,
        }
    }

    /// The value as a number: a Python int, float or bool, or a NumPy scalar of a numeric
    /// dtype.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            Self::Bool(b) => Some(f64::from(u8::from(*b))),
            Self::Call(callable, args) if is_numpy_scalar(callable) => numpy_scalar(args),
            _ => None,
        }
    }

    /// The value as text: a Python str, or NumPy's `str_` scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as bytes: Python bytes, or protocol 2-3's `_codecs.encode(text, 'latin1')`.
    fn as_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Self::Bytes(b) => Some(b.clone()),
            Self::Call(callable, args) if matches!(&**callable, Self::Global(g) if g == "_codecs.encode") => {
                match &**args {
                    Self::Tuple(a) => match a.as_slice() {
                        [Self::Str(text), Self::Str(encoding)] if encoding == "latin1" => text
                            .chars()
                            .map(|c| u8::try_from(u32::from(c)).ok())
                            .collect(),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn is_numpy_scalar(callable: &PyValue) -> bool {
    matches!(callable, PyValue::Global(g)
        if g == "numpy.core.multiarray.scalar" || g == "numpy._core.multiarray.scalar")
}

/// `numpy...scalar(dtype, bytes)`: the value of a NumPy scalar of a numeric dtype.
fn numpy_scalar(args: &PyValue) -> Option<f64> {
    let PyValue::Tuple(args) = args else {
        return None;
    };
    let [dtype, data] = args.as_slice() else {
        return None;
    };
    // dtype: Built(Call(Global("numpy.dtype"), ("f8", False, True)), (3, "<", ...)).
    let (call, state) = match dtype {
        PyValue::Built(call, state) => (&**call, Some(&**state)),
        other => (other, None),
    };
    let PyValue::Call(_, dtype_args) = call else {
        return None;
    };
    let PyValue::Tuple(dtype_args) = &**dtype_args else {
        return None;
    };
    let code = dtype_args.first()?.as_str()?;
    let big = matches!(state, Some(PyValue::Tuple(s)) if matches!(s.get(1), Some(PyValue::Str(e)) if e == ">"));
    let bytes = data.as_bytes()?;
    macro_rules! read {
        ($t:ty) => {{
            let array: [u8; std::mem::size_of::<$t>()] = bytes.as_slice().try_into().ok()?;
            if big {
                <$t>::from_be_bytes(array) as f64
            } else {
                <$t>::from_le_bytes(array) as f64
            }
        }};
    }
    Some(match code {
        "f8" => read!(f64),
        "f4" => read!(f32),
        "i8" => read!(i64),
        "i4" => read!(i32),
        "i2" => read!(i16),
        "i1" => read!(i8),
        "u8" => read!(u64),
        "u4" => read!(u32),
        "u2" => read!(u16),
        "u1" => read!(u8),
        "b1" => f64::from(u8::from(*bytes.first()? != 0)),
        _ => return None,
    })
}

/// Decode the pickle `bytes` (protocols 0-5, no out-of-band buffers).
pub(crate) fn parse(bytes: &[u8]) -> Result<PyValue, String> {
    Machine {
        bytes,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        copied: 0,
    }
    .run()
}

/// The number of values in `value` (itself and everything inside), counted up to `limit + 1`.
fn nodes_within(value: &PyValue, limit: usize) -> usize {
    let mut count = 1;
    let mut pending: Vec<&PyValue> = vec![value];
    while let Some(v) = pending.pop() {
        if count > limit {
            break;
        }
        match v {
            PyValue::List(items) | PyValue::Tuple(items) | PyValue::Set(items) => {
                count += items.len();
                pending.extend(items);
            }
            PyValue::Dict(items) => {
                count += 2 * items.len();
                for (k, v) in items {
                    pending.push(k);
                    pending.push(v);
                }
            }
            PyValue::Call(a, b) | PyValue::Built(a, b) => {
                count += 2;
                pending.push(a);
                pending.push(b);
            }
            _ => {}
        }
    }
    count
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<PyValue>,
    marks: Vec<usize>,
    memo: HashMap<u64, PyValue>,
    /// Values copied by `GET` and `DUP` so far.
    copied: usize,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("truncated pickle: {n} bytes wanted at byte {}", self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        let mut value = 0u64;
        for (i, &b) in self.take(n)?.iter().enumerate() {
            value |= u64::from(b) << (8 * i);
        }
        Ok(value)
    }

    fn sized(&mut self, len_bytes: usize) -> Result<Vec<u8>, String> {
        let n = self.uint(len_bytes)?;
        let n = usize::try_from(n).map_err(|_| "pickle length overflows".to_string())?;
        Ok(self.take(n)?.to_vec())
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated pickle: a text line never ends")?;
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(text)
    }

    fn text(bytes: Vec<u8>) -> Result<PyValue, String> {
        String::from_utf8(bytes)
            .map(PyValue::Str)
            .map_err(|_| "pickle text is not UTF-8".to_string())
    }

    /// Count a copy of `value` against the budget.
    fn charge(&mut self, value: &PyValue) -> Result<(), String> {
        let left = MAX_COPIED_NODES - self.copied;
        let nodes = nodes_within(value, left);
        if nodes > left {
            return Err(format!(
                "the pickle copies more than {MAX_COPIED_NODES} values (a structure that \
                 doubles itself?)"
            ));
        }
        self.copied += nodes;
        Ok(())
    }

    fn pop(&mut self) -> Result<PyValue, String> {
        self.stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    }

    fn top(&mut self) -> Result<&mut PyValue, String> {
        self.stack
            .last_mut()
            .ok_or_else(|| "pickle stack underflow".to_string())
    }

    /// The values pushed since the last MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<PyValue>, String> {
        let mark = self.marks.pop().ok_or("pickle MARK missing")?;
        if mark > self.stack.len() {
            return Err("pickle MARK beyond the stack".into());
        }
        Ok(self.stack.split_off(mark))
    }

    fn long(bytes: &[u8]) -> PyValue {
        if bytes.is_empty() {
            return PyValue::Int(0);
        }
        if bytes.len() <= 8 {
            let negative = bytes[bytes.len() - 1] & 0x80 != 0;
            let mut buf = [if negative { 0xff } else { 0 }; 8];
            buf[..bytes.len()].copy_from_slice(bytes);
            return PyValue::Int(i64::from_le_bytes(buf));
        }
        PyValue::BigInt(bytes.to_vec())
    }

    fn set_items(target: &mut PyValue, items: Vec<PyValue>) -> Result<(), String> {
        let PyValue::Dict(dict) = target else {
            return Err("pickle SETITEMS on a value that is not a dict".into());
        };
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            dict.push((k, v));
        }
        Ok(())
    }

    fn run(mut self) -> Result<PyValue, String> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    self.byte()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.stack.push(PyValue::Tuple(Vec::new())),
                b']' => self.stack.push(PyValue::List(Vec::new())),
                b'}' => self.stack.push(PyValue::Dict(Vec::new())),
                0x8f => self.stack.push(PyValue::Set(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(PyValue::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err("pickle stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(PyValue::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(PyValue::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let mut dict = PyValue::Dict(Vec::new());
                    Self::set_items(&mut dict, items)?;
                    self.stack.push(dict);
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.stack.push(PyValue::Set(items));
                }
                b'a' => {
                    let value = self.pop()?;
                    match self.top()? {
                        PyValue::List(list) => list.push(value),
                        _ => return Err("pickle APPEND to a value that is not a list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        PyValue::List(list) => list.extend(items),
                        _ => return Err("pickle APPENDS to a value that is not a list".into()),
                    }
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        PyValue::Set(set) => set.extend(items),
                        _ => return Err("pickle ADDITEMS to a value that is not a set".into()),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    Self::set_items(self.top()?, vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    Self::set_items(self.top()?, items)?;
                }
                b'N' => self.stack.push(PyValue::None),
                0x88 => self.stack.push(PyValue::Bool(true)),
                0x89 => self.stack.push(PyValue::Bool(false)),
                b'J' => {
                    let v = self.uint(4)? as u32 as i32;
                    self.stack.push(PyValue::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.uint(1)?;
                    self.stack.push(PyValue::Int(v as i64));
                }
                b'M' => {
                    let v = self.uint(2)?;
                    self.stack.push(PyValue::Int(v as i64));
                }
                0x8a => {
                    let bytes = self.sized(1)?;
                    self.stack.push(Self::long(&bytes));
                }
                0x8b => {
                    let bytes = self.sized(4)?;
                    self.stack.push(Self::long(&bytes));
                }
                b'G' => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(self.take(8)?);
                    self.stack.push(PyValue::Float(f64::from_be_bytes(a)));
                }
                b'I' => {
                    let line = self.line()?;
                    let value = match line.as_str() {
                        "00" => PyValue::Bool(false),
                        "01" => PyValue::Bool(true),
                        text => PyValue::Int(
                            text.parse()
                                .map_err(|_| format!("pickle INT '{text}' is not a number"))?,
                        ),
                    };
                    self.stack.push(value);
                }
                b'L' => {
                    let line = self.line()?;
                    let text = line.trim_end_matches('L');
                    let value = text
                        .parse()
                        .map(PyValue::Int)
                        .unwrap_or_else(|_| PyValue::BigInt(Vec::new()));
                    self.stack.push(value);
                }
                b'F' => {
                    let line = self.line()?;
                    let value = line
                        .parse()
                        .map_err(|_| format!("pickle FLOAT '{line}' is not a number"))?;
                    self.stack.push(PyValue::Float(value));
                }
                b'X' => {
                    let bytes = self.sized(4)?;
                    self.stack.push(Self::text(bytes)?);
                }
                0x8c => {
                    let bytes = self.sized(1)?;
                    self.stack.push(Self::text(bytes)?);
                }
                0x8d => {
                    let bytes = self.sized(8)?;
                    self.stack.push(Self::text(bytes)?);
                }
                b'V' => {
                    let line = self.line()?;
                    self.stack.push(PyValue::Str(line));
                }
                b'T' | b'B' => {
                    let bytes = self.sized(4)?;
                    self.stack.push(PyValue::Bytes(bytes));
                }
                b'U' | b'C' => {
                    let bytes = self.sized(1)?;
                    self.stack.push(PyValue::Bytes(bytes));
                }
                0x8e | 0x96 => {
                    let bytes = self.sized(8)?;
                    self.stack.push(PyValue::Bytes(bytes));
                }
                b'S' => {
                    let line = self.line()?;
                    let text = line.trim_matches(|c| c == '\'' || c == '"');
                    self.stack.push(PyValue::Bytes(text.as_bytes().to_vec()));
                }
                b'q' => {
                    let key = self.uint(1)?;
                    let value = self.top()?.clone();
                    self.charge(&value)?;
                    self.memo.insert(key, value);
                }
                b'r' => {
                    let key = self.uint(4)?;
                    let value = self.top()?.clone();
                    self.charge(&value)?;
                    self.memo.insert(key, value);
                }
                b'p' => {
                    let line = self.line()?;
                    let key = line
                        .parse()
                        .map_err(|_| format!("pickle PUT '{line}' is not a number"))?;
                    let value = self.top()?.clone();
                    self.charge(&value)?;
                    self.memo.insert(key, value);
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    let value = self.top()?.clone();
                    self.charge(&value)?;
                    self.memo.insert(key, value);
                }
                b'h' | b'j' | b'g' => {
                    let key = match op {
                        b'h' => self.uint(1)?,
                        b'j' => self.uint(4)?,
                        _ => {
                            let line = self.line()?;
                            line.parse()
                                .map_err(|_| format!("pickle GET '{line}' is not a number"))?
                        }
                    };
                    let value = self
                        .memo
                        .get(&key)
                        .cloned()
                        .ok_or_else(|| format!("pickle GET of unknown memo entry {key}"))?;
                    self.charge(&value)?;
                    self.stack.push(value);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(PyValue::Global(format!("{module}.{name}")));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (PyValue::Str(module), PyValue::Str(name)) => {
                            self.stack.push(PyValue::Global(format!("{module}.{name}")));
                        }
                        _ => return Err("pickle STACK_GLOBAL of values that are not text".into()),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack
                        .push(PyValue::Call(Box::new(callable), Box::new(args)));
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.stack
                        .push(PyValue::Call(Box::new(callable), Box::new(args)));
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err("pickle OBJ without a class".into());
                    }
                    let class = items.remove(0);
                    self.stack.push(PyValue::Call(
                        Box::new(class),
                        Box::new(PyValue::Tuple(items)),
                    ));
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let items = self.pop_mark()?;
                    self.stack.push(PyValue::Call(
                        Box::new(PyValue::Global(format!("{module}.{name}"))),
                        Box::new(PyValue::Tuple(items)),
                    ));
                }
                b'b' => {
                    let state = self.pop()?;
                    let object = self.pop()?;
                    self.stack
                        .push(PyValue::Built(Box::new(object), Box::new(state)));
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?.clone();
                    self.charge(&top)?;
                    self.stack.push(top);
                }
                other => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{other:02x} at byte {}",
                        self.pos - 1
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The byte strings are Python 3.11's `pickle.dumps` of the values in the comments.

    #[test]
    fn a_protocol_4_dict_of_plain_values_decodes() {
        // {'fs': 30.0, 'nplanes': 2, 'name': 'plane0', 'ok': True, 'big': 2**40, 'neg': -5,
        //  'items': [1, 2.5]}, protocol 4
        let bytes: &[u8] = b"\x80\x04\x95e\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x02fs\x94G@>\x00\x00\x00\x00\x00\x00\x8c\x07nplanes\x94K\x02\x8c\x04name\x94\x8c\x06plane0\x94\x8c\x02ok\x94\x88\x8c\x03big\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x03neg\x94J\xfb\xff\xff\xff\x8c\x05items\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00eu.";
        let value = parse(bytes).unwrap_or(PyValue::None);
        assert_eq!(value.get("fs").and_then(PyValue::as_f64), Some(30.0));
        assert_eq!(value.get("nplanes"), Some(&PyValue::Int(2)));
        assert_eq!(value.get("name").and_then(PyValue::as_str), Some("plane0"));
        assert_eq!(value.get("ok"), Some(&PyValue::Bool(true)));
        assert_eq!(value.get("big"), Some(&PyValue::Int(1 << 40)));
        assert_eq!(value.get("neg"), Some(&PyValue::Int(-5)));
        assert_eq!(
            value.get("items"),
            Some(&PyValue::List(vec![PyValue::Int(1), PyValue::Float(2.5)]))
        );
    }

    #[test]
    fn numpy_scalars_read_as_their_values_in_protocols_2_and_3() {
        // {'fs': numpy.float64(15.5), 'n': numpy.int32(-7)} with NumPy 2.4, protocols 3 and 2
        // (which writes bytes as _codecs.encode(text, 'latin1')).
        for bytes in [
            b"\x80\x03}q\x00(X\x02\x00\x00\x00fsq\x01cnumpy._core.multiarray\nscalar\nq\x02cnumpy\ndtype\nq\x03X\x02\x00\x00\x00f8q\x04\x89\x88\x87q\x05Rq\x06(K\x03X\x01\x00\x00\x00<q\x07NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x08bC\x08\x00\x00\x00\x00\x00\x00/@q\x09\x86q\nRq\x0bX\x01\x00\x00\x00nq\x0ch\x02h\x03X\x02\x00\x00\x00i4q\x0d\x89\x88\x87q\x0eRq\x0f(K\x03h\x07NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x10bC\x04\xf9\xff\xff\xffq\x11\x86q\x12Rq\x13u.".as_slice(),
            b"\x80\x02}q\x00(X\x02\x00\x00\x00fsq\x01cnumpy._core.multiarray\nscalar\nq\x02cnumpy\ndtype\nq\x03X\x02\x00\x00\x00f8q\x04\x89\x88\x87q\x05Rq\x06(K\x03X\x01\x00\x00\x00<q\x07NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x08bc_codecs\nencode\nq\x09X\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00/@q\nX\x06\x00\x00\x00latin1q\x0b\x86q\x0cRq\x0d\x86q\x0eRq\x0fX\x01\x00\x00\x00nq\x10h\x02h\x03X\x02\x00\x00\x00i4q\x11\x89\x88\x87q\x12Rq\x13(K\x03h\x07NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x14bh\x09X\x08\x00\x00\x00\xc3\xb9\xc3\xbf\xc3\xbf\xc3\xbfq\x15h\x0b\x86q\x16Rq\x17\x86q\x18Rq\x19u.".as_slice(),
        ] {
            let value = parse(bytes).unwrap_or(PyValue::None);
            assert_eq!(value.get("fs").and_then(PyValue::as_f64), Some(15.5));
            assert_eq!(value.get("n").and_then(PyValue::as_f64), Some(-7.0));
        }
    }

    #[test]
    fn a_protocol_0_text_pickle_decodes() {
        // {'fs': 30.0, 'n': 3, 'name': 'x'}, protocol 0
        let value = parse(b"(dp0\nVfs\np1\nF30.0\nsVn\np2\nI3\nsVname\np3\nVx\np4\ns.")
            .unwrap_or(PyValue::None);
        assert_eq!(value.get("fs").and_then(PyValue::as_f64), Some(30.0));
        assert_eq!(value.get("n").and_then(PyValue::as_f64), Some(3.0));
        assert_eq!(value.get("name").and_then(PyValue::as_str), Some("x"));
    }

    #[test]
    fn damaged_pickles_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\x80\x04}\x94(").is_err());
        assert!(parse(b"\x80\x04\x8c\xff").is_err());
        assert!(parse(b"u.").is_err());
        assert!(parse(b"\x80\x04\xff.").is_err());
    }

    #[test]
    fn a_pickle_that_doubles_a_list_at_every_step_is_refused() {
        // ] q0 then 80 times: h0 h0 TUPLE2 q0 (each step a tuple of the previous one twice).
        let mut bytes = b"\x80\x04]q\x00".to_vec();
        for _ in 0..80 {
            bytes.extend_from_slice(b"h\x00h\x00\x86q\x00");
        }
        bytes.push(b'.');
        let e = parse(&bytes).unwrap_err();
        assert!(e.contains("copies more than"), "{e}");
    }
}
