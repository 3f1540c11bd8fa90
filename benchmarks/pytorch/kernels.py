#!/usr/bin/env python3
"""The work of `purellama bench`, done with PyTorch on the CPU.

Each item has the same id, shape and byte/flop count as the C# side
(src/PureLlama.Cli/Bench/BenchWork.cs). Timing: warm-up (>= 5 calls and >= 0.4 s), then
`--repeats` samples, each timing enough back-to-back calls to last >= 20 ms; the median
per-call time is reported. Prints one JSON object on stdout (human notes go to stderr).

    /usr/bin/python3 benchmarks/pytorch/kernels.py --threads 2 --repeats 15 [--items a,b]
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

GEMV_WEIGHT_COPIES = 6  # as BenchWork.GemvWeightCopies: the weights come from memory, not L3


def rand(shape, dtype=torch.float32, gen=None):
    """Uniform non-zero values in +-[0.01, 1), like the C# side."""
    mag = 0.01 + 0.99 * torch.rand(shape, generator=gen)
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
    return (mag * sign).to(dtype).contiguous()


def item_matmul(m, n, k, weight_layout, gen):
    a = rand((m, k), gen=gen)
    if weight_layout:
        w = rand((n, k), gen=gen)
        out = torch.empty((m, n))
        return (lambda: torch.matmul(a, w.t(), out=out)), "torch.matmul(x, W.t(), out=) F32, W [n,k]"
    b = rand((k, n), gen=gen)
    out = torch.empty((m, n))
    return (lambda: torch.mm(a, b, out=out)), "torch.mm(A, B, out=) F32"


def item_matmul_bf16(m, n, k, gen):
    x = rand((m, k), torch.bfloat16, gen)
    w = rand((n, k), torch.bfloat16, gen)
    return (lambda: torch.matmul(x, w.t())), "torch.matmul(x, W.t()) with x and W both BF16 (BF16 output)"


def item_gemv(n, k, dtype, gen):
    x = rand((1, k), dtype, gen)
    ws = [rand((n, k), dtype, gen) for _ in range(GEMV_WEIGHT_COPIES)]
    state = {"i": 0}

    def call():
        i = state["i"]
        state["i"] = (i + 1) % len(ws)
        return F.linear(x, ws[i])

    name = "BF16" if dtype == torch.bfloat16 else "F32"
    return call, f"F.linear(x[1,{k}], W[{n},{k}]) {name} (x {name} too), {GEMV_WEIGHT_COPIES} weight copies in rotation"


def item_rmsnorm(rows, dim, gen):
    x = rand((rows, dim), gen=gen)
    w = rand((dim,), gen=gen)
    eps = 1e-5
    sq, y = torch.empty_like(x), torch.empty_like(x)
    ms = torch.empty((rows, 1))

    def call():
        # Hugging Face LlamaRMSNorm, w * (x * rsqrt(mean(x^2) + eps)), unfused (torch 1.13 has no
        # fused rms_norm) but into preallocated buffers: a fresh 32 MB tensor per op costs ~60 ms
        # of page faults on this VM, which would measure the allocator rather than the kernels.
        torch.mul(x, x, out=sq)
        torch.mean(sq, -1, keepdim=True, out=ms)
        ms.add_(eps).rsqrt_()
        torch.mul(x, ms, out=y)
        return y.mul_(w)

    return call, "HF LlamaRMSNorm w*(x*rsqrt(mean(x*x)+eps)), unfused, preallocated out= buffers"


def item_softmax(rows, cols, gen):
    x = rand((rows, cols), gen=gen)
    out = torch.empty_like(x)
    return (lambda: torch.softmax(x, dim=-1, out=out)), "torch.softmax(x, dim=-1, out=) (preallocated output)"


# id -> (builder(gen) -> (call, description), kind, amount per call)
ITEMS = {
    "gemm_f32_2048": (lambda g: item_matmul(2048, 2048, 2048, False, g), "flops", 2.0 * 2048 ** 3),
    "gemm_f32_prefill_128x2048x2048": (lambda g: item_matmul(128, 2048, 2048, True, g), "flops", 2.0 * 128 * 2048 * 2048),
    "gemm_f32xbf16_512x4096x4096": (lambda g: item_matmul_bf16(512, 4096, 4096, g), "flops", 2.0 * 512 * 4096 * 4096),
    "gemv_bf16_8192x2048": (lambda g: item_gemv(8192, 2048, torch.bfloat16, g), "read_bytes", 8192.0 * 2048 * 2),
    "gemv_f32_8192x2048": (lambda g: item_gemv(8192, 2048, torch.float32, g), "read_bytes", 8192.0 * 2048 * 4),
    "gemv_bf16_2048x2048": (lambda g: item_gemv(2048, 2048, torch.bfloat16, g), "read_bytes", 2048.0 * 2048 * 2),
    "gemv_bf16_2048x8192": (lambda g: item_gemv(2048, 8192, torch.bfloat16, g), "read_bytes", 2048.0 * 8192 * 2),
    "rmsnorm_4096x2048": (lambda g: item_rmsnorm(4096, 2048, g), "read_write_bytes", 2.0 * 4096 * 2048 * 4),
    "softmax_512x32000": (lambda g: item_softmax(512, 32000, g), "read_write_bytes", 2.0 * 512 * 32000 * 4),
}


def measure(call, repeats, warmup_s=0.4, min_warmup_calls=5, min_sample_s=0.02):
    start = time.perf_counter()
    n = 0
    while n < min_warmup_calls or time.perf_counter() - start < warmup_s:
        call()
        n += 1
    probe = max(1, min(n // 2, 3))
    t0 = time.perf_counter()
    for _ in range(probe):
        call()
    per_call = (time.perf_counter() - t0) / probe
    calls = int(min(100_000, max(1, -(-min_sample_s // max(per_call, 1e-7)))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times) * 1e3, min(times) * 1e3, calls


def openblas_info():
    """Which BLAS torch loaded, and (if OpenBLAS) its build config and the core it picked."""
    info = {"env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                "OMP_NUM_THREADS") if k in os.environ}}
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if "blas" in base or "lapack" in base or "dnnl" in base or "mkl" in base:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    info["libraries"] = sorted(libs)
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
            get_config, get_core = lib.openblas_get_config, lib.openblas_get_corename
        except (OSError, AttributeError):
            continue
        get_config.restype = ctypes.c_char_p
        get_core.restype = ctypes.c_char_p
        info["openblas_library"] = path
        info["openblas_config"] = get_config().decode().strip()
        info["openblas_core"] = get_core().decode().strip()
        break
    try:
        import threadpoolctl  # optional
        info["threadpoolctl"] = threadpoolctl.threadpool_info()
    except ImportError:
        pass
    return info


def cpu_capability(config):
    """ATen's vector ISA for its own kernels (softmax, elementwise): AVX2 or AVX512."""
    get = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    if get is not None:
        return get()
    for line in config.splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--items", default="", help="comma-separated ids (default: all)")
    ap.add_argument("--json", default="", help="also write the JSON to this file")
    ap.add_argument("--list", action="store_true", help="print the ids and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(ITEMS))
        return 0
    ids = [i for i in args.items.split(",") if i] or list(ITEMS)
    unknown = [i for i in ids if i not in ITEMS]
    if unknown:
        print(f"unknown item(s): {', '.join(unknown)}", file=sys.stderr)
        return 2

    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(1234)
    results = []
    for item_id in ids:
        build, kind, amount = ITEMS[item_id]
        call, op = build(gen)
        with torch.no_grad():
            median_ms, min_ms, calls = measure(call, args.repeats)
        rate = amount / (median_ms * 1e-3) / 1e9
        unit = "GFLOP/s" if kind == "flops" else "GB/s"
        print(f"  pytorch {item_id}: {median_ms:.3f} ms, {rate:.1f} {unit}", file=sys.stderr)
        results.append({"id": item_id, "op": op, "kind": kind, "median_ms": median_ms, "min_ms": min_ms,
                        "calls_per_sample": calls, "samples": args.repeats, "rate": rate, "unit": unit})
        del call

    config = torch.__config__.show()
    doc = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": cpu_capability(config),
        "blas": openblas_info(),
        "config": config,
        "results": results,
    }
    text = json.dumps(doc, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
