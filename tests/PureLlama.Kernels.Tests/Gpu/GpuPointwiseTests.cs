using System.Runtime.InteropServices;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Kernels.Reference;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>RoPE, activations, embedding, conversions, AdamW and strided copy against references.</summary>
[Collection("Gpu")]
public sealed class GpuPointwiseTests
{
    public static TheoryData<string> Devices => GpuTestDevices.Names;

    [Theory]
    [MemberData(nameof(Devices))]
    public void Rope_ApplyAndInverse_InPlaceAndOutOfPlace(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (var (tokens, heads, headDim) in new[] { (1, 1, 2), (5, 3, 64), (7, 2, 6) })
            foreach (bool inverse in new[] { false, true })
            {
                int seed = RandomData.Seed(nameof(Rope_ApplyAndInverse_InPlaceAndOutOfPlace), tokens, heads, headDim);
                const int maxPos = 40;
                var (cosD, sinD) = ReferenceRope.Tables(ReferenceRope.InverseFrequencies(headDim, 500000), maxPos);
                float[] cos = Array.ConvertAll(cosD, v => (float)v), sin = Array.ConvertAll(sinD, v => (float)v);
                long n = (long)tokens * heads * headDim;
                var x = RandomData.Normal(seed, n);
                var pos = RandomData.Ints(seed + 1, tokens, 0, maxPos);
                var expected = ReferenceRope.Apply(x, tokens, heads, headDim, pos, cos, sin, inverse);
                using var dx = acc.Upload(x);
                using var dp = acc.Upload(pos);
                using var dc = acc.Upload(cos);
                using var ds = acc.Upload(sin);
                using var dy = acc.Upload(Poison.Floats(n));
                GpuRope.Apply(s, dx.View, dy.View, tokens, heads, headDim, dp.View, dc.View, ds.View, inverse);
                ErrorAssert.Close(dy.Download(s, n), expected, 1e-5, $"{device} Rope {tokens}x{heads}x{headDim} inv={inverse}");
                GpuRope.Apply(s, dx.View, dx.View, tokens, heads, headDim, dp.View, dc.View, ds.View, inverse);
                ErrorAssert.Close(dx.Download(s, n), expected, 1e-5, $"{device} Rope in place");
            }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Embedding_GatherF32Bf16_ScatterAddRepeatedIds(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (var (vocab, n, dim) in new[] { (3, 1, 1), (50, 9, 300), (11, 20, 33) })
        {
            int seed = RandomData.Seed(nameof(Embedding_GatherF32Bf16_ScatterAddRepeatedIds), vocab, n, dim);
            var table = RandomData.Normal(seed, (long)vocab * dim);
            var tableBits = RandomData.ToBf16(table);
            var ids = RandomData.Ints(seed + 1, n, 0, vocab);
            var dyv = RandomData.Normal(seed + 2, (long)n * dim);
            var dt0 = RandomData.Uniform(seed + 3, (long)vocab * dim);
            using var dtab = acc.Upload(table);
            using var dtabB = acc.Upload(tableBits);
            using var dids = acc.Upload(ids);
            using var dy = acc.Upload(Poison.Floats((long)n * dim));
            GpuEmbedding.Gather(s, dtab.View, dids.View, dy.View, n, dim);
            ErrorAssert.Close(dy.Download(s, (long)n * dim), ReferenceEmbedding.Gather(table, ids, n, dim), 0, $"{device} Gather f32");
            GpuEmbedding.Gather(s, dtabB.View, dids.View, dy.View, n, dim);
            ErrorAssert.Close(dy.Download(s, (long)n * dim), ReferenceEmbedding.Gather(RandomData.FromBf16(tableBits), ids, n, dim), 0, $"{device} Gather bf16");

            using var ddy = acc.Upload(dyv);
            using var ddt = acc.Upload(dt0);
            GpuEmbedding.ScatterAdd(s, ddy.View, dids.View, ddt.View, n, dim);
            ErrorAssert.Close(ddt.Download(s, (long)vocab * dim), ReferenceEmbedding.ScatterAdd(dyv, ids, dt0, n, dim), 1e-6, $"{device} ScatterAdd");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Convert_Bf16AndF16_RoundToNearestEven_BitExact(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        // Random values over a wide range, plus ties, subnormals, overflow, infinities and NaN.
        var x = RandomData.Normal(RandomData.Seed(nameof(Convert_Bf16AndF16_RoundToNearestEven_BitExact)), 1000, std: 100f).ToList();
        x.AddRange([0f, -0f, 1f + 1f / 256, 1f + 3f / 256, 1f + 1f / 2048, 1f + 3f / 2048, 65504f, 65520f, 70000f, 1e-6f, 3e-8f, -1e-7f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, 3.4e38f, 1e-40f]);
        var xs = x.ToArray();
        long n = xs.Length;
        using var dx = acc.Upload(xs);
        using var dh = acc.Upload(Poison.Halves(n));
        using var df = acc.Upload(Poison.Floats(n));

        GpuConvert.F32ToBf16(s, dx.View, dh.View, n);
        var bf = dh.Download(s, n);
        GpuConvert.Bf16ToF32(s, dh.View, df.View, n);
        var back = df.Download(s, n);
        for (int i = 0; i < n; i++)
        {
            ushort want = ReferenceConvert.F32ToBf16(xs[i]);
            if (ReferenceConvert.IsBf16NaN(want)) { Assert.True(ReferenceConvert.IsBf16NaN(bf[i]), $"{device} bf16 NaN at {i}"); continue; }
            Assert.True(want == bf[i], $"{device} F32ToBf16({xs[i]:R}) = 0x{bf[i]:X4}, expected 0x{want:X4}");
            Assert.Equal(ReferenceConvert.Bf16ToDouble(bf[i]), (double)back[i]);
        }

        GpuConvert.F32ToF16(s, dx.View, ((ILGPU.ArrayView<ushort>)dh.View).Cast<ILGPU.Half>(), n);
        var f16 = dh.Download(s, n);
        GpuConvert.F16ToF32(s, ((ILGPU.ArrayView<ushort>)dh.View).Cast<ILGPU.Half>(), df.View, n);
        back = df.Download(s, n);
        for (int i = 0; i < n; i++)
        {
            ushort want = ReferenceConvert.F32ToF16(xs[i]);
            if (ReferenceConvert.IsF16NaN(want)) { Assert.True(ReferenceConvert.IsF16NaN(f16[i]), $"{device} f16 NaN at {i}"); continue; }
            Assert.True(want == f16[i], $"{device} F32ToF16({xs[i]:R}) = 0x{f16[i]:X4}, expected 0x{want:X4}");
            Assert.Equal(ReferenceConvert.F16ToDouble(f16[i]), (double)back[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void AdamW_ThreeSteps(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        const long n = 1001;
        int seed = RandomData.Seed(nameof(AdamW_ThreeSteps));
        var p = RandomData.Normal(seed, n);
        double[] pRef = Array.ConvertAll(p, v => (double)v), mRef = new double[n], vRef = new double[n];
        using var dp = acc.Upload(p);
        using var dm = acc.Upload(new float[n]);
        using var dv = acc.Upload(new float[n]);
        for (int t = 1; t <= 3; t++)
        {
            var g = RandomData.Normal(seed + t, n);
            using var dg = acc.Upload(g);
            GpuAdamW.Step(s, dp.View, dg.View, dm.View, dv.View, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, t);
            ReferenceAdamW.Step(pRef, g, mRef, vRef, 1e-2, 0.9, 0.95, 1e-8, 0.1, t);
        }
        ErrorAssert.Close(dp.Download(s, n), pRef, 1e-5, $"{device} AdamW p");
        ErrorAssert.Close(dm.Download(s, n), mRef, 1e-5, $"{device} AdamW m");
        ErrorAssert.Close(dv.Download(s, n), vRef, 1e-5, $"{device} AdamW v");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void StridedCopy_TransposedSlicedBroadcastViews(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        var src = RandomData.Uniform(RandomData.Seed(nameof(StridedCopy_TransposedSlicedBroadcastViews)), 4000);
        using var dsrc = acc.Upload(src);
        var cases = new (int[] Shape, long[] Strides, long Offset)[]
        {
            ([], [], 7),                                         // scalar
            ([3, 5], [1, 3], 0),                                 // transpose of [5,3]
            ([2, 3, 4], [60, 1, 3], 11),                         // permuted, offset
            ([2, 1, 3, 2, 5, 3], [900, 0, 150, 0, 13, 1], 2),    // rank 6 with broadcast dims
            ([7, 33], [0, 1], 100),                              // broadcast rows
        };
        foreach (var (shape, strides, offset) in cases)
        {
            var layout = new StridedLayout6(shape, strides, offset);
            long n = layout.Count;
            var srcBytes = MemoryMarshal.AsBytes(src.AsSpan()).ToArray();
            var expectedBytes = ReferenceStridedCopy.Copy(srcBytes, offset * 4, Array.ConvertAll(strides, v => v * 4), shape, 4);
            var expected = Array.ConvertAll(MemoryMarshal.Cast<byte, float>(expectedBytes).ToArray(), v => (double)v);
            using var dst = acc.Upload(Poison.Floats(n));
            GpuStridedCopy.Copy<float>(s, dsrc.View, layout, dst.View);
            ErrorAssert.Close(dst.Download(s, n), expected, 0, $"{device} StridedCopy [{string.Join(",", shape)}]");
        }
    }
}
