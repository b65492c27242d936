"""How far a model's samples are from the recording as a WGAN critic sees them: train a fresh
WGAN-GP critic (the half-width Spike-GAN critic: 50 -> 64 -> 128 channels, kernel 5, stride 2;
lambda 10; Adam 1e-3 with betas (0, 0.9), cosine decay; batch 64; PyTorch's initialisation) to
tell 32-bin windows of the recording from windows of the model's samples, then report its
Wasserstein estimate mean D(real) - mean D(model) on windows it was not trained on. Used in
docs/RESULTS.md (2026-12-05) to compare Spike-GAN, the dichotomized Gaussian, the k-pairwise
model and independent neurons by the distance Spike-GAN itself minimises.

usage: critic_distance_probe.py RECORDING.mat MODEL(.npy neurons x bins | .mat: `data`, else its first variable, time x neurons) STEPS

Recorded windows start at every bin; the model's at multiples of 32 (generated windows are laid
end to end, and a window across two of them would be trivially fake). Held out: windows in
every fifth block of 32 bins (recorded windows that overlap such a block are not trained on).
Prints the held-out estimate four times during training. One thread, seed 0.
"""
import sys, math, numpy as np, scipy.io, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0)
T, B, W, LAM = 32, 64, 64, 10.0
real = np.ascontiguousarray(scipy.io.loadmat(sys.argv[1])["data"].T).astype(np.float32)
f = sys.argv[2]
def load_mat(path):
    m = scipy.io.loadmat(path)
    name = "data" if "data" in m else next(k for k in m if not k.startswith("__"))
    return np.ascontiguousarray(m[name].T).astype(np.float32)


fake = np.load(f).astype(np.float32) if f.endswith(".npy") else load_mat(f)
steps = int(sys.argv[3]); N = real.shape[0]
def windows(x, aligned):
    starts = np.arange(0, x.shape[1] - T + 1, T if aligned else 1)
    return starts
rs = windows(real, False); fs = windows(fake, True)
rng = np.random.default_rng(0)
# held out: every 5th block of 32 windows (real), every 5th window (fake)
r_test = rs[(rs // T) % 5 == 0]; r_train = rs[(rs // T) % 5 != 0]
# keep a gap so train windows do not overlap test windows
r_train = r_train[((r_train + T - 1) // T) % 5 != 0]
f_test = fs[(fs // T) % 5 == 0]; f_train = fs[(fs // T) % 5 != 0]
R, Fk = torch.from_numpy(real), torch.from_numpy(fake)
offs = torch.arange(T)
def batch(X, starts, n):
    idx = torch.from_numpy(rng.choice(starts, n))
    return X[:, idx[:, None] + offs[None, :]].permute(1, 0, 2)
class Critic(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv1d(N, W, 5, 2, 2); s.c2 = nn.Conv1d(W, 2 * W, 5, 2, 2); s.fc = nn.Linear(2 * W * (T // 4), 1)
    def forward(s, x):
        x = F.leaky_relu(s.c1(x), 0.2); x = F.leaky_relu(s.c2(x), 0.2); return s.fc(x.flatten(1))
D = Critic(); od = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9))
@torch.no_grad()
def w_test():
    def score(X, starts):
        out = []
        for i in range(0, len(starts), 1024):
            s = torch.from_numpy(starts[i:i+1024]); out.append(D(X[:, s[:, None] + offs[None, :]].permute(1, 0, 2)))
        return torch.cat(out).mean().item()
    return score(R, r_test) - score(Fk, f_test)
for it in range(1, steps + 1):
    for g in od.param_groups: g["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * (it - 1) / steps))
    xr, xf = batch(R, r_train, B), batch(Fk, f_train, B)
    al = torch.rand(B, 1, 1); xh = (xr + al * (xf - xr)).requires_grad_(True)
    sc = D(torch.cat([xr, xf])); gr, = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
    loss = sc[B:].mean() - sc[:B].mean() + LAM * (gr.flatten(1).norm(dim=1) - 1).pow(2).mean()
    od.zero_grad(); loss.backward(); od.step()
    if it % (steps // 4) == 0:
        print(f, it, "W held-out", round(w_test(), 4), flush=True)
