using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Flash-decoding: a few queries (one block) against a long KV cache. The visible key range is cut
/// into chunks of <see cref="SimdFlashAttention.DecodeChunk"/> keys; every (KV head, chunk) pair runs the
/// tiled forward on its own thread and yields normalised partial rows O_c with their lse_c. They
/// combine exactly:
/// <code>
///   M = max_c lse_c,   w_c = exp(lse_c − M),   lse = M + log Σ_c w_c,   O = Σ_c w_c·O_c / Σ_c w_c
/// </code>
/// Partial buffers: [kvHeads, chunks, rows, d] (linear in the cache length). The chunking depends
/// only on the sizes, never on the thread count, so results are repeatable bit for bit.
/// </summary>
public static unsafe partial class SimdFlashAttention
{
    private static void DecodeSplit<TQ, TKV>(TQ q, TKV k, TKV v, float* o, float* lse, AttentionProblem p)
        where TQ : IFloatSource where TKV : IFloatSource
    {
        int nq = p.Tokens, d = p.HeadDim, rows = nq * p.Group;
        var (lo, hi) = KeyRange(p, 0, nq, 0, p.KvLen);
        int chunks = Math.Max(1, (hi - lo + DecodeChunk - 1) / DecodeChunk);
        long items = (long)p.KvHeads * chunks;
        float* partO = (float*)NativeMemory.AlignedAlloc((nuint)(items * rows * d * sizeof(float)), 64);   // [kvHeads, chunks, rows, d]
        float* partLse = (float*)NativeMemory.AlignedAlloc((nuint)(items * rows * sizeof(float)), 64);     // [kvHeads, chunks, rows]
        try
        {
            ForEachItem((int)items, d, (item, s) =>
            {
                int kvh = item / chunks, c = item % chunks;
                int kb = lo + c * DecodeChunk, ke = Math.Min(hi, kb + DecodeChunk);
                ForwardBlock(q, k, v, p, kvh, 0, nq, kb, Math.Max(kb, ke), s);
                new ReadOnlySpan<float>(s.D, rows * d).CopyTo(new Span<float>(partO + (long)item * rows * d, rows * d));
                new ReadOnlySpan<float>(s.V1, rows).CopyTo(new Span<float>(partLse + (long)item * rows, rows));
            });
            using var scratch = new Scratch(d);
            for (int kvh = 0; kvh < p.KvHeads; kvh++)
            {
                Combine(partO + (long)kvh * chunks * rows * d, partLse + (long)kvh * chunks * rows, chunks, rows, d, scratch.D, scratch.V1);
                WriteBlock(p, kvh, 0, nq, scratch.D, scratch.V1, o, lse);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(partO);
            NativeMemory.AlignedFree(partLse);
        }
    }

    /// <summary>Merges chunk results partO [chunks, rows, d], partLse [chunks, rows] into outRows [rows, d], outLse [rows].</summary>
    private static void Combine(float* partO, float* partLse, int chunks, int rows, int d, float* outRows, float* outLse)
    {
        for (int r = 0; r < rows; r++)
        {
            float mx = float.NegativeInfinity;
            for (int c = 0; c < chunks; c++) mx = MathF.Max(mx, partLse[(long)c * rows + r]);
            float* dst = outRows + (long)r * d;
            new Span<float>(dst, d).Clear();
            if (float.IsNegativeInfinity(mx)) { outLse[r] = float.NegativeInfinity; continue; }
            float sum = 0;
            for (int c = 0; c < chunks; c++)
            {
                float w = MathF.Exp(partLse[(long)c * rows + r] - mx);
                if (w == 0f) continue;
                sum += w;
                float* src = partO + ((long)c * rows + r) * d;
                for (int x = 0; x < d; x++) dst[x] += w * src[x];
            }
            ScaleRow(dst, d, 1f / sum);
            outLse[r] = mx + MathF.Log(sum);
        }
    }
}
