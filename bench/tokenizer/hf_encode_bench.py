#!/usr/bin/env python3
"""HF `tokenizers` encode throughput, one thread, on the documents encode_bench.cpp uses (gsm8k train,
math500, humaneval; each JSONL line's string fields joined by "\\n"). Prints the same table columns, so
the two can be put side by side; the checksum (ids folded the same way) must equal encode_bench's.

    RAYON_NUM_THREADS=1 python3 bench/tokenizer/hf_encode_bench.py ../shared/data \\
        ../shared/data/tokenizers/qwen2.5 ../shared/data/tokenizers/llama-3.2
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def documents(data_dir):
    docs = []
    for rel in ("gsm8k/train.jsonl", "math500/test.jsonl", "humaneval/HumanEval.jsonl"):
        with open(os.path.join(data_dir, rel), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    docs.append("\n".join(v for v in row.values() if isinstance(v, str)))
    return docs


def main():
    docs = documents(sys.argv[1])
    size = sum(len(d.encode("utf-8")) for d in docs)
    print(f"{len(docs)} documents, {size / 1e6:.2f} MB")
    print(f"{'tokenizer':28} {'load_ms':>9} {'tokens':>9} {'cold_MB/s':>11} {'warm_MB/s':>11} {'checksum':>9}")
    for path in sys.argv[2:]:
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        load = time.perf_counter() - t0
        rates = []
        for _ in range(2):  # cold (first time HF sees these words), then warm (its word cache filled)
            t0 = time.perf_counter()
            encodings = [tok.encode(d, add_special_tokens=False) for d in docs]
            rates.append(size / 1e6 / (time.perf_counter() - t0))
        tokens, checksum = 0, 0
        for e in encodings:
            tokens += len(e.ids)
            for i in e.ids:
                checksum = (checksum * 1000003 + i) & 0xFFFFFFFFFFFFFFFF
        name = os.path.basename(os.path.normpath(path))
        print(f"{name:28} {load * 1e3:9.0f} {tokens:9d} {rates[0]:11.2f} {rates[1]:11.2f} {checksum & 0xFFFFFFFF:9x}")


if __name__ == "__main__":
    main()
