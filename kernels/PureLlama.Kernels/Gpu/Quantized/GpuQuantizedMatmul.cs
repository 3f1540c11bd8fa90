using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Blocks;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// An NF4 weight Ŵ [<paramref name="Out"/>, <paramref name="In"/>] in device memory, bitsandbytes layout
/// (see <c>PureLlama.Tensors.Nf4Tensor</c>). Plain: <paramref name="Absmax"/> F32 [blocks] and no nested views.
/// Double-quantized: <paramref name="AbsmaxCodes"/> U8 [blocks], <paramref name="NestedAbsmax"/> F32
/// [⌈blocks/<paramref name="NestedBlockSize"/>⌉], <paramref name="NestedQuantMap"/> F32 [256] and <paramref name="NestedOffset"/>.
/// </summary>
internal readonly record struct Nf4DeviceWeight(
    int Out, int In, int BlockSize,
    ArrayView<byte> Packed, ArrayView<float> QuantMap,
    ArrayView<float> Absmax, ArrayView<byte> AbsmaxCodes,
    ArrayView<float> NestedAbsmax, ArrayView<float> NestedQuantMap, float NestedOffset, int NestedBlockSize = 256)
{
    /// <summary>True when the absmaxes are 8-bit codes.</summary>
    public bool DoubleQuantized => AbsmaxCodes.Length > 0;
}

/// <summary>An INT8 weight Ŵ = q·SCB[row]/127 in device memory: q I8 [<paramref name="Out"/>, <paramref name="In"/>], SCB F32 [Out].</summary>
internal readonly record struct Int8DeviceWeight(int Out, int In, ArrayView<sbyte> Values, ArrayView<float> RowAbsmax);

/// <summary>A ggml block-format weight in device memory: the GGUF bytes U8 [<paramref name="Out"/> · rowBytes], rows of <paramref name="In"/> values.</summary>
internal readonly record struct GgmlBlockDeviceWeight(int Out, int In, ArrayView<byte> Blocks);

/// <summary>
/// Dequant-matmul and dequantization of NF4 / INT8 / ggml block-format weights on an ILGPU accelerator (kernels in
/// Gpu/Quantized). Products: y[m, out] (=|+=) x[m, in]·Ŵᵀ, or with <c>transposeWeight</c>
/// y[m, in] (=|+=) x[m, out]·Ŵ; x and y row-major, contiguous. Forward products with m ≤ 4 use
/// the warp-per-row GEMV, the rest the tiled GEMM with Ŵ dequantized into shared memory.
/// Launches are asynchronous on the given stream. Indices are 32-bit.
/// </summary>
internal static class GpuQuantizedMatmul
{
    /// <summary>Largest m that takes the GEMV path.</summary>
    public const int MaxGemvRows = 4;

    // Grid-stride loops and GEMV word steps may run this far past n before stopping.
    private const long IndexHeadroom = 1L << 24;

    /// <summary>y (=|+=) x·Ŵᵀ (x [m, in], y [m, out]) or x·Ŵ (transposeWeight: x [m, out], y [m, in]).</summary>
    public static void Nf4(AcceleratorStream stream, in Nf4DeviceWeight w, ArrayView<float> x, ArrayView<float> y, int m, bool transposeWeight, bool accumulate) =>
        Product(stream, Operand(w), w.Out, w.In, x, y, m, transposeWeight, accumulate, GpuNf4Gemv.Kernel, GpuQuantGemm.Nf4Kernel);

    /// <summary>INT8 form of <see cref="Nf4"/>.</summary>
    public static void Int8(AcceleratorStream stream, in Int8DeviceWeight w, ArrayView<float> x, ArrayView<float> y, int m, bool transposeWeight, bool accumulate) =>
        Product(stream, Operand(w), w.Out, w.In, x, y, m, transposeWeight, accumulate, GpuInt8Gemv.Kernel, GpuQuantGemm.Int8Kernel);

    /// <summary>Block-format (<typeparamref name="T"/>: Q8_0, Q4_0, Q4_K, Q6_K) form of <see cref="Nf4"/>.</summary>
    public static void Blocks<T>(AcceleratorStream stream, in GgmlBlockDeviceWeight w, ArrayView<float> x, ArrayView<float> y, int m, bool transposeWeight, bool accumulate)
        where T : struct, IBlockFormat =>
        Product(stream, Operand<T>(w), w.Out, w.In, x, y, m, transposeWeight, accumulate, GpuGgmlBlocks.GemvKernel<T>, GpuGgmlBlocks.GemmKernel<T>);

    /// <summary>dst [out, in] = Ŵ (block format <typeparamref name="T"/>).</summary>
    public static void DequantizeBlocks<T>(AcceleratorStream stream, in GgmlBlockDeviceWeight w, ArrayView<float> dst)
        where T : struct, IBlockFormat
    {
        var op = Operand<T>(w);
        long n = (long)w.Out * w.In;
        if (dst.Length != n) throw new ArgumentException($"{T.Type} dequantize: destination has {dst.Length} elements, the weight [{w.Out}, {w.In}] {n}.", nameof(dst));
        var k = GpuKernelCache.For(stream);
        k.Load<GgmlBlockOperand<T>, ArrayView<float>, int>(GpuGgmlBlocks.DequantizeKernel<T>)
            (stream, k.Stride(n), op, dst, w.Out);
    }

    private static GgmlBlockOperand<T> Operand<T>(in GgmlBlockDeviceWeight w) where T : struct, IBlockFormat
    {
        CheckMatrix(T.Type.ToString(), w.Out, w.In);
        if (w.In % T.BlockValues != 0) throw new ArgumentException($"{T.Type} weight rows of {w.In} values are not whole blocks of {T.BlockValues}.");
        long rowBytes = (long)w.In / T.BlockValues * T.BlockBytes;
        if (rowBytes * w.Out > int.MaxValue - IndexHeadroom)
            throw new ArgumentException($"{T.Type} weight [{w.Out}, {w.In}] has {rowBytes * w.Out} bytes; the GPU kernels index with 32 bits.");
        Need($"{T.Type} blocks", w.Blocks.Length, rowBytes * w.Out);
        return new GgmlBlockOperand<T> { Blocks = w.Blocks, In = w.In, RowBytes = (int)rowBytes, BlockValues = T.BlockValues, BlockBytes = T.BlockBytes };
    }

    /// <summary>Validates the product, then launches the GEMV (forward, m ≤ 4) or the GEMM.</summary>
    private static void Product<TOp>(AcceleratorStream stream, TOp op, int rows, int cols, ArrayView<float> x, ArrayView<float> y,
        int m, bool transposeWeight, bool accumulate,
        Action<QuantGemvShape, ArrayView<float>, TOp, ArrayView<float>> gemv, Action<GemmShape, ArrayView<float>, TOp, ArrayView<float>> gemm)
        where TOp : struct
    {
        CheckProduct(x, y, m, rows, cols, transposeWeight);
        var k = GpuKernelCache.For(stream);
        if (!transposeWeight && m <= MaxGemvRows)
        {
            var shape = new QuantGemvShape { M = m, Out = rows, In = cols, Accumulate = accumulate ? 1 : 0 };
            k.Load(gemv)(stream, GpuNf4Gemv.Config(rows, k.Accelerator.WarpSize), shape, x, op, y);
            return;
        }
        var p = Gemm(m, rows, cols, transposeWeight, accumulate);
        k.Load(gemm)(stream, GpuQuantGemm.Config(p.M, p.N), p, x, op, y);
    }

    /// <summary>dst [out, in] = Ŵ.</summary>
    public static void DequantizeNf4(AcceleratorStream stream, in Nf4DeviceWeight w, ArrayView<float> dst)
    {
        var op = Operand(w);
        int n = w.Out * w.In;
        if (dst.Length != n) throw new ArgumentException($"NF4 dequantize: destination has {dst.Length} elements, the weight [{w.Out}, {w.In}] {n}.", nameof(dst));
        var k = GpuKernelCache.For(stream);
        k.Load<Nf4Operand, ArrayView<float>, int>(GpuQuantDequantize.Nf4Kernel)
            (stream, k.Stride((n + 1) / 2), op, dst, n);
    }

    /// <summary>dst [out, in] = Ŵ.</summary>
    public static void DequantizeInt8(AcceleratorStream stream, in Int8DeviceWeight w, ArrayView<float> dst)
    {
        var op = Operand(w);
        int n = w.Out * w.In;
        if (dst.Length != n) throw new ArgumentException($"INT8 dequantize: destination has {dst.Length} elements, the weight [{w.Out}, {w.In}] {n}.", nameof(dst));
        var k = GpuKernelCache.For(stream);
        k.Load<Int8Operand, ArrayView<float>, int>(GpuQuantDequantize.Int8Kernel)
            (stream, k.Stride(n), op, dst, w.Out);
    }

    private static GemmShape Gemm(int m, int rows, int cols, bool transposeWeight, bool accumulate)
    {
        int n = transposeWeight ? cols : rows, kk = transposeWeight ? rows : cols;
        return new GemmShape
        {
            M = m, N = n, K = kk, Lda = kk, Ldb = cols, Ldc = n,
            TransA = 0, TransB = transposeWeight ? 0 : 1, Accumulate = accumulate ? 1 : 0,
        };
    }

    internal static void CheckProduct(ArrayView<float> x, ArrayView<float> y, int m, int rows, int cols, bool transposeWeight)
    {
        if (m < 1) throw new ArgumentException($"quantized matmul needs at least one row of x, got m = {m}.", nameof(m));
        int xCols = transposeWeight ? rows : cols, yCols = transposeWeight ? cols : rows;
        string form = transposeWeight ? "x·Ŵ" : "x·Ŵᵀ";
        if ((long)m * xCols > int.MaxValue - IndexHeadroom || (long)m * yCols > int.MaxValue - IndexHeadroom)
            throw new ArgumentException($"quantized matmul {form}: x [{m}, {xCols}] or y [{m}, {yCols}] is too large for 32-bit indexing.");
        if (x.Length != (long)m * xCols)
            throw new ArgumentException($"quantized matmul {form} with Ŵ [{rows}, {cols}]: x must hold [{m}, {xCols}] = {(long)m * xCols} elements, has {x.Length}.", nameof(x));
        if (y.Length != (long)m * yCols)
            throw new ArgumentException($"quantized matmul {form} with Ŵ [{rows}, {cols}]: y must hold [{m}, {yCols}] = {(long)m * yCols} elements, has {y.Length}.", nameof(y));
    }

    internal static void CheckMatrix(string format, int rows, int cols)
    {
        if (rows < 1 || cols < 1) throw new ArgumentException($"{format} weight must be [out, in] with both ≥ 1, got [{rows}, {cols}].");
        if ((long)rows * cols > int.MaxValue - IndexHeadroom)
            throw new ArgumentException($"{format} weight [{rows}, {cols}] has {(long)rows * cols} elements; the GPU kernels index with 32 bits (< 2^31 − 2^24).");
    }

    private static Nf4Operand Operand(in Nf4DeviceWeight w)
    {
        CheckMatrix("NF4", w.Out, w.In);
        long n = (long)w.Out * w.In, blocks = (n + w.BlockSize - 1) / Math.Max(1, w.BlockSize);
        if (w.BlockSize < 8 || !BitOperations.IsPow2(w.BlockSize))
            throw new NotSupportedException($"NF4 block size {w.BlockSize}: the GPU kernels need a power of two ≥ 8 (bitsandbytes uses 32…4096).");
        Need("NF4 packed", w.Packed.Length, (n + 1) / 2);
        Need("NF4 quant_map", w.QuantMap.Length, 16);
        int nestedShift = 0;
        if (w.DoubleQuantized)
        {
            if (w.NestedBlockSize < 1 || !BitOperations.IsPow2(w.NestedBlockSize))
                throw new NotSupportedException($"NF4 nested block size {w.NestedBlockSize}: the GPU kernels need a power of two (bitsandbytes uses 256).");
            nestedShift = BitOperations.Log2((uint)w.NestedBlockSize);
            Need("NF4 absmax codes", w.AbsmaxCodes.Length, blocks);
            Need("NF4 nested_absmax", w.NestedAbsmax.Length, (blocks + w.NestedBlockSize - 1) / w.NestedBlockSize);
            Need("NF4 nested_quant_map", w.NestedQuantMap.Length, 256);
        }
        else
        {
            Need("NF4 absmax", w.Absmax.Length, blocks);
        }
        return new Nf4Operand
        {
            Packed = w.Packed, QuantMap = w.QuantMap,
            // Views the plain/double-quantized form does not read still point at valid memory.
            Absmax = w.DoubleQuantized ? w.NestedAbsmax : w.Absmax,
            AbsmaxCodes = w.DoubleQuantized ? w.AbsmaxCodes : w.Packed,
            NestedAbsmax = w.DoubleQuantized ? w.NestedAbsmax : w.Absmax,
            NestedMap = w.DoubleQuantized ? w.NestedQuantMap : w.QuantMap,
            NestedOffset = w.NestedOffset,
            In = w.In,
            BlockShift = BitOperations.Log2((uint)w.BlockSize),
            NestedShift = nestedShift,
            DoubleQuant = w.DoubleQuantized ? 1 : 0,
            Vectorized = GpuMatmul.ElementOffset(w.Packed) % 4 == 0 ? 1 : 0,
        };
    }

    internal static Int8Operand Operand(in Int8DeviceWeight w)
    {
        CheckMatrix("INT8", w.Out, w.In);
        Need("INT8 values", w.Values.Length, (long)w.Out * w.In);
        Need("INT8 SCB (row absmax)", w.RowAbsmax.Length, w.Out);
        return new Int8Operand
        {
            Values = w.Values, Scale = w.RowAbsmax, In = w.In,
            Vectorized = w.In % 4 == 0 && GpuMatmul.ElementOffset(w.Values) % 4 == 0 ? 1 : 0,
        };
    }

    internal static void Need(string what, long actual, long expected)
    {
        if (actual != expected) throw new ArgumentException($"{what} must have {expected} elements, the view has {actual}.");
    }
}
