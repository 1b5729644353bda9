#!/usr/bin/env python3
"""Reference rollout throughput: transformers' model.generate on a Qwen2.5-0.5B-shaped model with random weights
(Qwen2Config, no downloads), bf16, sdpa attention, do_sample=True at temperature 1, batches of 64 and 256
distinct 128-token prompts, 256 new tokens each (min_new_tokens forces the full length, as ignore_eos does in
tests/gpu/bench_generate.cu). Prints the same table as bench_generate, one warm-up run per batch first.
Usage: python3 bench/cuda/generate_reference.py [batch ...]"""
import sys
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    batches = [int(a) for a in sys.argv[1:]] or [64, 256]
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                      rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(device="cuda", dtype=torch.bfloat16).eval()
    prompt_len, new_tokens = 128, 256
    print(f"device: {torch.cuda.get_device_name()}; transformers model.generate, "
          f"{sum(p.numel() for p in model.parameters())} params, random bf16 weights")
    print("| engine | batch | graphs | prompt | new | prefill ms | decode ms/step | mean batch | total s | tokens/s |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for B in batches:
        ids = torch.randint(0, cfg.vocab_size, (B, prompt_len), device="cuda")
        mask = torch.ones_like(ids)
        kw = dict(attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                  max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=0)
        with torch.inference_mode():
            model.generate(ids, **dict(kw, max_new_tokens=8, min_new_tokens=8))  # warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(ids, attention_mask=mask)  # one prefill forward, timed alone
            torch.cuda.synchronize()
            prefill = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = model.generate(ids, **kw)
            torch.cuda.synchronize()
            total = time.perf_counter() - t0
        generated = (out.shape[1] - prompt_len) * B
        step_ms = 1e3 * (total - prefill) / new_tokens
        print(f"| transformers generate | {B} | off | {prompt_len} | {new_tokens} | {1e3 * prefill:.1f} | "
              f"{step_ms:.3f} | {B} | {total:.3f} | {generated / total:.0f} |", flush=True)


if __name__ == "__main__":
    main()
