#!/usr/bin/env python3
"""Read recordings written by neuroforge with pyarrow and pandas alone, and check them.

usage: check_interop.py RETINA.parquet RETINA.arrow
Both files are `neuroforge import` of fixtures/retina-marre2014/original_data_num_neurons_50_1.mat
with --bin-ms 20. The script checks the shape, the time column, the metadata (also as pandas'
`DataFrame.attrs`) and the mean rate against SciPy's view of the MAT file
(fixtures/formats/expected.json) and exits non-zero on any mismatch.
"""
import json
import os
import sys

import pandas as pd
import pyarrow.feather as feather
import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
expected = json.load(open(os.path.join(ROOT, "fixtures/formats/expected.json")))
want = expected["retina/original_data_num_neurons_50_1.mat"]

parquet_path, ipc_path = sys.argv[1], sys.argv[2]
tables = {"parquet": pq.read_table(parquet_path), "arrow": feather.read_table(ipc_path)}
for name, table in tables.items():
    header = json.loads(table.schema.metadata[b"neuroforge"])
    assert header["kind"] == "binned", header["kind"]
    assert header["bin_width_s"] == 0.02, header["bin_width_s"]
    assert header["neurons"] == [str(i) for i in range(50)]
    assert table.column_names[0] == "time_s", table.column_names[:3]
    df = table.to_pandas()
    assert df.shape == (want["shape"][0], 51), df.shape
    time = df["time_s"].to_numpy()
    assert abs(time[1000] - 1000 * 0.02) < 1e-9, time[1000]
    counts = df[header["neurons"]]
    assert list(counts.sum(axis=0).astype(int)) == want["spikes_per_neuron"]
    mean = float(counts.to_numpy(dtype="float64").mean())
    assert abs(mean - want["mean_rate"]) < 1e-12, mean
    print(f"{name}: pyarrow {table.num_rows} rows x {table.num_columns} columns, "
          f"pandas mean rate {mean:.6f}, metadata kind={header['kind']}")
# pandas' own reader, as a user would call it.
df = pd.read_parquet(parquet_path)
assert df.shape == (want["shape"][0], 51)
assert df.attrs["kind"] == "binned" and df.attrs["bin_width_s"] == 0.02, df.attrs
print("pandas.read_parquet: ok", df.shape, "attrs kind", df.attrs["kind"])
