#!/usr/bin/env python3
"""Times torch.matmul (cuBLAS) at n^3 for f32 and bf16 on the first CUDA device; prints JSON.

Same work as PureLlama's GpuMatmul benchmark: C[n,n] = A[n,n] @ B[n,n]^T with random data,
warm-up first, median of repeats, CUDA events. Also the decode GEMV of `purellama bench` (1 x 4096
times [14336 x 4096]^T, bf16 and f16 weights, GB/s of weight read): the bandwidth reference for the
quantized "gemv ... (decode)" items (exact and dp4a). Usage: torch_matmul.py [n] [reps]
"""
import json
import sys

import torch


def time_matmul(a, b, reps):
    for _ in range(3):
        torch.matmul(a, b.t())
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b.t())
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    torch.manual_seed(0)
    flops = 2.0 * n * n * n
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "n": n}
    for name, dtype, tf32 in (("f32", torch.float32, False), ("f32_tf32", torch.float32, True), ("bf16", torch.bfloat16, False)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.rand(n, n, device="cuda", dtype=dtype) * 2 - 1
        b = torch.rand(n, n, device="cuda", dtype=dtype) * 2 - 1
        sec = time_matmul(a, b, reps)
        out[name] = {"ms": sec * 1e3, "tflops": flops / sec / 1e12}
    torch.backends.cuda.matmul.allow_tf32 = False
    for name, dtype in (("gemv_bf16", torch.bfloat16), ("gemv_f16", torch.float16)):
        x = torch.rand(1, 4096, device="cuda", dtype=dtype) * 2 - 1
        w = torch.rand(14336, 4096, device="cuda", dtype=dtype) * 2 - 1
        sec = time_matmul(x, w, reps)
        out[name] = {"shape": "1x4096 @ [14336x4096]^T", "ms": sec * 1e3, "weight_gbs": w.numel() * w.element_size() / sec / 1e9}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
