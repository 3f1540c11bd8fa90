// Integer dot-product primitives on int8 blocks (docs/kernels/int8-dot.md). Every lane of the result is the
// exact sum of the products of one 4-byte group:
//
//   lane i = Σ_{k<4} a[4i+k] · x[4i+k]
//
// AVX-512BW has no byte dot product that adds into 32 bits (.NET 10 exposes no 512-bit vpdpbusd), so a lane
// is built from vpmaddubsw (u8 × s8 → pairs summed into i16) and vpmaddwd against ones (pairs of i16 → i32).
// vpmaddubsw saturates, so the unsigned operand must keep every pair sum under 2^15: signed × signed uses the
// sign trick (|w| × x·sign(w), |w| ≤ 128, |x| ≤ 127: a pair is at most 32 512), and 4-bit codes (≤ 15) leave
// room to add eight pair results in i16 before widening (8 · 2 · 15 · 127 = 30 480).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>Exact int8 dot products per 4-byte group (AVX-512BW and scalar).</summary>
internal static unsafe class Int8DotProducts
{
    /// <summary>x with each byte negated where <paramref name="negative"/> is all ones (0 elsewhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> ApplySign(Vector512<sbyte> x, Vector512<sbyte> negative) => (x ^ negative) - negative;

    /// <summary>Per 4-byte group: Σ a·x with a unsigned, where every pair a₀x₀ + a₁x₁ stays within ±32 767.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> DotUnsigned(Vector512<byte> a, Vector512<sbyte> x) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, x), Vector512<short>.One);

    /// <summary>Per 4-byte group: Σ w·x for signed w, x (x ≠ −128), by the sign trick.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> DotSigned(Vector512<sbyte> w, Vector512<sbyte> x) =>
        DotUnsigned(Avx512BW.Abs(w), ApplySign(x, Avx512BW.CompareLessThan(w, Vector512<sbyte>.Zero)));

    /// <summary>Pair sums a₀x₀ + a₁x₁ in i16 (a ≤ 15 codes: up to eight of these can be added before widening).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> PairsUnsigned(Vector512<byte> a, Vector512<sbyte> x) => Avx512BW.MultiplyAddAdjacent(a, x);

    /// <summary>i16 pair sums widened into i32 lanes (adjacent pairs added).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> WidenPairs(Vector512<short> pairs) => Avx512BW.MultiplyAddAdjacent(pairs, Vector512<short>.One);

    /// <summary>The four bytes at p as one 32-bit value in every lane (an activation group broadcast to every weight row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Broadcast4(sbyte* p) => Vector512.Create(*(int*)p).AsSByte();

    /// <summary>Low and high nibbles of every byte as codes 0…15 (a mask; a shift and a mask).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> Low, Vector512<byte> High) Nibbles(Vector512<byte> v)
    {
        var mask = Vector512.Create((byte)15);
        return (v & mask, Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask);
    }

    /// <summary>
    /// The same nibbles, the high ones with GFNI where present (one vgf2p8affineqb instead of a shift and a mask). Worth it
    /// where the vector ops around are simple ones (one x row per pass); vgf2p8affineqb shares vpmaddubsw's pipes, so
    /// passes of four x rows (8 vpmaddubsw per 64 code bytes) keep the shift.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<byte> Low, Vector512<byte> High) NibblesGfni(Vector512<byte> v)
    {
        if (!Gfni.V512.IsSupported) return Nibbles(v);
        return (v & Vector512.Create((byte)15), Gfni.V512.GaloisFieldAffineTransform(v, HighNibbleMatrix(), 0));
    }

    /// <summary>
    /// vgf2p8affineqb's bit matrix for x >> 4 in every byte: result bit i is the parity of (matrix byte 7 − i) AND x, so
    /// bytes 7, 6, 5, 4 select x's bits 4, 5, 6, 7 and bytes 3…0 are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> HighNibbleMatrix() => Vector512.Create(0x1020408000000000UL).AsByte();

    /// <summary>
    /// Sixteen F16 values (bits) as F32, exactly, for every finite F16: sign-extended to 32 bits and shifted left by 13,
    /// the sign lands in bit 31 and exponent and mantissa in bits 27…13 (masked), which read as a float 2^-112 times too
    /// small (normal F16 → normal F32, subnormal → subnormal); times 2^112. .NET 10 has no vcvtph2ps intrinsic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalfToSingle(ushort* p)
    {
        var e = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p));
        var bits = Vector512.ShiftLeft(e, 13) & Vector512.Create(unchecked((int)0x8FFFE000));
        return bits.AsSingle() * Vector512.Create(5.192296858534828e33f);   // 2^112
    }

    // The same primitives on 256-bit vectors (AVX2: vpmaddubsw/vpmaddwd ymm), for Int8TiledMatmul's AVX2 kernel.

    /// <summary>x with each byte negated where <paramref name="negative"/> is all ones (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> ApplySign(Vector256<sbyte> x, Vector256<sbyte> negative) => (x ^ negative) - negative;

    /// <summary>Per 4-byte group: Σ a·x with a unsigned, pairs within ±32 767 (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotUnsigned(Vector256<byte> a, Vector256<sbyte> x) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, x), Vector256<short>.One);

    /// <summary>Pair sums a₀x₀ + a₁x₁ in i16 (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> PairsUnsigned(Vector256<byte> a, Vector256<sbyte> x) => Avx2.MultiplyAddAdjacent(a, x);

    /// <summary>i16 pair sums widened into i32 lanes (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> WidenPairs(Vector256<short> pairs) => Avx2.MultiplyAddAdjacent(pairs, Vector256<short>.One);

    /// <summary>The four bytes at p as one 32-bit value in every lane of a 256-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Broadcast4Narrow(sbyte* p) => Vector256.Create(*(int*)p).AsSByte();

    /// <summary>Low and high nibbles of every byte as codes 0…15 (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector256<byte> Low, Vector256<byte> High) Nibbles(Vector256<byte> v)
    {
        var mask = Vector256.Create((byte)15);
        return (v & mask, Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask);
    }

    /// <summary>Eight F16 values (bits) as F32, exactly (the same integer steps as the 512-bit <see cref="HalfToSingle"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfToSingleNarrow(ushort* p)
    {
        var e = Avx2.ConvertToVector256Int32((short*)p);
        var bits = Vector256.ShiftLeft(e, 13) & Vector256.Create(unchecked((int)0x8FFFE000));
        return bits.AsSingle() * Vector256.Create(5.192296858534828e33f);   // 2^112
    }

    /// <summary>Scalar: Σ_{k&lt;n} a[k]·x[k].</summary>
    public static int DotScalar(sbyte* a, sbyte* x, int n)
    {
        int s = 0;
        for (int k = 0; k < n; k++) s += a[k] * x[k];
        return s;
    }
}
