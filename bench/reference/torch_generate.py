#!/usr/bin/env python3
"""PyTorch + transformers sampling throughput of a Qwen2.5-0.5B-shaped model (random weights, bfloat16), the
baseline for r1.cpp's rollout engine on CUDA (issue 7).

model.generate with do_sample=True, temperature 1, top_p 1, top_k 0 (plain sampling from the full softmax: no
transformers default top-k of 50), --prompt-len random prompt tokens (no padding, attention mask all ones),
--new-tokens new tokens with min_new_tokens equal to it, so EOS is masked and every row runs the full length.
Cache: transformers' default DynamicCache unless --cache names another implementation (e.g. static).
Per batch size, a full-length warm-up generate (its time is shown as "cold total s": the first pass over new
shapes is 3-4x slower, most likely kernel selection per key length), then:
  prefill  = one generate with max_new_tokens=1 (the prompt forward + one sample),
  total    = the full generate;
  tokens/s = batch * new_tokens / total,  ms/step = total / new_tokens,
  decode ms/step = (total - prefill) / (new_tokens - 1).
Peak memory: torch.cuda.max_memory_allocated during that batch size's generates (weights included).

  python3 bench/reference/torch_generate.py                   # batch 64 and 256
  python3 bench/reference/torch_generate.py --batch 512 --new-tokens 512
"""
import argparse

import torch

import ref_common as rc


def generate(model, ids, new_tokens, args):
    kw = dict(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
              min_new_tokens=new_tokens, eos_token_id=rc.EOS_ID, pad_token_id=rc.EOS_ID)
    if args.cache != "dynamic":
        kw["cache_implementation"] = args.cache
    return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)


def run_batch(model, args, batch):
    gen = torch.Generator(device="cuda").manual_seed(args.seed + batch)
    ids = torch.randint(0, model.config.vocab_size, (batch, args.prompt_len), device="cuda", generator=gen)
    rc.release()
    # Warm-up at full length: every decode step has a new key length, and the first generate that meets a shape
    # is slower (most likely kernel selection per shape); after a 4-token warm-up the timed run was ~4x slower on H100.
    sw = rc.Stopwatch()
    generate(model, ids, args.new_tokens, args)
    cold = sw.lap()
    generate(model, ids, 1, args)
    prefill = sw.lap()
    out = generate(model, ids, args.new_tokens, args)
    total = sw.lap()
    got = out.shape[1] - args.prompt_len
    if got != args.new_tokens:
        raise RuntimeError(f"generate returned {got} new tokens, expected {args.new_tokens}")
    decode_ms = (total - prefill) / max(args.new_tokens - 1, 1) * 1e3
    return dict(cold=cold, total=total, prefill=prefill, tok_s=batch * args.new_tokens / total,
                ms_step=total / args.new_tokens * 1e3, decode_ms=decode_ms, peak=rc.peak_gib())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, nargs="*", default=[64, 256])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--cache", default="dynamic", help="dynamic (transformers' default) or a cache_implementation")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rc.banner("PyTorch reference: model.generate sampling, Qwen2.5-0.5B shape, random weights, bf16")
    rc.setup(args.seed)
    model = rc.build_model(torch.bfloat16, attn=args.attn)
    model.eval()
    print(f"prompt {args.prompt_len} tokens, {args.new_tokens} new tokens (min_new_tokens = max_new_tokens), "
          f"temperature 1, top_p 1, top_k 0, cache {args.cache}, attn {args.attn}, "
          f"N = {rc.count_params(model):,} parameters")
    rows = []
    for batch in args.batch:
        try:
            with torch.inference_mode():
                r = run_batch(model, args, batch)
            rows.append([batch, f"{r['cold']:.2f}", f"{r['total']:.2f}", f"{r['tok_s']:,.0f}", f"{r['ms_step']:.2f}",
                         f"{r['prefill'] * 1e3:.1f}", f"{r['decode_ms']:.2f}", f"{r['peak']:.2f}", ""])
            print(f"batch {batch}: done", flush=True)
        except Exception as e:
            rows.append([batch, "-", "-", "-", "-", "-", "-", f"{rc.peak_gib():.2f}", rc.describe_error(e)])
            print(f"batch {batch}: failed: {rc.describe_error(e)}", flush=True)
        rc.release()
    rc.print_table(["batch", "cold total s", "total s", "new tokens/s", "ms/step", "prefill ms", "decode ms/step",
                    "peak GiB", "error"], rows,
                   title=f"model.generate, prompt {args.prompt_len} + {args.new_tokens} new tokens, "
                         f"cache {args.cache}")


if __name__ == "__main__":
    main()
