// Device-side reductions used inside the row kernels (called by every thread of a group).
//
// Math: a group of G threads (G a multiple of the warp size W, G/W ≤ 32 warps) reduces one value
// per thread. Stage 1, within each warp: butterfly shuffles (xor W/2, W/4, …, 1) leave the warp's
// total in every lane. Stage 2: lane 0 of warp w stores it to shared[w]; after a barrier every
// thread adds shared[0..G/W) in the same order, so all threads hold the identical total (the
// result does not depend on thread timing). A trailing barrier lets the caller reuse the shared
// slots. The online-softmax form reduces pairs (m, s) with
//   (m1, s1) ⊕ (m2, s2) = (m, s1·e^(m1−m) + s2·e^(m2−m)),  m = max(m1, m2),
// treating m = −∞ as the empty state (s = 0).
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;

namespace PureLlama.Kernels.Gpu;

internal static class GpuGroupReduce
{
    /// <summary>Most warps per group the shared slots allow (1024 threads / warp 32).</summary>
    public const int MaxWarps = 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WarpSum(float v)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
            v += Warp.ShuffleXor(v, offset);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WarpMax(float v)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
            v = XMath.Max(v, Warp.ShuffleXor(v, offset));
        return v;
    }

    /// <summary>Σ over the group of <paramref name="v"/>; every thread gets the same total.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GroupSum(float v)
    {
        var partial = SharedMemory.Allocate<float>(MaxWarps);
        v = WarpSum(v);
        if (Warp.LaneIdx == 0) partial[Warp.WarpIdx] = v;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float total = 0f;
        for (int w = 0; w < warps; w++) total += partial[w];
        Group.Barrier();
        return total;
    }

    /// <summary>Max over the group of <paramref name="v"/>; every thread gets it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float GroupMax(float v)
    {
        var partial = SharedMemory.Allocate<float>(MaxWarps);
        v = WarpMax(v);
        if (Warp.LaneIdx == 0) partial[Warp.WarpIdx] = v;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float best = float.NegativeInfinity;
        for (int w = 0; w < warps; w++) best = XMath.Max(best, partial[w]);
        Group.Barrier();
        return best;
    }

    /// <summary>Adds x to a thread's running (max, Σ exp(x − max)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OnlineAdd(ref float m, ref float s, float x)
    {
        if (x > m)
        {
            s = s * XMath.Exp(m - x) + 1f; // m = −∞ gives s·0 + 1
            m = x;
        }
        else if (m > float.NegativeInfinity)
        {
            s += XMath.Exp(x - m);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Combine(ref float m, ref float s, float m2, float s2)
    {
        float mm = XMath.Max(m, m2);
        if (mm == float.NegativeInfinity) return; // both empty
        float a = m == float.NegativeInfinity ? 0f : s * XMath.Exp(m - mm);
        float b = m2 == float.NegativeInfinity ? 0f : s2 * XMath.Exp(m2 - mm);
        m = mm;
        s = a + b;
    }

    /// <summary>Group-wide online-softmax reduction of (m, s); every thread gets the result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GroupOnlineSoftmax(ref float m, ref float s)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
        {
            float m2 = Warp.ShuffleXor(m, offset);
            float s2 = Warp.ShuffleXor(s, offset);
            Combine(ref m, ref s, m2, s2);
        }
        var sharedM = SharedMemory.Allocate<float>(MaxWarps);
        var sharedS = SharedMemory.Allocate<float>(MaxWarps);
        if (Warp.LaneIdx == 0)
        {
            sharedM[Warp.WarpIdx] = m;
            sharedS[Warp.WarpIdx] = s;
        }
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        m = float.NegativeInfinity;
        s = 0f;
        for (int w = 0; w < warps; w++) Combine(ref m, ref s, sharedM[w], sharedS[w]);
        Group.Barrier();
    }

    /// <summary>
    /// Column-tile reduction for "sum over rows" kernels. The group is 32 columns × S row slices
    /// (S = Group.DimX/32 ≤ 32): thread (slice, lane) passes in its partial for column lane; slice 0
    /// gets Σ over slices, added in slice order (deterministic). Other threads get 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ColumnTileSum(float partial)
    {
        var tile = SharedMemory.Allocate<float>(32 * 32);
        int lane = Group.IdxX & 31, slice = Group.IdxX >> 5, slices = Group.DimX >> 5;
        tile[slice * 32 + lane] = partial;
        Group.Barrier();
        float total = 0f;
        if (slice == 0)
            for (int s = 0; s < slices; s++) total += tile[s * 32 + lane];
        Group.Barrier();
        return total;
    }
}
