// Activations quantized to int8 in blocks of 32 (docs/kernels/int8-dot.md), once per matmul input:
//
//   block b of row j:  d[j, b] = max_c |x[j, c]| / 127,   q[j, c] = round_half_even(x[j, c] · 127 / max) ∈ [−127, 127]
//                      s[j, b] = Σ_{c∈b} q[j, c]                          (the block sum, for zero points and offsets)
//   x[j, c] ≈ d[j, b] · q[j, c]
//
// For weights with a zero point per group of blocks (INT4): e[j, g] = −Σ_{b∈g} d[j, b] · s[j, b] (F32 fused multiply-adds
// over the blocks in order, from 0), so a kernel subtracts z · Σ_b d·s once per group as one FMA (PrepareZeroPointSums).
//
// The columns may be gathered through a permutation first (act-order INT4: x'[c] = x[perm[c]]); the last
// block is padded with zeros. The SIMD and scalar paths give bit-identical blocks (same F32 multiply, the
// same round-half-even conversion), so every later integer dot product is identical too.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>Rows of activations as int8 blocks of 32 with an F32 scale and an integer block sum per block.</summary>
internal sealed unsafe class Q8Activations : IDisposable
{
    /// <summary>Columns per block.</summary>
    public const int BlockSize = 32;

    private void* _memory;
    private float* _zeroPointSums;
    private int _groups;

    /// <summary>Rows, logical columns, columns rounded up to a whole block, blocks per row.</summary>
    public int Rows { get; }
    public int Cols { get; }
    public int PaddedCols { get; }
    public int Blocks { get; }

    /// <summary>I8 [rows, PaddedCols]: the codes (zero in the padding).</summary>
    public sbyte* Values { get; }
    /// <summary>F32 [rows, Blocks]: d, the scale of each block.</summary>
    public float* Scales { get; }
    /// <summary>I32 [rows, Blocks]: Σ of each block's codes.</summary>
    public int* Sums { get; }

    private Q8Activations(int rows, int cols)
    {
        Rows = rows; Cols = cols;
        Blocks = (cols + BlockSize - 1) / BlockSize;
        PaddedCols = Blocks * BlockSize;
        long values = (long)rows * PaddedCols, blocks = (long)rows * Blocks;
        long bytes = values + 8 * blocks + 64;
        _memory = NativeMemory.AlignedAlloc((nuint)bytes, 64);
        Values = (sbyte*)_memory;
        Scales = (float*)((byte*)_memory + ((values + 63) & ~63L));
        Sums = (int*)(Scales + blocks);
    }

    /// <summary>Codes of row j.</summary>
    public sbyte* Row(int j) => Values + (long)j * PaddedCols;

    /// <summary>Block scales of row j.</summary>
    public float* RowScales(int j) => Scales + (long)j * Blocks;

    /// <summary>Block sums of row j.</summary>
    public int* RowSums(int j) => Sums + (long)j * Blocks;

    /// <summary>F32 [rows, groups] after <see cref="PrepareZeroPointSums"/>: e[j, g] = −Σ_{b∈g} d[j, b]·s[j, b]; row j's.</summary>
    public float* RowZeroPointSums(int j) => _zeroPointSums + (long)j * _groups;

    /// <summary>Computes e[j, g] = −Σ_{b∈g} d[j, b]·s[j, b] over groups of <paramref name="blocksPerGroup"/> blocks (the last may be short).</summary>
    public void PrepareZeroPointSums(int blocksPerGroup)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerGroup);
        if (_zeroPointSums != null) NativeMemory.AlignedFree(_zeroPointSums);
        _groups = (Blocks + blocksPerGroup - 1) / blocksPerGroup;
        _zeroPointSums = (float*)NativeMemory.AlignedAlloc((nuint)((long)Rows * _groups * sizeof(float)), 64);
        for (int j = 0; j < Rows; j++)
        {
            float* d = RowScales(j), e = RowZeroPointSums(j);
            int* s = RowSums(j);
            for (int g = 0; g < _groups; g++)
            {
                float acc = 0;
                for (int b = g * blocksPerGroup, end = Math.Min(Blocks, b + blocksPerGroup); b < end; b++) acc = MathF.FusedMultiplyAdd(d[b], s[b], acc);
                e[g] = -acc;
            }
        }
    }

    /// <summary>
    /// Quantizes X[rows, cols] (row stride ldx ≥ cols). With <paramref name="permutation"/> (I32 [cols]) row j's
    /// column c is x[j, permutation[c]]. <paramref name="simd"/> = false forces the scalar path (tests).
    /// </summary>
    public static Q8Activations Quantize(float* x, int rows, int cols, int ldx, int* permutation = null, bool simd = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (ldx < cols) throw new ArgumentOutOfRangeException(nameof(ldx), ldx, $"ldx must be at least cols = {cols}.");
        var a = new Q8Activations(rows, cols);
        bool vector = simd && Avx512BW.IsSupported;
        nint xp = (nint)x, pp = (nint)permutation;
        ParallelWork.Rows(rows, 4L * cols, (j0, j1) =>
        {
            float* staging = (float*)NativeMemory.AlignedAlloc((nuint)(a.PaddedCols * sizeof(float)), 64);
            try
            {
                for (int j = j0; j < j1; j++) a.QuantizeRow(j, (float*)xp + (long)j * ldx, (int*)pp, staging, vector);
            }
            finally { NativeMemory.AlignedFree(staging); }
        });
        return a;
    }

    private void QuantizeRow(int j, float* x, int* permutation, float* staging, bool vector)
    {
        float* src = x;
        if (permutation != null || Cols != PaddedCols)
        {
            if (permutation != null) for (int c = 0; c < Cols; c++) staging[c] = x[permutation[c]];
            else new ReadOnlySpan<float>(x, Cols).CopyTo(new Span<float>(staging, Cols));
            new Span<float>(staging + Cols, PaddedCols - Cols).Clear();
            src = staging;
        }
        sbyte* q = Row(j);
        float* d = RowScales(j);
        int* s = RowSums(j);
        for (int b = 0; b < Blocks; b++)
        {
            float* xb = src + b * BlockSize;
            if (vector) Block512(xb, q + b * BlockSize, out d[b], out s[b]);
            else BlockScalar(xb, q + b * BlockSize, out d[b], out s[b]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block512(float* x, sbyte* q, out float d, out int sum)
    {
        var v0 = Vector512.Load(x);
        var v1 = Vector512.Load(x + 16);
        float amax = MaxLane(Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1)));
        d = amax / 127f;
        var id = Vector512.Create(amax > 0 ? 127f / amax : 0f);
        var q0 = Avx512F.ConvertToVector512Int32(v0 * id);
        var q1 = Avx512F.ConvertToVector512Int32(v1 * id);
        Avx512F.ConvertToVector128SByteWithSaturation(q0).Store(q);
        Avx512F.ConvertToVector128SByteWithSaturation(q1).Store(q + 16);
        sum = Vector512.Sum(q0 + q1);
    }

    private static float MaxLane(Vector512<float> m)
    {
        var h = Vector256.Max(m.GetLower(), m.GetUpper());
        var g = Vector128.Max(h.GetLower(), h.GetUpper());
        return MathF.Max(MathF.Max(g[0], g[1]), MathF.Max(g[2], g[3]));
    }

    private static void BlockScalar(float* x, sbyte* q, out float d, out int sum)
    {
        float amax = 0;
        for (int c = 0; c < BlockSize; c++) amax = MathF.Max(amax, MathF.Abs(x[c]));
        d = amax / 127f;
        float id = amax > 0 ? 127f / amax : 0f;
        sum = 0;
        for (int c = 0; c < BlockSize; c++)
        {
            int v = Math.Clamp((int)MathF.Round(x[c] * id), -127, 127);
            q[c] = (sbyte)v;
            sum += v;
        }
    }

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        if (_zeroPointSums != null) NativeMemory.AlignedFree(_zeroPointSums);
        _zeroPointSums = null;
        if (_memory == null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
