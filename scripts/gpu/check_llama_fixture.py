#!/usr/bin/env python3
"""Compares `purellama logits` / `generate` output on a device with the llama3-tiny fixture
(Hugging Face transformers' logits and greedy tokens). Prints JSON; exits 1 on a mismatch.

Usage: check_llama_fixture.py FIXTURE_DIR LOGITS_F32.npy LOGITS_BF16.npy GREEDY_F32_IDS GREEDY_BF16_IDS
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file


def main():
    fixture, f32_npy, bf16_npy, greedy_f32, greedy_bf16 = sys.argv[1:6]
    ref = json.load(open(f"{fixture}/reference.json"))
    tensors = load_file(f"{fixture}/reference.safetensors")
    got_f32 = np.load(f32_npy)
    got_bf16 = np.load(bf16_npy)
    err_f32 = float(np.abs(got_f32 - tensors["logits"]).max())
    err_bf16 = float(np.abs(got_bf16 - tensors["bf16_weights_logits_f32_compute"]).max())
    ids_f32 = [int(x) for x in open(greedy_f32).read().replace(",", " ").split()]
    ids_bf16 = [int(x) for x in open(greedy_bf16).read().replace(",", " ").split()]
    want_f32 = ref["greedy_new_tokens"]
    bf16_ref = ref["bf16"]
    want_bf16 = bf16_ref["greedy_bf16_weights_f32_compute"]
    result = {
        "logits_f32_max_abs": err_f32,
        "logits_bf16_weights_f32_compute_max_abs": err_bf16,
        "greedy_f32_equal": ids_f32[: len(want_f32)] == want_f32,
        "greedy_bf16_equal": ids_bf16[: len(want_bf16)] == want_bf16,
        "greedy_f32": ids_f32,
    }
    print(json.dumps(result))
    ok = err_f32 <= 1e-4 and err_bf16 <= 1e-4 and result["greedy_f32_equal"] and result["greedy_bf16_equal"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
