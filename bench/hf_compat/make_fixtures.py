#!/usr/bin/env python3
"""Reference fixtures for r1.cpp's Hugging Face parity test (tests/hfcompat/test_hf_parity.cpp).

Run where torch + transformers + safetensors are installed (the GPU machine; CPU float32 is all it uses):

    python3 bench/hf_compat/make_fixtures.py --out tests/fixtures/hf

For each model below it builds a SMALL random checkpoint with transformers in float32, saves it with
save_pretrained (config.json + model.safetensors, exactly what a user downloads), and records what transformers
computes on a few sequences that r1.cpp packs into one batch:

  reference.safetensors  logits [T, V] of every position (all T tokens of the sequences, concatenated),
                         logprobs [T] log p(next token) (0 at each sequence's last token: it has no target),
                         entropy [T], and the same two at temperature `temperature` (logits * 1/temperature)
  grads.safetensors      d(loss)/d(parameter) for EVERY parameter, under its HF name, where loss is the mean
                         next-token cross-entropy over the targets selected by the loss masks
  manifest.json          (one for all models) sequences, loss masks, the loss, the config values the C++
                         loader must read back, versions, file sizes

Sequences are run through transformers one at a time with position_ids 0..L-1 — exactly what r1.cpp's packed
batch means (attention causal within each sequence, positions restarting per sequence).

Weights are re-drawn after construction so that nothing is at a symmetric default: RMSNorm gains around 1,
non-zero biases (q/k/v; also o_proj and gate/up/down in llama3_bias), matrices ~ N(0, 1/fan_in), embeddings
large enough that logits spread over several nats.
RoPE is set to non-default values (theta 1e6 / 5e5, llama3 scaling with original_max_position_embeddings 32 so
that all three llama3 frequency bands occur within the first 20 positions): a loader that misread the rope keys
would fail the logits check. The effective inverse frequencies are checked against an independent formula.
"""
import argparse
import json
import math
import os
import random
import sys

import torch

try:
    import transformers
    from safetensors.torch import save_file
    import safetensors
except ImportError as e:  # pragma: no cover - a setup problem, say what is missing
    sys.exit(f"make_fixtures.py: {e}; needs torch, transformers and safetensors")

TEMPERATURE = 0.7
LENGTHS = [13, 7, 20, 2]  # 42 tokens; the last sequence has a single target
PROMPT_MASKED = 5  # the first sequence's first 5 targets are "prompt": excluded from the loss
MAX_TOTAL_BYTES = 1_500_000
MAX_CHECKPOINT_BYTES = 300_000

# Each model: transformers config kwargs (no RoPE keys), RoPE parameters in transformers v5 form.
MODELS = [
    {
        # Qwen2 / Qwen2.5-0.5B style: tied embeddings, q/k/v biases, GQA 2.
        "name": "qwen2_tied",
        "model_type": "qwen2",
        "seed": 11,
        "config": dict(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                       rms_norm_eps=1e-6, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2),
        "rope": {"rope_type": "default", "rope_theta": 1000000.0},
    },
    {
        # R1-Distill-Qwen style: untied lm_head, GQA 4 (one k/v head), a vocabulary that is no power of two.
        "name": "qwen2_untied",
        "model_type": "qwen2",
        "seed": 12,
        "config": dict(vocab_size=200, hidden_size=32, intermediate_size=80, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128,
                       rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2),
        "rope": {"rope_type": "default", "rope_theta": 10000.0},
    },
    {
        # Llama-3.2 style: llama3 RoPE scaling, head_dim 128 (independent of hidden/heads), GQA 2, tied, no bias.
        "name": "llama3_hd128",
        "model_type": "llama",
        "seed": 13,
        "config": dict(vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=128, max_position_embeddings=256,
                       rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
                       bos_token_id=1, eos_token_id=[2, 3]),
        "rope": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                 "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
    },
    {
        # Llama with every bias transformers' LlamaForCausalLM can have: attention_bias (q/k/v AND o_proj) and
        # mlp_bias (gate/up/down). head_dim 64 (what the CUDA kernels support), hidden 16 and vocab 128 keep it
        # small (~20k parameters) so the fixtures stay under MAX_TOTAL_BYTES.
        "name": "llama3_bias",
        "model_type": "llama",
        "seed": 14,
        "config": dict(vocab_size=128, hidden_size=16, intermediate_size=48, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=128,
                       rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=True, mlp_bias=True,
                       bos_token_id=1, eos_token_id=2),
        "rope": {"rope_type": "default", "rope_theta": 500000.0},
    },
]


def transformers_major():
    return int(transformers.__version__.split(".")[0])


def make_config(spec):
    cls = {"qwen2": transformers.Qwen2Config, "llama": transformers.LlamaConfig}[spec["model_type"]]
    rope = dict(spec["rope"])
    if transformers_major() >= 5:
        cfg = cls(**spec["config"], rope_parameters=rope)
    else:  # transformers 4: rope_theta at the top level, scaling in rope_scaling
        scaling = {k: v for k, v in rope.items() if k != "rope_theta"} if rope["rope_type"] != "default" else None
        cfg = cls(**spec["config"], rope_theta=rope["rope_theta"], rope_scaling=scaling)
    return cfg


def expected_inv_freq(spec):
    """RoPE inverse frequencies from the formulas (float64), independent of transformers' code."""
    c, rope = spec["config"], spec["rope"]
    d = c.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
    inv = [rope["rope_theta"] ** (-(2.0 * i) / d) for i in range(d // 2)]
    if rope["rope_type"] == "llama3":
        factor, lo, hi = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
        old = rope["original_max_position_embeddings"]
        out = []
        for f in inv:
            wavelen = 2 * math.pi / f
            if wavelen < old / hi:  # high frequency: kept
                out.append(f)
            elif wavelen > old / lo:  # low frequency: interpolated by factor
                out.append(f / factor)
            else:  # in between: smooth blend
                s = (old / wavelen - lo) / (hi - lo)
                out.append((1 - s) * f / factor + s * f)
        inv = out
    return inv


def check_rope(model, spec):
    """Max relative difference of transformers' RoPE inverse frequencies from the formula (None: not found).
    Recorded rather than asserted: a mismatch means the fixture still shows what transformers computes."""
    rot = getattr(getattr(model, "model", None), "rotary_emb", None)
    if rot is None or not hasattr(rot, "inv_freq"):
        print(f"  warning: {spec['name']}: no model.rotary_emb.inv_freq to check", file=sys.stderr)
        return None
    got = rot.inv_freq.detach().double().flatten().tolist()
    want = expected_inv_freq(spec)
    if len(got) != len(want):
        print(f"  warning: {spec['name']}: {len(got)} RoPE frequencies, expected {len(want)}", file=sys.stderr)
        return None
    worst = max(abs(g - w) / w for g, w in zip(got, want))
    if worst > 1e-5:
        print(f"  WARNING: {spec['name']}: transformers' RoPE inv_freq differs from the formula by {worst:.3g}",
              file=sys.stderr)
    return worst


@torch.no_grad()
def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():  # deduplicated: a tied lm_head is the embedding itself
        r = torch.randn(p.shape, generator=g, dtype=torch.float64)
        if name.endswith(".bias"):
            v = 0.1 * r
        elif p.dim() == 1:  # RMSNorm gains
            v = 1.0 + 0.2 * r
        elif "embed_tokens" in name:
            v = 0.3 * r
        else:  # [out, in] projections and an untied lm_head
            v = r / math.sqrt(p.shape[1])
        p.copy_(v.to(p.dtype))


def make_sequences(spec, vocab):
    rng = random.Random(1000 + spec["seed"])
    seqs = [[rng.randrange(vocab) for _ in range(n)] for n in LENGTHS]
    masks = [[1] * (n - 1) for n in LENGTHS]
    masks[0][:PROMPT_MASKED] = [0] * PROMPT_MASKED
    return seqs, masks


def run_reference(model, seqs, masks):
    """Logits, per-token log-probs/entropies and the masked mean cross-entropy; backward fills .grad."""
    model.zero_grad(set_to_none=True)
    logits_all, lp, ent, lp_t, ent_t, picked = [], [], [], [], [], []
    for seq, mask in zip(seqs, masks):
        ids = torch.tensor([seq], dtype=torch.long)
        pos = torch.arange(len(seq), dtype=torch.long)[None]
        logits = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0].float()  # [L, V]
        tgt = torch.tensor(seq[1:] + [0], dtype=torch.long)  # the last position has no target (0 is a dummy)
        for scale, lp_out, ent_out in ((1.0, lp, ent), (1.0 / TEMPERATURE, lp_t, ent_t)):
            logp = torch.log_softmax(logits * scale, dim=-1)
            per_tok = logp.gather(1, tgt[:, None])[:, 0]
            if scale == 1.0:
                picked.append(per_tok[:-1][torch.tensor(mask, dtype=torch.bool)])
            per_tok = per_tok.detach().clone()
            per_tok[-1] = 0.0
            lp_out.append(per_tok)
            ent_out.append(-(logp.exp() * logp).sum(-1).detach())
        logits_all.append(logits.detach())
    loss = -torch.cat(picked).mean()
    loss.backward()
    ref = {"logits": torch.cat(logits_all), "logprobs": torch.cat(lp), "entropy": torch.cat(ent),
           "logprobs_temp": torch.cat(lp_t), "entropy_temp": torch.cat(ent_t)}
    return {k: v.contiguous() for k, v in ref.items()}, float(loss.detach()), sum(int(sum(m)) for m in masks)


def load_pretrained(path):
    try:
        return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    except TypeError:  # transformers < 4.56 spells it torch_dtype
        return transformers.AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)


def config_expect(spec, cfg_json):
    c, rope = spec["config"], spec["rope"]
    return {
        "model_type": spec["model_type"],
        "vocab_size": c["vocab_size"], "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"], "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"], "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": c.get("head_dim", c["hidden_size"] // c["num_attention_heads"]),
        "rms_norm_eps": c["rms_norm_eps"], "rope_theta": rope["rope_theta"],
        "rope_scaling": None if rope["rope_type"] == "default" else
        {k: rope[k] for k in ("rope_type", "factor", "low_freq_factor", "high_freq_factor",
                              "original_max_position_embeddings")},
        "tie_word_embeddings": c["tie_word_embeddings"],
        "attention_bias": spec["model_type"] == "qwen2" or c.get("attention_bias", False),
        "mlp_bias": spec["model_type"] == "llama" and c.get("mlp_bias", False),
        # What transformers actually wrote, so a parse failure can be explained from the manifest alone.
        "config_json_rope_keys": sorted(k for k in cfg_json if "rope" in k),
    }


def build_one(spec, out_dir):
    name = spec["name"]
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(spec["seed"])
    cfg = make_config(spec)
    model = transformers.AutoModelForCausalLM.from_config(cfg).float().eval()
    randomize(model, spec["seed"])
    rope_err = check_rope(model, spec)
    seqs, masks = make_sequences(spec, spec["config"]["vocab_size"])
    ref, loss, n_targets = run_reference(model, seqs, masks)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing}"
    grads = {n: p.grad.detach().float().contiguous() for n, p in model.named_parameters()}

    model.save_pretrained(d)
    # The saved directory must reproduce the logits exactly (it is what the C++ test loads).
    again = load_pretrained(d).eval()
    with torch.no_grad():
        re_logits = torch.cat([again(input_ids=torch.tensor([s]), position_ids=torch.arange(len(s))[None],
                                     use_cache=False).logits[0].float() for s in seqs])
    reload_err = float((re_logits - ref["logits"]).abs().max() / ref["logits"].abs().max())
    if reload_err > 1e-6:
        print(f"  WARNING: {name}: the reloaded checkpoint's logits differ by {reload_err:.3g}", file=sys.stderr)
    save_file(ref, os.path.join(d, "reference.safetensors"), metadata={"format": "pt"})
    save_file(grads, os.path.join(d, "grads.safetensors"), metadata={"format": "pt"})

    with open(os.path.join(d, "config.json")) as f:
        cfg_json = json.load(f)
    files = {fn: os.path.getsize(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}
    size_ckpt = files.get("model.safetensors", 0)
    if size_ckpt > MAX_CHECKPOINT_BYTES:
        print(f"  warning: {name}: model.safetensors is {size_ckpt} bytes (> {MAX_CHECKPOINT_BYTES})",
              file=sys.stderr)
    print(f"  {name}: {sum(p.numel() for p in model.parameters())} parameters, {sum(LENGTHS)} tokens, "
          f"loss {loss:.6f} over {n_targets} targets, files {files}")
    return {
        "name": name, "dir": name, "seed": spec["seed"],
        "config_expect": config_expect(spec, cfg_json),
        "sequences": seqs, "loss_masks": masks,
        "loss": loss, "num_loss_targets": n_targets, "num_tokens": sum(LENGTHS),
        "grad_names": sorted(grads), "files": files,
        "checks": {"rope_inv_freq_max_rel_vs_formula": rope_err, "reload_logits_max_abs_rel": reload_err},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures/hf")
    ap.add_argument("--only", nargs="*",
                    help="build only these models (default: all); the other models' entries of an existing "
                         "manifest.json are kept")
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)  # deterministic float32 reductions
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, safetensors {safetensors.__version__}")
    entries = [build_one(s, args.out) for s in MODELS if not args.only or s["name"] in args.only]
    manifest_path = os.path.join(args.out, "manifest.json")
    if args.only and os.path.exists(manifest_path):
        # Keep the models not rebuilt (their directories are untouched), in MODELS order.
        with open(manifest_path) as f:
            kept = {e["name"]: e for e in json.load(f)["models"] if e["name"] not in args.only}
        built = {e["name"]: e for e in entries}
        entries = [built.get(s["name"]) or kept[s["name"]] for s in MODELS if s["name"] in built or s["name"] in kept]
    manifest = {
        "generator": "bench/hf_compat/make_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "safetensors": safetensors.__version__, "python": sys.version.split()[0]},
        "temperature": TEMPERATURE,
        "models": entries,
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(sum(e["files"].values()) for e in entries) + os.path.getsize(manifest_path)
    print(f"wrote {len(entries)} fixtures to {args.out}: {total} bytes")
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"make_fixtures.py: fixtures total {total} bytes, over the {MAX_TOTAL_BYTES} budget")


if __name__ == "__main__":
    main()
