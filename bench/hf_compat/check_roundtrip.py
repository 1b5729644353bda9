#!/usr/bin/env python3
"""Directories r1 writes load in transformers with the same numbers; r1 -> transformers -> r1 is bit-exact.

Run on the GPU machine (CPU float32 is all it uses) after make_fixtures.py, with an r1 binary built elsewhere:

    LD_LIBRARY_PATH=DIST/lib python3 bench/hf_compat/check_roundtrip.py --r1 DIST/r1 \
        --fixtures tests/fixtures/hf --work /tmp/hf_roundtrip --report $OUT/roundtrip.json

For every fixture of tests/fixtures/hf/manifest.json (a checkpoint transformers made):
  1. `r1 convert` it (float32) -> AutoModelForCausalLM.from_pretrained gives the reference logits again;
  2. transformers save_pretrained of that model -> the same tensors, bit for bit, as r1 wrote;
  3. `r1 convert` of transformers' re-save -> model.safetensors byte-identical to r1's first one
     (r1 -> transformers -> r1 is bit-exact);
  4. `r1 debug-forward` on r1's directory -> the logits transformers computes (float32 parity of the binary);
  5. `r1 convert --dtype bf16` -> transformers loads bfloat16 weights equal to torch's own rounding of the
     float32 ones; its bf16 logits stay within bf16 tolerance of the float32 reference; bf16 re-save bit-exact.
And every directory written with a tokenizer — a built-in shape with fresh weights and an r1-trained tokenizer
(`r1 tokenizer-train`, `r1 convert --model tiny --tokenizer`), the same weights sharded (--max-shard-size) and in
bf16, and the model/ of an `r1 pretrain` run (the writer SFT and GRPO checkpoints use too) — is complete
(config, generation config, tokenizer, weights) and loads in AutoTokenizer (ids equal `r1 tokenize`'s),
GenerationConfig and AutoModelForCausalLM (logits equal `r1 debug-forward`'s). The fixtures' vocabularies
(200-256) are too small for any byte-level tokenizer, so their directories are checked without one.
Prints one line per check and writes them all as JSON; exits 1 when any check fails.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import transformers
from safetensors.torch import load_file

CHECKS = []


def check(name, value, tol, ok=None, note=""):
    """Record a check: passes when value <= tol (or `ok` when given)."""
    passed = bool(ok) if ok is not None else (value is not None and value <= tol)
    CHECKS.append({"check": name, "value": value, "tolerance": tol, "pass": passed, "note": note})
    shown = f"{value:.3g}" if isinstance(value, float) else str(value)
    print(f"{'ok  ' if passed else 'FAIL'}  {name:<58} {shown:>10}  (tol {tol}) {note}", flush=True)
    return passed


def r1(binary, *args):
    res = subprocess.run([binary, *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"r1 {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


def load(path, dtype):
    try:
        return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
    except TypeError:  # transformers < 4.56
        return transformers.AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype).eval()


@torch.no_grad()
def logits_of(model, seqs):
    """Each sequence alone, positions 0..L-1, concatenated: [T, V] float32."""
    out = []
    for s in seqs:
        pos = torch.arange(len(s))[None]
        out.append(model(input_ids=torch.tensor([s]), position_ids=pos, use_cache=False).logits[0].float())
    return torch.cat(out)


def max_abs_rel(a, ref):
    return float((a.double() - ref.double()).abs().max() / ref.double().abs().max())


def same_tensors(a_path, b_path):
    a, b = load_file(a_path), load_file(b_path)
    if set(a) != set(b):
        return False, f"names differ: {sorted(set(a) ^ set(b))}"
    bad = [k for k in a if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or not torch.equal(a[k], b[k])]
    return not bad, (f"differ: {bad[:4]}" if bad else f"{len(a)} tensors")


def file_bytes(p):
    with open(p, "rb") as f:
        return f.read()


def tokens_arg(seqs):
    return ";".join(" ".join(str(t) for t in s) for s in seqs)


def debug_forward(binary, model_dir, seqs, vocab, out_json):
    r1(binary, "debug-forward", "--quiet", "--model", model_dir, "--tokens", tokens_arg(seqs), "--logits",
       str(vocab), "--output", out_json)
    with open(out_json) as f:
        j = json.load(f)
    return torch.tensor([row for s in j["sequences"] for row in s["logits"]], dtype=torch.float32)


def check_fixture(binary, fixtures, entry, work):
    name = entry["name"]
    src = os.path.join(fixtures, entry["dir"])
    seqs = entry["sequences"]
    ref_logits = load_file(os.path.join(src, "reference.safetensors"))["logits"]
    d = os.path.join(work, name)
    r1_dir, hf_dir, r1b_dir = (os.path.join(d, x) for x in ("r1", "hf", "r1b"))

    r1(binary, "convert", "--model", src, "--output", r1_dir, "--overwrite")
    m = load(r1_dir, torch.float32)
    check(f"{name}: transformers logits of r1's directory vs reference",
          max_abs_rel(logits_of(m, seqs), ref_logits), 1e-6)
    m.save_pretrained(hf_dir)
    ok, note = same_tensors(os.path.join(r1_dir, "model.safetensors"), os.path.join(hf_dir, "model.safetensors"))
    check(f"{name}: transformers re-save keeps r1's tensors bit-exact", None, "equal", ok, note)
    r1(binary, "convert", "--model", hf_dir, "--output", r1b_dir, "--overwrite")
    same = file_bytes(os.path.join(r1_dir, "model.safetensors")) == \
        file_bytes(os.path.join(r1b_dir, "model.safetensors"))
    check(f"{name}: r1 -> transformers -> r1 model.safetensors identical", None, "bytes", same)

    ours = debug_forward(binary, r1_dir, seqs, entry["config_expect"]["vocab_size"], os.path.join(d, "fwd.json"))
    theirs = logits_of(m, seqs)
    check(f"{name}: r1 debug-forward logits vs transformers", max_abs_rel(ours, theirs), 1e-4)
    differing = float((ours.argmax(-1) != theirs.argmax(-1)).float().mean())
    check(f"{name}: greedy tokens equal (fraction differing)", differing, 0.0)

    bf_dir, bf_hf, bf_r1b = (os.path.join(d, x) for x in ("bf16", "bf16_hf", "bf16_r1b"))
    r1(binary, "convert", "--model", src, "--dtype", "bf16", "--output", bf_dir, "--overwrite")
    with open(os.path.join(bf_dir, "config.json")) as f:
        cfg = json.load(f)
    check(f"{name}: bf16 config names its dtype", None, "bfloat16",
          cfg.get("torch_dtype", cfg.get("dtype")) == "bfloat16")
    ours_bf = load_file(os.path.join(bf_dir, "model.safetensors"))
    f32 = load_file(os.path.join(r1_dir, "model.safetensors"))
    ok = set(ours_bf) == set(f32) and all(ours_bf[k].dtype == torch.bfloat16 and
                                          torch.equal(ours_bf[k], f32[k].to(torch.bfloat16)) for k in f32)
    check(f"{name}: bf16 weights equal torch's rounding of float32", None, "equal", ok)
    mb = load(bf_dir, torch.bfloat16)
    lb = logits_of(mb, seqs)
    check(f"{name}: transformers bf16 logits vs float32 reference", max_abs_rel(lb, ref_logits), 1e-1,
          note="bf16 weights and arithmetic")
    mb.save_pretrained(bf_hf)
    r1(binary, "convert", "--model", bf_hf, "--dtype", "bf16", "--output", bf_r1b, "--overwrite")
    same = file_bytes(os.path.join(bf_dir, "model.safetensors")) == \
        file_bytes(os.path.join(bf_r1b, "model.safetensors"))
    check(f"{name}: bf16 r1 -> transformers -> r1 identical", None, "bytes", same)


MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
TEXT = "Question 7: what is 7 + 14? <think>7 plus 14 is 21</think> The answer is 21."


def check_complete_dir(binary, name, model_dir, dtype=torch.float32, tol=1e-4):
    """A directory r1 wrote is a complete HF model: every file, AutoTokenizer (ids equal r1 tokenize's),
    GenerationConfig (token ids equal config.json's where both name them), AutoModelForCausalLM (logits equal
    r1 debug-forward's). Returns transformers' logits of the test sequences."""
    files = set(os.listdir(model_dir))
    weights = "model.safetensors" in files or "model.safetensors.index.json" in files
    missing = [f for f in MODEL_FILES if f not in files] + ([] if weights else ["weights"])
    check(f"{name}: complete directory (config, generation, tokenizer, weights)", None, "present", not missing,
          f"missing {missing}" if missing else f"{len(files)} files")
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    gen = transformers.GenerationConfig.from_pretrained(model_dir)
    agree = all(getattr(gen, k) == cfg[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id")
                if k in cfg and getattr(gen, k, None) is not None)
    check(f"{name}: GenerationConfig loads, token ids agree with config.json", None, "equal", agree,
          f"eos {gen.eos_token_id} pad {gen.pad_token_id}")
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    hf_ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    ours_ids = [int(x) for x in r1(binary, "tokenize", "--ids-only", "-t", model_dir, TEXT).split()]
    check(f"{name}: AutoTokenizer ids equal r1 tokenize", None, "equal", hf_ids == ours_ids, f"{len(hf_ids)} ids")
    m = load(model_dir, dtype)
    seqs = [hf_ids, hf_ids[:5]]
    theirs = logits_of(m, seqs)
    if dtype == torch.float32:
        ours = debug_forward(binary, model_dir, seqs, m.config.vocab_size,
                             os.path.join(os.path.dirname(model_dir), os.path.basename(model_dir) + "_fwd.json"))
        check(f"{name}: r1 debug-forward logits vs AutoModelForCausalLM", max_abs_rel(ours, theirs), tol)
        check(f"{name}: greedy tokens equal (fraction differing)",
              float((ours.argmax(-1) != theirs.argmax(-1)).float().mean()), 0.0)
    return theirs


def check_builtin(binary, work):
    d = os.path.join(work, "tiny")
    os.makedirs(d, exist_ok=True)
    corpus = os.path.join(d, "corpus.jsonl")
    with open(corpus, "w") as f:
        for i in range(200):
            f.write(json.dumps({"text": f"Question {i}: what is {i} + {2 * i}? <think>{i} plus {2 * i} is "
                                        f"{3 * i}</think> The answer is {3 * i}."}) + "\n")
    tok_dir, model_dir = os.path.join(d, "tok"), os.path.join(d, "model")
    r1(binary, "tokenizer-train", corpus, "--output", tok_dir, "--vocab-size", "400")
    r1(binary, "convert", "--model", "tiny", "--seed", "3", "--tokenizer", tok_dir, "--output", model_dir,
       "--overwrite")
    single = check_complete_dir(binary, "tiny", model_dir)

    # Sharded: the same weights split past --max-shard-size load to the same logits, bit for bit.
    sharded = os.path.join(d, "sharded")
    r1(binary, "convert", "--model", model_dir, "--max-shard-size", "40KB", "--output", sharded, "--overwrite")
    shards = [f for f in os.listdir(sharded) if f.startswith("model-") and f.endswith(".safetensors")]
    check("tiny sharded: several shards + index, no single file", len(shards), None,
          len(shards) > 1 and not os.path.exists(os.path.join(sharded, "model.safetensors")))
    logits = check_complete_dir(binary, "tiny sharded", sharded)
    check("tiny sharded: logits identical to the single-file directory", float((logits - single).abs().max()), 0.0)

    # bf16: AutoTokenizer and AutoModelForCausalLM load it; logits within bf16 tolerance of float32.
    bf = os.path.join(d, "bf16")
    r1(binary, "convert", "--model", model_dir, "--dtype", "bf16", "--output", bf, "--overwrite")
    lb = check_complete_dir(binary, "tiny bf16", bf, dtype=torch.bfloat16)
    check("tiny bf16: transformers bf16 logits vs float32", max_abs_rel(lb, single), 1e-1)


def check_pretrain(binary, work):
    """A directory a training run wrote (r1 pretrain's model/, the same writer as SFT / GRPO checkpoints)."""
    run = os.path.join(work, "pretrain")
    r1(binary, "pretrain", "--steps", "3", "--documents", "300", "--output", run, "--overwrite")
    model_dir = os.path.join(run, "model")
    check_complete_dir(binary, "pretrain model/", model_dir)
    gen = transformers.GenerationConfig.from_pretrained(model_dir)
    check("pretrain model/: generation config samples at temperature 1", None, "do_sample",
          gen.do_sample and gen.temperature == 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--r1", required=True, help="the r1 binary")
    ap.add_argument("--fixtures", default="tests/fixtures/hf")
    ap.add_argument("--work", default="/tmp/hf_roundtrip")
    ap.add_argument("--report", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    with open(os.path.join(args.fixtures, "manifest.json")) as f:
        manifest = json.load(f)
    for entry in manifest["models"]:
        try:
            check_fixture(args.r1, args.fixtures, entry, args.work)
        except Exception as e:  # one broken model must not hide the others' results
            check(f"{entry['name']}: ran to the end", None, "no error", False, repr(e)[:400])
    for name, fn in (("tiny", check_builtin), ("pretrain", check_pretrain)):
        try:
            fn(args.r1, args.work)
        except Exception as e:
            check(f"{name}: ran to the end", None, "no error", False, repr(e)[:400])
    failed = [c for c in CHECKS if not c["pass"]]
    print(f"{len(CHECKS) - len(failed)}/{len(CHECKS)} checks passed")
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"versions": {"torch": torch.__version__, "transformers": transformers.__version__},
                       "checks": CHECKS}, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
