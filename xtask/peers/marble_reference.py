"""The authors' MARBLE (Gosztolai et al., Nature Methods 2025; their package from
../shared/peers/marble-reference, MIT) on the same point tables and settings as
`cargo xtask reproduce marble-hippocampus` and `marble-vanderpol`, for a side-by-side table.

hippocampus: reads the smoothed rates (`x` block of a `neuroforge points` table), keeps the
rows MARBLE can use (all but each trajectory's last), fits a 10-component PCA on the first
`--train-fraction` of them, builds the training dataset from those rows and the test dataset
from the rest (as the authors' decoding notebook), trains with their rat-hippocampus
parameters and writes the embedding of every usable row as a point table (`z0..`, the PCA
states `x0..`, the table's other blocks), which `neuroforge decode` scores like ours.

vanderpol: reads a `neuroforge simulate vanderpol --points` table (conditions mu=..., states
and vectors), builds one dataset of all conditions (k 15, delta 1.5, furthest point sampling
at the given spacing), trains with MARBLE's defaults for the given epochs, and writes the
conditions' distance matrix (k-means clusters of the embeddings, EMD) and the Spearman
correlation of its first classical-MDS coordinate with mu.

Prints one JSON line: the figures, seconds of training, peak resident memory (MiB).
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def blocks(table):
    out = {}
    for name in table.column_names:
        if name in ("condition", "trajectory"):
            continue
        prefix = name.rstrip("0123456789")
        if prefix != name:
            out.setdefault(prefix, []).append(name)
    return out


def block(table, names):
    return np.column_stack([table.column(c).to_numpy() for c in names]).astype(np.float64)


def usable_rows(table):
    """Rows with a next state in the same (condition, trajectory)."""
    n = table.num_rows
    cond = np.asarray(table.column("condition").to_pylist())
    traj = (np.asarray(table.column("trajectory").to_pylist(), dtype=np.int64)
            if "trajectory" in table.column_names else np.zeros(n, dtype=np.int64))
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = (cond[:-1] == cond[1:]) & (traj[:-1] == traj[1:])
    return np.flatnonzero(same_next), cond, traj


def write_table(path, columns):
    temporary = path + ".partial"
    pq.write_table(pa.table(columns), temporary)
    os.replace(temporary, path)


def hippocampus(args, MARBLE, torch):
    from sklearn.decomposition import PCA

    table = pq.read_table(args.data)
    by_prefix = blocks(table)
    rates = block(table, by_prefix["x"])
    rows, cond, traj = usable_rows(table)
    train = rows[: int(round(len(rows) * args.train_fraction))]
    test = rows[len(train):]
    pca = PCA(n_components=args.pca).fit(rates[train])
    states = pca.transform(rates)
    # The vector at row r: the next state minus this one (r + 1 is in the same trajectory).
    vectors = states[rows + 1] - states[rows]
    vector_of = dict(zip(rows.tolist(), range(len(rows))))

    def dataset(subset):
        return MARBLE.construct_dataset(
            anchor=states[subset],
            vector=vectors[[vector_of[r] for r in subset]],
            k=15,
            delta=1.5,
        )

    params = {
        "epochs": args.epochs,
        "order": 1,
        "hidden_channels": [64],
        "out_channels": 32,
        "inner_product_features": False,
        "emb_norm": True,
        "diffusion": False,
        "include_positions": True,
        "seed": args.seed,
    }
    data_train = dataset(train)
    model = MARBLE.net(data_train, params=params.copy())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as outdir:
        model.fit(data_train, outdir=outdir)
    seconds = time.perf_counter() - started
    emb_train = model.transform(data_train).emb.numpy()
    emb_test = model.transform(dataset(test)).emb.numpy()
    embedding = np.vstack([emb_train, emb_test])

    columns = {"condition": pa.array(cond[rows].tolist(), type=pa.string()),
               "trajectory": pa.array(traj[rows], type=pa.int64())}
    for j in range(embedding.shape[1]):
        columns[f"z{j}"] = pa.array(embedding[:, j].astype(np.float64))
    for j in range(states.shape[1]):
        columns[f"x{j}"] = pa.array(states[rows, j])
    for prefix, names in by_prefix.items():
        if prefix in ("x", "z"):
            continue
        for name in names:
            columns[name] = pa.array(table.column(name).to_numpy()[rows])
    write_table(args.out, columns)
    return {"rows": int(len(rows)), "training_rows": int(len(train)), "train_s": seconds}


def vanderpol(args, MARBLE, torch):
    from scipy.stats import spearmanr

    table = pq.read_table(args.data)
    by_prefix = blocks(table)
    x = block(table, by_prefix["x"])
    v = block(table, by_prefix["v"])
    cond = np.asarray(table.column("condition").to_pylist())
    names = list(dict.fromkeys(cond.tolist()))
    mu = [float(n.split("=", 1)[1]) for n in names]
    anchors = [x[cond == n] for n in names]
    fields = [v[cond == n] for n in names]
    data = MARBLE.construct_dataset(
        anchor=anchors, vector=fields, k=15, delta=1.5, spacing=args.spacing, seed=args.seed
    )
    model = MARBLE.net(data, params={"epochs": args.epochs, "seed": args.seed})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as outdir:
        model.fit(data, outdir=outdir)
    seconds = time.perf_counter() - started
    data = model.transform(data)
    data = MARBLE.distribution_distances(data, n_clusters=50, seed=args.seed)
    dist = np.asarray(data.dist, dtype=np.float64)
    # Classical MDS: the top eigenvector of the doubly centred squared distances.
    n = dist.shape[0]
    centring = np.eye(n) - np.ones((n, n)) / n
    gram = -0.5 * centring @ (dist ** 2) @ centring
    values, vectors = np.linalg.eigh(gram)
    first = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
    rho = spearmanr(first, mu).correlation
    with open(args.out, "w") as f:
        json.dump({"conditions": names, "mu": mu, "distances": dist.tolist(),
                   "mds1": first.tolist(), "spearman_mds1_mu": float(rho)}, f)
    return {"nodes": int(data.num_nodes), "train_s": seconds, "spearman_mds1_mu": abs(float(rho))}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=["hippocampus", "vanderpol"])
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--pca", type=int, default=10)
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--spacing", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import torch
    import MARBLE

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    # MARBLE prints its progress on stdout; keep stdout for the result line.
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        run = hippocampus if args.experiment == "hippocampus" else vanderpol
        figures = run(args, MARBLE, torch)
    finally:
        sys.stdout = real_stdout
    figures.update({
        "experiment": args.experiment,
        "epochs": args.epochs,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "torch": torch.__version__,
    })
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
