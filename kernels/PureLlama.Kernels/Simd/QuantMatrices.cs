// Raw views of the packed weight formats the dequant-matmul kernels read (no ownership).
//
//   NF4  Ŵ[r, c] = map[nibble(e)] · absmax(e / B),  e = r·cols + c  (blocks of B cross row ends)
//        nibble(e) = packed[e/2] >> 4 for even e, & 15 for odd e
//        absmax(b) = absmaxF32[b]                                        plain
//                  = nestedMap[absmaxU8[b]] · nested[b / NB] + offset      double-quantized
//   INT8 Ŵ[r, c] = q[r, c] · scb[r] / 127
namespace PureLlama.Kernels.Simd;

/// <summary>An NF4 weight [rows, cols] as raw pointers (bitsandbytes layout; see the file header).</summary>
public readonly unsafe struct Nf4Matrix
{
    /// <summary>Rows (output features) and columns (input features).</summary>
    public readonly int Rows, Cols;
    /// <summary>Elements per absmax block and absmaxes per nested scale.</summary>
    public readonly int BlockSize, NestedBlockSize;
    /// <summary>U8 [⌈rows·cols/2⌉] packed codes, first element in the high nibble.</summary>
    public readonly byte* Packed;
    /// <summary>F32 [16] code values.</summary>
    public readonly float* Map;
    /// <summary>F32 [blocks] absmaxes (plain), else null.</summary>
    public readonly float* Absmax;
    /// <summary>U8 [blocks] absmax codes (double-quantized), else null.</summary>
    public readonly byte* AbsmaxCodes;
    /// <summary>F32 [⌈blocks/NB⌉] nested scales and F32 [256] nested map (double-quantized).</summary>
    public readonly float* Nested, NestedMap;
    /// <summary>Mean absmax added back after the nested lookup.</summary>
    public readonly float NestedOffset;

    /// <summary>A plain NF4 weight (F32 absmaxes).</summary>
    public Nf4Matrix(int rows, int cols, int blockSize, byte* packed, float* map, float* absmax)
    {
        Validate(rows, cols, blockSize);
        Rows = rows; Cols = cols; BlockSize = blockSize; NestedBlockSize = 1;
        Packed = packed; Map = map; Absmax = absmax;
    }

    /// <summary>A double-quantized NF4 weight (U8 absmax codes + nested scales).</summary>
    public Nf4Matrix(int rows, int cols, int blockSize, byte* packed, float* map, byte* absmaxCodes,
        float* nested, float* nestedMap, float nestedOffset, int nestedBlockSize)
    {
        Validate(rows, cols, blockSize);
        if (nestedBlockSize <= 0) throw new ArgumentOutOfRangeException(nameof(nestedBlockSize), nestedBlockSize, "Nested block size must be positive.");
        Rows = rows; Cols = cols; BlockSize = blockSize; NestedBlockSize = nestedBlockSize;
        Packed = packed; Map = map; AbsmaxCodes = absmaxCodes; Nested = nested; NestedMap = nestedMap; NestedOffset = nestedOffset;
    }

    /// <summary>True when absmaxes are stored as 8-bit codes.</summary>
    public bool DoubleQuantized => AbsmaxCodes != null;

    /// <summary>Total elements rows·cols.</summary>
    public long Numel => (long)Rows * Cols;

    /// <summary>Blocks of whole rows: every row starts a block (the real-model case, cols % 64 == 0).</summary>
    public bool RowAligned => Cols % BlockSize == 0 && BlockSize % 32 == 0;

    /// <summary>absmax of block <paramref name="b"/>, decoded from the nested code when double-quantized.</summary>
    public float BlockAbsmax(long b) =>
        AbsmaxCodes == null ? Absmax[b] : NestedMap[AbsmaxCodes[b]] * Nested[b / NestedBlockSize] + NestedOffset;

    /// <summary>Ŵ at flat index e (scalar, for edges and the general path).</summary>
    public float At(long e)
    {
        int v = Packed[e >> 1];
        return Map[(e & 1) == 0 ? v >> 4 : v & 15] * BlockAbsmax(e / BlockSize);
    }

    private static void Validate(int rows, int cols, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (blockSize <= 0 || blockSize % 2 != 0) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "NF4 block size must be a positive even number.");
    }
}

/// <summary>A row-wise INT8 weight [rows, cols]: I8 values and F32 row absmax (SCB).</summary>
public readonly unsafe struct Int8Matrix
{
    /// <summary>Rows (output features) and columns (input features).</summary>
    public readonly int Rows, Cols;
    /// <summary>I8 [rows, cols] row-major.</summary>
    public readonly sbyte* Values;
    /// <summary>F32 [rows] row absmax.</summary>
    public readonly float* Scb;

    /// <summary>Wraps the two components.</summary>
    public Int8Matrix(int rows, int cols, sbyte* values, float* scb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        Rows = rows; Cols = cols; Values = values; Scb = scb;
    }

    /// <summary>Scale of row r: scb[r] / 127.</summary>
    public float RowScale(int r) => Scb[r] * (1f / 127f);
}

/// <summary>Pieces shared by the dequant-GEMV kernels (<see cref="SimdNf4Gemv"/>, <see cref="SimdInt8Gemv"/>).</summary>
internal static unsafe class QuantGemvCommon
{
    /// <summary>Checks the pointers; false when there is nothing to do (m = 0).</summary>
    public static bool Prologue(int m, float* x, float* y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (m == 0) return false;
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        return true;
    }

    /// <summary>Vector width in bits the kernels use now: 512 (AVX-512), 256 (AVX2 + FMA) or 0 (scalar).</summary>
    public static int Width()
    {
        var level = GemmIsa.Current;
        return level == GemmSimdLevel.Vector512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 512
            : level >= GemmSimdLevel.Vector256 && System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported ? 256
            : 0;
    }

    /// <summary>Y[j, r] (=|+=) scale·s_j for the first <paramref name="mm"/> of the four row sums.</summary>
    public static void Store(float* y, int ldy, int r, int mm, bool accumulate, float scale, float s0, float s1, float s2, float s3)
    {
        Span<float> s = [s0, s1, s2, s3];
        for (int j = 0; j < mm; j++)
        {
            float* dst = y + (long)j * ldy + r;
            *dst = accumulate ? *dst + s[j] * scale : s[j] * scale;
        }
    }
}
