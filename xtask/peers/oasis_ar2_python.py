"""oasis-deconv's noise-constrained AR(2) deconvolution (`deconvolve(y, g=(g1, g2), penalty=1)`,
its exact online NNLS solver) on one simulated 20,000-frame AR(2) trace: roots 0.95 and 0.6,
spike probability 0.02 per frame, noise 0.3 - the setting of the criterion benchmarks
`ar2_*_constrained_1x20000` in crates/signal/benches/oasis.rs. Prints the time (best of 3) and
the correlation of inferred with true spikes."""
import time
import warnings

import numpy as np
from oasis.functions import deconvolve

rng = np.random.default_rng(1)
T, g1, g2 = 20000, 1.55, -0.57
S = (rng.random(T) < 0.02).astype(float)
C = np.zeros(T)
for t in range(T):
    C[t] = S[t] + (g1 * C[t - 1] if t else 0) + (g2 * C[t - 2] if t > 1 else 0)
Y = C + 0.3 * rng.standard_normal(T)
best = np.inf
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for _ in range(3):
        t0 = time.perf_counter()
        c, s, b, g, lam = deconvolve(Y, g=(g1, g2), penalty=1)
        best = min(best, time.perf_counter() - t0)
print(f"oasis-deconv AR(2) deconvolve (onnls), 1 x {T}: {best * 1e3:.1f} ms; "
      f"corr(inferred, true spikes) = {np.corrcoef(s, S)[0, 1]:.4f}")
