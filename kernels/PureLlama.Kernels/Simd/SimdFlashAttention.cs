using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// One attention problem: sizes, softmax scale and mask. q: [Tokens, Heads, HeadDim];
/// k, v: [KvLen, KvHeads, HeadDim]; o: [Tokens, Heads, HeadDim]; lse: [Heads, Tokens].
/// Query head h reads KV head h / Group (GQA, no copies). Query i sits at position QueryOffset + i;
/// key j is visible to it when (!Causal || j ≤ pos) and (Window ≤ 0 || j > pos − Window) and
/// (no segments || QuerySegments[i] == KeySegments[j]). Segment pointers are both null or both set.
/// </summary>
public readonly unsafe struct AttentionProblem
{
    /// <summary>Creates the problem description; the backend validates it first.</summary>
    public AttentionProblem(int tokens, int kvLen, int heads, int kvHeads, int headDim, float scale,
        bool causal, int window, int queryOffset, int* querySegments, int* keySegments)
    {
        Tokens = tokens; KvLen = kvLen; Heads = heads; KvHeads = kvHeads; HeadDim = headDim; Scale = scale;
        Causal = causal; Window = window; QueryOffset = queryOffset; QuerySegments = querySegments; KeySegments = keySegments;
    }

    /// <summary>Query rows.</summary>
    public int Tokens { get; }
    /// <summary>Key/value rows (the KV cache length at decode).</summary>
    public int KvLen { get; }
    /// <summary>Query heads.</summary>
    public int Heads { get; }
    /// <summary>Key/value heads (divides <see cref="Heads"/>).</summary>
    public int KvHeads { get; }
    /// <summary>Head dimension (a multiple of 8).</summary>
    public int HeadDim { get; }
    /// <summary>Softmax scale applied to q·k (usually 1/√HeadDim).</summary>
    public float Scale { get; }
    /// <summary>Mask keys after the query's position.</summary>
    public bool Causal { get; }
    /// <summary>Sliding window: when &gt; 0, mask keys j ≤ pos − Window.</summary>
    public int Window { get; }
    /// <summary>Absolute position of query 0.</summary>
    public int QueryOffset { get; }
    /// <summary>I32 [Tokens] segment id per query, or null.</summary>
    public int* QuerySegments { get; }
    /// <summary>I32 [KvLen] segment id per key, or null.</summary>
    public int* KeySegments { get; }

    /// <summary>Query heads per KV head.</summary>
    public int Group => Heads / KvHeads;

    /// <summary>Queries per block: a block's rows are its queries × the group's heads, at most <see cref="SimdFlashAttention.Tile"/>.</summary>
    public int QueriesPerBlock => Math.Max(1, SimdFlashAttention.Tile / Group);

    /// <summary>True when query i may attend to key j.</summary>
    public bool Visible(int i, int j)
    {
        int pos = QueryOffset + i;
        if (Causal && j > pos) return false;
        if (Window > 0 && j <= pos - Window) return false;
        return QuerySegments == null || QuerySegments[i] == KeySegments[j];
    }
}

/// <summary>A read-only attention operand: F32 data or BF16 bits.</summary>
public readonly unsafe struct AttentionInput(void* data, bool bf16)
{
    /// <summary>Start of the data.</summary>
    public void* Data { get; } = data;
    /// <summary>True when the data is BF16 (ushort bits), false for F32.</summary>
    public bool IsBf16 { get; } = bf16;
}

/// <summary>
/// FlashAttention-2 on the CPU (SIMD, multi-threaded). Entry points; the tiled forward is in
/// SimdFlashAttentionForward.cs, the backward in SimdFlashAttentionBackward.cs, the split-KV decode in
/// SimdFlashAttentionDecode.cs and the packing/micro-kernels in SimdFlashAttentionTiles.cs. Never materialises
/// the [tokens × kvLen] score matrix: the working set is a few [64 × headDim] tiles per thread.
/// Deterministic: no two threads write the same output element and every reduction has a fixed order.
/// </summary>
public static unsafe partial class SimdFlashAttention
{
    /// <summary>Keys per tile and the most rows (queries × group heads) a block holds.</summary>
    public const int Tile = 64;

    /// <summary>Keys per chunk of the split-KV (flash-decoding) path.</summary>
    public const int DecodeChunk = 512;

    /// <summary>Largest query-head group (heads / kvHeads) the kernels accept: one block's rows.</summary>
    public const int MaxGroup = Tile;

    /// <summary>Bytes of per-thread scratch one call uses (independent of sequence length).</summary>
    public static long ScratchBytesPerThread(int headDim) => Scratch.FloatCount(headDim) * sizeof(float);

    /// <summary>
    /// o = softmax(scale·q·kᵀ + mask)·v per head; lse (may be null) = log Σ exp of each row's scores.
    /// q, k, v F32 or BF16 (k and v the same); o [Tokens, Heads, HeadDim] F32, lse [Heads, Tokens] F32.
    /// </summary>
    public static void Forward(AttentionInput q, AttentionInput k, AttentionInput v, float* o, float* lse, in AttentionProblem p)
    {
        if (q.IsBf16)
        {
            if (k.IsBf16) Forward(new Bf16Source((ushort*)q.Data), new Bf16Source((ushort*)k.Data), new Bf16Source((ushort*)v.Data), o, lse, p);
            else Forward(new Bf16Source((ushort*)q.Data), new F32Source((float*)k.Data), new F32Source((float*)v.Data), o, lse, p);
        }
        else
        {
            if (k.IsBf16) Forward(new F32Source((float*)q.Data), new Bf16Source((ushort*)k.Data), new Bf16Source((ushort*)v.Data), o, lse, p);
            else Forward(new F32Source((float*)q.Data), new F32Source((float*)k.Data), new F32Source((float*)v.Data), o, lse, p);
        }
    }

    /// <summary>
    /// FlashAttention-2 backward: dq, dk, dv (overwritten, F32) from q, k, v, the forward output o,
    /// its gradient dO and the saved lse. dk/dv of a KV head sum over its query-head group.
    /// </summary>
    public static void Backward(AttentionInput q, AttentionInput k, AttentionInput v, float* o, float* dO, float* lse,
        float* dq, float* dk, float* dv, in AttentionProblem p)
    {
        if (q.IsBf16)
        {
            if (k.IsBf16) Backward(new Bf16Source((ushort*)q.Data), new Bf16Source((ushort*)k.Data), new Bf16Source((ushort*)v.Data), o, dO, lse, dq, dk, dv, p);
            else Backward(new Bf16Source((ushort*)q.Data), new F32Source((float*)k.Data), new F32Source((float*)v.Data), o, dO, lse, dq, dk, dv, p);
        }
        else
        {
            if (k.IsBf16) Backward(new F32Source((float*)q.Data), new Bf16Source((ushort*)k.Data), new Bf16Source((ushort*)v.Data), o, dO, lse, dq, dk, dv, p);
            else Backward(new F32Source((float*)q.Data), new F32Source((float*)k.Data), new F32Source((float*)v.Data), o, dO, lse, dq, dk, dv, p);
        }
    }

    /// <summary>Runs body(item, scratch) for item in [0, items), each thread with its own scratch.</summary>
    internal static void ForEachItem(int items, int headDim, Action<int, Scratch> body)
    {
        if (items == 1 || SimdThreading.MaxThreads == 1)
        {
            using var s = new Scratch(headDim);
            for (int i = 0; i < items; i++) body(i, s);
            return;
        }
        Parallel.For(0, items, SimdThreading.Options, () => new Scratch(headDim),
            (i, _, s) => { body(i, s); return s; }, s => s.Dispose());
    }

    /// <summary>
    /// One thread's tiles, 64-byte aligned native memory: eight [64 × d] panels (A..H), two
    /// [64 × 64] score tiles, four 64-vectors. Sized by headDim only.
    /// </summary>
    internal sealed class Scratch : IDisposable
    {
        private readonly float* _base;
        public readonly float* A, B, C, D, E, F, G, H, S1, S2, V1, V2, V3, V4;

        public static long FloatCount(int d) => 8L * Tile * d + 2 * Tile * Tile + 4 * Tile;

        public Scratch(int d)
        {
            long n = FloatCount(d);
            _base = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
            long panel = (long)Tile * d;
            A = _base; B = A + panel; C = B + panel; D = C + panel; E = D + panel; F = E + panel; G = F + panel; H = G + panel;
            S1 = H + panel; S2 = S1 + Tile * Tile; V1 = S2 + Tile * Tile; V2 = V1 + Tile; V3 = V2 + Tile; V4 = V3 + Tile;
        }

        public void Dispose() => NativeMemory.AlignedFree(_base);
    }
}
