// Strided gather into a contiguous buffer: materialises any view of up to 6 dimensions
// (transposes, slices, broadcasts with stride 0).
//
// Math: for the row-major multi-index (i0..i5) of output element k (shape padded on the left
// with 1s to rank 6), dst[k] = src[offset + Σ_d i_d·stride_d] (strides in elements). The
// strided-destination form computes the destination offset the same way from its own strides.
// Thread mapping: grid-stride loop over output elements; consecutive threads write consecutive
// outputs (coalesced stores; loads are as coalesced as the innermost stride allows).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>A view's layout padded to rank 6: sizes and element strides per dimension, plus a base offset.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct StridedLayout6
{
    /// <summary>Sizes, outermost first.</summary>
    public readonly long D0, D1, D2, D3, D4, D5;
    /// <summary>Strides in elements, outermost first.</summary>
    public readonly long S0, S1, S2, S3, S4, S5;
    /// <summary>Element offset of index (0, …, 0) in the source.</summary>
    public readonly long Offset;

    /// <summary>Builds the layout from a shape and strides of rank 0…6.</summary>
    public StridedLayout6(ReadOnlySpan<int> shape, ReadOnlySpan<long> strides, long offset)
    {
        if (shape.Length != strides.Length) throw new ArgumentException($"shape rank {shape.Length} but strides rank {strides.Length}");
        if (shape.Length > 6) throw new ArgumentException($"strided copy supports rank ≤ 6, got {shape.Length}");
        Span<long> d = stackalloc long[6], s = stackalloc long[6];
        d.Fill(1); s.Clear();
        int pad = 6 - shape.Length;
        for (int i = 0; i < shape.Length; i++) { d[pad + i] = shape[i]; s[pad + i] = strides[i]; }
        D0 = d[0]; D1 = d[1]; D2 = d[2]; D3 = d[3]; D4 = d[4]; D5 = d[5];
        S0 = s[0]; S1 = s[1]; S2 = s[2]; S3 = s[3]; S4 = s[4]; S5 = s[5];
        Offset = offset;
    }

    /// <summary>Number of elements.</summary>
    public long Count => D0 * D1 * D2 * D3 * D4 * D5;

    /// <summary>Source element offset of row-major element <paramref name="k"/> (usable in kernels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long OffsetOf(long k)
    {
        long rem = k, off = Offset, q;
        q = rem / D5; off += (rem - q * D5) * S5; rem = q;
        q = rem / D4; off += (rem - q * D4) * S4; rem = q;
        q = rem / D3; off += (rem - q * D3) * S3; rem = q;
        q = rem / D2; off += (rem - q * D2) * S2; rem = q;
        q = rem / D1; off += (rem - q * D1) * S1; rem = q;
        return off + rem * S0;
    }
}

/// <summary>Strided view → contiguous copy on ILGPU, for any unmanaged element type.</summary>
internal static class GpuStridedCopy
{
    /// <summary>dst[k] = src[layout offset of k] for k &lt; layout.Count.</summary>
    public static void Copy<T>(AcceleratorStream stream, ArrayView<T> src, StridedLayout6 layout, ArrayView<T> dst) where T : unmanaged
    {
        long n = layout.Count;
        if (n == 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<T>, StridedLayout6, ArrayView<T>, long>(CopyKernel)
            (stream, k.Stride(n), src, layout, dst, n);
    }

    /// <summary>
    /// dst[dstLayout offset of k] = src[srcLayout offset of k]: both sides strided (same sizes), e.g.
    /// writing into a slice. Destination elements must not overlap (no two k to one offset).
    /// </summary>
    public static void Copy<T>(AcceleratorStream stream, ArrayView<T> src, StridedLayout6 srcLayout, ArrayView<T> dst, StridedLayout6 dstLayout) where T : unmanaged
    {
        long n = srcLayout.Count;
        if (n != dstLayout.Count) throw new ArgumentException($"strided copy: source has {n} elements, destination {dstLayout.Count}");
        if (n == 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<T>, StridedLayout6, ArrayView<T>, StridedLayout6, long>(CopyStridedKernel)
            (stream, k.Stride(n), src, srcLayout, dst, dstLayout, n);
    }

    [GpuKernel(typeof(float))]
    [GpuKernel(typeof(ushort))]
    [GpuKernel(typeof(byte))]
    internal static void CopyKernel<T>(ArrayView<T> src, StridedLayout6 l, ArrayView<T> dst, long n) where T : unmanaged
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long k = (long)Grid.IdxX * Group.DimX + Group.IdxX; k < n; k += stride)
            dst[k] = src[l.OffsetOf(k)];
    }

    [GpuKernel(typeof(float))]
    [GpuKernel(typeof(ushort))]
    internal static void CopyStridedKernel<T>(ArrayView<T> src, StridedLayout6 ls, ArrayView<T> dst, StridedLayout6 ld, long n) where T : unmanaged
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long k = (long)Grid.IdxX * Group.DimX + Group.IdxX; k < n; k += stride)
            dst[ld.OffsetOf(k)] = src[ls.OffsetOf(k)];
    }
}
