namespace PureLlama.Kernels.Simd;

/// <summary>
/// Token embedding lookup and its gradient. table, dTable: [vocab, dim]; ids: [n]; y, dy: [n, dim].
/// <code>
/// Gather:     y[i, :] = table[ids[i], :]                  (table F32 or BF16 bits, widened)
/// ScatterAdd: dTable[ids[i], :] += dy[i, :]  for i = 0..n−1
/// </code>
/// ScatterAdd is deterministic: tasks own disjoint column tiles of dTable and each adds the rows
/// in the fixed order i = 0..n−1, so repeated ids never race and the float sums are the same on
/// every run and every thread count.
/// </summary>
public static unsafe class SimdEmbedding
{
    /// <summary>Gathers F32 rows.</summary>
    public static void Gather(float* table, int* ids, float* y, int n, int dim) => ParallelWork.Rows(n, dim, (r0, r1) =>
    {
        long bytes = (long)dim * sizeof(float);
        for (int i = r0; i < r1; i++)
            Buffer.MemoryCopy(table + (long)ids[i] * dim, y + (long)i * dim, bytes, bytes);
    });

    /// <summary>Gathers BF16 rows, widening to F32.</summary>
    public static void Gather(ushort* table, int* ids, float* y, int n, int dim) => ParallelWork.Rows(n, dim, (r0, r1) =>
    {
        for (int i = r0; i < r1; i++)
            SimdFloatConvert.Bf16ToF32Run(table + (long)ids[i] * dim, y + (long)i * dim, dim);
    });

    /// <summary>dTable[ids[i]] += dy[i], deterministic.</summary>
    public static void ScatterAdd(float* dy, int* ids, float* dTable, int n, int dim)
    {
        int threads = SimdThreading.MaxThreads;
        int tile = (long)n * dim < ParallelWork.MinParallelElements || threads == 1
            ? dim
            : Math.Max(64, (dim / (threads * 4) + 15) & ~15);
        int tiles = (dim + tile - 1) / tile;
        ParallelWork.Rows(tiles, (long)n * Math.Min(dim, tile), (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                int c0 = t * tile, width = Math.Min(tile, dim - c0);
                for (int i = 0; i < n; i++)
                    SimdReduce.AddInto(dy + (long)i * dim + c0, dTable + (long)ids[i] * dim + c0, width);
            }
        });
    }
}
