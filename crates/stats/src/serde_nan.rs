//! Reading back the `null`s that JSON writers put where a figure is NaN (JSON has no NaN:
//! serde_json writes `null`). Use with `#[serde(deserialize_with = "...")]` on the fields of a
//! result type that may hold NaN (a correlation of a silent neuron, a degenerate fit), so that
//! a result written by one program reads back in another.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// One number; `null` reads as NaN.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A list of numbers; each `null` reads as NaN.
pub fn numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let values = Vec::<Option<f64>>::deserialize(d)?;
    Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A list of lists of numbers (a matrix by rows); each `null` reads as NaN.
pub fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let values = Vec::<Vec<Option<f64>>>::deserialize(d)?;
    Ok(values
        .into_iter()
        .map(|row| row.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

/// Named numbers; each `null` reads as NaN.
pub fn named<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let values = BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(values
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Figures {
        #[serde(deserialize_with = "number")]
        one: f64,
        #[serde(deserialize_with = "numbers")]
        list: Vec<f64>,
        #[serde(deserialize_with = "rows")]
        matrix: Vec<Vec<f64>>,
        #[serde(deserialize_with = "named")]
        by_name: BTreeMap<String, f64>,
    }

    #[test]
    fn null_reads_as_nan_and_numbers_as_themselves() {
        let f: Figures = serde_json::from_str(
            r#"{"one": null, "list": [1.5, null], "matrix": [[null, 2]], "by_name": {"a": null, "b": 3}}"#,
        )
        .unwrap();
        assert!(f.one.is_nan());
        assert_eq!(f.list[0], 1.5);
        assert!(f.list[1].is_nan());
        assert!(f.matrix[0][0].is_nan());
        assert_eq!(f.matrix[0][1], 2.0);
        assert!(f.by_name["a"].is_nan());
        assert_eq!(f.by_name["b"], 3.0);
        // Anything else is still an error.
        assert!(
            serde_json::from_str::<Figures>(
                r#"{"one": "x", "list": [], "matrix": [], "by_name": {}}"#
            )
            .is_err()
        );
    }
}
