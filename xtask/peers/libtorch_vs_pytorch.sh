#!/usr/bin/env bash
# neuroforge's Spike-GAN iteration on libtorch against PyTorch eager, alternated: at each size,
# ROUNDS times (default 3) the criterion median of the bench group `spikegan_iteration_tch`,
# then `../shared/peers/spikegan_torch.py N T 20`, both on two OpenMP threads. Alternating
# separates the ratio from the machine's drift between rounds (docs/BENCHMARKS.md, attempt 20).
#
# Needs the PyTorch torch-sys expects in $NEUROFORGE_VENV (default ~/.cache/neuroforge/venv;
# `cargo xtask check-backends` installs it). Run from anywhere: xtask/peers/libtorch_vs_pytorch.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${NEUROFORGE_VENV:-$HOME/.cache/neuroforge/venv}"
rounds="${ROUNDS:-3}"
peer="$root/../shared/peers/spikegan_torch.py"
[ -x "$venv/bin/python" ] || { echo "libtorch_vs_pytorch: no Python in $venv" >&2; exit 1; }
[ -f "$peer" ] || { echo "libtorch_vs_pytorch: no peer script at $peer" >&2; exit 1; }
torch_lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bench="$(cd "$root" && cargo bench -p neuroforge-train --bench iteration --features bench-tch \
    --no-run --message-format=json 2>/dev/null \
  | "$venv/bin/python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "iteration":
        print(m["executable"])')"
[ -n "$bench" ] || { echo "libtorch_vs_pytorch: the bench did not build" >&2; exit 1; }
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
for size in 16x128 50x32 32x64; do
  neurons="${size%x*}"; bins="${size#*x}"
  for round in $(seq 1 "$rounds"); do
    # The whole output first: a reader that stops early would end the bench with SIGPIPE.
    report="$("$bench" --bench "spikegan_iteration_tch/$size\$" --noplot 2>&1)"
    ours="$(sed -nE 's/.*time: +\[[0-9.]+ [mµ]?s ([0-9.]+) ([mµ]?s).*/\1 \2/p' <<<"$report" | head -1)"
    theirs="$("$venv/bin/python" "$peer" "$neurons" "$bins" 20 | grep -o '[0-9.]* ms/iteration' | cut -d' ' -f1)"
    echo "$size round $round: libtorch $ours, PyTorch $theirs ms" \
      "($("$venv/bin/python" -c "print(f'{${ours% *} / $theirs:.3f}')")x)"
  done
done
