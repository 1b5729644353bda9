#!/usr/bin/env python3
"""bf16 references for issue 9's GPU half: transformers in bfloat16 on the same small random checkpoints.

Run on the GPU machine (torch + transformers; uses CUDA when present, else the CPU):

    python3 bench/hf_compat/bf16_check.py --out $OUT/hf_bf16

For each model of make_fixtures.py (same seeds, so the same float32 weights as tests/fixtures/hf; a model whose
head_dim has no r1 CUDA kernels is widened to head_dim 64 first, see cuda_spec) it:
  1. rounds the weights to bfloat16 and saves them with save_pretrained (config.json says bfloat16) -> <out>/<name>/;
  2. runs transformers in bfloat16 on the fixture sequences (each alone, positions 0..L-1) and records logits,
     per-token log p(next token) and entropies — and the same in float32 on the SAME bf16-rounded weights, which
     separates bf16 arithmetic error from weight rounding;
  3. decodes greedily for 32 steps from a prompt (the first sequence's first 8 tokens), one full forward per step
     (no KV cache, so nothing but the arithmetic differs from r1), in bf16 and in float32, with the top-1/top-2
     logit margin of every step (a step whose margin is below bf16 noise may flip legitimately) and the log-prob of
     the chosen token (what r1's engine reports per token).
Writes <out>/<name>/reference_bf16.safetensors and <out>/manifest_bf16.json. tests/gpu/hf_bf16_check.cu reads them
(R1 CUDA model: per-token log-probs/entropies within bf16 tolerance, the same 32 greedy tokens).
"""
import argparse
import copy
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (same models, seeds and sequences as the float32 fixtures)

try:
    import transformers
    import safetensors
    from safetensors.torch import save_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"bf16_check.py: {e}; needs torch, transformers and safetensors")

GREEDY_STEPS = 32
PROMPT_TOKENS = 8
CUDA_HEAD_DIMS = (64, 128)  # head dims both r1's CUDA training attention and its decode attention support


def cuda_spec(spec):
    """The fixture model, or where its head_dim has no CUDA kernels (the Qwen2 fixtures' 8) the same model with
    hidden_size = heads x 64 (name suffix _hd64): seed, vocabulary, GQA, biases, tying and sequences are kept, the
    weights are not the float32 fixture's."""
    c = spec["config"]
    if c.get("head_dim", c["hidden_size"] // c["num_attention_heads"]) in CUDA_HEAD_DIMS:
        return spec
    wide = copy.deepcopy(spec)
    wide["config"]["hidden_size"] = c["num_attention_heads"] * 64
    wide["name"] = spec["name"] + "_hd64"
    return wide


@torch.no_grad()
def per_token(model, seqs, device):
    """logits [T, V] (float32 copy of the model's output), log p(next) [T] (0 at each last token), entropy [T]."""
    logits_all, lp, ent = [], [], []
    for s in seqs:
        ids = torch.tensor([s], device=device)
        pos = torch.arange(len(s), device=device)[None]
        logits = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        tgt = torch.tensor(s[1:] + [0], device=device)
        per = logp.gather(1, tgt[:, None])[:, 0].clone()
        per[-1] = 0.0
        logits_all.append(logits)
        lp.append(per)
        ent.append(-(logp.exp() * logp).sum(-1))
    return torch.cat(logits_all).cpu(), torch.cat(lp).cpu(), torch.cat(ent).cpu()


@torch.no_grad()
def greedy(model, prompt, steps, device):
    """Greedy continuation with a full forward per step; returns tokens, the top1 - top2 logit margins and
    log p(chosen token)."""
    ids = list(prompt)
    tokens, margins, logprobs = [], [], []
    for _ in range(steps):
        x = torch.tensor([ids], device=device)
        logits = model(input_ids=x, position_ids=torch.arange(len(ids), device=device)[None],
                       use_cache=False).logits[0, -1].float()
        top = torch.topk(logits, 2)
        tokens.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        logprobs.append(float(torch.log_softmax(logits, dim=-1)[tokens[-1]]))
        ids.append(tokens[-1])
    return tokens, margins, logprobs


def load(path, dtype, device):
    kw = {"attn_implementation": "eager"}
    try:
        m = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kw)
    except TypeError:  # transformers < 4.56
        m = transformers.AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype, **kw)
    return m.to(device).eval()


def max_abs_rel(a, ref):
    return float((a.double() - ref.double()).abs().max() / ref.double().abs().max())


def build_one(spec, out, device):
    name = spec["name"]
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(spec["seed"])
    model = transformers.AutoModelForCausalLM.from_config(mf.make_config(spec)).float().eval()
    mf.randomize(model, spec["seed"])  # the float32 fixture's weights
    model.to(torch.bfloat16).save_pretrained(d)  # round to nearest even, as r1's f32_to_bf16
    seqs, _ = mf.make_sequences(spec, spec["config"]["vocab_size"])
    m16 = load(d, torch.bfloat16, device)
    m32 = load(d, torch.float32, device)  # the same bf16 values, float32 arithmetic
    logits16, lp16, ent16 = per_token(m16, seqs, device)
    logits32, lp32, ent32 = per_token(m32, seqs, device)
    prompt = seqs[0][:PROMPT_TOKENS]
    g16, margin16, glp16 = greedy(m16, prompt, GREEDY_STEPS, device)
    g32, margin32, glp32 = greedy(m32, prompt, GREEDY_STEPS, device)
    # Float tensors only: r1's safetensors reader accepts F32/BF16/F16, so the token ids (prompt, greedy tokens,
    # sequences) live in the manifest.
    ref = {
        "logits_bf16": logits16, "logprobs_bf16": lp16, "entropy_bf16": ent16,
        "logits_f32": logits32, "logprobs_f32": lp32, "entropy_f32": ent32,
        "margins_bf16": torch.tensor(margin16, dtype=torch.float32),
        "margins_f32": torch.tensor(margin32, dtype=torch.float32),
        "greedy_logprobs_bf16": torch.tensor(glp16, dtype=torch.float32),
        "greedy_logprobs_f32": torch.tensor(glp32, dtype=torch.float32),
    }
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(d, "reference_bf16.safetensors"),
              metadata={"format": "pt"})
    # How far transformers' own bf16 arithmetic is from float32 on these weights: the scale of "bf16 tolerance".
    stats = {
        "logits_bf16_vs_f32_max_abs_rel": max_abs_rel(logits16, logits32),
        "logprobs_bf16_vs_f32_max_abs": float((lp16 - lp32).abs().max()),
        "entropy_bf16_vs_f32_max_abs": float((ent16 - ent32).abs().max()),
        "greedy_bf16_equals_f32": g16 == g32,
        "first_greedy_divergence": next((i for i, (a, b) in enumerate(zip(g16, g32)) if a != b), None),
        "min_margin_bf16": min(margin16),
    }
    print(f"  {name}: logits bf16 vs f32 {stats['logits_bf16_vs_f32_max_abs_rel']:.3g}, log-probs "
          f"{stats['logprobs_bf16_vs_f32_max_abs']:.3g}, greedy bf16 == f32: {stats['greedy_bf16_equals_f32']} "
          f"(min margin {stats['min_margin_bf16']:.3g})")
    return {"name": name, "dir": name, "sequences": seqs, "prompt": prompt, "greedy_steps": GREEDY_STEPS,
            "greedy_bf16": g16, "greedy_f32": g32, "stats": stats}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/hf_bf16")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, device {name}")
    entries = [build_one(cuda_spec(s), args.out, device) for s in mf.MODELS]
    manifest = {"generator": "bench/hf_compat/bf16_check.py", "device": name, "attention": "eager",
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                             "safetensors": safetensors.__version__},
                "models": entries}
    with open(os.path.join(args.out, "manifest_bf16.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(entries)} bf16 references to {args.out}")


if __name__ == "__main__":
    main()
