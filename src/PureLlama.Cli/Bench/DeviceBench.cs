using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Cli.Bench;

/// <summary>
/// Benchmarks through <see cref="IBackend"/> on any device (the GPU path of <c>purellama bench
/// --device cuda</c>): each call is followed by <see cref="IBackend.Synchronize"/>, so the time is
/// the device's, launches included. Rates count the useful FLOPs (causal attention: half the
/// square) or the bytes a kernel must move at least once.
/// </summary>
internal static class DeviceBench
{
    private sealed record Item(string Id, string Shape, string Unit, double Work, Action Call) : IDisposable
    {
        public List<Tensor> Owned { get; } = [];
        public void Dispose() { foreach (var t in Owned) t.Dispose(); }
    }

    public static int Run(Device device, int repeats, string? only)
    {
        var be = Backends.Get(device);
        Console.WriteLine($"device bench on {be.Name}, median of {repeats} samples (synchronized)");
        Console.WriteLine($"{"item",-30} {"shape",-30} {"ms",10} {"rate",12}");
        foreach (var make in Items(be))
        {
            using var item = make();
            if (only is not null && !only.Split(',').Any(o => item.Id.Contains(o.Trim(), StringComparison.OrdinalIgnoreCase))) continue;
            Timing t;
            try { t = BenchTimer.Measure(item.Call, repeats, warmupMs: 300, minWarmupCalls: 3, minSampleMs: 20); }
            catch (NotSupportedException ex) { Console.WriteLine($"{item.Id,-30} {item.Shape,-30} not supported: {ex.Message}"); continue; }
            double rate = item.Work / (t.MedianMs * 1e-3) / (item.Unit == "TFLOP/s" ? 1e12 : 1e9);
            Console.WriteLine($"{item.Id,-30} {item.Shape,-30} {t.MedianMs,10:F3} {rate,8:F1} {item.Unit}");
        }
        return 0;
    }

    private static Tensor Rand(IBackend be, Item item, DType dtype, params int[] shape)
    {
        var t = Tensor.RandU(new Shape(shape), new Rng((ulong)item.Owned.Count + 1), -1f, 1f, dtype, be.Device);
        item.Owned.Add(t);
        return t;
    }

    /// <summary>
    /// Dequant-matmul: decode GEMV 1×4096 · [14336×4096]ᵀ (GB/s of packed weight read) through the exact F32-code
    /// kernel, or with <paramref name="int8Dot"/> through the inference default (x quantized to int8 blocks, the dp4a
    /// GEMVs on ILGPU, the int8 tiles on the CPU); or the prefill GEMM 2048×4096 · [4096×4096]ᵀ followed by the
    /// input-gradient product (TFLOP/s). INT4 groups are RTN g128.
    /// </summary>
    private static Item Quantized(IBackend be, QuantFormat format, bool decode, bool int8Dot = false)
    {
        int outF = decode ? 14336 : 4096, inF = 4096, m = decode ? 1 : 2048;
        string id = decode ? $"gemv {format}{(int8Dot ? " dp4a" : "")} (decode)".ToLowerInvariant() : $"matmul {format} fwd+dX".ToLowerInvariant();
        var item = new Item(id, $"{m}x{inF} · [{outF}x{inF}]ᵀ", decode ? "GB/s" : "TFLOP/s", 0, () => { });
        var w = Rand(be, item, DType.F32, outF, inF);
        QuantizedTensor q = format switch
        {
            QuantFormat.Nf4 => Quantization.Nf4Quantizer.Quantize(w, be.Device),
            QuantFormat.Int4Group => Quantization.Rtn.Quantize(w.ToArray<float>(), outF, inF, new Quantization.GroupQuantOptions(4, 128)).ToTensor(be.Device),
            _ => Quantization.Int8Quantizer.Quantize(w, be.Device),
        };
        item.Owned.AddRange(q.Components);
        var x = Rand(be, item, DType.F32, m, inF);
        var y = Rand(be, item, DType.F32, m, outF);
        if (decode && int8Dot) return item with { Work = q.ByteLength, Call = () => { Int8Dot(be, x, q, y); be.Synchronize(); } };
        if (decode) return item with { Work = q.ByteLength, Call = () => { be.QuantizedMatMul(x, q, y, false, false); be.Synchronize(); } };
        return item with
        {
            Work = 2 * 2.0 * m * outF * inF,
            Call = () => { be.QuantizedMatMul(x, q, y, false, false); be.QuantizedMatMul(y, q, x, true, false); be.Synchronize(); },
        };
    }

    /// <summary>y = x·Ŵᵀ through the backend's int8 dot-product path; NotSupportedException where it does not serve Ŵ.</summary>
    private static void Int8Dot(IBackend be, Tensor x, QuantizedTensor q, Tensor y)
    {
        using var fast = QuantizedInference.Scope(exactDequant: false);
        bool ran = be switch
        {
            IlgpuBackend gpu => gpu.TryInt8DotMatMul(x, q, y, accumulate: false),
            CpuBackend cpu => cpu.TryInt8DotMatMul(x, q, y, accumulate: false),
            _ => false,
        };
        if (!ran) throw new NotSupportedException($"{be.Name} has no int8 dot path for {q.Describe()}");
    }

    private static IEnumerable<Func<Item>> Items(IBackend be)
    {
        foreach (var (dtype, name) in new[] { (DType.F32, "matmul f32"), (DType.BF16, "matmul f32×bf16ᵀ") })
            yield return () =>
            {
                const int n = 4096;
                Item? item = null;
                item = new Item(name, $"{n}x{n}x{n}", "TFLOP/s", 2.0 * n * n * n, () => { });
                var a = Rand(be, item, DType.F32, n, n);
                var b = Rand(be, item, dtype, n, n);
                var c = Rand(be, item, DType.F32, n, n);
                bool transB = dtype == DType.BF16;
                return item with { Call = () => { be.MatMul(a, b, c, false, transB, false); be.Synchronize(); } };
            };
        yield return () =>
        {
            const int k = 4096, n = 14336;
            var item = new Item("gemv bf16 (decode)", $"1x{k} · [{n}x{k}]", "GB/s", 2.0 * n * k, () => { });
            var x = Rand(be, item, DType.F32, 1, k);
            var w = Rand(be, item, DType.BF16, n, k);
            var y = Rand(be, item, DType.F32, 1, n);
            return item with { Call = () => { be.MatMul(x, w, y, false, true, false); be.Synchronize(); } };
        };
        foreach (var (format, decode) in new[] { (QuantFormat.Nf4, true), (QuantFormat.Int8, true), (QuantFormat.Int4Group, true), (QuantFormat.Nf4, false) })
            yield return () => Quantized(be, format, decode);
        foreach (var format in new[] { QuantFormat.Int8, QuantFormat.Int4Group })
            yield return () => Quantized(be, format, decode: true, int8Dot: true);
        yield return () =>
        {
            const int rows = 4096, dim = 4096;
            var item = new Item("rmsnorm", $"[{rows},{dim}]", "GB/s", 2.0 * 4 * rows * dim, () => { });
            var x = Rand(be, item, DType.F32, rows, dim);
            var w = Rand(be, item, DType.F32, dim);
            var y = Rand(be, item, DType.F32, rows, dim);
            var r = Rand(be, item, DType.F32, rows);
            return item with { Call = () => { be.RmsNorm(x, w, 1e-5f, y, r); be.Synchronize(); } };
        };
        foreach (int seq in new[] { 512, 1024, 2048, 4096 })
            foreach (bool backward in new[] { false, true })
                yield return () =>
                {
                    const int heads = 32, d = 64;
                    double fwdFlops = 2.0 * 2 * seq * (double)seq * d * heads / 2;
                    var item = new Item(backward ? "attention fwd+bwd causal" : "attention fwd causal", $"T={seq} H={heads} d={d}", "TFLOP/s",
                        backward ? 3.5 * fwdFlops : fwdFlops, () => { });
                    var q = Rand(be, item, DType.F32, seq, heads, d);
                    var k = Rand(be, item, DType.F32, seq, heads, d);
                    var v = Rand(be, item, DType.F32, seq, heads, d);
                    var o = Rand(be, item, DType.F32, seq, heads, d);
                    var lse = Rand(be, item, DType.F32, heads, seq);
                    var dO = Rand(be, item, DType.F32, seq, heads, d);
                    var dq = Rand(be, item, DType.F32, seq, heads, d);
                    var dk = Rand(be, item, DType.F32, seq, heads, d);
                    var dv = Rand(be, item, DType.F32, seq, heads, d);
                    var s = AttentionSettings.For(d);
                    return item with
                    {
                        Call = () =>
                        {
                            be.Attention(q, k, v, o, lse, s);
                            if (backward) be.AttentionBackward(q, k, v, o, dO, lse, dq, dk, dv, s);
                            be.Synchronize();
                        },
                    };
                };
    }
}
