"""The statistics `neuroforge stats` computes (no bootstrap, whole recordings), done with NumPy,
SciPy and elephant on the same retina files, for `cargo xtask bench` to time side by side with
the criterion benchmark `crates/stats/benches/stats.rs` (`all_statistics_no_bootstrap`).

Usage: python stats_numpy.py REAL.mat GENERATED.mat
Prints the wall time of the whole set and a few of the L1 errors (to show it computed the same
things)."""
import sys
import time
import warnings

import numpy as np
import quantities as pq
import scipy.io as sio
import scipy.stats
from elephant.spike_train_dissimilarity import van_rossum_distance
from neo import SpikeTrain


def load(path):
    mat = sio.loadmat(path)
    name = [k for k in mat if not k.startswith("__")][0]
    return mat[name].astype(float).T  # neurons x bins


def kl(p_values, q_values, bins=30):
    lo = min(np.nanmin(p_values), np.nanmin(q_values))
    hi = max(np.nanmax(p_values), np.nanmax(q_values))
    p = np.histogram(p_values, bins=bins, range=(lo, hi))[0] / len(p_values)
    q = np.histogram(q_values, bins=bins, range=(lo, hi))[0] / len(q_values)
    p[p == 0] = 1e-10
    q[q == 0] = 1e-10
    return scipy.stats.entropy(p, q)


def statistics(x):
    n, t = x.shape
    out = {}
    out["rate"] = x.mean(1)
    cov = np.cov(x)
    iu = np.triu_indices(n, 1)
    out["cov"] = cov[iu]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["corr"] = np.nan_to_num(np.corrcoef(x))[iu]
    out["lag1"] = np.cov(x[:, :-1], x[:, 1:])[:n, n:].ravel()
    out["pk"] = np.bincount(x.sum(0).astype(int), minlength=n + 1) / t
    acg = np.array([(x[:, l:] * x[:, : t - l]).sum() for l in range(1, 11)])
    out["acg"] = np.concatenate([acg[::-1], acg]) / acg.max()
    isis = np.concatenate([np.diff(np.nonzero(row)[0]) for row in x])
    out["isi"] = np.bincount(np.minimum(isis, 100), minlength=101) / len(isis)
    coarse = x[:, : t // 25 * 25].reshape(n, -1, 25).sum(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["count_corr"] = np.nan_to_num(np.corrcoef(coarse))[iu]
    # van Rossum: 50 pairs of consecutive 1000-bin segments per neuron, tau 10 bins.
    segments = t // 1000
    starts = [k * (segments - 1) // 50 for k in range(50)]
    vr = []
    for row in x:
        d = []
        for k in starts:
            a = np.nonzero(row[k * 1000 : (k + 1) * 1000])[0].astype(float)
            b = np.nonzero(row[(k + 1) * 1000 : (k + 2) * 1000])[0].astype(float)
            trains = [SpikeTrain(v * pq.s, t_start=0 * pq.s, t_stop=1000 * pq.s) for v in (a, b)]
            d.append(van_rossum_distance(trains, time_constant=10 * pq.s)[0, 1])
        vr.append(np.mean(d))
    out["van_rossum"] = np.array(vr)
    words = np.packbits(x.T.astype(np.uint8), axis=1)
    _, counts = np.unique(words, axis=0, return_counts=True)
    p = counts / counts.sum()
    out["entropy"] = -(p * np.log2(p)).sum()
    return out


real, generated = load(sys.argv[1]), load(sys.argv[2])
t0 = time.perf_counter()
a = statistics(real)
b = statistics(generated)
errors = {k: float(np.abs(a[k] - b[k]).sum()) for k in ["rate", "cov", "lag1", "pk", "acg"]}
kls = {k: float(kl(a[k], b[k])) for k in ["rate", "count_corr"]}
dt = time.perf_counter() - t0
print(f"numpy/scipy/elephant: all statistics of both recordings in {dt:.2f} s; "
      f"L1 rate {errors['rate']:.4f}, cov {errors['cov']:.4f}, P(k) {errors['pk']:.4f}, "
      f"lag-1 {errors['lag1']:.3f}")
