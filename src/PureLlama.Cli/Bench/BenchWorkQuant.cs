using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>
/// Dequant-matmul items of <c>purellama bench</c> on Llama-3.2-1B shapes (hidden 2048, intermediate
/// 8192): NF4 (double-quantized) and INT8 GEMV for decode, rated in GB/s of the bytes actually read
/// (packed codes + absmax codes + scales), beside BF16 GEMV on the same shapes; and the
/// panel-dequantizing GEMM for prefill (GFLOP/s). PyTorch on the CPU has no NF4/INT8 kernel, so only
/// the BF16 items have a counterpart in benchmarks/pytorch/kernels.py.
/// </summary>
internal static unsafe class BenchWorkQuant
{
    private static readonly (int N, int K)[] Shapes = [(2048, 2048), (8192, 2048), (2048, 8192)];

    /// <summary>The items, appended to <see cref="BenchWork.All"/>.</summary>
    public static IEnumerable<WorkItem> Items()
    {
        foreach (var (n, k) in Shapes)
        {
            if ((n, k) != (8192, 2048)) yield return Bf16Gemv(n, k);   // 8192×2048 is BenchWork's gemv_bf16 item
            yield return Nf4Gemv(n, k);
            yield return Int8Gemv(n, k);
        }
        yield return Nf4Gemm(128, 8192, 2048);
        yield return Int8Gemm(128, 8192, 2048);
        yield return Nf4Gemm(512, 2048, 2048);
    }

    // Enough distinct weight copies (≥ 6, ≥ 192 MiB in all) that every call reads from memory, not L3.
    private static int Copies(double bytes) => (int)Math.Clamp(Math.Ceiling((192 << 20) / bytes), BenchWork.GemvWeightCopies, 96);

    private static double Nf4Bytes(int n, int k) => (double)n * k / 2 + (double)n * k / 64 + 4.0 * Math.Ceiling(n * (double)k / 64 / 256);

    private static Nf4Matrix Nf4Weight(BenchBuffers buf, int n, int k)
    {
        long numel = (long)n * k, blocks = numel / 64;
        var packed = (byte*)buf.Bf16(numel / 4);           // random bits: every byte is a valid pair of codes
        var codes = (byte*)buf.Bf16((blocks + 1) / 2);
        float* map = buf.F32(16), nested = buf.F32((blocks + 255) / 256), nestedMap = buf.F32(256);
        return new Nf4Matrix(n, k, 64, packed, map, codes, nested, nestedMap, 0.01f, 256);
    }

    private static WorkItem Bf16Gemv(int n, int k) =>
        new($"gemv_bf16_{n}x{k}", "GEMV BF16 weight (decode)", $"1×{k} · [{n}×{k}]", RateKind.ReadBytes, 2.0 * n * k,
            "SimdGemv.Bf16, weight copies in rotation", buf =>
            {
                float* x = buf.F32(k), y = buf.Zeros(n);
                var ws = new nint[Copies(2.0 * n * k)];
                for (int i = 0; i < ws.Length; i++) ws[i] = (nint)buf.Bf16((long)n * k);
                int next = 0;
                return () => { SimdGemv.Bf16(n, k, (ushort*)ws[next], k, x, y, false); next = (next + 1) % ws.Length; };
            });

    private static WorkItem Nf4Gemv(int n, int k) =>
        new($"gemv_nf4_{n}x{k}", "GEMV NF4 weight (decode)", $"1×{k} · [{n}×{k}]", RateKind.ReadBytes, Nf4Bytes(n, k),
            "SimdNf4Gemv.Run (double-quantized absmax), weight copies in rotation; GB/s of packed + absmax bytes", buf =>
            {
                float* x = buf.F32(k), y = buf.Zeros(n);
                var ws = new Nf4Matrix[Copies(Nf4Bytes(n, k))];
                for (int i = 0; i < ws.Length; i++) ws[i] = Nf4Weight(buf, n, k);
                int next = 0;
                return () => { Kernels.Simd.SimdNf4Gemv.Run(ws[next], 1, x, k, y, n, false); next = (next + 1) % ws.Length; };
            }, InPyTorchScript: false);

    private static WorkItem Int8Gemv(int n, int k) =>
        new($"gemv_int8_{n}x{k}", "GEMV INT8 weight (decode)", $"1×{k} · [{n}×{k}]", RateKind.ReadBytes, (double)n * k + 4.0 * n,
            "SimdInt8Gemv.Run, weight copies in rotation; GB/s of I8 + SCB bytes", buf =>
            {
                float* x = buf.F32(k), y = buf.Zeros(n);
                var ws = new Int8Matrix[Copies((double)n * k)];
                for (int i = 0; i < ws.Length; i++) ws[i] = new Int8Matrix(n, k, (sbyte*)buf.Bf16((long)n * k / 2), buf.F32(n));
                int next = 0;
                return () => { Kernels.Simd.SimdInt8Gemv.Run(ws[next], 1, x, k, y, n, false); next = (next + 1) % ws.Length; };
            }, InPyTorchScript: false);

    private static WorkItem Nf4Gemm(int m, int n, int k) =>
        new($"gemm_nf4_{m}x{n}x{k}", "matmul F32 × NF4 weight (prefill)", $"{m}×{n}×{k}", RateKind.Flops, 2.0 * m * n * k,
            "SimdQuantGemm.Nf4: L2-sized panels of Ŵ dequantized, then SimdGemm.F32", buf =>
            {
                float* x = buf.F32((long)m * k), y = buf.Zeros((long)m * n);
                var w = Nf4Weight(buf, n, k);
                return () => SimdQuantGemm.Nf4(w, m, x, k, y, n, false, false);
            }, InPyTorchScript: false);

    private static WorkItem Int8Gemm(int m, int n, int k) =>
        new($"gemm_int8_{m}x{n}x{k}", "matmul F32 × INT8 weight (prefill)", $"{m}×{n}×{k}", RateKind.Flops, 2.0 * m * n * k,
            "SimdQuantGemm.Int8: L2-sized panels of Ŵ dequantized, then SimdGemm.F32", buf =>
            {
                float* x = buf.F32((long)m * k), y = buf.Zeros((long)m * n);
                var w = new Int8Matrix(n, k, (sbyte*)buf.Bf16((long)n * k / 2), buf.F32(n));
                return () => SimdQuantGemm.Int8(w, m, x, k, y, n, false, false);
            }, InPyTorchScript: false);
}
