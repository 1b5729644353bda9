#!/usr/bin/env python3
"""One GRPO step written the way a plain PyTorch + transformers user writes it (TRL's GRPOTrainer without vLLM,
minus the framework), on a Qwen2.5-0.5B-shaped model with random weights: the baseline for r1.cpp's `r1 grpo` step
on CUDA (issue 7). Prints the time of each phase.

Policy: fp32 master parameters, every forward under torch.autocast(bfloat16), AdamW(fused=True), grad-norm clip 1.
Reference: a bfloat16 copy of the initial policy, no grad.
Phases (each ends with torch.cuda.synchronize):
  generation    policy.generate under autocast: --prompts random prompts of --prompt-len tokens, --group samples
                each (prompts repeated, one batched generate of --gen-batch rows at a time), do_sample, temperature 1,
                top_p 1, top_k 0, --new-tokens new tokens with min_new_tokens equal to it: the length is fixed, EOS
                never ends a row (the completion mask is still computed from EOS, as the real loop does);
  rewards       random in [0,1) per sample (scoring is not measured), group-normalised advantages
                (r - mean) / (std + 1e-4) as in GRPO / TRL;
  ref logprobs  reference model forward, no grad, micro-batches of --micro sequences;
  old logprobs  policy forward, no grad (what mu > 1 or an external sampler needs);
  policy fwd+bwd  per micro-batch of --micro sequences: policy forward with grad, per-token log-probs,
                ratio = exp(logp - old), loss = -min(ratio*A, clip(ratio, 1-eps, 1+eps)*A) + beta * k3 KL,
                k3 = exp(ref - logp) - (ref - logp) - 1, mean over each sequence's completion tokens, mean over
                sequences (GRPO's aggregation), backward (gradients accumulate over micro-batches);
  optimizer     clip_grad_norm_(1.0) + AdamW step + zero_grad.
Log-probs are computed from logits of the completion positions only (logits_to_keep), log_softmax in fp32.
--steps GRPO steps are run; the first warms up kernels and the allocator, the table shows each step and the mean
of the steps after the first.

  python3 bench/reference/torch_grpo_step.py                  # 64 prompts x 8 samples, 128 + 512 tokens
  python3 bench/reference/torch_grpo_step.py --prompts 8 --new-tokens 64 --steps 1   # a quick smoke run
"""
import argparse
import copy

import torch

import ref_common as rc


def completion_logprobs(model, ids, prompt_len, micro, autocast):
    """Per-token log-probs of ids[:, prompt_len:] under `model`, micro-batch by micro-batch (no grad)."""
    outs = []
    for i in range(0, ids.shape[0], micro):
        outs.append(logprobs_of(model, ids[i:i + micro], prompt_len, autocast))
    return torch.cat(outs)


def logprobs_of(model, ids, prompt_len, autocast):
    completion = ids[:, prompt_len:]
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        # logits at positions prompt_len-1 .. end-1 predict the completion tokens; the last position predicts nothing
        logits = model(input_ids=ids, use_cache=False, logits_to_keep=completion.shape[1] + 1).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, completion.unsqueeze(-1)).squeeze(-1)


def completion_mask(completion, eos):
    """1 up to and including the first EOS of each row, 0 after it (all ones when no row stops early)."""
    is_eos = completion == eos
    after = (is_eos.cumsum(1) - is_eos.int()) > 0
    return (~after).float()


def grpo_step(policy, ref, opt, args, gen):
    t = {}
    n = args.prompts * args.group
    sw = rc.Stopwatch()

    # generation
    prompts = torch.randint(0, policy.config.vocab_size, (args.prompts, args.prompt_len), device="cuda",
                            generator=gen)
    rows = prompts.repeat_interleave(args.group, dim=0)
    policy.eval()
    seqs = []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for i in range(0, n, args.gen_batch):
            chunk = rows[i:i + args.gen_batch]
            seqs.append(policy.generate(input_ids=chunk, attention_mask=torch.ones_like(chunk), do_sample=True,
                                        temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.new_tokens,
                                        min_new_tokens=args.new_tokens, eos_token_id=rc.EOS_ID,
                                        pad_token_id=rc.EOS_ID))
    ids = torch.cat(seqs)
    policy.train()
    if ids.shape[1] != args.prompt_len + args.new_tokens:
        raise RuntimeError(f"generate returned {ids.shape[1] - args.prompt_len} new tokens")
    mask = completion_mask(ids[:, args.prompt_len:], rc.EOS_ID)
    t["generation"] = sw.lap()

    # rewards and group-normalised advantages
    rewards = torch.rand(n, device="cuda", generator=gen).view(args.prompts, args.group)
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)).view(n)
    t["rewards+advantages"] = sw.lap()

    with torch.no_grad():
        ref_logp = completion_logprobs(ref, ids, args.prompt_len, args.micro, autocast=False)
    t["ref logprobs"] = sw.lap()
    with torch.no_grad():
        old_logp = completion_logprobs(policy, ids, args.prompt_len, args.micro, autocast=True)
    t["old logprobs"] = sw.lap()

    num_micro = (n + args.micro - 1) // args.micro
    total_loss = 0.0
    for i in range(0, n, args.micro):
        sl = slice(i, i + args.micro)
        logp = logprobs_of(policy, ids[sl], args.prompt_len, autocast=True)
        ratio = torch.exp(logp - old_logp[sl])
        a = adv[sl].unsqueeze(1)
        surrogate = torch.minimum(ratio * a, torch.clamp(ratio, 1 - args.eps, 1 + args.eps) * a)
        d = ref_logp[sl] - logp
        per_token = -surrogate + args.beta * (torch.exp(d) - d - 1)
        m = mask[sl]
        loss = ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).mean() / num_micro
        loss.backward()
        total_loss += loss.item()
    t["policy fwd+bwd"] = sw.lap()

    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    t["optimizer"] = sw.lap()
    t["total"] = sum(t.values())
    return t, total_loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--group", type=int, default=8, help="samples per prompt")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--gen-batch", type=int, default=0, help="rows per generate call (0: all at once)")
    ap.add_argument("--micro", type=int, default=8, help="sequences per log-prob / backward micro-batch")
    ap.add_argument("--beta", type=float, default=0.04, help="KL (k3) coefficient")
    ap.add_argument("--eps", type=float, default=0.2, help="ratio clip")
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--steps", type=int, default=2, help="GRPO steps; the first is the warm-up")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = args.prompts * args.group
    if args.gen_batch <= 0:
        args.gen_batch = n

    rc.banner("PyTorch reference: one GRPO step, Qwen2.5-0.5B shape, random weights")
    rc.setup(args.seed)
    print(f"{args.prompts} prompts x {args.group} samples = {n} sequences of {args.prompt_len} + {args.new_tokens} "
          f"tokens (fixed length: min_new_tokens), generate batch {args.gen_batch}, micro-batch {args.micro}, "
          f"policy fp32 + autocast bf16, reference bf16, AdamW fused, beta {args.beta}, eps {args.eps}")
    policy = rc.build_model(torch.float32, attn=args.attn)
    ref = copy.deepcopy(policy).to(torch.bfloat16).eval().requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0, fused=True)
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    rc.release()

    steps, peaks = [], []
    for s in range(args.steps):
        try:
            t, loss = grpo_step(policy, ref, opt, args, gen)
            steps.append(t)
            peaks.append(rc.peak_gib())
            print(f"step {s + 1}: {t['total']:.2f} s, loss {loss:+.5f}, peak {rc.peak_gib():.2f} GiB", flush=True)
        except Exception as e:
            print(f"step {s + 1}: failed: {rc.describe_error(e)}", flush=True)
        opt.zero_grad(set_to_none=True)
        rc.release()
    if not steps:
        print("\nno GRPO step finished")
        return
    phases = list(steps[0].keys())
    timed = steps[1:] if len(steps) > 1 else steps
    headers = ["phase"] + [f"step {i + 1} s" for i in range(len(steps))] + ["mean s (after warm-up)", "share"]
    rows = []
    mean_total = sum(x["total"] for x in timed) / len(timed)
    for p in phases:
        mean = sum(x[p] for x in timed) / len(timed)
        rows.append([p] + [f"{x[p]:.3f}" for x in steps] + [f"{mean:.3f}", f"{100 * mean / mean_total:.1f}%"])
    gen_mean = sum(x["generation"] for x in timed) / len(timed)
    rc.print_table(headers, rows,
                   title=f"GRPO step split: {n} sequences x ({args.prompt_len} + {args.new_tokens}) tokens; "
                         f"generation {n * args.new_tokens / gen_mean:,.0f} new tokens/s; "
                         f"step {n * (args.prompt_len + args.new_tokens) / mean_total:,.0f} tokens/s; "
                         f"peak {max(peaks):.2f} GiB")


if __name__ == "__main__":
    main()
