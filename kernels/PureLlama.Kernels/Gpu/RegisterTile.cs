using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;

namespace PureLlama.Kernels.Gpu;

// Register blocks for tiled GPU kernels, beside Vec8 (Matmul/MatmulCommon.cs): fixed-size value types whose
// elements are fields, so a block lives in registers (no indexable array, nothing in local memory). Loops over
// their elements are written out inside these methods (ILGPU does not unroll loops); kernels then read as the
// block math: T += a ⊗ b, T = e^(T − m) row-wise, max/sum per row.

/// <summary>Four f32 values in registers (one column of a 4-row block, or one value per row).</summary>
internal struct Vec4
{
    public float V0, V1, V2, V3;

    /// <summary>All four elements equal to <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 Fill(float x)
    {
        Vec4 r;
        r.V0 = x; r.V1 = x; r.V2 = x; r.V3 = x;
        return r;
    }

    /// <summary>Gathers view[start + i·stride] for i = 0..3 (a shared-memory read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 Load(ArrayView<float> view, int start, int stride)
    {
        Vec4 r;
        r.V0 = view[start];
        r.V1 = view[start + stride];
        r.V2 = view[start + 2 * stride];
        r.V3 = view[start + 3 * stride];
        return r;
    }

    /// <summary>Element <paramref name="i"/> (0..3); with a constant i the switch folds away after inlining.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int i) => i switch { 0 => V0, 1 => V1, 2 => V2, _ => V3 };

    /// <summary>max(a, b), element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 Max(Vec4 a, Vec4 b)
    {
        a.V0 = XMath.Max(a.V0, b.V0); a.V1 = XMath.Max(a.V1, b.V1); a.V2 = XMath.Max(a.V2, b.V2); a.V3 = XMath.Max(a.V3, b.V3);
        return a;
    }

    /// <summary>a·b, element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 Mul(Vec4 a, Vec4 b)
    {
        a.V0 *= b.V0; a.V1 *= b.V1; a.V2 *= b.V2; a.V3 *= b.V3;
        return a;
    }

    /// <summary>e^(a − b), element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 ExpMinus(Vec4 a, Vec4 b)
    {
        a.V0 = XMath.Exp(a.V0 - b.V0); a.V1 = XMath.Exp(a.V1 - b.V1); a.V2 = XMath.Exp(a.V2 - b.V2); a.V3 = XMath.Exp(a.V3 - b.V3);
        return a;
    }

    /// <summary>v with −∞ elements replaced by 0 (the shift of a softmax row that has seen no visible score yet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 NegInfToZero(Vec4 v)
    {
        v.V0 = v.V0 == float.NegativeInfinity ? 0f : v.V0;
        v.V1 = v.V1 == float.NegativeInfinity ? 0f : v.V1;
        v.V2 = v.V2 == float.NegativeInfinity ? 0f : v.V2;
        v.V3 = v.V3 == float.NegativeInfinity ? 0f : v.V3;
        return v;
    }

    /// <summary>Each element read from lane <paramref name="src"/> of the warp.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec4 Shuffle(Vec4 v, int src)
    {
        v.V0 = Warp.Shuffle(v.V0, src); v.V1 = Warp.Shuffle(v.V1, src); v.V2 = Warp.Shuffle(v.V2, src); v.V3 = Warp.Shuffle(v.V3, src);
        return v;
    }
}

/// <summary>Which (row, column) elements of a register block survive (a mask evaluated per element).</summary>
internal interface ITileMask
{
    bool Keep(int row, int col);
}

/// <summary>
/// A 4 × 8 f32 block in registers: rows R0..R3, element (r, u) stands for (row0 + r, col0 + u·colStep) of a larger tile.
/// </summary>
internal struct Tile4x8
{
    public Vec8 R0, R1, R2, R3;

    /// <summary>t + a ⊗ b: row r gets a_r·b added (a rank-1 update, 32 FMAs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Tile4x8 OuterFma(Tile4x8 t, Vec4 a, Vec8 b)
    {
        t.R0 = Vec8.Fma(t.R0, a.V0, b);
        t.R1 = Vec8.Fma(t.R1, a.V1, b);
        t.R2 = Vec8.Fma(t.R2, a.V2, b);
        t.R3 = Vec8.Fma(t.R3, a.V3, b);
        return t;
    }

    /// <summary>Column <paramref name="u"/> (0..7) as a Vec4; u must be a constant to stay in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly Vec4 Column(int u)
    {
        Vec4 c;
        c.V0 = R0.Get(u); c.V1 = R1.Get(u); c.V2 = R2.Get(u); c.V3 = R3.Get(u);
        return c;
    }

    /// <summary>Row r scaled by a_r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Tile4x8 ScaleRows(Tile4x8 t, Vec4 a)
    {
        t.R0 = Vec8.Scale(t.R0, a.V0);
        t.R1 = Vec8.Scale(t.R1, a.V1);
        t.R2 = Vec8.Scale(t.R2, a.V2);
        t.R3 = Vec8.Scale(t.R3, a.V3);
        return t;
    }

    /// <summary>e^(t − m_r) on row r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Tile4x8 ExpMinusRows(Tile4x8 t, Vec4 m)
    {
        t.R0 = Vec8.ExpMinus(t.R0, m.V0);
        t.R1 = Vec8.ExpMinus(t.R1, m.V1);
        t.R2 = Vec8.ExpMinus(t.R2, m.V2);
        t.R3 = Vec8.ExpMinus(t.R3, m.V3);
        return t;
    }

    /// <summary>The maximum of each row (this thread's 8 elements only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly Vec4 RowMax()
    {
        Vec4 r;
        r.V0 = R0.Max(); r.V1 = R1.Max(); r.V2 = R2.Max(); r.V3 = R3.Max();
        return r;
    }

    /// <summary>start_r + the sum of row r, added left to right (this thread's 8 elements only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly Vec4 RowSumsOnto(Vec4 start)
    {
        Vec4 r;
        r.V0 = R0.SumOnto(start.V0); r.V1 = R1.SumOnto(start.V1); r.V2 = R2.SumOnto(start.V2); r.V3 = R3.SumOnto(start.V3);
        return r;
    }

    /// <summary>
    /// t where <paramref name="mask"/> keeps (row0 + r, col0 + u·colStep), <paramref name="otherwise"/> elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Tile4x8 Where<TMask>(Tile4x8 t, TMask mask, int row0, int col0, int colStep, float otherwise)
        where TMask : struct, ITileMask
    {
        t.R0 = Vec8.Where(t.R0, mask, row0, col0, colStep, otherwise);
        t.R1 = Vec8.Where(t.R1, mask, row0 + 1, col0, colStep, otherwise);
        t.R2 = Vec8.Where(t.R2, mask, row0 + 2, col0, colStep, otherwise);
        t.R3 = Vec8.Where(t.R3, mask, row0 + 3, col0, colStep, otherwise);
        return t;
    }
}
