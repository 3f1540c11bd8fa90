// PagedAttention on the CPU: attention of new query rows of several sequences against keys and values
// kept in a block pool and found through each sequence's block table (vLLM's layout).
//
//   pool K, V: [blocks, kvHeads, blockSize, d] as F32, BF16 or INT8 (INT8: x ≈ code · scale[block, kvHead, slot]);
//   position j of sequence s lives at block table[s, j / blockSize], slot j mod blockSize; a block holds each KV head's
//   blockSize rows together (AttentionRules.PagedRow), so one head's keys are read as contiguous runs.
//   Sequence s owns query rows [first, first + rows) at positions [ctx − rows, ctx) (ctx = its length after
//   this step); row i sees keys 0..pos(i) (causal). Query head h reads KV head h / (heads / kvHeads): GQA, no copies.
//   o_i = Σ_j softmax_j(scale · q_i·k_j) v_j, by the online softmax over key tiles of KeyTile positions:
//   m' = max(m, max_j s_j), α = e^(m − m'), l = α·l + Σ_j e^(s_j − m'), acc = α·acc + Σ_j e^(s_j − m')·v_j, o = acc / l.
//
// Batch invariance: a row's arithmetic depends only on its own q, its keys and values, and the absolute
// key positions (tiles start at multiples of KeyTile, whatever the block size), never on the other rows,
// the number of sequences, the block size or the thread count. A contiguous KV cache is the case of one
// block of blockSize = capacity, so single-sequence generation and the serving engine agree bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Simd;

/// <summary>Element type of a paged KV pool.</summary>
internal enum PagedKvType
{
    /// <summary>float32.</summary>
    F32,
    /// <summary>bfloat16 bits.</summary>
    Bf16,
    /// <summary>int8 codes with an F32 scale per (block, slot, KV head).</summary>
    Int8,
}

/// <summary>One pool (K or V): data [blocks, kvHeads, blockSize, d] and, for INT8, scales [blocks, kvHeads, blockSize].</summary>
internal readonly unsafe struct PagedKvPool(void* data, float* scales, PagedKvType type)
{
    /// <summary>Start of the elements.</summary>
    public void* Data { get; } = data;
    /// <summary>INT8 scales (null otherwise).</summary>
    public float* Scales { get; } = scales;
    /// <summary>Element type.</summary>
    public PagedKvType Type { get; } = type;
}

/// <summary>
/// Sizes of a paged attention call: q/o [Rows, Heads, HeadDim]; block tables I32 [Sequences, MaxBlocks];
/// sequence info I32 [Sequences, 3] = (first row, rows, context length after this step).
/// </summary>
internal readonly unsafe struct PagedAttentionProblem(int rows, int heads, int kvHeads, int headDim, int blockSize, int sequences,
    int maxBlocks, float scale, int* blockTables, int* sequenceInfo)
{
    /// <summary>Query rows (all sequences).</summary>
    public int Rows { get; } = rows;
    /// <summary>Query heads.</summary>
    public int Heads { get; } = heads;
    /// <summary>KV heads (divides Heads).</summary>
    public int KvHeads { get; } = kvHeads;
    /// <summary>Width of a head.</summary>
    public int HeadDim { get; } = headDim;
    /// <summary>Positions per block.</summary>
    public int BlockSize { get; } = blockSize;
    /// <summary>Sequences.</summary>
    public int Sequences { get; } = sequences;
    /// <summary>Columns of the block table.</summary>
    public int MaxBlocks { get; } = maxBlocks;
    /// <summary>Softmax scale.</summary>
    public float Scale { get; } = scale;
    /// <summary>I32 [Sequences, MaxBlocks].</summary>
    public int* BlockTables { get; } = blockTables;
    /// <summary>I32 [Sequences, 3].</summary>
    public int* SequenceInfo { get; } = sequenceInfo;
}

/// <summary>PagedAttention and the paged KV store on the CPU (SIMD over the head dimension, threads over (row, KV head)).</summary>
internal static unsafe class SimdPagedAttention
{
    /// <summary>Keys per online-softmax tile (tiles start at absolute positions that are multiples of it).</summary>
    public const int KeyTile = 32;

    /// <summary>INT8 quantization of one row of d values: scale = max|x| / 127, code = ⌊x·(127 / max|x|) + ½⌋ (0 when the row is 0).</summary>
    public static float QuantizeRow(float* x, sbyte* codes, int d)
    {
        float amax = 0f;
        for (int c = 0; c < d; c++) amax = MathF.Max(amax, MathF.Abs(x[c]));
        if (amax == 0f) { new Span<sbyte>(codes, d).Clear(); return 0f; }
        float inv = 127f / amax;
        for (int c = 0; c < d; c++) codes[c] = (sbyte)Math.Clamp(MathF.Floor(x[c] * inv + 0.5f), -127f, 127f);
        return amax / 127f;
    }

    /// <summary>
    /// Writes new rows k, v [n, kvHeads, d] (F32) into the pools at slots[i] = block·blockSize + offset.
    /// </summary>
    public static void Store(float* k, float* v, int* slots, int n, int kvHeads, int d, int blockSize, PagedKvPool kPool, PagedKvPool vPool)
    {
        for (int i = 0; i < n; i++)
            for (int h = 0; h < kvHeads; h++)
            {
                long src = ((long)i * kvHeads + h) * d, row = AttentionRules.PagedRow(slots[i], blockSize, kvHeads, h);
                StoreRow(k + src, kPool, row, d);
                StoreRow(v + src, vPool, row, d);
            }
    }

    private static void StoreRow(float* x, PagedKvPool pool, long row, int d)
    {
        switch (pool.Type)
        {
            case PagedKvType.F32: new ReadOnlySpan<float>(x, d).CopyTo(new Span<float>((float*)pool.Data + row * d, d)); break;
            case PagedKvType.Bf16:
                ushort* b = (ushort*)pool.Data + row * d;
                for (int c = 0; c < d; c++) b[c] = Bf16.FromFloat(x[c]);
                break;
            default: pool.Scales[row] = QuantizeRow(x, (sbyte*)pool.Data + row * d, d); break;
        }
    }

    /// <summary>o [Rows, Heads, d] (F32) = paged attention of q [Rows, Heads, d] (F32); see the file comment.</summary>
    public static void Forward(float* q, PagedKvPool k, PagedKvPool v, float* o, in PagedAttentionProblem p)
    {
        var rowSeq = new int[p.Rows];
        for (int s = 0; s < p.Sequences; s++)
        {
            int first = p.SequenceInfo[3 * s], rows = p.SequenceInfo[3 * s + 1];
            for (int r = first; r < first + rows; r++) rowSeq[r] = s;
        }
        int items = p.Rows * p.KvHeads;
        var prob = p;
        nint qp = (nint)q, op = (nint)o;
        long keys = 0;
        for (int s = 0; s < p.Sequences; s++) keys += (long)p.SequenceInfo[3 * s + 1] * p.SequenceInfo[3 * s + 2];
        // Work per item ≈ its share of the keys · group · d (each key: one dot and one axpy per query head of the group).
        long workPerItem = Math.Max(1, keys * p.Heads * p.HeadDim / Math.Max(1, items));
        ParallelWork.ForItems(items, workPerItem, (i0, i1) =>
        {
            var s = new Scratch(prob);
            try { for (long i = i0; i < i1; i++) Item((int)i, (float*)qp, k, v, (float*)op, prob, rowSeq, s); }
            finally { s.Dispose(); }
        });
    }

    // One (row, KV head): the group's query heads against keys 0..pos of the row's sequence. F32 pools are read in
    // place; BF16 and INT8 rows are widened into the tile scratch first.
    private static void Item(int item, float* q, PagedKvPool kPool, PagedKvPool vPool, float* o, in PagedAttentionProblem p, int[] rowSeq, Scratch s)
    {
        int row = item / p.KvHeads, kvh = item % p.KvHeads, d = p.HeadDim, group = p.Heads / p.KvHeads;
        int seq = rowSeq[row];
        int first = p.SequenceInfo[3 * seq], rows = p.SequenceInfo[3 * seq + 1], ctx = p.SequenceInfo[3 * seq + 2];
        int pos = AttentionRules.PagedPosition(ctx, rows, row, first);
        int* table = p.BlockTables + (long)seq * p.MaxBlocks;
        float** kRows = stackalloc float*[KeyTile], vRows = stackalloc float*[KeyTile];
        for (int g = 0; g < group; g++) { s.M[g] = float.NegativeInfinity; s.L[g] = 0f; }
        new Span<float>(s.Acc, group * d).Clear();
        PrefetchTile(kPool, vPool, p, table, kvh, 0, pos);
        for (int t0 = 0; t0 <= pos; t0 += KeyTile)
        {
            int nk = Math.Min(KeyTile, pos + 1 - t0);
            PrefetchTile(kPool, vPool, p, table, kvh, t0 + KeyTile, pos);
            for (int j = 0; j < nk; j++)
            {
                int key = t0 + j;
                long slotRow = AttentionRules.PagedRow((long)table[key / p.BlockSize] * p.BlockSize + key % p.BlockSize, p.BlockSize, p.KvHeads, kvh);
                kRows[j] = RowOf(kPool, slotRow, d, s.K + (long)j * d);
                vRows[j] = RowOf(vPool, slotRow, d, s.V + (long)j * d);
            }
            // Scores: eight keys at a time per head (eight independent chains, one horizontal reduction for all eight),
            // the tile's last nk mod 8 keys one by one.
            float* qRow = q + ((long)row * p.Heads + kvh * group) * d;
            int j8 = Avx.IsSupported && d % 8 == 0 ? nk / 8 * 8 : 0;
            for (int g = 0; g < group; g++)
            {
                float* qg = qRow + (long)g * d, sg = s.S + g * KeyTile;
                for (int j = 0; j < j8; j += 8) (Dot8Keys(qg, kRows + j, d) * p.Scale).Store(sg + j);
                for (int j = j8; j < nk; j++) sg[j] = p.Scale * Dot(qg, kRows[j], d);
            }
            for (int g = 0; g < group; g++)
            {
                float* sg = s.S + g * KeyTile;
                float tileMax = float.NegativeInfinity;
                for (int j = 0; j < nk; j++) tileMax = MathF.Max(tileMax, sg[j]);
                float mNew = MathF.Max(s.M[g], tileMax);
                float alpha = MathF.Exp(s.M[g] - mNew);
                float l = s.L[g] * alpha;
                ExpShifted(sg, nk, mNew);
                for (int j = 0; j < nk; j++) l += sg[j];
                AccumulateTile(s.Acc + (long)g * d, alpha, sg, vRows, nk, d);
                s.L[g] = l; s.M[g] = mNew;
            }
        }
        for (int g = 0; g < group; g++)
        {
            int h = kvh * group + g;
            float* dst = o + ((long)row * p.Heads + h) * d, acc = s.Acc + (long)g * d;
            Scale(acc, 1f / s.L[g], d, dst);
        }
    }

    // Asks for the K and V rows of the tile at t0 (keys t0 … min(t0 + KeyTile, pos + 1) − 1) ahead of their use: a block
    // holds blockSize rows of one head together, but the blocks of a sequence lie anywhere in the pool.
    private static void PrefetchTile(PagedKvPool kPool, PagedKvPool vPool, in PagedAttentionProblem p, int* table, int kvh, int t0, int pos)
    {
        if (!Sse.IsSupported) return;
        int end = Math.Min(t0 + KeyTile, pos + 1), bytes = p.HeadDim * ElementBytes(kPool.Type);
        for (int key = t0; key < end; key++)
        {
            long slotRow = AttentionRules.PagedRow((long)table[key / p.BlockSize] * p.BlockSize + key % p.BlockSize, p.BlockSize, p.KvHeads, kvh);
            byte* k = (byte*)kPool.Data + slotRow * bytes, v = (byte*)vPool.Data + slotRow * bytes;
            for (int b = 0; b < bytes; b += 64) { Sse.Prefetch0(k + b); Sse.Prefetch0(v + b); }
        }
    }

    private static int ElementBytes(PagedKvType type) => type switch { PagedKvType.F32 => 4, PagedKvType.Bf16 => 2, _ => 1 };

    // The row's d values as F32: in place for an F32 pool, else widened into dst.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* RowOf(PagedKvPool pool, long row, int d, float* dst)
    {
        if (pool.Type == PagedKvType.F32) return (float*)pool.Data + row * d;
        LoadRow(pool, row, d, dst);
        return dst;
    }

    // s[j] = e^(s[j] − m), j < n: 8 lanes at a time (Vector256.Exp; a key's lane depends only on its position), scalar tail.
    private static void ExpShifted(float* s, int n, float m)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(m);
            for (; j + 8 <= n; j += 8) Vector256.Exp(Vector256.Load(s + j) - vm).Store(s + j);
        }
        for (; j < n; j++) s[j] = MathF.Exp(s[j] - m);
    }

    // acc = alpha·acc, then acc += p[j]·v_j for j < n in order: per element the same multiply and fused multiply-adds as
    // one axpy per key, but 64 columns of acc stay in eight registers across the tile's keys (no store-to-load chain
    // through memory from one key to the next).
    private static void AccumulateTile(float* acc, float alpha, float* p, float** v, int n, int d)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; c + 64 <= d; c += 64)
            {
                float* ac = acc + c;
                Vector256<float> a0 = Vector256.Load(ac) * va, a1 = Vector256.Load(ac + 8) * va, a2 = Vector256.Load(ac + 16) * va,
                    a3 = Vector256.Load(ac + 24) * va, a4 = Vector256.Load(ac + 32) * va, a5 = Vector256.Load(ac + 40) * va,
                    a6 = Vector256.Load(ac + 48) * va, a7 = Vector256.Load(ac + 56) * va;
                for (int j = 0; j < n; j++)
                {
                    var pj = Vector256.Create(p[j]);
                    float* x = v[j] + c;
                    a0 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x), a0);
                    a1 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 24), a3);
                    a4 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 32), a4);
                    a5 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 40), a5);
                    a6 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 48), a6);
                    a7 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(x + 56), a7);
                }
                a0.Store(ac); a1.Store(ac + 8); a2.Store(ac + 16); a3.Store(ac + 24);
                a4.Store(ac + 32); a5.Store(ac + 40); a6.Store(ac + 48); a7.Store(ac + 56);
            }
            for (; c + 8 <= d; c += 8)
            {
                var a = Vector256.Load(acc + c) * va;
                for (int j = 0; j < n; j++) a = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), Vector256.Load(v[j] + c), a);
                a.Store(acc + c);
            }
        }
        for (; c < d; c++)
        {
            float a = acc[c] * alpha;
            for (int j = 0; j < n; j++) a = MathF.FusedMultiplyAdd(p[j], v[j][c], a);
            acc[c] = a;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadRow(PagedKvPool pool, long row, int d, float* dst)
    {
        switch (pool.Type)
        {
            case PagedKvType.F32: new ReadOnlySpan<float>((float*)pool.Data + row * d, d).CopyTo(new Span<float>(dst, d)); break;
            case PagedKvType.Bf16: SimdFloatConvert.Bf16ToF32Run((ushort*)pool.Data + row * d, dst, d); break;
            default:
                sbyte* codes = (sbyte*)pool.Data + row * d;
                float scale = pool.Scales[row];
                int c = 0;
                if (Avx2.IsSupported)
                {
                    var vs = Vector256.Create(scale);
                    for (; c + 8 <= d; c += 8) (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes + c)) * vs).Store(dst + c);
                }
                for (; c < d; c++) dst[c] = codes[c] * scale;
                break;
        }
    }

    // Σ_c a[c]·b[c]: 8-lane partial sums in c order, then a fixed horizontal sum; scalar tail. (16 lanes measured slower
    // here: Vector512.Sum's reduction costs more than the four multiply-adds it saves at d = 64.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int d)
    {
        int c = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated && d >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; c + 8 <= d; c += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + c), Vector256.Load(b + c), acc);
            sum = Vector256.Sum(acc);
        }
        for (; c < d; c++) sum = MathF.FusedMultiplyAdd(a[c], b[c], sum);
        return sum;
    }

    // (q·k_0, …, q·k_7) for d a multiple of 8: eight 8-lane chains in c order, then one tree of horizontal adds that
    // leaves key i's sum in lane i.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot8Keys(float* q, float** k, int d)
    {
        float* k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5], k6 = k[6], k7 = k[7];
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int c = 0; c < d; c += 8)
        {
            var x = Vector256.Load(q + c);
            a0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k0 + c), a0);
            a1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k1 + c), a1);
            a2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k2 + c), a2);
            a3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k3 + c), a3);
            a4 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k4 + c), a4);
            a5 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k5 + c), a5);
            a6 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k6 + c), a6);
            a7 = Vector256.FusedMultiplyAdd(x, Vector256.Load(k7 + c), a7);
        }
        var u0 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));   // [0123 of a0..a3 | 4567 of a0..a3]
        var u1 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
        return Avx.Permute2x128(u0, u1, 0x20) + Avx.Permute2x128(u0, u1, 0x31);
    }

    // dst = alpha·x (in place when dst is x).
    private static void Scale(float* x, float alpha, int d, float* dst = null)
    {
        if (dst == null) dst = x;
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; c + 8 <= d; c += 8) (Vector256.Load(x + c) * va).Store(dst + c);
        }
        for (; c < d; c++) dst[c] = x[c] * alpha;
    }

    // Per-thread tiles: K and V [KeyTile, d], scores [group, KeyTile], acc [group, d], m and l [group].
    private sealed class Scratch : IDisposable
    {
        private readonly float* _base;
        public readonly float* K, V, S, Acc, M, L;

        public Scratch(in PagedAttentionProblem p)
        {
            int d = p.HeadDim, group = p.Heads / p.KvHeads;
            long n = 2L * KeyTile * d + (long)group * KeyTile + (long)group * d + 2L * group;
            _base = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
            K = _base; V = K + (long)KeyTile * d; S = V + (long)KeyTile * d; Acc = S + (long)group * KeyTile; M = Acc + (long)group * d; L = M + group;
        }

        public void Dispose() => NativeMemory.AlignedFree(_base);
    }
}
