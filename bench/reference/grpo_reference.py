#!/usr/bin/env python3
"""Independent PyTorch reference of the GRPO-family loss (grpo, dr_grpo, dapo; every aggregation mode).

Writes tests/fixtures/rl/grpo_reference.json: random inputs, and for each case the loss and the gradient of the
loss with respect to each token's log-probability (and entropy), computed by torch autograd in float64.
The C++ test (tests/rl/test_grpo_loss.cpp) must reproduce them to 1e-6.
Formulas follow verl's core_algos (compute_policy_loss, agg_loss, kl_penalty 'low_var_kl' without clamping) and
the GRPO / Dr. GRPO / DAPO papers; written here independently of the C++ code.
"""
import json, sys
import torch

torch.manual_seed(0)
f64 = torch.float64


def group_adv(rewards, divide_by_std, eps=1e-6):
    out = []
    for g in rewards:
        r = torch.tensor(g, dtype=f64)
        if len(g) < 2:
            out.append([0.0] * len(g)); continue
        a = r - r.mean()
        if divide_by_std:
            a = a / (r.std(unbiased=True) + eps)
        out.append(a.tolist())
    return out


def loss_fn(logp, old, ref, ent, adv, seq, nseq, cfg):
    ratio = torch.exp(logp - old)
    s1 = ratio * adv
    s2 = torch.clamp(ratio, 1 - cfg["eps_low"], 1 + cfg["eps_high"]) * adv
    tok = -torch.minimum(s1, s2)
    if cfg["beta"] != 0:
        d = ref - logp
        tok = tok + cfg["beta"] * (torch.exp(d) - d - 1)
    if cfg["entropy_coef"] != 0:
        tok = tok - cfg["entropy_coef"] * ent
    agg = cfg["aggregation"]
    seq_t = torch.tensor(seq)
    if agg == "token_mean":
        return tok.sum() / tok.numel()
    per_seq_sum = torch.zeros(nseq, dtype=f64).index_add(0, seq_t, tok)
    counts = torch.zeros(nseq, dtype=f64).index_add(0, seq_t, torch.ones_like(tok))
    if agg == "seq_mean_token_mean":
        return (per_seq_sum / counts).mean()
    if agg == "seq_mean_token_sum":
        return per_seq_sum.mean()
    if agg == "seq_mean_token_sum_norm":
        return per_seq_sum.sum() / (nseq * cfg["max_len"])
    raise ValueError(agg)


def f32(t):  # values exactly representable in float32, as the C++ side stores them
    return t.to(torch.float32).to(f64)


cases = []
variants = {
    "grpo": dict(eps_low=0.2, eps_high=0.2, beta=0.04, entropy_coef=0.0, std=True),
    "dr_grpo": dict(eps_low=0.2, eps_high=0.2, beta=0.0, entropy_coef=0.0, std=False),
    "dapo": dict(eps_low=0.2, eps_high=0.28, beta=0.0, entropy_coef=0.0, std=True),
    "grpo_entropy": dict(eps_low=0.1, eps_high=0.3, beta=0.01, entropy_coef=0.005, std=True),
}
aggs = ["seq_mean_token_mean", "token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"]
for vname, v in variants.items():
    for agg in aggs:
        groups, G = 3, 4
        nseq = groups * G
        rewards = [[float(x) for x in torch.randint(0, 3, (G,)).tolist()] for _ in range(groups)]
        adv_g = group_adv(rewards, v["std"])
        lens = torch.randint(1, 9, (nseq,)).tolist()
        seq = [i for i, n in enumerate(lens) for _ in range(n)]
        T = len(seq)
        old = f32(-torch.rand(T, dtype=f64) * 3)
        logp = f32(old + torch.randn(T, dtype=f64) * 0.3)  # ratios spread both inside and outside the clip
        ref = f32(old + torch.randn(T, dtype=f64) * 0.2)
        ent = f32(torch.rand(T, dtype=f64) * 2)
        flat_adv = [adv_g[s // G][s % G] for s in range(nseq)]
        adv = f32(torch.tensor([flat_adv[s] for s in seq], dtype=f64))
        cfg = dict(eps_low=v["eps_low"], eps_high=v["eps_high"], beta=v["beta"], entropy_coef=v["entropy_coef"],
                   aggregation=agg, max_len=10)
        lp = logp.clone().requires_grad_(True)
        en = ent.clone().requires_grad_(True)
        loss = loss_fn(lp, old, ref, en, adv, seq, nseq, cfg)
        loss.backward()
        cases.append(dict(name=f"{vname}/{agg}", config=cfg, divide_by_std=v["std"], group_size=G,
                          rewards=rewards, advantages=adv_g, seq=seq, num_seqs=nseq,
                          logp=logp.tolist(), logp_old=old.tolist(), logp_ref=ref.tolist(), entropy=ent.tolist(),
                          advantage=adv.tolist(), loss=loss.item(), dlogp=lp.grad.tolist(),
                          dentropy=(en.grad if en.grad is not None else torch.zeros_like(en)).tolist()))

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/rl/grpo_reference.json"
with open(out, "w") as f:
    json.dump(dict(generator="bench/reference/grpo_reference.py", torch=torch.__version__, cases=cases), f)
print(f"wrote {len(cases)} cases to {out}")
