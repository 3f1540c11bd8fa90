#!/usr/bin/env python3
"""Causal attention in PyTorch, the reference for PureLlama's FlashAttention numbers.

Same work as docs/kernels/flash-attention.md: F32, batch 1, 32 heads, head_dim 64, causal,
seq 512/1024/2048/4096, forward and forward+backward. Prints one JSON object per line.
Effective GFLOP/s count causal FLOPs: forward 2·2·T²·d·H/2, forward+backward 3.5× that
(the backward does 2.5× the forward's matmul work).

Routes: torch.nn.functional.scaled_dot_product_attention when present (torch ≥ 2.0; on a CUDA
device when one is available, else the CPU); otherwise (Debian's torch 1.13) explicit
matmul → masked softmax → matmul, which materialises the [H, T, T] scores.

Usage: python3 benchmarks/pytorch/attention.py [--device cpu|cuda] [--seq 512 1024 ...] [--reps 3]
"""
import argparse
import json
import time

import torch


def attention_explicit(q, k, v, scale):
    # q, k, v: [1, H, T, d]
    t = q.shape[-2]
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)
    s = s.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def attention_sdpa(q, k, v, scale):
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)


def timed(fn, device, reps):
    fn()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seq", type=int, nargs="*", default=[512, 1024, 2048, 4096])
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--head-dim", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    has_sdpa = hasattr(torch.nn.functional, "scaled_dot_product_attention")
    impl = attention_sdpa if has_sdpa else attention_explicit
    h, d = args.heads, args.head_dim
    scale = d ** -0.5
    for t in args.seq:
        g = torch.Generator(device="cpu").manual_seed(1)
        q, k, v, do = (torch.rand(1, h, t, d, generator=g).mul_(2).sub_(1).to(args.device) for _ in range(4))
        with torch.no_grad():
            fwd = timed(lambda: impl(q, k, v, scale), args.device, args.reps)
        qg, kg, vg = (x.clone().requires_grad_(True) for x in (q, k, v))

        def fwd_bwd():
            out = impl(qg, kg, vg, scale)
            out.backward(do)
            qg.grad = kg.grad = vg.grad = None

        both = timed(fwd_bwd, args.device, args.reps)
        flops = 2 * 2 * t * t * d * h / 2
        print(json.dumps({
            "kernel": "attention causal f32", "impl": "sdpa" if has_sdpa else "explicit matmul-softmax-matmul",
            "torch": torch.__version__, "device": args.device, "threads": torch.get_num_threads(),
            "seq": t, "heads": h, "head_dim": d,
            "forward_ms": fwd * 1e3, "forward_gflops": flops / fwd / 1e9,
            "forward_backward_ms": both * 1e3, "forward_backward_gflops": 3.5 * flops / both / 1e9,
        }))


if __name__ == "__main__":
    main()
