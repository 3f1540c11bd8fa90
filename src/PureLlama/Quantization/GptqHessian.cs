using System.Numerics.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// Accumulates GPTQ's Hessian of a linear layer's input, H = (2/N)·Σₙ xₙxₙᵀ over the N calibration rows
/// seen so far (float64 [in, in]), batch by batch, so a calibration pipeline can feed it layer inputs
/// as they are produced. Only the lower triangle is accumulated; <see cref="Matrix"/> mirrors it.
/// </summary>
public sealed class GptqHessian
{
    private readonly double[] _sum; // [in, in] Σ x xᵀ (lower triangle)

    /// <summary>An empty accumulator for inputs of <paramref name="columns"/> features.</summary>
    public GptqHessian(int columns)
    {
        if (columns <= 0) throw new ArgumentOutOfRangeException(nameof(columns), columns, "Input features must be positive.");
        Columns = columns;
        _sum = new double[(long)columns * columns];
    }

    /// <summary>Input features (the Hessian is [Columns, Columns]).</summary>
    public int Columns { get; }

    /// <summary>Calibration rows added so far.</summary>
    public long Samples { get; private set; }

    /// <summary>Adds calibration rows x: [rows, in] (row-major F32, e.g. the tokens of a batch).</summary>
    public void Add(ReadOnlySpan<float> x, int rows)
    {
        if (rows < 0 || x.Length != (long)rows * Columns)
            throw new ArgumentException($"Calibration batch has {x.Length} elements, expected [{rows}, {Columns}].", nameof(x));
        const int Chunk = 256;
        int n = Columns;
        var xt = new double[(long)n * Chunk]; // [in, chunk] transposed rows of the chunk
        for (int r0 = 0; r0 < rows; r0 += Chunk)
        {
            int m = Math.Min(Chunk, rows - r0);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++) xt[(long)c * m + r] = x[(r0 + r) * n + c];
            Parallel.For(0, n, i =>
            {
                var xi = xt.AsSpan(i * m, m);
                long row = (long)i * n;
                for (int j = 0; j <= i; j++) _sum[row + j] += TensorPrimitives.Dot<double>(xi, xt.AsSpan(j * m, m));
            });
        }
        Samples += rows;
    }

    /// <summary>H = (2/N)·XᵀX as a full symmetric float64 [in, in] (a copy).</summary>
    public double[] Matrix()
    {
        if (Samples == 0) throw new InvalidOperationException("The Hessian has no calibration rows yet.");
        int n = Columns;
        double f = 2.0 / Samples;
        var h = new double[_sum.Length];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j <= i; j++)
            {
                double v = f * _sum[(long)i * n + j];
                h[(long)i * n + j] = v;
                h[(long)j * n + i] = v;
            }
        });
        return h;
    }
}
