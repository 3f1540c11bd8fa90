using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Tests.Harness;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// NF4 / INT8 dequant-matmul and dequantize kernels (Gpu/Quantized) against ReferenceQuant, on
/// ILGPU's CPU accelerator (and CUDA when present). Inputs are random packed bytes, absmax codes and
/// nested scales (every code occurs), shapes ragged so that absmax blocks cross row ends, the
/// packed view is also tried at an odd byte offset (no 32-bit loads), y is poisoned and guarded by
/// NaN padding past its end. m = 1..4 runs the GEMV, larger m and the transposed product the GEMM.
/// </summary>
[Collection("Gpu")]
public sealed class GpuQuantizedMatmulTests
{
    private const double Tol = 1e-5;

    public static TheoryData<string> Devices => GpuTestDevices.Names;

    private static readonly (int Out, int In)[] Shapes = [(5, 70), (3, 130), (9, 64), (2, 7)];
    private static readonly int[] Rows = [1, 2, 4, 19];

    [Theory]
    [MemberData(nameof(Devices))]
    public void Nf4_products_match_reference(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (o, i) in Shapes)
            foreach (bool dq in new[] { false, true })
                foreach (int m in Rows)
                    foreach (bool t in new[] { false, true })
                        RunNf4(acc, o, i, m, t, dq, blockSize: 64, byteOffset: 0, accumulate: (m + o) % 2 == 0);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Nf4_other_block_sizes_and_unaligned_packed_bytes(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (int bs in new[] { 8, 32, 128 })
            foreach (int m in new[] { 1, 3, 19 })
                RunNf4(acc, 3, 130, m, transpose: m == 19, doubleQuant: bs != 32, bs, byteOffset: 0, accumulate: false);
        foreach (var (o, i) in Shapes)
            foreach (int m in new[] { 1, 4, 19 })
                RunNf4(acc, o, i, m, transpose: false, doubleQuant: true, blockSize: 64, byteOffset: 1, accumulate: true);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Int8_products_match_reference(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (o, i) in Shapes)
            foreach (int m in Rows)
                foreach (bool t in new[] { false, true })
                    foreach (int offset in new[] { 0, 1 })
                        RunInt8(acc, o, i, m, t, offset, accumulate: (m + i) % 2 == 1);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Dequantize_matches_reference(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (o, i) in Shapes)
        {
            foreach (bool dq in new[] { false, true })
            {
                using var w = Nf4Case.Random(acc, o, i, 64, dq, 0, RandomData.Seed("nf4 dequant", o, i, dq ? 1 : 0));
                using var dst = acc.Upload(Poison.Floats(o * i));
                GpuQuantizedMatmul.DequantizeNf4(acc.DefaultStream, w.Weight, dst.View);
                ErrorAssert.Close(dst.Download(acc.DefaultStream, o * i), w.Reference(), Tol, $"NF4 dequantize [{o},{i}] dq={dq}");
            }
            using var q = Int8Case.Random(acc, o, i, 0, RandomData.Seed("int8 dequant", o, i));
            using var d8 = acc.Upload(Poison.Floats(o * i));
            GpuQuantizedMatmul.DequantizeInt8(acc.DefaultStream, q.Weight, d8.View);
            ErrorAssert.Close(d8.Download(acc.DefaultStream, o * i), q.Reference(), Tol, $"INT8 dequantize [{o},{i}]");
        }
    }

    [Fact]
    public void Rejects_wrong_lengths_and_block_sizes()
    {
        var acc = GpuTestDevices.Get("ilgpu-cpu");
        using var w = Nf4Case.Random(acc, 5, 70, 64, false, 0, 1);
        using var x = acc.Allocate1D<float>(70);
        using var y = acc.Allocate1D<float>(5);
        var s = acc.DefaultStream;
        var weight = w.Weight;
        FluentActions.Invoking(() => GpuQuantizedMatmul.Nf4(s, weight, x.View.SubView(0, 69), y.View, 1, false, false))
            .Should().Throw<ArgumentException>().WithMessage("*x must hold [1, 70]*has 69*");
        FluentActions.Invoking(() => GpuQuantizedMatmul.Nf4(s, weight, x.View, y.View, 1, true, false))
            .Should().Throw<ArgumentException>().WithMessage("*x·Ŵ*x must hold [1, 5]*");
        var badBlock = weight with { BlockSize = 48 };
        FluentActions.Invoking(() => GpuQuantizedMatmul.Nf4(s, badBlock, x.View, y.View, 1, false, false))
            .Should().Throw<NotSupportedException>().WithMessage("*block size 48*power of two*");
        var shortPacked = weight with { Packed = weight.Packed.SubView(0, 100) };
        FluentActions.Invoking(() => GpuQuantizedMatmul.Nf4(s, shortPacked, x.View, y.View, 1, false, false))
            .Should().Throw<ArgumentException>().WithMessage("*NF4 packed must have 175 elements*100*");
    }

    private static void RunNf4(Accelerator acc, int o, int i, int m, bool transpose, bool doubleQuant, int blockSize, int byteOffset, bool accumulate)
    {
        string what = $"NF4 [{o},{i}] m={m} {(transpose ? "x·Ŵ" : "x·Ŵᵀ")} dq={doubleQuant} block={blockSize} offset={byteOffset} acc={accumulate}";
        int seed = RandomData.Seed("nf4 gpu", o, i, m, transpose ? 1 : 0, doubleQuant ? 1 : 0, blockSize, byteOffset);
        using var w = Nf4Case.Random(acc, o, i, blockSize, doubleQuant, byteOffset, seed);
        Product(acc, o, i, m, transpose, accumulate, seed, w.Reference(),
            (x, y) => GpuQuantizedMatmul.Nf4(acc.DefaultStream, w.Weight, x, y, m, transpose, accumulate), what);
    }

    private static void RunInt8(Accelerator acc, int o, int i, int m, bool transpose, int byteOffset, bool accumulate)
    {
        string what = $"INT8 [{o},{i}] m={m} {(transpose ? "x·Ŵ" : "x·Ŵᵀ")} offset={byteOffset} acc={accumulate}";
        int seed = RandomData.Seed("int8 gpu", o, i, m, transpose ? 1 : 0, byteOffset);
        using var w = Int8Case.Random(acc, o, i, byteOffset, seed);
        Product(acc, o, i, m, transpose, accumulate, seed, w.Reference(),
            (x, y) => GpuQuantizedMatmul.Int8(acc.DefaultStream, w.Weight, x, y, m, transpose, accumulate), what);
    }

    /// <summary>Runs one product on random x (y poisoned, or random when accumulating; 5 NaN guards past y) against the float64 reference.</summary>
    private static void Product(Accelerator acc, int o, int i, int m, bool transpose, bool accumulate, int seed, double[] wRef,
        Action<ArrayView<float>, ArrayView<float>> run, string what)
    {
        int xCols = transpose ? o : i, yCols = transpose ? i : o, yLen = m * yCols;
        var x = RandomData.Uniform(seed + 1, m * xCols);
        var y0 = Poison.Floats(yLen + 5);
        if (accumulate) Array.Copy(RandomData.Uniform(seed + 2, yLen), y0, yLen);
        var xd = Array.ConvertAll(x, v => (double)v);
        var expected = transpose ? ReferenceQuant.MatmulWeight(xd, m, wRef, o, i) : ReferenceQuant.MatmulWeightT(xd, m, wRef, o, i);
        if (accumulate) for (int k = 0; k < yLen; k++) expected[k] += y0[k];
        using var dx = acc.Upload(x);
        using var dy = acc.Upload(y0);
        run(dx.View, dy.View.SubView(0, yLen));
        var y = dy.Download(acc.DefaultStream, yLen + 5);
        ErrorAssert.Close(y.AsSpan(0, yLen), expected, Tol, what);
        for (int k = yLen; k < y.Length; k++) float.IsNaN(y[k]).Should().BeTrue($"{what}: y[{k}] past the end was written");
    }

    /// <summary>A random NF4 weight on the device (packed bytes at <c>byteOffset</c> inside their buffer) and its host copy.</summary>
    private sealed class Nf4Case : IDisposable
    {
        private readonly List<IDisposable> _buffers = [];
        private byte[] _packed = [], _codes = [];
        private float[] _map = [], _absmax = [], _nested = [], _nestedMap = [];
        private float _offset;
        private int _out, _in, _block;
        public Nf4DeviceWeight Weight { get; private set; }

        public static Nf4Case Random(Accelerator acc, int o, int i, int blockSize, bool doubleQuant, int byteOffset, int seed)
        {
            var rng = new Random(seed);
            int n = o * i, blocks = (n + blockSize - 1) / blockSize;
            var c = new Nf4Case { _out = o, _in = i, _block = blockSize };
            c._packed = new byte[(n + 1) / 2];
            rng.NextBytes(c._packed);
            c._map = RandomData.Uniform(seed + 3, 16);
            var packedBuf = c.Keep(acc.Upload([.. new byte[byteOffset], .. c._packed]));
            var mapBuf = c.Keep(acc.Upload(c._map));
            var packed = packedBuf.View.SubView(byteOffset, c._packed.Length);
            if (!doubleQuant)
            {
                c._absmax = RandomData.Uniform(seed + 4, blocks, 0.1f, 2f);
                c.Weight = new Nf4DeviceWeight(o, i, blockSize, packed, mapBuf.View, c.Keep(acc.Upload(c._absmax)).View,
                    default, default, default, 0f);
                return c;
            }
            c._codes = new byte[blocks];
            rng.NextBytes(c._codes);
            c._nested = RandomData.Uniform(seed + 5, (blocks + 255) / 256, 0.5f, 2f);
            c._nestedMap = RandomData.Uniform(seed + 6, 256);
            c._offset = 0.25f + (float)rng.NextDouble();
            c.Weight = new Nf4DeviceWeight(o, i, blockSize, packed, mapBuf.View, default,
                c.Keep(acc.Upload(c._codes)).View, c.Keep(acc.Upload(c._nested)).View, c.Keep(acc.Upload(c._nestedMap)).View, c._offset);
            return c;
        }

        public double[] Reference() => _codes.Length == 0
            ? ReferenceQuant.DequantizeNf4(_packed, _map, _absmax, _block, _out, _in)
            : ReferenceQuant.DequantizeNf4(_packed, _map, _codes, _nested, _nestedMap, _offset, _block, 256, _out, _in);

        private MemoryBuffer1D<T, Stride1D.Dense> Keep<T>(MemoryBuffer1D<T, Stride1D.Dense> b) where T : unmanaged { _buffers.Add(b); return b; }

        public void Dispose() { foreach (var b in _buffers) b.Dispose(); }
    }

    /// <summary>A random INT8 weight on the device (values at <c>byteOffset</c> inside their buffer) and its host copy.</summary>
    private sealed class Int8Case : IDisposable
    {
        private MemoryBuffer1D<sbyte, Stride1D.Dense>? _values;
        private MemoryBuffer1D<float, Stride1D.Dense>? _scale;
        private sbyte[] _q = [];
        private float[] _scb = [];
        private int _out, _in;
        public Int8DeviceWeight Weight { get; private set; }

        public static Int8Case Random(Accelerator acc, int o, int i, int byteOffset, int seed)
        {
            var rng = new Random(seed);
            var c = new Int8Case { _out = o, _in = i };
            c._q = new sbyte[o * i];
            for (int k = 0; k < c._q.Length; k++) c._q[k] = (sbyte)rng.Next(-127, 128);
            c._scb = RandomData.Uniform(seed + 7, o, 0.1f, 3f);
            c._values = acc.Upload([.. new sbyte[byteOffset], .. c._q]);
            c._scale = acc.Upload(c._scb);
            c.Weight = new Int8DeviceWeight(o, i, c._values.View.SubView(byteOffset, c._q.Length), c._scale.View);
            return c;
        }

        public double[] Reference() => ReferenceQuant.DequantizeInt8(_q, _scb, _out, _in);

        public void Dispose() { _values?.Dispose(); _scale?.Dispose(); }
    }
}
