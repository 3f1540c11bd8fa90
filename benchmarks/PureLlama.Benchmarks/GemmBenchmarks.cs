using PureLlama.Cli.Bench;
using BenchmarkDotNet.Attributes;
using PureLlama.Kernels.Simd;

namespace PureLlama.Benchmarks;

/// <summary>
/// Dense matmul C[m,n] = X[m,k]·W[n,k]ᵀ (a linear layer: weight stored [out, in]), F32 and F32 × BF16
/// weight. The 2048³ square case also runs plain A[m,k]·B[k,n].
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class GemmBenchmarks : IWorkAmount
{
    [Params("2048x2048x2048", "128x2048x2048", "512x4096x4096")]
    public string Shape { get; set; } = "2048x2048x2048";

    private BenchBuffers? _buffers;
    private int _m, _n, _k;
    private float* _x, _w, _c;
    private ushort* _wBf16;

    [GlobalSetup]
    public void Setup()
    {
        (_m, _n, _k) = Parse(Shape);
        _buffers = new BenchBuffers(seed: 1234);
        _x = _buffers.F32((long)_m * _k);
        _w = _buffers.F32((long)_n * _k);
        _wBf16 = _buffers.Bf16((long)_n * _k);
        _c = _buffers.Zeros((long)_m * _n);
    }

    [GlobalCleanup]
    public void Cleanup() => _buffers?.Dispose();

    [Benchmark(Description = "F32 X·Wᵀ")]
    public void F32WeightLayout() => SimdGemm.F32(_m, _n, _k, _x, _k, false, _w, _k, true, _c, _n, false);

    [Benchmark(Description = "F32 A·B")]
    public void F32Plain() => SimdGemm.F32(_m, _n, _k, _x, _k, false, _w, _n, false, _c, _n, false);

    [Benchmark(Description = "F32 X·BF16 Wᵀ")]
    public void F32Bf16WeightLayout() => SimdGemm.F32Bf16(_m, _n, _k, _x, _k, false, _wBf16, _k, true, _c, _n, false);

    public double Amount(string method, ParameterLookup parameters)
    {
        var (m, n, k) = Parse((string)parameters[nameof(Shape)]!);
        return 2.0 * m * n * k;
    }

    public string Unit(string method) => "GFLOP/s";

    private static (int M, int N, int K) Parse(string shape)
    {
        var p = shape.Split('x').Select(int.Parse).ToArray();
        return (p[0], p[1], p[2]);
    }
}
