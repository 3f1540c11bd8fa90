using PureLlama.Cli.Bench;
using BenchmarkDotNet.Attributes;
using PureLlama.Kernels.Simd;

namespace PureLlama.Benchmarks;

/// <summary>
/// Decode GEMV y[n] = W[n,k]·x[k]. Each call takes the next of <see cref="Copies"/> weight buffers
/// so the weights stream from memory rather than from the (32 MB per CCD) L3. Throughput counts
/// weight bytes only.
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class GemvBenchmarks : IWorkAmount
{
    private const int Copies = 6;

    [Params("8192x2048", "4096x4096")]
    public string Shape { get; set; } = "8192x2048";

    private BenchBuffers? _buffers;
    private int _n, _k, _next;
    private float* _x, _y;
    private readonly nint[] _wF32 = new nint[Copies], _wBf16 = new nint[Copies];

    [GlobalSetup]
    public void Setup()
    {
        (_n, _k) = Parse(Shape);
        _buffers = new BenchBuffers(seed: 1234);
        _x = _buffers.F32(_k);
        _y = _buffers.Zeros(_n);
        for (int i = 0; i < Copies; i++)
        {
            _wF32[i] = (nint)_buffers.F32((long)_n * _k);
            _wBf16[i] = (nint)_buffers.Bf16((long)_n * _k);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _buffers?.Dispose();

    [Benchmark(Description = "GEMV F32")]
    public void F32() => SimdGemv.F32(_n, _k, (float*)_wF32[Advance()], _k, _x, _y, false);

    [Benchmark(Description = "GEMV BF16")]
    public void Bf16() => SimdGemv.Bf16(_n, _k, (ushort*)_wBf16[Advance()], _k, _x, _y, false);

    private int Advance()
    {
        int i = _next;
        _next = i + 1 == Copies ? 0 : i + 1;
        return i;
    }

    public double Amount(string method, ParameterLookup parameters)
    {
        var (n, k) = Parse((string)parameters[nameof(Shape)]!);
        return (double)n * k * (method == nameof(Bf16) ? sizeof(ushort) : sizeof(float));
    }

    public string Unit(string method) => "GB/s";

    private static (int N, int K) Parse(string shape)
    {
        var p = shape.Split('x').Select(int.Parse).ToArray();
        return (p[0], p[1]);
    }
}
