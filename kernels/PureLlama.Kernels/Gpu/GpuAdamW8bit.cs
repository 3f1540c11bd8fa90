// AdamW step with 8-bit block-wise quantized moments (GPU form of Simd/AdamW8bit.cs).
//
// Math, per block of 256 parameters, step t ≥ 1 (S: signed map, U: unsigned map, c1 = 1/(1−β1ᵗ), c2 = 1/(1−β2ᵗ)):
//   m = β1·S[mq]·mAbs + (1−β1)·g;   v = β2·U[vq]·vAbs + (1−β2)·g²;   p −= lr·(wd·p + m·c1/(√(v·c2) + ε))
//   mAbs' = max|m|, vAbs' = max v over the block;  mq' = #{k : m/mAbs' > tS_k},  vq' = #{k : v/vAbs' > tU_k}
// (t_k = (c_k + c_{k+1})·½, the float32 midpoints: nearest code, ties to the lower code).
// Thread mapping: one group per quantization block (grid-stride over blocks); the group's threads
// stride over the block's 256 elements, keep the fresh m, v in shared memory, reduce the two
// maxima (GpuGroupReduce), then requantize from shared memory. Tables: DynamicMap.GpuTables.
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>8-bit AdamW step on ILGPU (F32 parameters, U8 codes, F32 block absmax).</summary>
public static class GpuAdamW8bit
{
    private const int Block = Simd.SimdAdamW8bit.BlockSize;
    private const int SignedMap = 0, UnsignedMap = 256, SignedThr = 512, UnsignedThr = 767;

    /// <summary>
    /// One step over n parameters: p, the codes mq, vq [n] and the absmaxes mAbs, vAbs [⌈n/256⌉] updated
    /// in place from g. <paramref name="tables"/> holds <see cref="DynamicMap.GpuTables"/> on the device.
    /// </summary>
    public static void Step(AcceleratorStream stream, ArrayView<float> p, ArrayView<float> g, ArrayView<byte> mq, ArrayView<float> mAbs,
        ArrayView<byte> vq, ArrayView<float> vAbs, ArrayView<float> tables, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int t)
    {
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t), t, "AdamW step t must be ≥ 1.");
        if (tables.Length != DynamicMap.GpuTables.Length) throw new ArgumentException($"tables must hold the {DynamicMap.GpuTables.Length} floats of DynamicMap.GpuTables.", nameof(tables));
        if (n <= 0) return;
        var k = GpuKernelCache.For(stream);
        long blocks = Simd.SimdAdamW8bit.Blocks(n);
        var config = new KernelConfig((int)Math.Min(blocks, 65535), k.RowGroupSize);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<float>, ArrayView<byte>, ArrayView<float>,
                ArrayView<float>, long, AdamWStepParams>(StepKernel)
            (stream, config, p, g, mq, mAbs, vq, vAbs, tables, n, new AdamWStepParams(lr, beta1, beta2, eps, weightDecay, t));
    }

    [GpuKernel]
    internal static void StepKernel(ArrayView<float> p, ArrayView<float> g, ArrayView<byte> mq, ArrayView<float> mAbs, ArrayView<byte> vq, ArrayView<float> vAbs,
        ArrayView<float> tables, long n, AdamWStepParams h)
    {
        var mShared = SharedMemory.Allocate<float>(Block);   // fresh m of the block
        var vShared = SharedMemory.Allocate<float>(Block);   // fresh v of the block
        long blocks = (n + Block - 1) / Block;
        for (long b = Grid.IdxX; b < blocks; b += Grid.DimX)
        {
            long s = b * Block;
            int len = (int)XMath.Min(Block, n - s);
            float am = mAbs[b], av = vAbs[b];
            float maxM = 0f, maxV = 0f;
            for (int i = Group.IdxX; i < len; i += Group.DimX)
            {
                long e = s + i;
                float gi = g[e], pi = p[e];
                float mi = h.Beta1 * (tables[SignedMap + mq[e]] * am) + (1f - h.Beta1) * gi;
                float vi = h.Beta2 * (tables[UnsignedMap + vq[e]] * av) + (1f - h.Beta2) * gi * gi;
                mShared[i] = mi;
                vShared[i] = vi;
                maxM = XMath.Max(maxM, XMath.Abs(mi));
                maxV = XMath.Max(maxV, vi);
                p[e] = pi - h.Lr * (h.WeightDecay * pi + mi * h.InvBias1 / (XMath.Sqrt(vi * h.InvBias2) + h.Eps));
            }
            maxM = GpuGroupReduce.GroupMax(maxM);             // barriers inside: shared m, v are complete
            maxV = GpuGroupReduce.GroupMax(maxV);
            if (Group.IdxX == 0) { mAbs[b] = maxM; vAbs[b] = maxV; }
            for (int i = Group.IdxX; i < len; i += Group.DimX)
            {
                mq[s + i] = Nearest(tables, SignedThr, maxM > 0f ? mShared[i] / maxM : 0f);
                vq[s + i] = Nearest(tables, UnsignedThr, maxV > 0f ? vShared[i] / maxV : 0f);
            }
            Group.Barrier();                                 // shared m, v are rewritten by the next block
        }
    }

    // Number of the 255 thresholds at tables[offset..] below x (binary search; NaN gives 0).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Nearest(ArrayView<float> tables, int offset, float x)
    {
        int lo = 0, hi = DynamicMap.Size - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (x > tables[offset + mid]) lo = mid + 1; else hi = mid;
        }
        return (byte)lo;
    }
}
