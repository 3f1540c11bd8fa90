namespace PureLlama.Kernels.Simd;

/// <summary>
/// Gathers a strided view (a transpose, a slice, a broadcast with stride 0) into a contiguous,
/// row-major buffer.
/// <code>
/// dst[k] = src[Σ_d idx_d(k)·srcStridesBytes[d]],  idx(k) = the row-major multi-index of k over shape
/// </code>
/// First the view is simplified: size-1 dimensions are dropped and neighbours that are contiguous
/// with each other (stride[d] = stride[d+1]·shape[d+1]) are merged. Then the flattened "rows" (all
/// but the innermost dimension) are copied: with one memcpy each when the innermost stride equals
/// the element size, otherwise element by element in 32-row × 64-column tiles, so that a transposed
/// source is read a cache line at a time. Strides may be negative or zero; elementSize is any
/// positive byte count (1, 2, 4, 8 have typed loops).
/// </summary>
public static unsafe class SimdStridedCopy
{
    private const int TileRows = 32;
    private const int TileCols = 64;

    /// <summary>Copies the view (src, strides in bytes, shape) into dst, contiguous.</summary>
    public static void Copy(byte* src, ReadOnlySpan<long> srcStridesBytes, byte* dst, ReadOnlySpan<int> shape, int elementSize)
    {
        if (srcStridesBytes.Length != shape.Length)
            throw new ArgumentException($"StridedCopy: {srcStridesBytes.Length} strides for a rank-{shape.Length} shape.", nameof(srcStridesBytes));
        if (elementSize <= 0) throw new ArgumentOutOfRangeException(nameof(elementSize), elementSize, "Element size must be positive.");

        var dims = new List<long>(shape.Length);
        var strides = new List<long>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0) throw new ArgumentException($"StridedCopy: negative extent {shape[d]} in dimension {d}.", nameof(shape));
            if (shape[d] == 0) return;
            if (shape[d] == 1) continue;
            if (dims.Count > 0 && strides[^1] == srcStridesBytes[d] * shape[d])
            {
                dims[^1] *= shape[d];
                strides[^1] = srcStridesBytes[d];
            }
            else { dims.Add(shape[d]); strides.Add(srcStridesBytes[d]); }
        }
        if (dims.Count == 0) { Buffer.MemoryCopy(src, dst, elementSize, elementSize); return; }

        int rank = dims.Count;
        long inner = dims[rank - 1], innerStride = strides[rank - 1];
        long rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= dims[d];
        long[] outerDims = dims.GetRange(0, rank - 1).ToArray(), outerStrides = strides.GetRange(0, rank - 1).ToArray();
        bool contiguous = innerStride == elementSize;

        ParallelWork.ForItems(rows, inner * Math.Max(1, elementSize / 4), (r0, r1) =>
        {
            // Multi-index of row r0 over the outer dims, and its source offset.
            var idx = new long[outerDims.Length];
            long rem = r0, off = 0;
            for (int d = outerDims.Length - 1; d >= 0; d--) { idx[d] = rem % outerDims[d]; rem /= outerDims[d]; off += idx[d] * outerStrides[d]; }

            long rowBytes = inner * elementSize;
            long* offs = stackalloc long[TileRows];
            for (long r = r0; r < r1;)
            {
                int count = (int)Math.Min(TileRows, r1 - r);
                for (int k = 0; k < count; k++)
                {
                    offs[k] = off;
                    // odometer step to the next row
                    for (int d = outerDims.Length - 1; d >= 0; d--)
                    {
                        off += outerStrides[d];
                        if (++idx[d] < outerDims[d]) break;
                        off -= outerStrides[d] * outerDims[d];
                        idx[d] = 0;
                    }
                }
                byte* dRows = dst + r * rowBytes;
                if (contiguous)
                    for (int k = 0; k < count; k++) Buffer.MemoryCopy(src + offs[k], dRows + k * rowBytes, rowBytes, rowBytes);
                else
                    switch (elementSize)
                    {
                        case 1: Tile<byte>(src, offs, count, inner, innerStride, dRows); break;
                        case 2: Tile<ushort>(src, offs, count, inner, innerStride, dRows); break;
                        case 4: Tile<uint>(src, offs, count, inner, innerStride, dRows); break;
                        case 8: Tile<ulong>(src, offs, count, inner, innerStride, dRows); break;
                        default: TileBytes(src, offs, count, inner, innerStride, dRows, elementSize); break;
                    }
                r += count;
            }
        });
    }

    private static void Tile<T>(byte* src, long* offs, int count, long inner, long innerStride, byte* dRows) where T : unmanaged
    {
        T* d = (T*)dRows;
        for (long j0 = 0; j0 < inner; j0 += TileCols)
        {
            long j1 = Math.Min(inner, j0 + TileCols);
            for (int k = 0; k < count; k++)
            {
                byte* s = src + offs[k];
                T* dk = d + k * inner;
                for (long j = j0; j < j1; j++) dk[j] = *(T*)(s + j * innerStride);
            }
        }
    }

    private static void TileBytes(byte* src, long* offs, int count, long inner, long innerStride, byte* dRows, int elementSize)
    {
        for (long j0 = 0; j0 < inner; j0 += TileCols)
        {
            long j1 = Math.Min(inner, j0 + TileCols);
            for (int k = 0; k < count; k++)
                for (long j = j0; j < j1; j++)
                    Buffer.MemoryCopy(src + offs[k] + j * innerStride, dRows + (k * inner + j) * elementSize, elementSize, elementSize);
        }
    }
}
