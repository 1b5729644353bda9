"""Shared pieces of the PyTorch + transformers reference benchmarks (torch_train.py, torch_generate.py,
torch_grpo_step.py): the Qwen2.5-0.5B-shaped model built from a config with random weights (no downloads),
the environment banner, the FLOP formula, GPU timing and the one table each script prints.

The point of these scripts is a fair baseline for r1.cpp's CUDA numbers (issue 7): the code is what a PyTorch user
writes, with nothing hand-tuned, so every choice that changes the numbers is stated where it is made.
"""
import gc
import platform
import re
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, Qwen2Config

# Qwen2.5-0.5B's shape (config.json of Qwen/Qwen2.5-0.5B); weights are random, so no file is read.
QWEN25_05B = dict(
    hidden_size=896,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    intermediate_size=4864,
    vocab_size=151936,
    tie_word_embeddings=True,
    max_position_embeddings=32768,
    rms_norm_eps=1e-6,
    bos_token_id=151643,
    eos_token_id=151643,
    pad_token_id=151643,
)
ROPE_THETA = 1e6
EOS_ID = 151643


def make_config(attn="sdpa"):
    """transformers 5 keeps rope_theta inside rope_parameters; 4.x took it as a keyword. Accept both."""
    try:
        cfg = Qwen2Config(**QWEN25_05B, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA})
    except TypeError:
        cfg = Qwen2Config(**QWEN25_05B, rope_theta=ROPE_THETA)
    cfg._attn_implementation = attn
    return cfg


def build_model(dtype, attn="sdpa", device="cuda"):
    """A randomly initialised Qwen2ForCausalLM whose parameters are stored in `dtype`, built directly on the GPU."""
    cfg = make_config(attn)
    with torch.device(device):
        try:
            model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, dtype=dtype)
        except TypeError:  # transformers 4.x spelled it torch_dtype
            model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn, torch_dtype=dtype)
    model.to(device=device, dtype=dtype)
    return model


def count_params(model):
    """Distinct parameters: the tied LM head shares the embedding's storage and is counted once."""
    seen, n = set(), 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            n += p.numel()
    return n


def attention_width(model):
    c = model.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return c.num_hidden_layers, c.num_attention_heads * head_dim


def train_flops_per_token(n_params, layers, attn_width, seq):
    """PaLM appendix B model FLOPs for forward + backward: 6*N + 12*L*(H*d_head)*seq per token.

    N counts every distinct parameter once. The embedding lookup costs nothing, but with tied weights the same matrix
    is the LM head, a real vocab x hidden matmul, so counting it once is exactly right for Qwen2.5-0.5B.
    The attention term is the non-causal count (QK^T and AV over the whole sequence), as PaLM and nanoGPT's MFU do;
    a causal kernel does about half of it.
    """
    return 6 * n_params + 12 * layers * attn_width * seq


def banner(title):
    print(f"== {title}")
    print(f"python {platform.python_version()}  torch {torch.__version__}  transformers {transformers.__version__}"
          f"  cuda {torch.version.cuda}")
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        print(f"device {p.name}  {p.total_memory / 2**30:.1f} GiB  {p.multi_processor_count} SMs")
    else:
        print("device: no CUDA device visible")


def setup(seed):
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def release():
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def peak_gib():
    return torch.cuda.max_memory_allocated() / 2**30


class Stopwatch:
    """Wall time between synchronised points: every phase timed here ends with its GPU work finished."""

    def __init__(self):
        torch.cuda.synchronize()
        self.t = time.perf_counter()

    def lap(self):
        torch.cuda.synchronize()
        now = time.perf_counter()
        dt, self.t = now - self.t, now
        return dt


def describe_error(e):
    """One short line for the table: out-of-memory errors keep only the size of the allocation that failed."""
    text = str(e).strip()
    if isinstance(e, torch.cuda.OutOfMemoryError):
        m = re.search(r"Tried to allocate ([0-9.]+ [KMG]iB)", text)
        return f"OOM (allocating {m.group(1)})" if m else "OOM"
    msg = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {msg[:120]}"


def print_table(headers, rows, title=None):
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}")
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))
