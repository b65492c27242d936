//! Recordings survive Parquet and Arrow IPC bit for bit (property tests over random
//! recordings of every kind, with covariates and provenance).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::bit_identical;
use neuroforge_io::{
    Activity, BinnedActivity, Covariate, CovariateValues, Provenance, Recording, SpikeTrains,
    TraceActivity, read_recording, write_recording,
};
use proptest::prelude::*;

fn ids(n: usize) -> impl Strategy<Value = Vec<String>> {
    // Neuron ids start with a letter covariate names never start with.
    prop::collection::hash_set("n[a-z0-9_µ]{0,6}", n).prop_map(|s| s.into_iter().collect())
}

fn covariates(time_points: usize) -> impl Strategy<Value = Vec<Covariate>> {
    let values = prop_oneof![
        prop::collection::vec(any::<f64>(), time_points).prop_map(CovariateValues::Float),
        prop::collection::vec(any::<i64>(), time_points).prop_map(CovariateValues::Int),
        prop::collection::vec(".{0,5}", time_points).prop_map(CovariateValues::Text),
    ];
    prop::collection::vec(values, 0..3).prop_map(|vs| {
        vs.into_iter()
            .enumerate()
            .map(|(i, values)| Covariate {
                name: format!("cov{i}"),
                values,
            })
            .collect()
    })
}

fn provenance() -> impl Strategy<Value = Provenance> {
    (
        prop::option::of(".{0,12}"),
        prop::option::of("(mat|npy|csv)"),
        any::<bool>(),
        prop::collection::vec(".{0,20}", 0..3),
        prop::option::of("(dF/F|fluorescence|[a-z ]{0,12})"),
    )
        .prop_map(
            |(source_file, source_format, layout_assumed, steps, quantity)| Provenance {
                source_file,
                source_format,
                variable: None,
                layout: Some("time-by-neurons".into()),
                layout_assumed,
                steps,
                written_by: Some("proptest".into()),
                ground_truth: None,
                units: quantity.as_ref().map(|q| format!("{q} units")),
                quantity,
            },
        )
}

/// Counts whose maximum lands in the uint8, uint16 or uint32 range.
fn counts(neurons: usize, bins: usize) -> impl Strategy<Value = ndarray::Array2<u32>> {
    prop_oneof![Just(1u32), Just(255u32), Just(65_535u32), Just(u32::MAX)].prop_flat_map(
        move |max| {
            prop::collection::vec(0..=max, neurons * bins).prop_map(move |v| {
                ndarray::Array2::from_shape_vec((neurons, bins), v).expect("shape matches")
            })
        },
    )
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<u32>()
        .prop_map(f32::from_bits)
        .prop_filter("finite", |v| v.is_finite())
}

fn recording() -> impl Strategy<Value = Recording> {
    (1usize..6, 1usize..200).prop_flat_map(|(neurons, time_points)| {
        let binned = (
            counts(neurons, time_points),
            prop::option::of(1e-6f64..10.0),
        )
            .prop_map(|(counts, bin_width_s)| {
                Activity::Binned(BinnedActivity {
                    counts,
                    bin_width_s,
                })
            });
        let traces = (
            prop::collection::vec(finite_f32(), neurons * time_points),
            prop::option::of(0.1f64..1000.0),
        )
            .prop_map(move |(v, frame_rate_hz)| {
                let values = ndarray::Array2::from_shape_vec((neurons, time_points), v)
                    .expect("shape matches");
                Activity::Traces(TraceActivity {
                    values,
                    frame_rate_hz,
                })
            });
        let trains = prop::collection::vec(prop::collection::vec(0.0f64..100.0, 0..20), neurons)
            .prop_map(|mut times_s| {
                for t in &mut times_s {
                    t.sort_by(f64::total_cmp);
                }
                Activity::SpikeTimes(SpikeTrains {
                    times_s,
                    t_start_s: 0.0,
                    t_stop_s: 100.0,
                })
            });
        (
            prop_oneof![binned, traces, trains],
            ids(neurons),
            covariates(time_points),
            provenance(),
        )
            .prop_map(|(activity, ids, covs, prov)| {
                let covs = if matches!(activity, Activity::SpikeTimes(_)) {
                    vec![]
                } else {
                    covs
                };
                Recording::new(ids, activity, covs, prov).expect("generated recordings are valid")
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn parquet_and_ipc_round_trip_bit_exactly(rec in recording()) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["r.parquet", "r.arrow"] {
            let path = dir.path().join(name);
            write_recording(&path, &rec).unwrap();
            let back = read_recording(&path).unwrap();
            prop_assert!(bit_identical(&rec, &back), "{name}: {rec:?}\n!=\n{back:?}");
        }
    }
}

#[test]
fn long_recordings_span_several_row_groups() {
    // 150,000 bins cross the 65,536-row batch size twice.
    let bins = 150_000;
    let counts = ndarray::Array2::from_shape_fn((3, bins), |(n, t)| ((t * 7 + n * 13) % 5) as u32);
    let phase = Covariate {
        name: "phase".into(),
        values: CovariateValues::Text(
            (0..bins)
                .map(|t| if t < bins / 2 { "pre" } else { "post" }.to_string())
                .collect(),
        ),
    };
    let rec = Recording::new(
        vec!["cell é".into(), "2".into(), "x".into()],
        Activity::Binned(BinnedActivity {
            counts,
            bin_width_s: Some(0.025),
        }),
        vec![phase],
        Provenance::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["long.parquet", "long.feather"] {
        let path = dir.path().join(name);
        write_recording(&path, &rec).unwrap();
        assert!(
            bit_identical(&rec, &read_recording(&path).unwrap()),
            "{name}"
        );
    }
}

/// The layout of version 2 (docs/FORMAT.md): a `time_s` column of bin starts or frame times
/// first, integer `neuron` columns for integer ids (and strings for ids such as "007" that do
/// not read back as the same integer), the header also under `PANDAS_ATTRS`; and a file of
/// version 1 (no time column, string ids) still reads.
#[test]
fn version_2_tables_carry_time_integer_ids_and_pandas_attrs_and_version_1_still_reads() {
    use arrow_array::{Array, Float64Array};
    use neuroforge_io::columnar::{from_batches, to_batches};
    let traces = Recording::new(
        vec!["0".into(), "12".into()],
        Activity::Traces(TraceActivity {
            values: ndarray::Array2::from_shape_fn((2, 31), |(n, t)| (n * 31 + t) as f32),
            frame_rate_hz: Some(30.0),
        }),
        vec![],
        Provenance::default(),
    )
    .unwrap();
    let (header, schema, batches) = to_batches(&traces).unwrap();
    assert_eq!(header.schema_version, 2);
    // What the values are and their units, by kind when no step said.
    assert_eq!(header.quantity.as_deref(), Some("traces"));
    assert_eq!(header.units.as_deref(), Some("a.u."));
    assert_eq!(schema.field(0).name(), "time_s");
    let time = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(time.value(30), 1.0, "frame 30 at 30 Hz is at 1 s exactly");
    assert_eq!(time.value(3), 0.1);
    assert_eq!(
        schema.metadata().get("PANDAS_ATTRS"),
        schema.metadata().get("neuroforge")
    );
    assert_eq!(from_batches(&schema, &batches).unwrap(), traces);

    // Version 1: the same table without its time column and with the old header.
    let mut old_header = header.clone();
    old_header.schema_version = 1;
    old_header.time_column = None;
    let keep: Vec<usize> = (1..schema.fields().len()).collect();
    let old_schema = std::sync::Arc::new(
        schema.project(&keep).unwrap().with_metadata(
            [(
                "neuroforge".to_string(),
                serde_json::to_string(&old_header).unwrap(),
            )]
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
        ),
    );
    let old_batches: Vec<_> = batches
        .iter()
        .map(|b| {
            arrow_array::RecordBatch::try_new(
                old_schema.clone(),
                b.project(&keep).unwrap().columns().to_vec(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(from_batches(&old_schema, &old_batches).unwrap(), traces);

    // Spike times: integer ids as int64, others as text; both read back as written.
    for (ids, integer) in [(["3", "40"], true), (["007", "40"], false)] {
        let spikes = Recording::new(
            ids.iter().map(|s| s.to_string()).collect(),
            Activity::SpikeTimes(SpikeTrains {
                times_s: vec![vec![0.5, 1.5], vec![0.25]],
                t_start_s: 0.0,
                t_stop_s: 2.0,
            }),
            vec![],
            Provenance::default(),
        )
        .unwrap();
        let (_, schema, batches) = to_batches(&spikes).unwrap();
        let neuron = schema
            .field_with_name("neuron")
            .unwrap()
            .data_type()
            .clone();
        assert_eq!(
            neuron,
            if integer {
                arrow_schema::DataType::Int64
            } else {
                arrow_schema::DataType::Utf8
            }
        );
        assert_eq!(batches[0].column(0).len(), 3);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        write_recording(&path, &spikes).unwrap();
        assert_eq!(read_recording(&path).unwrap(), spikes);
    }
}
