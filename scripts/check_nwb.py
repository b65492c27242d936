"""pynwb reads and validates the NWB files neuroforge writes, with the values it was given.

Run by `cargo xtask interop` (which writes the files) as
    python check_nwb.py OUT_DIR fixtures/formats/nwb/expected.json
where OUT_DIR holds spikes.nwb (the good units of units_position.nwb), binned.nwb (the same
at 100 ms with Position/xy as covariates), raw.nwb (ophys.nwb's Fluorescence/raw) and
points.nwb (a `neuroforge points` table of binned.parquet).
"""
import json
import pathlib
import sys

import numpy as np
import pynwb
from pynwb import NWBHDF5IO

out = pathlib.Path(sys.argv[1])
expected = json.loads(pathlib.Path(sys.argv[2]).read_text())
units_want = expected["units_position.nwb"]
ophys_want = expected["ophys.nwb"]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


for name in ["spikes.nwb", "binned.nwb", "raw.nwb", "points.nwb"]:
    errors = pynwb.validate(path=str(out / name), use_cached_namespaces=False)
    check(not errors, f"{name}: the NWB schema validator reports {errors}")

with NWBHDF5IO(str(out / "spikes.nwb"), "r") as io:
    units = io.read().units.to_dataframe()
    check([str(i) for i in units.index] == units_want["good_units"], f"spikes.nwb ids {list(units.index)}")
    for uid, times in zip(units.index, units["spike_times"]):
        check(np.array_equal(np.asarray(times), np.asarray(units_want["spike_times"][str(uid)])),
              f"spikes.nwb unit {uid}: spike times differ")

with NWBHDF5IO(str(out / "binned.nwb"), "r") as io:
    nwb = io.read()
    activity = nwb.processing["neuroforge"]["activity"]
    check(activity.data.shape == (400, 4), f"binned.nwb activity shape {activity.data.shape}")
    check(abs(activity.rate - 10.0) < 1e-6, f"binned.nwb rate {activity.rate}")
    ids = list(nwb.processing["neuroforge"]["neurons"].to_dataframe()["neuron_id"])
    check(ids == units_want["good_units"], f"binned.nwb neuron ids {ids}")
    behaviour = nwb.processing["behavior"]["BehavioralTimeSeries"]
    for j in range(2):
        got = behaviour.time_series[f"xy_{j}"].data[:50]
        want = np.asarray(units_want["xy_at_bin_centres"][j])
        check(np.allclose(got, want, rtol=0, atol=1e-12), f"binned.nwb xy_{j} differs from numpy's interp")
    first_unit = np.asarray(units_want["spike_times"][ids[0]])
    counts = np.histogram(first_unit, bins=np.arange(0, 40.0001, 0.1))[0]
    check(np.array_equal(activity.data[:, 0], counts), "binned.nwb counts differ from numpy's histogram")

with NWBHDF5IO(str(out / "raw.nwb"), "r") as io:
    activity = io.read().processing["neuroforge"]["activity"]
    check(activity.data.shape == (ophys_want["frames"], ophys_want["rois"]), f"raw.nwb shape {activity.data.shape}")
    check(np.array_equal(activity.data[0], np.asarray(ophys_want["raw_first_frame"], dtype=np.float32)),
          "raw.nwb first frame differs")
    check(abs(activity.rate - ophys_want["rate_hz"]) < 1e-6, f"raw.nwb rate {activity.rate}")

with NWBHDF5IO(str(out / "points.nwb"), "r") as io:
    table = io.read().processing["neuroforge"]["points"].to_dataframe()
    check("condition" in table.columns and "x" in table.columns, f"points.nwb columns {list(table.columns)}")
    check(len(table) > 0, "points.nwb is empty")

if failures:
    print("NWB interop FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"pynwb {pynwb.__version__} reads and validates spikes.nwb, binned.nwb, raw.nwb, points.nwb "
      "with the values neuroforge was given")
