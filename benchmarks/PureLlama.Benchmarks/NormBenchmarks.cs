using PureLlama.Cli.Bench;
using BenchmarkDotNet.Attributes;
using PureLlama.Kernels.Simd;

namespace PureLlama.Benchmarks;

/// <summary>
/// Row-wise memory-bound kernels: RMSNorm forward/backward and softmax forward over [rows × cols].
/// Throughput counts the bytes each call must read plus write (weights and per-row scalars
/// ignored).
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class NormBenchmarks : IWorkAmount
{
    [Params("4096x2048", "512x32000")]
    public string Shape { get; set; } = "4096x2048";

    private BenchBuffers? _buffers;
    private int _rows, _cols;
    private float* _x, _y, _dy, _dx, _w, _dw, _rstd;

    [GlobalSetup]
    public void Setup()
    {
        (_rows, _cols) = Parse(Shape);
        long n = (long)_rows * _cols;
        _buffers = new BenchBuffers(seed: 1234);
        _x = _buffers.F32(n);
        _dy = _buffers.F32(n);
        _y = _buffers.Zeros(n);
        _dx = _buffers.Zeros(n);
        _w = _buffers.F32(_cols);
        _dw = _buffers.Zeros(_cols);
        _rstd = _buffers.Zeros(_rows);
        SimdRmsNorm.Forward(_x, _w, _y, _rstd, _rows, _cols, 1e-5f);
    }

    [GlobalCleanup]
    public void Cleanup() => _buffers?.Dispose();

    [Benchmark(Description = "RMSNorm fwd")]
    public void RmsNormForward() => SimdRmsNorm.Forward(_x, _w, _y, _rstd, _rows, _cols, 1e-5f);

    [Benchmark(Description = "RMSNorm bwd")]
    public void RmsNormBackward() => SimdRmsNorm.Backward(_dy, _x, _w, _rstd, _dx, _dw, _rows, _cols);

    [Benchmark(Description = "softmax fwd")]
    public void SoftmaxForward() => SimdSoftmax.Forward(_x, _y, _rows, _cols);

    public double Amount(string method, ParameterLookup parameters)
    {
        var (rows, cols) = Parse((string)parameters[nameof(Shape)]!);
        double tensorBytes = (double)rows * cols * sizeof(float);
        return method == nameof(RmsNormBackward) ? 3 * tensorBytes : 2 * tensorBytes;
    }

    public string Unit(string method) => "GB/s";

    private static (int Rows, int Cols) Parse(string shape)
    {
        var p = shape.Split('x').Select(int.Parse).ToArray();
        return (p[0], p[1]);
    }
}
