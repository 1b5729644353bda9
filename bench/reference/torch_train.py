#!/usr/bin/env python3
"""PyTorch + transformers training-step throughput of a Qwen2.5-0.5B-shaped model (random weights), the baseline
for r1.cpp's CUDA training step (issue 7).

One step = forward + cross-entropy (transformers' own loss via labels=, shifted inside the model) + backward +
AdamW(fused=True) + zero_grad, on random token ids with no padding. Precision (--dtype):
  fp32-autocast (default): fp32 master parameters, forward/backward under torch.autocast(bfloat16), fp32 AdamW,
                           what most PyTorch users run;
  bf16:                    parameters, gradients and AdamW state all bfloat16 (no master copy).
Timing: --warmup steps untimed, then --steps steps between CUDA events; tokens/s = batch*seq*steps / time.
TFLOP/s counts model FLOPs (ref_common.train_flops_per_token): 6*N + 12*L*(H*d_head)*seq per token, N = distinct
parameters (tied head once). Peak memory is torch.cuda.max_memory_allocated over the whole run of a configuration,
parameters and optimizer state included.

  python3 bench/reference/torch_train.py                      # bs 8 x 1024 and bs 16 x 2048
  python3 bench/reference/torch_train.py --batch 4 --seq 4096 --dtype bf16
"""
import argparse

import torch

import ref_common as rc


def run_config(args, batch, seq):
    dtype = torch.float32 if args.dtype == "fp32-autocast" else torch.bfloat16
    model = rc.build_model(dtype, attn=args.attn)
    model.config.use_cache = False
    model.train()
    n_params = rc.count_params(model)
    layers, width = rc.attention_width(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    step_model = torch.compile(model) if args.compile else model
    use_autocast = args.dtype == "fp32-autocast"
    gen = torch.Generator(device="cuda").manual_seed(args.seed)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda", generator=gen)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_autocast):
            loss = step_model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    torch.cuda.reset_peak_memory_stats()
    for _ in range(args.warmup):
        loss = step()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(args.steps):
        loss = step()
    end.record()
    torch.cuda.synchronize()
    sec = start.elapsed_time(end) / 1e3
    tokens = batch * seq * args.steps
    flops = rc.train_flops_per_token(n_params, layers, width, seq) * tokens
    return dict(ms=sec / args.steps * 1e3, tok_s=tokens / sec, tflops=flops / sec / 1e12, peak=rc.peak_gib(),
                loss=float(loss.detach()), n_params=n_params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, nargs="*", help="batch sizes (pairs with --seq); default 8 16")
    ap.add_argument("--seq", type=int, nargs="*", help="sequence lengths (pairs with --batch); default 1024 2048")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--dtype", choices=["fp32-autocast", "bf16"], default="fp32-autocast")
    ap.add_argument("--attn", default="sdpa", help="transformers attn_implementation (sdpa, eager, ...)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (off by default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    batches = args.batch or [8, 16]
    seqs = args.seq or [1024, 2048]
    if len(seqs) == 1:
        seqs = seqs * len(batches)
    if len(batches) == 1:
        batches = batches * len(seqs)
    if len(batches) != len(seqs):
        ap.error("--batch and --seq must have the same number of values (or one of them a single value)")

    rc.banner("PyTorch reference: training step, Qwen2.5-0.5B shape, random weights")
    rc.setup(args.seed)
    print(f"precision {args.dtype}, attn {args.attn}, AdamW fused, compile {args.compile}, "
          f"warm-up {args.warmup}, timed {args.steps} steps")
    rows = []
    for batch, seq in zip(batches, seqs):
        try:
            r = run_config(args, batch, seq)
            rows.append([batch, seq, f"{r['ms']:.1f}", f"{r['tok_s']:,.0f}", f"{r['tflops']:.1f}",
                         f"{r['peak']:.2f}", f"{r['loss']:.3f}", ""])
            print(f"bs {batch} x {seq}: done (N = {r['n_params']:,} parameters)", flush=True)
        except Exception as e:  # OOM and anything else: report it and go on with the next configuration
            rows.append([batch, seq, "-", "-", "-", f"{rc.peak_gib():.2f}", "-", rc.describe_error(e)])
            print(f"bs {batch} x {seq}: failed: {rc.describe_error(e)}", flush=True)
        rc.release()
    rc.print_table(["batch", "seq", "ms/step", "tokens/s", "TFLOP/s", "peak GiB", "last loss", "error"], rows,
                   title=f"training step ({args.dtype}, {args.attn}, AdamW fused); "
                         "TFLOP/s = tokens * (6N + 12*L*H*d_head*seq) / time")


if __name__ == "__main__":
    main()
