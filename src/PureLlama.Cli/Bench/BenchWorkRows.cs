using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>
/// Batch-invariant dense products (<see cref="RowInvariance"/>: what serving, generate and prefill with a KV cache run)
/// of <c>purellama bench</c>, on Llama-3.2-1B shapes: X[m, k] · W[n, k]ᵀ with BF16 (and F32) weights. m ≤ 32 (decode,
/// serving batches) is rated in GB/s of weight bytes, rotating through copies so they come from memory; m = 128
/// (prefill) in GFLOP/s; the L2-resident items rate the instructions alone (m = 1 in GB/s, m = 8 and 16 in GFLOP/s
/// against the FMA peak, which bounds serving batches).
/// </summary>
internal static unsafe class BenchWorkRows
{
    private static readonly (int N, int K)[] Shapes = [(8192, 2048), (2048, 8192)];

    /// <summary>The items, appended to <see cref="BenchWork.All"/>.</summary>
    public static IEnumerable<WorkItem> Items()
    {
        foreach (var (n, k) in Shapes)
        {
            foreach (int m in new[] { 1, 2, 4, 8, 16, 32 })
                yield return Product(bf16: true, m, n, k);
            yield return Product(bf16: true, 128, n, k);
        }
        yield return Product(bf16: false, 128, 8192, 2048);
        foreach (int m in new[] { 1, 8, 16 })
            yield return Product(bf16: true, m, 192, 2048, cached: true);
    }

    // cached: one weight copy small enough for L2, so the rate is the kernel's instruction throughput, not memory's.
    private static WorkItem Product(bool bf16, int m, int n, int k, bool cached = false)
    {
        bool prefill = m > 32, flops = prefill || (cached && m > 1);
        double bytes = (double)n * k * (bf16 ? sizeof(ushort) : sizeof(float));
        string type = bf16 ? "bf16" : "f32";
        return new WorkItem($"rows_{type}_m{m}_{n}x{k}{(cached ? "_l2" : "")}", $"row-invariant {type.ToUpperInvariant()} weight, m = {m}{(prefill ? " (prefill)" : cached ? ", in L2" : "")}",
            $"{m}×{k} · [{n}×{k}]", flops ? RateKind.Flops : RateKind.ReadBytes, flops ? 2.0 * m * n * k : bytes,
            "SimdGemm.F32Bf16 / SimdGemm.F32 in a RowInvariance scope", buf =>
            {
                float* x = buf.F32((long)m * k), y = buf.Zeros((long)m * n);
                int copies = prefill || cached ? 1 : (int)Math.Clamp(Math.Ceiling((192 << 20) / bytes), BenchWork.GemvWeightCopies, 96);
                var ws = new nint[copies];
                for (int i = 0; i < copies; i++) ws[i] = bf16 ? (nint)buf.Bf16((long)n * k) : (nint)buf.F32((long)n * k);
                int next = 0;
                return () =>
                {
                    nint w = ws[next];
                    next = (next + 1) % copies;
                    using var scope = RowInvariance.Enter();
                    if (bf16) SimdGemm.F32Bf16(m, n, k, x, k, false, (ushort*)w, k, true, y, n, false);
                    else SimdGemm.F32(m, n, k, x, k, false, (float*)w, k, true, y, n, false);
                };
            }, InPyTorchScript: false);
    }
}
