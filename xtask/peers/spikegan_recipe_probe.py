"""Recipe probes for Spike-GAN on the retina: the project's PyTorch reference trainer
(../shared/peers/spikegan_torch_train.py, true double backward) with three more options, used
for the measurements of docs/RESULTS.md ("one critic step at four times the rate", 2026-12-05):

  --critic-input gst     a Bernoulli sample drawn as 1[sigmoid((logit + logistic noise)/tau) > 0.5]
                         with the gradient of the relaxed value (straight-through Gumbel-sigmoid)
  --critic-input gumbel  the relaxed value itself (Gumbel-sigmoid / binary Concrete)
  --tau T [--tau-end E]  its temperature, annealed geometrically from T to E over the run
  --late-batch B [--late-from F]  batch B instead of 64 after a fraction F of the iterations
  --gp L                 the gradient penalty's weight lambda (default 10)
  --critic-width C       the critic's first width (C -> 2C channels; default: --width)

Everything else as the reference: usage, windows (first 80% of the recording, drawn at random),
evaluation (as many samples as the recording has non-overlapping windows, against all of it).
Each evaluation line also gives "w", the critic's mean Wasserstein estimate D(real) - D(fake)
over the critic steps since the previous evaluation.
"""
import argparse, copy, json, math, time
import numpy as np, scipy.io, torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("mat")
p.add_argument("--width", type=int, default=128)
p.add_argument("--init", choices=["authors", "torch"], default="authors")
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
p.add_argument("--ema", type=float, default=0.0)
p.add_argument("--iters", type=int, default=3000)
p.add_argument("--evals", default="1000,3000")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--out", default="")
p.add_argument("--critic-input", choices=["prob", "st", "gst", "gumbel"], default="prob")
p.add_argument("--tau", type=float, default=1.0)
p.add_argument("--tau-end", type=float, default=0.0)
p.add_argument("--late-batch", type=int, default=0)
p.add_argument("--late-from", type=float, default=0.67)
p.add_argument("--gp", type=float, default=10.0)
p.add_argument("--critic-width", type=int, default=0)
p.add_argument("--ncritic", type=int, default=5)
p.add_argument("--dlr", type=float, default=0.0)
a = p.parse_args()
torch.set_num_threads(a.threads)
evals = sorted(int(v) for v in a.evals.split(","))
T, Z, B, CRIT, LAM, W = 32, 128, 64, a.ncritic, a.gp, a.width
WD = a.critic_width or W

real = np.ascontiguousarray(scipy.io.loadmat(a.mat)["data"].T).astype(np.float64)  # N x bins
N, bins = real.shape
n_train = bins - int(round(bins * 0.2)) - T + 1
real_t = torch.from_numpy(real.astype(np.float32))


def moments(x, window=T):
    n, m = x.shape
    s = x.sum(1)
    cov = (x @ x.T - np.outer(s, s) / m) / (m - 1)
    a_, b_ = x[:, :-1], x[:, 1:]
    lag1 = (a_ @ b_.T - np.outer(a_.sum(1), b_.sum(1)) / (m - 1)) / (m - 2)
    pk = np.bincount(x.sum(0).astype(np.int64), minlength=n + 1)[: n + 1] / m
    X = x[:, : (m // window) * window].reshape(n, -1, window)
    acg = np.array([(X[:, :, l:] * X[:, :, : window - l]).sum() for l in range(1, 11)])
    acg = acg / acg.max() if acg.max() > 0 else acg
    return dict(rate=s / m, cov=cov[np.triu_indices(n, 1)], lag1=lag1.ravel(), pk=pk,
                acg=np.concatenate([acg[::-1], acg]))


def errors(mr, mg):
    return {k: float(np.abs(mr[k] - mg[k]).sum()) for k in ("rate", "cov", "pk", "lag1", "acg")}


class Critic(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv1d(N, WD, 5, 2, 2); s.c2 = nn.Conv1d(WD, 2 * WD, 5, 2, 2)
        s.fc = nn.Linear(2 * WD * (T // 4), 1)

    def forward(s, x):
        x = F.leaky_relu(s.c1(x), 0.2); x = F.leaky_relu(s.c2(x), 0.2)
        return s.fc(x.flatten(1))


class Gen(nn.Module):
    def __init__(s):
        super().__init__()
        s.fc = nn.Linear(Z, 2 * W * (T // 4))
        s.c1 = nn.Conv1d(2 * W, W, 5, 1, 2); s.c2 = nn.Conv1d(W, N, 5, 1, 2)

    def forward(s, z):
        x = F.leaky_relu(s.fc(z).view(-1, 2 * W, T // 4), 0.2)
        x = F.leaky_relu(s.c1(F.interpolate(x, scale_factor=2)), 0.2)
        x = s.c2(F.interpolate(x, scale_factor=2))
        if a.init == "authors":  # the authors' leaky ReLU before the sigmoid
            x = F.leaky_relu(x, 0.2)
        s.last_logit = x
        return torch.sigmoid(x)


torch.manual_seed(a.seed)
G, D = Gen(), Critic()
if a.init == "authors":
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.uniform_(m.weight, -0.02 * math.sqrt(3), 0.02 * math.sqrt(3)); nn.init.zeros_(m.bias)
og = torch.optim.Adam(G.parameters(), a.lr, betas=(0.0, 0.9))
od = torch.optim.Adam(D.parameters(), a.dlr or a.lr, betas=(0.0, 0.9))
G_ema = copy.deepcopy(G) if a.ema > 0 else None
rng = torch.Generator().manual_seed(1000 + a.seed)
offs = torch.arange(T)
mr = moments(real)


CUR_IT = [1]
def tau_now():
    if a.tau_end <= 0: return a.tau
    f = (CUR_IT[0] - 1) / max(1, a.iters - 1)
    return a.tau * (a.tau_end / a.tau) ** f

def shown(p):
    if a.critic_input in ("gst", "gumbel"):
        l = G.last_logit
        u = torch.rand(p.shape, generator=rng).clamp(1e-6, 1 - 1e-6)
        soft = torch.sigmoid((l + torch.log(u) - torch.log1p(-u)) / tau_now())
        if a.critic_input == "gumbel":
            return soft
        return (soft > 0.5).float() + soft - soft.detach()
    if a.critic_input == "st":  # a Bernoulli sample, straight-through gradient
        return (p > torch.rand(p.shape, generator=rng)).float() + p - p.detach()
    return p


def batch_real():
    idx = torch.randint(0, n_train, (B,), generator=rng)
    return real_t[:, idx[:, None] + offs[None, :]].permute(1, 0, 2)



@torch.no_grad()
def evaluate(gen, count=bins // T):
    g = torch.Generator().manual_seed(2)
    out = []
    for i in range(0, count, 512):
        pr = gen(torch.randn(min(512, count - i), Z, generator=g))
        out.append((pr > torch.rand(pr.shape, generator=g)).double())
    s = torch.cat(out).numpy()
    return errors(mr, moments(s.transpose(1, 0, 2).reshape(N, -1)))


log = {"args": vars(a), "params": {"generator": sum(q.numel() for q in G.parameters()),
                                   "critic": sum(q.numel() for q in D.parameters())}, "evals": []}
print(json.dumps(log["params"]), flush=True)
spent = 0.0
wsum, wn = 0.0, 0
for it in range(1, a.iters + 1):
    t0 = time.perf_counter()
    CUR_IT[0] = it
    B = a.late_batch if (a.late_batch and it > a.late_from * a.iters) else 64
    if a.schedule == "cosine":
        f = 0.5 * (1 + math.cos(math.pi * (it - 1) / a.iters))
        for opt, base in ((og, a.lr), (od, a.dlr or a.lr)):
            for grp in opt.param_groups:
                grp["lr"] = base * f
    for _ in range(CRIT):
        xr = batch_real()
        with torch.no_grad():
            xf = shown(G(torch.randn(B, Z, generator=rng)))
        al = torch.rand(B, 1, 1, generator=rng)
        xh = (xr + al * (xf - xr)).requires_grad_(True)
        sc = D(torch.cat([xr, xf]))
        gr, = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
        gp = (gr.flatten(1).norm(dim=1) - 1).pow(2).mean()
        loss = sc[B:].mean() - sc[:B].mean() + LAM * gp
        wsum = wsum + (sc[:B].mean() - sc[B:].mean()).item(); wn += 1
        od.zero_grad(set_to_none=True); loss.backward(); od.step()
    lg = -D(shown(G(torch.randn(B, Z, generator=rng)))).mean()
    og.zero_grad(set_to_none=True); lg.backward(); og.step()
    if G_ema is not None:
        d = min(a.ema, (1 + it) / (10 + it))  # warm-up so early weights fade out
        with torch.no_grad():
            for pe, q in zip(G_ema.parameters(), G.parameters()):
                pe.mul_(d).add_(q, alpha=1 - d)
    spent += time.perf_counter() - t0
    if it in evals:
        rec = {"iter": it, "ms_per_iter": 1e3 * spent / it, "w": wsum / max(wn, 1), "generator": evaluate(G)}
        if G_ema is not None:
            rec["ema"] = evaluate(G_ema)
        log["evals"].append(rec)
        print(json.dumps(rec), flush=True); wsum, wn = 0.0, 0
        if a.out:
            json.dump(log, open(a.out, "w"), indent=1)
