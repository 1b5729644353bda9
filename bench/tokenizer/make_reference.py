#!/usr/bin/env python3
"""Reference token ids from Hugging Face `tokenizers` for r1.cpp's tokenizer parity test.

Run on a machine with `pip install tokenizers` (the GPU machine has it):

    python3 bench/tokenizer/make_reference.py \
        --tokenizers ../shared/data/tokenizers \
        --corpus tests/fixtures/tokenizer/hf_reference_corpus.jsonl \
        --out tests/fixtures/tokenizer/hf_reference.jsonl

Each corpus line is {"kind": "hand"|"data", "text": ...}: hand-written edge cases (code, LaTeX, CJK,
emoji, whitespace runs, digits, special tokens inside text) and samples of gsm8k / math500 / humaneval.
Qwen2.5 and Llama-3.2 encode every text; Qwen3 and R1-Distill-Qwen (same BPE as Qwen2.5, different added
tokens) only the hand-written ones, to keep the fixture small. Tokenizers are loaded with
tokenizers.Tokenizer.from_file (never AutoTokenizer: transformers v5 breaks the DeepSeek files).
R1-Distill-Qwen's tokenizer.json is composed from qwen2.5/tokenizer.json and the overlay exactly as the
overlay's _comment says. Output: a _meta line, then {"tokenizer", "text", "add_special_tokens", "ids"}.
"""
import argparse
import json
import os
import sys
import tempfile

from tokenizers import Tokenizer, __version__ as tokenizers_version

FULL = ["qwen2.5", "llama-3.2"]
HAND_ONLY = ["qwen3", "deepseek-r1-distill-qwen"]
# add_special_tokens=True is recorded for the first few hand-written texts (it only adds BOS here).
WITH_SPECIAL = 8


def load(tokenizers_dir, name):
    if name != "deepseek-r1-distill-qwen":
        return Tokenizer.from_file(os.path.join(tokenizers_dir, name, "tokenizer.json"))
    overlay_path = os.path.join(tokenizers_dir, name, "tokenizer.overlay.RECONSTRUCTED.json")
    with open(overlay_path, encoding="utf-8") as f:
        overlay = json.load(f)
    with open(os.path.join(os.path.dirname(overlay_path), overlay["base"]), encoding="utf-8") as f:
        root = json.load(f)
    root.update(overlay["replace"])
    root["model"].update(overlay.get("model_set", {}))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(root, f, indent=2, ensure_ascii=False)
        path = f.name
    try:
        return Tokenizer.from_file(path)
    finally:
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizers", default="../shared/data/tokenizers")
    ap.add_argument("--corpus", default="tests/fixtures/tokenizer/hf_reference_corpus.jsonl")
    ap.add_argument("--out", default="tests/fixtures/tokenizer/hf_reference.jsonl")
    args = ap.parse_args()

    with open(args.corpus, encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f if line.strip()]
    rows = []
    for name in FULL + HAND_ONLY:
        tok = load(args.tokenizers, name)
        hand_seen = 0
        for entry in corpus:
            if name in HAND_ONLY and entry["kind"] != "hand":
                continue
            text = entry["text"]
            rows.append({"tokenizer": name, "text": text, "add_special_tokens": False,
                         "ids": tok.encode(text, add_special_tokens=False).ids})
            if entry["kind"] == "hand" and hand_seen < WITH_SPECIAL:
                rows.append({"tokenizer": name, "text": text, "add_special_tokens": True,
                             "ids": tok.encode(text, add_special_tokens=True).ids})
            hand_seen += entry["kind"] == "hand"
    meta = {"_meta": {"generator": "bench/tokenizer/make_reference.py", "tokenizers_version": tokenizers_version,
                      "python": sys.version.split()[0], "corpus": os.path.basename(args.corpus), "rows": len(rows)}}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps(meta) + "\n")
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {len(rows)} rows to {args.out} ({os.path.getsize(args.out)} bytes), tokenizers {tokenizers_version}")


if __name__ == "__main__":
    main()
