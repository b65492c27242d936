//! One way to make a run's configuration, the same for every model.
//!
//! A run configuration is built in layers, each over the one before:
//! 1. the model's defaults, which may depend on what the file or a flag names (Spike-GAN's
//!    `recipe` and `model_preset`) and on the data (its neurons and sample length);
//! 2. the TOML file's keys (`--config`), every one optional;
//! 3. the command-line flags, each one a key of the file ([`Overrides`]).
//!
//! Tables merge key by key at every depth; any other value replaces the one below it. The
//! result is read into the model's typed configuration, whose structs refuse unknown keys
//! (`deny_unknown_fields`), and then [`RunConfig::check`] refuses settings that read but
//! cannot run. Keys that the data fixes are refused in the file, so that a run never quietly
//! trains on a shape other than the one written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{PipelineError, one_line};

/// A model's run configuration (`config.toml` of a run directory), as [`resolve`] builds it.
pub trait RunConfig: Serialize + DeserializeOwned {
    /// What the recording fixes before the configuration is read (e.g. Spike-GAN's neurons
    /// and sample length); `()` when nothing is.
    type DataShape;

    /// Dotted keys that come from the data; a file that sets one is refused.
    const FROM_DATA: &'static [&'static str];

    /// The settings the file's keys go over, given the file with the flags applied (to read
    /// the names of presets) and the data's shape.
    fn defaults(layers: &toml::Table, shape: &Self::DataShape) -> Result<toml::Table, String>;

    /// Refuses settings that read but cannot run, with a message naming the key.
    fn check(&self) -> Result<(), String>;
}

/// Command-line flags as keys of the configuration file: each one set replaces the file's
/// value of its key.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    keys: Vec<(String, Result<toml::Value, String>)>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the dotted `key` (e.g. `training.iterations`) to `value` when it is `Some`.
    pub fn set<T: Serialize>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            let value = toml::Value::try_from(value).map_err(|e| one_line(&e.to_string()));
            self.keys.push((key.to_string(), value));
        }
        self
    }

    /// Sets the dotted `key` to `value` when `flag` is true (a switch such as `--no-dff`).
    pub fn set_if<T: Serialize>(&mut self, key: &str, flag: bool, value: T) -> &mut Self {
        self.set(key, flag.then_some(value))
    }

    /// The overrides as a table of nested tables.
    fn table(&self) -> Result<toml::Table, String> {
        let mut table = toml::Table::new();
        for (key, value) in &self.keys {
            let value = value.clone().map_err(|e| format!("{key}: {e}"))?;
            let mut parts: Vec<&str> = key.split('.').collect();
            let Some(last) = parts.pop() else {
                continue;
            };
            let mut at = &mut table;
            for part in parts {
                let entry = at
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(inner) = entry else {
                    return Err(format!("{key}: {part} is not a table"));
                };
                at = inner;
            }
            at.insert(last.to_string(), value);
        }
        Ok(table)
    }
}

/// Merges `over` into `under`: tables key by key at every depth, other values replaced.
pub fn merge(under: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (under.get_mut(&key), value) {
            (Some(toml::Value::Table(below)), toml::Value::Table(above)) => merge(below, above),
            (_, value) => {
                under.insert(key, value);
            }
        }
    }
}

/// The value at a dotted key of a table, if present.
pub fn lookup<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// Reads a TOML configuration file into a table.
fn read_table(path: &Path) -> Result<toml::Table, PipelineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PipelineError::unsuitable(path, e.to_string()))?;
    text.parse::<toml::Table>()
        .map_err(|e| PipelineError::unsuitable(path, one_line(&e.to_string())))
}

/// The line of `text` that holds byte `at`, after the table header it sits under.
fn locate(text: &str, at: usize) -> String {
    let mut header = "";
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let trimmed = line.trim();
        if at < end {
            return if trimmed.starts_with('[') || header.is_empty() {
                trimmed.to_string()
            } else {
                format!("{header} {trimmed}")
            };
        }
        if trimmed.starts_with('[') {
            header = trimmed;
        }
        start = end;
    }
    String::new()
}

/// Builds a model's run configuration from its defaults, the file at `file` (if any) and
/// the flags (see the module's documentation). Errors name the file (or `<flags>`) and the
/// key.
pub fn resolve<C: RunConfig>(
    file: Option<&Path>,
    overrides: &Overrides,
    shape: &C::DataShape,
) -> Result<C, PipelineError> {
    let source: PathBuf = file.map_or_else(|| PathBuf::from("<flags>"), Path::to_path_buf);
    let bad = |message: String| PipelineError::unsuitable(&source, message);
    let mut layers = match file {
        Some(path) => read_table(path)?,
        None => toml::Table::new(),
    };
    for key in C::FROM_DATA {
        if lookup(&layers, key).is_some() {
            let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
            return Err(bad(format!(
                "[{table}] {name} comes from the data; leave it out"
            )));
        }
    }
    merge(&mut layers, overrides.table().map_err(&bad)?);
    let mut config = C::defaults(&layers, shape).map_err(&bad)?;
    merge(&mut config, layers);
    // Read through text so that an error points at a key.
    let text = toml::to_string(&config).map_err(|e| bad(one_line(&e.to_string())))?;
    let config: C = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|span| locate(&text, span.start));
        bad(match at {
            Some(at) if !at.is_empty() => format!("{at}: {}", one_line(e.message())),
            _ => one_line(e.message()),
        })
    })?;
    config.check().map_err(bad)?;
    Ok(config)
}

/// The table form of a value, for [`RunConfig::defaults`].
pub fn table_of<T: Serialize>(value: &T) -> Result<toml::Table, String> {
    toml::Table::try_from(value).map_err(|e| one_line(&e.to_string()))
}

/// Reads the value at a dotted key of `layers` as `T`, if present (a preset's name, say).
pub fn read_key<T: DeserializeOwned>(layers: &toml::Table, key: &str) -> Result<Option<T>, String> {
    lookup(layers, key)
        .map(|value| {
            value
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| format!("{key}: {}", one_line(e.message())))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        rate: f64,
        steps: u64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Toy {
        #[serde(default)]
        fast: bool,
        seed: u64,
        size: usize,
        inner: Inner,
    }

    impl RunConfig for Toy {
        type DataShape = usize;
        const FROM_DATA: &'static [&'static str] = &["size"];
        fn defaults(layers: &toml::Table, shape: &usize) -> Result<toml::Table, String> {
            // A "preset": a faster default rate when the layers ask for it.
            let fast = read_key::<bool>(layers, "fast")?.unwrap_or(false);
            table_of(&Toy {
                fast,
                seed: 0,
                size: *shape,
                inner: Inner {
                    rate: if fast { 1.0 } else { 0.1 },
                    steps: 10,
                },
            })
        }
        fn check(&self) -> Result<(), String> {
            if self.inner.steps == 0 {
                return Err("inner.steps must be at least 1".into());
            }
            Ok(())
        }
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn layers_apply_in_order_defaults_file_flags() {
        let toy: Toy = resolve(None, &Overrides::new(), &7).unwrap();
        assert_eq!(
            toy,
            Toy {
                fast: false,
                seed: 0,
                size: 7,
                inner: Inner {
                    rate: 0.1,
                    steps: 10
                }
            }
        );
        // The file sets one nested key; the other keeps its default.
        let (_d, path) = file("seed = 3\n[inner]\nsteps = 20\n");
        let toy: Toy = resolve(Some(&path), &Overrides::new(), &7).unwrap();
        assert_eq!((toy.seed, toy.inner.steps, toy.inner.rate), (3, 20, 0.1));
        // A flag replaces the file's value; an unset flag does not.
        let mut flags = Overrides::new();
        flags
            .set("inner.steps", Some(30u64))
            .set("seed", None::<u64>);
        let toy: Toy = resolve(Some(&path), &flags, &7).unwrap();
        assert_eq!((toy.seed, toy.inner.steps), (3, 30));
    }

    #[test]
    fn unknown_keys_data_keys_and_failed_checks_are_refused_with_the_file_and_key() {
        let (_d, path) = file("[inner]\nstep = 20\n");
        let err = resolve::<Toy>(Some(&path), &Overrides::new(), &7)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run.toml") && err.contains("[inner]") && err.contains("step"),
            "{err}"
        );
        let (_d, path) = file("size = 3\n");
        let err = resolve::<Toy>(Some(&path), &Overrides::new(), &7)
            .unwrap_err()
            .to_string();
        assert!(err.contains("size comes from the data"), "{err}");
        let mut flags = Overrides::new();
        flags.set("inner.steps", Some(0u64));
        let err = resolve::<Toy>(None, &flags, &7).unwrap_err().to_string();
        assert!(
            err.contains("<flags>") && err.contains("inner.steps must be at least 1"),
            "{err}"
        );
        let (_d, path) = file("[inner\n");
        let err = resolve::<Toy>(Some(&path), &Overrides::new(), &7)
            .unwrap_err()
            .to_string();
        assert!(err.contains("run.toml") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn presets_are_read_from_the_file_or_a_flag() {
        let (_d, path) = file("fast = true\n");
        let toy: Toy = resolve(Some(&path), &Overrides::new(), &7).unwrap();
        assert_eq!(toy.inner.rate, 1.0);
        let mut flags = Overrides::new();
        flags.set("fast", Some(false));
        let toy: Toy = resolve(Some(&path), &flags, &7).unwrap();
        assert_eq!(toy.inner.rate, 0.1);
        // An explicit key beats the preset's value.
        let (_d, path) = file("fast = true\n[inner]\nrate = 0.5\n");
        let toy: Toy = resolve(Some(&path), &Overrides::new(), &7).unwrap();
        assert_eq!(toy.inner.rate, 0.5);
    }

    #[test]
    fn merge_is_deep_for_tables_only() {
        let mut under: toml::Table = "a = 1\n[t]\nx = 1\ny = 2\n".parse().unwrap();
        let over: toml::Table = "a = [3]\n[t]\ny = 5\nz = 6\n".parse().unwrap();
        merge(&mut under, over);
        let want: toml::Table = "a = [3]\n[t]\nx = 1\ny = 5\nz = 6\n".parse().unwrap();
        assert_eq!(under, want);
    }
}
