namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference of PagedAttention: each sequence's keys and values are gathered through its block
/// table into contiguous [ctx, kvHeads, d] arrays, then <see cref="ReferenceAttention.Forward"/> runs with
/// the sequence's rows at positions [ctx − rows, ctx) (causal). INT8 pools are dequantized first
/// (code · scale, exact in double). q, o: [rows, heads, d]; pools [blocks, kvHeads, blockSize, d] (AttentionRules.PagedRow).
/// </summary>
internal static class ReferencePagedAttention
{
    /// <summary>One sequence: its first query row, row count, context length after the step and block table.</summary>
    public sealed record Sequence(int FirstRow, int Rows, int Context, int[] Blocks);

    /// <summary>o [rows, heads, d] for pools given as float values (dequantized already).</summary>
    public static double[] Forward(float[] q, float[] kPool, float[] vPool, IReadOnlyList<Sequence> sequences,
        int heads, int kvHeads, int d, int blockSize, double scale)
    {
        int totalRows = q.Length / (heads * d);
        var o = new double[(long)totalRows * heads * d];
        foreach (var s in sequences)
        {
            var k = Gather(kPool, s, kvHeads, d, blockSize);
            var v = Gather(vPool, s, kvHeads, d, blockSize);
            var qs = q.AsSpan(s.FirstRow * heads * d, s.Rows * heads * d).ToArray();
            var problem = new ReferenceAttention.Problem(s.Rows, s.Context, heads, kvHeads, d, scale, Causal: true,
                QueryOffset: AttentionRules.PagedPosition(s.Context, s.Rows, s.FirstRow, s.FirstRow));
            var (os, _) = ReferenceAttention.Forward(qs, k, v, problem);
            os.CopyTo(o, (long)s.FirstRow * heads * d);
        }
        return o;
    }

    /// <summary>Dequantizes an INT8 pool: value = code · scale[row] for rows of d.</summary>
    public static float[] Dequantize(sbyte[] codes, float[] scales, int d)
    {
        var x = new float[codes.Length];
        for (int i = 0; i < codes.Length; i++) x[i] = codes[i] * scales[i / d];
        return x;
    }

    /// <summary>The sequence's positions 0 … Context − 1 of a pool as a contiguous [Context, kvHeads, d] array.</summary>
    public static float[] Gather(float[] pool, Sequence s, int kvHeads, int d, int blockSize)
    {
        var dst = new float[(long)s.Context * kvHeads * d];
        for (int j = 0; j < s.Context; j++)
            for (int h = 0; h < kvHeads; h++)
            {
                long src = AttentionRules.PagedRow((long)s.Blocks[j / blockSize] * blockSize + j % blockSize, blockSize, kvHeads, h) * d;
                Array.Copy(pool, src, dst, ((long)j * kvHeads + h) * d, d);
            }
        return dst;
    }
}
