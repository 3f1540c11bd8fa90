using System.Runtime.CompilerServices;
using ILGPU.Algorithms;

namespace PureLlama.Kernels;

/// <summary>
/// The attention mask and head rules, written once for every attention kernel (SIMD, ILGPU, float64 reference,
/// paged) and for the backends' validation:
///   query i sits at position pos = queryOffset + i; key j is visible to it when
///     (!causal || j ≤ pos) and (window ≤ 0 || j &gt; pos − window)   [and, with packed segments, qSeg[i] == kSeg[j]];
///   query head h reads KV head h / (heads / kvHeads) (GQA, heads a multiple of kvHeads);
///   a paged step's rows [first, first + rows) of a sequence are its last rows, at positions context − rows + (row − first).
/// The range and tile forms below are that rule solved for a block of queries or keys (tested against it).
/// Static, integer-only, no allocations: ILGPU kernels call these too (XMath min/max compile to single instructions).
/// The causal flag is an int (0 = off), as the GPU launch structs carry it, and the tests use non-short-circuit &amp; and |:
/// each rule is one predicate without branches, which keeps the register-tiled kernel at its register count (a bool
/// argument or short-circuit form left it at 171–173 registers, past the 168 that fit 3 groups per multiprocessor).
/// </summary>
internal static class AttentionRules
{
    /// <summary>Key j is visible to the query at position <paramref name="pos"/> (causal and window rule; segments aside).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Visible(int pos, int j, int causal, int window) => (causal == 0 | j <= pos) & (window <= 0 | j > pos - window);

    /// <summary>The KV head query head <paramref name="h"/> reads (GQA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int KvHead(int h, int heads, int kvHeads) => h / (heads / kvHeads);

    /// <summary>True when the head counts fit GQA: kvHeads ≥ 1 and heads a multiple of it.</summary>
    public static bool HeadsFit(int heads, int kvHeads) => kvHeads > 0 && heads > 0 && heads % kvHeads == 0;

    /// <summary>True when a softmax scale is usable (finite, non-zero).</summary>
    public static bool ScaleValid(float scale) => !float.IsNaN(scale) && !float.IsInfinity(scale) && scale != 0f;

    /// <summary>First key any query at position ≥ <paramref name="pMin"/> can see (the window's lower edge, else 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstKey(int pMin, int window) => window > 0 ? XMath.Max(0, pMin - window + 1) : 0;

    /// <summary>End (exclusive) of the keys any query at position ≤ <paramref name="pMax"/> can see, at most <paramref name="kvLen"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int KeyEnd(int pMax, int causal, int kvLen) => causal != 0 ? XMath.Min(kvLen, pMax + 1) : kvLen;

    /// <summary>First query (index) whose position can see key <paramref name="j0"/> or a later one: causal queries before it cannot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstQuery(int j0, int queryOffset, int tokens, int causal) => causal != 0 ? XMath.Clamp(j0 - queryOffset, 0, tokens) : 0;

    /// <summary>End (exclusive) of the queries whose window still reaches key <paramref name="jMax"/> or an earlier one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int QueryEnd(int jMax, int queryOffset, int tokens, int window) =>
        window > 0 ? XMath.Clamp(jMax + window - queryOffset, 0, tokens) : tokens;

    /// <summary>No key of [j0, jMax] is visible to any query at positions [pMin, pMax].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NoneVisible(int pMin, int pMax, int j0, int jMax, int causal, int window) =>
        (causal != 0 & j0 > pMax) | (window > 0 & jMax <= pMin - window);

    /// <summary>Every key of [j0, jMax] is visible to every query at positions [pMin, pMax] (segments aside).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllVisible(int pMin, int pMax, int j0, int jMax, int causal, int window) =>
        (causal == 0 | jMax <= pMin) & (window <= 0 | j0 > pMax - window);

    /// <summary>
    /// Row (of headDim elements) holding KV head <paramref name="kvh"/> of pool slot <paramref name="slot"/> = block ·
    /// blockSize + offset, in a pool [blocks, kvHeads, blockSize, headDim]: one head's positions of a block are contiguous.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long PagedRow(long slot, int blockSize, int kvHeads, int kvh) => (slot / blockSize * kvHeads + kvh) * blockSize + slot % blockSize;

    /// <summary>Position of paged row <paramref name="row"/> of a sequence whose rows [first, first + rows) end its context.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PagedPosition(int context, int rows, int row, int first) => context - rows + (row - first);
}
