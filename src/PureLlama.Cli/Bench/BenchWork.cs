using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>What a work item's rate measures, and so which roofline it is held against.</summary>
internal enum RateKind
{
    /// <summary>GFLOP/s against the F32 FMA peak.</summary>
    Flops,
    /// <summary>GB/s of bytes read, against the read-only bandwidth.</summary>
    ReadBytes,
    /// <summary>GB/s of bytes read plus written, against the copy bandwidth.</summary>
    ReadWriteBytes,
}

/// <summary>
/// One benchmarked piece of work. <see cref="Id"/> is shared with benchmarks/pytorch/kernels.py,
/// which does the same work in PyTorch. <see cref="Prepare"/> allocates and fills the buffers
/// (owned by the given <see cref="BenchBuffers"/>) and returns one call of the kernel.
/// </summary>
internal sealed record WorkItem(string Id, string Work, string Shape, RateKind Kind, double AmountPerCall,
    string Ours, Func<BenchBuffers, Action> Prepare, bool InPyTorchScript = true)
{
    /// <summary>Unit of the rate column.</summary>
    public string Unit => Kind == RateKind.Flops ? "GFLOP/s" : "GB/s";

    /// <summary>Rate (GFLOP/s or GB/s) for one call lasting <paramref name="ms"/>.</summary>
    public double Rate(double ms) => AmountPerCall / (ms * 1e-3) / 1e9;
}

/// <summary>The work items of <c>purellama bench</c>.</summary>
internal static unsafe class BenchWork
{
    /// <summary>Distinct weight buffers a GEMV rotates through, so the weights come from memory, not L3.</summary>
    public const int GemvWeightCopies = 6;

    public static IReadOnlyList<WorkItem> All { get; } =
    [
        Matmul("gemm_f32_2048", "matmul F32", 2048, 2048, 2048, weightLayout: false),
        Matmul("gemm_f32_prefill_128x2048x2048", "matmul F32 (prefill, X·Wᵀ)", 128, 2048, 2048, weightLayout: true),
        MatmulBf16Weight("gemm_f32xbf16_512x4096x4096", 512, 4096, 4096),
        GemvItem("gemv_bf16_8192x2048", bf16: true, 8192, 2048),
        GemvItem("gemv_f32_8192x2048", bf16: false, 8192, 2048),
        new WorkItem("rmsnorm_4096x2048", "RMSNorm F32 (fwd)", "[4096×2048], w F32", RateKind.ReadWriteBytes,
            2.0 * 4096 * 2048 * sizeof(float), "SimdRmsNorm.Forward, rstd not stored", buf =>
            {
                float* x = buf.F32(4096L * 2048), w = buf.F32(2048), y = buf.Zeros(4096L * 2048);
                return () => SimdRmsNorm.Forward(x, w, y, null, 4096, 2048, 1e-5f);
            }),
        new WorkItem("softmax_512x32000", "softmax F32 (fwd)", "[512×32000]", RateKind.ReadWriteBytes,
            2.0 * 512 * 32000 * sizeof(float), "SimdSoftmax.Forward", buf =>
            {
                float* x = buf.F32(512L * 32000), y = buf.Zeros(512L * 32000);
                return () => SimdSoftmax.Forward(x, y, 512, 32000);
            }),
        .. BenchWorkQuant.Items(),
        .. BenchWorkInt8Dot.Items(),
        .. BenchWorkLmHead.Items(),
        .. BenchWorkRows.Items(),
    ];

    // C[m,n] = A[m,k]·B; B is [k,n] or, with weightLayout, a weight W[n,k] used transposed.
    private static WorkItem Matmul(string id, string work, int m, int n, int k, bool weightLayout) =>
        new(id, work, $"{m}×{n}×{k}", RateKind.Flops, 2.0 * m * n * k,
            weightLayout ? "SimdGemm.F32, B = W[n,k] transposed" : "SimdGemm.F32, A[m,k]·B[k,n]", buf =>
            {
                float* a = buf.F32((long)m * k), b = buf.F32((long)k * n), c = buf.Zeros((long)m * n);
                return weightLayout
                    ? () => SimdGemm.F32(m, n, k, a, k, false, b, k, true, c, n, false)
                    : () => SimdGemm.F32(m, n, k, a, k, false, b, n, false, c, n, false);
            });

    private static WorkItem MatmulBf16Weight(string id, int m, int n, int k) =>
        new(id, "matmul F32 × BF16 weight", $"{m}×{n}×{k}", RateKind.Flops, 2.0 * m * n * k,
            "SimdGemm.F32Bf16: F32 X · BF16 W[n,k]ᵀ, W widened while packing, F32 FMA", buf =>
            {
                float* a = buf.F32((long)m * k), c = buf.Zeros((long)m * n);
                ushort* w = buf.Bf16((long)n * k);
                return () => SimdGemm.F32Bf16(m, n, k, a, k, false, w, k, true, c, n, false);
            });

    // y[n] = W[n,k]·x[k]; rate = weight bytes / time (x and y are a rounding error).
    private static WorkItem GemvItem(string id, bool bf16, int n, int k) =>
        new(id, bf16 ? "GEMV BF16 weight (decode)" : "GEMV F32 weight (decode)", $"1×{k} · [{n}×{k}]",
            RateKind.ReadBytes, (double)n * k * (bf16 ? sizeof(ushort) : sizeof(float)),
            $"SimdGemv.{(bf16 ? "Bf16" : "F32")}, {GemvWeightCopies} weight copies in rotation", buf =>
            {
                float* x = buf.F32(k), y = buf.Zeros(n);
                var ws = new nint[GemvWeightCopies];
                for (int i = 0; i < ws.Length; i++) ws[i] = bf16 ? (nint)buf.Bf16((long)n * k) : (nint)buf.F32((long)n * k);
                int next = 0;
                return () =>
                {
                    nint w = ws[next];
                    next = next + 1 == ws.Length ? 0 : next + 1;
                    if (bf16) SimdGemv.Bf16(n, k, (ushort*)w, k, x, y, false);
                    else SimdGemv.F32(n, k, (float*)w, k, x, y, false);
                };
            });
}
