//! Column values whatever Arrow encoding the writer chose: pandas and polars write strings as
//! `LargeUtf8`, `Utf8View` or dictionary-encoded, and integers of any width, where neuroforge
//! writes `Utf8` and `Int64`. Readers take them all alike.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// The values of a string column (`Utf8`, `LargeUtf8`, `Utf8View`, or a dictionary of one of
/// them), missing values as `None`; `None` when the column holds no strings.
pub(crate) fn strings(column: &ArrayRef) -> Option<Vec<Option<String>>> {
    let owned = |v: Option<&str>| v.map(str::to_string);
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().iter().map(owned).collect()),
        DataType::LargeUtf8 => Some(column.as_string::<i64>().iter().map(owned).collect()),
        DataType::Utf8View => Some(column.as_string_view().iter().map(owned).collect()),
        DataType::Dictionary(_, _) => {
            let dictionary = column.as_any_dictionary_opt()?;
            let values = strings(dictionary.values())?;
            let keys = dictionary.normalized_keys();
            Some(
                keys.iter()
                    .enumerate()
                    .map(|(row, &key)| {
                        if dictionary.keys().is_null(row) {
                            None
                        } else {
                            values.get(key).cloned().flatten()
                        }
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The values of an integer column of any width (unsigned 64-bit values above `i64::MAX` make
/// it not an integer column); `None` for other types. Missing values are not handled here: the
/// callers refuse columns with nulls first.
pub(crate) fn integers(column: &ArrayRef) -> Option<Vec<i64>> {
    fn widen<T: Copy + Into<i64>>(values: &[T]) -> Vec<i64> {
        values.iter().map(|&v| v.into()).collect()
    }
    Some(match column.data_type() {
        DataType::Int8 => widen(column.as_primitive::<Int8Type>().values()),
        DataType::Int16 => widen(column.as_primitive::<Int16Type>().values()),
        DataType::Int32 => widen(column.as_primitive::<Int32Type>().values()),
        DataType::Int64 => column.as_primitive::<Int64Type>().values().to_vec(),
        DataType::UInt8 => widen(column.as_primitive::<UInt8Type>().values()),
        DataType::UInt16 => widen(column.as_primitive::<UInt16Type>().values()),
        DataType::UInt32 => widen(column.as_primitive::<UInt32Type>().values()),
        DataType::UInt64 => column
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|&v| i64::try_from(v).ok())
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        DictionaryArray, Int32Array, LargeStringArray, StringArray, StringViewArray, UInt16Array,
        UInt64Array,
    };
    use std::sync::Arc;

    #[test]
    fn every_string_encoding_reads_the_same() {
        let expected = vec![Some("a".to_string()), None, Some("b".to_string())];
        let values = [Some("a"), None, Some("b")];
        let utf8: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let large: ArrayRef = Arc::new(LargeStringArray::from(values.to_vec()));
        let view: ArrayRef = Arc::new(StringViewArray::from(values.to_vec()));
        let dictionary: ArrayRef = Arc::new(
            values
                .iter()
                .copied()
                .collect::<DictionaryArray<arrow_array::types::Int8Type>>(),
        );
        for column in [utf8, large, view, dictionary] {
            assert_eq!(
                strings(&column).as_ref(),
                Some(&expected),
                "{}",
                column.data_type()
            );
        }
        let numbers: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        assert_eq!(strings(&numbers), None);
    }

    #[test]
    fn integers_of_every_width_widen_to_i64() {
        let small: ArrayRef = Arc::new(UInt16Array::from(vec![0, 65535]));
        assert_eq!(integers(&small), Some(vec![0, 65535]));
        let negative: ArrayRef = Arc::new(Int32Array::from(vec![-3, 7]));
        assert_eq!(integers(&negative), Some(vec![-3, 7]));
        let huge: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX]));
        assert_eq!(integers(&huge), None);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["1"]));
        assert_eq!(integers(&text), None);
    }
}
