using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

/// <summary>
/// One paged-attention case: per sequence its new rows and its context length after the step (ragged), the
/// head layout, the block size and the pool's element type (F32, BF16 or I8).
/// </summary>
internal sealed record PagedAttentionCase(int[] Rows, int[] Contexts, int Heads, int KvHeads, int HeadDim, int BlockSize, DType Kv)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"rows[{string.Join(",", Rows)}] ctx[{string.Join(",", Contexts)}] h{Heads}/{KvHeads}×{HeadDim} block {BlockSize} {Kv}";
}

internal static partial class KernelChecks
{
    /// <summary>Decode of many sequences of different lengths, prefill chunks against a cached prefix, GQA 1/2/4, every pool type.</summary>
    public static IReadOnlyList<PagedAttentionCase> PagedAttentionCases(bool small)
    {
        var shapes = small
            ? new (int[] Rows, int[] Ctx, int H, int Kv, int D, int Bs)[]
            {
                ([1, 1, 1, 1], [1, 17, 40, 5], 4, 1, 16, 4),
                ([7, 1, 12], [20, 33, 12], 4, 2, 8, 5),
                ([3], [3], 2, 2, 8, 1),
            }
            : [
                ([1, 1, 1, 1, 1, 1], [1, 16, 17, 100, 301, 77], 8, 2, 64, 16),
                ([40, 1, 25, 1], [140, 33, 25, 700], 8, 8, 32, 16),
                ([9, 30], [60, 30], 4, 1, 128, 7),
            ];
        var list = new List<PagedAttentionCase>();
        foreach (var (rows, ctx, h, kv, d, bs) in shapes)
            foreach (var dtype in new[] { DType.F32, DType.BF16, DType.I8 })
                list.Add(new PagedAttentionCase(rows, ctx, h, kv, d, bs, dtype));
        return list;
    }

    /// <summary>
    /// PagedKvStore then PagedAttention on a pool whose blocks are handed out in shuffled order (tables are not
    /// contiguous): the stored pool (dequantized, gathered through the tables) against the inputs with the pool
    /// type's rounding bound, and the attention output against <see cref="ReferencePagedAttention"/> (float64) on the
    /// values the pool holds.
    /// </summary>
    internal static KernelCheck PagedAttention(PagedAttentionCase c) => new("paged attention", c.ToString(), be =>
    {
        var rng = new Rng((ulong)Seed("paged", c.HeadDim, c.BlockSize, c.Heads, c.KvHeads, (int)c.Kv, c.Contexts.Sum(), c.Rows.Sum()));
        int d = c.HeadDim, kvh = c.KvHeads, bs = c.BlockSize, seqs = c.Rows.Length, row = kvh * d;
        var need = c.Contexts.Select(x => (x + bs - 1) / bs).ToArray();
        int blocks = need.Sum() + 3;
        var order = Enumerable.Range(0, blocks).OrderBy(_ => rng.NextInt(1 << 30)).ToArray();
        var tables = new List<IReadOnlyList<int>>();
        for (int s = 0, next = 0; s < seqs; s++) { tables.Add(order[next..(next + need[s])]); next += need[s]; }

        int totalCtx = c.Contexts.Sum();
        var k = Random(rng, totalCtx * row, -2, 2);
        var v = Random(rng, totalCtx * row);
        using var kPool = Tensor.Empty(new Shape(blocks, kvh, bs, d), c.Kv, be.Device);
        using var vPool = Tensor.Empty(new Shape(blocks, kvh, bs, d), c.Kv, be.Device);
        using var kScales = c.Kv == DType.I8 ? Tensor.Empty(new Shape(blocks, kvh, bs), DType.F32, be.Device) : null;
        using var vScales = c.Kv == DType.I8 ? Tensor.Empty(new Shape(blocks, kvh, bs), DType.F32, be.Device) : null;
        if (c.Kv == DType.F32) { be.Fill(kPool, float.NaN); be.Fill(vPool, float.NaN); }
        using (var storeLayout = new PagedLayout(c.Contexts, c.Contexts, tables, bs, blocks, be.Device))
        using (var tk = Upload(be, k, totalCtx, kvh, d))
        using (var tv = Upload(be, v, totalCtx, kvh, d))
            be.PagedKvStore(tk, tv, storeLayout, kPool, vPool, kScales, vScales);

        var kHeld = Held(kPool, kScales, d);
        var vHeld = Held(vPool, vScales, d);
        var gathered = new float[2 * totalCtx * row];
        for (int s = 0, at = 0; s < seqs; s++)
        {
            var seq = new ReferencePagedAttention.Sequence(0, 0, c.Contexts[s], [.. tables[s]]);
            ReferencePagedAttention.Gather(kHeld, seq, kvh, d, bs).CopyTo(gathered, (long)at * row);
            ReferencePagedAttention.Gather(vHeld, seq, kvh, d, bs).CopyTo(gathered, (long)(totalCtx + at) * row);
            at += c.Contexts[s];
        }
        double storeTol = c.Kv switch { DType.F32 => 0, DType.BF16 => 4e-3, _ => 1e-2 };
        var store = Compare("paged kv store", c.ToString(), gathered, ToDouble([.. k, .. v]), storeTol);

        int rows = c.Rows.Sum(), heads = c.Heads;
        var q = Random(rng, rows * heads * d, -2, 2);
        float scale = 1f / MathF.Sqrt(d);
        using var layout = new PagedLayout(c.Rows, c.Contexts, tables, bs, blocks, be.Device);
        using var tq = Upload(be, q, rows, heads, d);
        using var o = Poisoned(be, rows, heads, d);
        long pairs = 0;
        for (int s = 0; s < seqs; s++) pairs += (long)c.Rows[s] * (2L * c.Contexts[s] - c.Rows[s] + 1) / 2;
        Timed(be, "attention", OpWork.Compute(4.0 * d * heads * pairs), () => be.PagedAttention(tq, kPool, vPool, kScales, vScales, layout, o, scale));
        var refSeqs = new List<ReferencePagedAttention.Sequence>();
        for (int s = 0, first = 0; s < seqs; s++) { refSeqs.Add(new(first, c.Rows[s], c.Contexts[s], [.. tables[s]])); first += c.Rows[s]; }
        var expected = ReferencePagedAttention.Forward(q, kHeld, vHeld, refSeqs, heads, kvh, d, bs, scale);
        var attention = Compare("paged attention", c.ToString(), o, expected, c.Contexts.Max() >= 500 ? LongTol : F32Tol);
        return Worst(store, attention);
    });

    // The pool's values as floats (INT8: code · scale).
    private static float[] Held(Tensor pool, Tensor? scales, int d) => pool.DType == DType.I8
        ? ReferencePagedAttention.Dequantize(pool.ToArray<sbyte>(), scales!.ToFloatArray(), d)
        : pool.ToFloatArray();
}
