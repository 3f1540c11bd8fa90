using System.Runtime.InteropServices;
using PureLlama.Compute;
using PureLlama.Diagnostics;
using PureLlama.Kernels.Tests.Gpu;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Attention;

/// <summary>
/// The ILGPU attention kernels (forward, split-KV decode, backward) against the SIMD CPU backend,
/// which the kernel checks hold to the float64 reference, on the small attention cases of
/// <see cref="KernelChecks.AttentionCases"/> (ragged blocks, window, offset, packed segments, GQA, BF16).
/// Runs on ILGPU's CPU accelerator, and on CUDA when present.
/// </summary>
[Collection("Gpu")]
public sealed class GpuAttentionTests
{
    private static readonly Dictionary<string, IlgpuBackend> Gpus = [];
    private static readonly CpuBackend Cpu = new();

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in GpuTestDevices.Names)
            for (int i = 0; i < KernelChecks.AttentionCases(small: true).Count; i++) data.Add(device, i);
        return data;
    }

    private static IlgpuBackend Gpu(string device)
    {
        PureLlama.Tests.Shared.SimulatorChecks.RequireFor(device);
        lock (Gpus)
        {
            if (!Gpus.TryGetValue(device, out var be))
                Gpus[device] = be = new IlgpuBackend(device == "cuda" ? DeviceKind.Cuda : DeviceKind.IlgpuCpu);
            return be;
        }
    }

    private static Tensor Make<T>(IBackend be, T[] data, DType dtype, params int[] dims) where T : unmanaged
    {
        var shape = new Shape(dims);
        var t = new Tensor(be.Allocate(Math.Max(1, shape.Numel) * dtype.SizeOf()), shape, shape.ContiguousStrides(), 0, dtype);
        be.CopyFromHost(MemoryMarshal.AsBytes(data.AsSpan()), t);
        return t;
    }

    private static float[] Read(IBackend be, Tensor t)
    {
        var host = new float[t.Numel];
        be.CopyToHost(t, MemoryMarshal.AsBytes(host.AsSpan()));
        return host;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Gpu_attention_matches_cpu(string device, int caseIndex)
    {
        var c = KernelChecks.AttentionCases(small: true)[caseIndex];
        var rng = new Rng((ulong)(1234 + caseIndex));
        int d = c.HeadDim;
        float[] Rand(int n) { var x = new float[n]; rng.FillUniform(x, -1.5f, 1.5f); return x; }
        var q = Rand(c.Tokens * c.Heads * d); var k = Rand(c.KvLen * c.KvHeads * d); var v = Rand(c.KvLen * c.KvHeads * d);
        var dO = Rand(c.Tokens * c.Heads * d);
        int[]? kSeg = c.Segments ? KernelChecks.PackedSegments(c.KvLen) : null;
        int[]? qSeg = kSeg?[c.QueryOffset..(c.QueryOffset + c.Tokens)];
        var s = AttentionSettings.For(d, c.Causal, c.Window, c.QueryOffset);
        var results = new List<float[]>[2];
        IBackend[] backends = [Cpu, Gpu(device)];
        for (int b = 0; b < 2; b++)
        {
            var be = backends[b];
            var dt = c.Bf16 ? DType.BF16 : DType.F32;
            Tensor Input(float[] x, params int[] dims) => c.Bf16 ? Make(be, Array.ConvertAll(x, Numerics.Bf16.FromFloat), dt, dims) : Make(be, x, dt, dims);
            using var tq = Input(q, c.Tokens, c.Heads, d);
            using var tk = Input(k, c.KvLen, c.KvHeads, d);
            using var tv = Input(v, c.KvLen, c.KvHeads, d);
            using var tqs = qSeg is null ? null : Make(be, qSeg, DType.I32, c.Tokens);
            using var tks = kSeg is null ? null : Make(be, kSeg, DType.I32, c.KvLen);
            using var o = Make(be, Poison.Floats(c.Tokens * c.Heads * d), DType.F32, c.Tokens, c.Heads, d);
            using var lse = Make(be, Poison.Floats(c.Heads * c.Tokens), DType.F32, c.Heads, c.Tokens);
            be.Attention(tq, tk, tv, o, lse, s, tqs, tks);
            results[b] = [Read(be, o), Read(be, lse)];
            if (!c.Backward) continue;
            using var tdO = Make(be, dO, DType.F32, c.Tokens, c.Heads, d);
            using var dq = Make(be, Poison.Floats(q.Length), DType.F32, c.Tokens, c.Heads, d);
            using var dk = Make(be, Poison.Floats(k.Length), DType.F32, c.KvLen, c.KvHeads, d);
            using var dv = Make(be, Poison.Floats(v.Length), DType.F32, c.KvLen, c.KvHeads, d);
            be.AttentionBackward(tq, tk, tv, o, tdO, lse, dq, dk, dv, s, tqs, tks);
            results[b].AddRange([Read(be, dq), Read(be, dk), Read(be, dv)]);
        }
        string[] names = ["o", "lse", "dq", "dk", "dv"];
        for (int i = 0; i < results[0].Count; i++)
        {
            double norm = Math.Sqrt(results[0][i].Sum(x => (double)x * x));
            if (norm < 1e-4)   // a gradient that is zero in exact arithmetic (e.g. dq with one visible key): compare absolutely
                results[1][i].Zip(results[0][i]).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan(1e-5f, $"{c} {names[i]} on {device}");
            else ErrorAssert.Close(results[1][i], results[0][i], 1e-5, $"{c} {names[i]} on {device}");
        }
    }
}
