using PureLlama.Kernels.Numerics;
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Tests;

/// <summary>Tests that switch <see cref="GemmIsa.Override"/> run in this collection, one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class MatmulIsaCollection
{
    public const string Name = "Matmul ISA override";
}

/// <summary>Sets <see cref="GemmIsa.Override"/> for a scope and restores Auto afterwards.</summary>
public sealed class IsaScope : IDisposable
{
    public IsaScope(GemmSimdLevel level) => GemmIsa.Override = level;
    public void Dispose() => GemmIsa.Override = GemmSimdLevel.Auto;
}

public static class MatmulTestSupport
{
    /// <summary>Uniform values in [-1, 1) with no exact zeros.</summary>
    public static float[] Random(Random rng, long count)
    {
        var x = new float[count];
        for (long i = 0; i < count; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            x[i] = v == 0 ? 0.5f : v;
        }
        return x;
    }

    public static float[] Nan(long count)
    {
        var x = new float[count];
        Array.Fill(x, float.NaN);
        return x;
    }

    public static ushort[] ToBf16(float[] x) => Array.ConvertAll(x, Bf16.FromFloat);

    public static double[] Bf16ToDouble(ushort[] x) => Array.ConvertAll(x, h => (double)Bf16.ToFloat(h));

    /// <summary>Elements of a row-major [rows, ld] buffer in columns ≥ cols that are not NaN.</summary>
    public static int TouchedPadding(float[] buffer, int rows, int cols, int ld)
    {
        int touched = 0;
        for (int i = 0; i < rows; i++)
            for (int j = cols; j < ld; j++)
                if (!float.IsNaN(buffer[(long)i * ld + j])) touched++;
        return touched;
    }

    /// <summary>Adds a row-major [rows, ld] initial buffer into a dense [rows, cols] reference.</summary>
    public static void AddInitial(double[] reference, float[] initial, int rows, int cols, int ld)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                reference[(long)i * cols + j] += initial[(long)i * ld + j];
    }
}
