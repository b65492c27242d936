"""CEBRA (Schneider, Lee & Mathis, Nature 2023; the `cebra` package from PyPI, CPU) on a
neuroforge point table, as the peer of `cargo xtask reproduce marble-hippocampus`.

Reads the table's `x` block as the neural input (binned spike counts: `neuroforge points
--smooth-ms 0`), trains CEBRA with the settings of the CEBRA/MARBLE rat-hippocampus notebooks
(offset10-model, batch 512, learning rate 3e-4, cosine distance, time offsets 10; temperature
1.12 for CEBRA-time, 1 for CEBRA-behaviour) on the first `--train-fraction` of the rows only, and
writes the embedding of every row as a point table (`z0..` plus the table's other blocks), so
`neuroforge decode` scores it exactly as it scores MARBLE and PCA.

CEBRA-behaviour's labels are the notebooks' `continuous_index`: the position (`pos0`) and the
running direction as two indicator columns (right, left), from the sign of the position's change
within each trajectory.

`--drop-trajectory-ends` drops the last row of each (condition, trajectory), the rows MARBLE
cannot use (no vector), so the embedded table has the rows of `neuroforge embed`'s, in order.

`--context TABLE`: CEBRA's model sees 10 consecutive bins and samples its positives by time,
so it is trained on a continuous recording rather than on the `--data` rows (which may be
short stretches of running). TABLE holds the same bins on the same grid (`t0` block) without
the filter (e.g. `neuroforge points --min-speed 0`); CEBRA trains on its rows before the first
test row of `--data` and embeds all of them, and the rows of `--data` are then taken from it by
their time.

Prints one JSON line: rows, training rows, seconds of training, peak resident memory (MiB).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def blocks(table):
    """Numeric blocks by prefix (`x0, x1, ...` -> `x`), in column order."""
    out = {}
    for name in table.column_names:
        if name in ("condition", "trajectory"):
            continue
        prefix = name.rstrip("0123456789")
        if prefix == name:
            continue
        out.setdefault(prefix, []).append(name)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="point table (Parquet); block x is the input")
    p.add_argument("--out", required=True, help="embedded point table to write (Parquet)")
    p.add_argument("--mode", choices=["time", "behaviour"], required=True)
    p.add_argument("--labels", default="pos", help="behaviour block; column 0 is the position")
    p.add_argument("--dim", type=int, default=32, help="output dimension")
    p.add_argument("--iterations", type=int, default=10000)
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--drop-trajectory-ends", action="store_true")
    p.add_argument("--context", help="continuous recording of the same bins to train on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import torch
    import cebra

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    table = pq.read_table(args.data)
    n = table.num_rows
    cond = np.asarray(table.column("condition").to_pylist())
    if "trajectory" in table.column_names:
        traj = np.asarray(table.column("trajectory").to_pylist(), dtype=np.int64)
    else:
        traj = np.zeros(n, dtype=np.int64)
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = (cond[:-1] == cond[1:]) & (traj[:-1] == traj[1:])
    keep = same_next if args.drop_trajectory_ends else np.ones(n, dtype=bool)

    by_prefix = blocks(table)
    if "x" not in by_prefix:
        sys.exit(f"{args.data}: no block x (the neural input)")
    neural = np.column_stack([table.column(c).to_numpy() for c in by_prefix["x"]]).astype(np.float32)
    if args.labels not in by_prefix:
        sys.exit(f"{args.data}: no block {args.labels} (the behaviour)")
    position = table.column(by_prefix[args.labels][0]).to_numpy().astype(np.float64)
    # Direction from the position's change to the next row of the same trajectory (the previous
    # one at a trajectory's end).
    step = np.zeros(n)
    step[:-1] = np.where(same_next[:-1], position[1:] - position[:-1], 0.0)
    ends = ~same_next
    step[ends] = np.concatenate([[0.0], step[:-1]])[ends]
    right = (step > 0).astype(np.float32)
    labels = np.column_stack([position, right, 1.0 - right]).astype(np.float32)

    rows = np.flatnonzero(keep)
    train_rows = rows[: int(round(len(rows) * args.train_fraction))]
    if args.context:
        # Train and embed on the continuous recording; take the rows of --data by time.
        context = pq.read_table(args.context)
        cblocks = blocks(context)
        if "t" not in by_prefix or "t" not in cblocks:
            sys.exit("--context needs a time block t0 in both tables")
        times = table.column(by_prefix["t"][0]).to_numpy()
        ctimes = context.column(cblocks["t"][0]).to_numpy()
        cneural = np.column_stack(
            [context.column(c).to_numpy() for c in cblocks["x"]]).astype(np.float32)
        cposition = context.column(cblocks[args.labels][0]).to_numpy().astype(np.float64)
        ccond = np.asarray(context.column("condition").to_pylist())
        ctraj = (np.asarray(context.column("trajectory").to_pylist(), dtype=np.int64)
                 if "trajectory" in context.column_names else np.zeros(len(ctimes), np.int64))
        cnext = np.zeros(len(ctimes), dtype=bool)
        cnext[:-1] = (ccond[:-1] == ccond[1:]) & (ctraj[:-1] == ctraj[1:])
        cstep = np.zeros(len(ctimes))
        cstep[:-1] = np.where(cnext[:-1], cposition[1:] - cposition[:-1], 0.0)
        cright = (cstep > 0).astype(np.float32)
        clabels = np.column_stack([cposition, cright, 1.0 - cright]).astype(np.float32)
        index = {round(float(v), 6): i for i, v in enumerate(ctimes)}
        try:
            mapped = np.array([index[round(float(times[r]), 6)] for r in rows])
        except KeyError as e:
            sys.exit(f"--context lacks the bin at t = {e}")
        cut = times[rows[len(train_rows)]] if len(train_rows) < len(rows) else np.inf
        neural, labels = cneural, clabels
        train_rows = np.flatnonzero(ctimes < cut)
        embed_rows = mapped
    else:
        embed_rows = rows
    model = cebra.CEBRA(
        model_architecture="offset10-model",
        batch_size=512,
        learning_rate=3e-4,
        temperature=1.12 if args.mode == "time" else 1.0,
        output_dimension=args.dim,
        max_iterations=args.iterations,
        distance="cosine",
        conditional="time" if args.mode == "time" else "time_delta",
        device="cpu",
        verbose=False,
        time_offsets=10,
    )
    started = time.perf_counter()
    if args.mode == "time":
        model.fit(neural[train_rows])
    else:
        model.fit(neural[train_rows], labels[train_rows])
    seconds = time.perf_counter() - started
    if args.context:
        # Transform the whole continuous recording, then keep the rows of --data.
        embedding = model.transform(neural)[embed_rows]
    else:
        embedding = model.transform(neural[rows])

    columns = {"condition": pa.array(cond[rows].tolist(), type=pa.string()),
               "trajectory": pa.array(traj[rows], type=pa.int64())}
    for j in range(embedding.shape[1]):
        columns[f"z{j}"] = pa.array(embedding[:, j].astype(np.float64))
    for prefix, names in by_prefix.items():
        if prefix in ("x", "z"):
            continue
        for name in names:
            columns[name] = pa.array(table.column(name).to_numpy()[rows])
    temporary = args.out + ".partial"
    pq.write_table(pa.table(columns), temporary)
    os.replace(temporary, args.out)
    print(json.dumps({
        "mode": args.mode,
        "dimension": args.dim,
        "iterations": args.iterations,
        "rows": int(len(rows)),
        "training_rows": int(len(train_rows)),
        "context": bool(args.context),
        "train_s": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "cebra": cebra.__version__,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
