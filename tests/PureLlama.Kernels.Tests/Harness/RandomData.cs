using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Tests.Harness;

/// <summary>
/// Seeded random test inputs. Every test derives its seed from its own name and shape
/// (<see cref="Seed"/>), so inputs are fresh per test yet identical run to run.
/// </summary>
public static class RandomData
{
    /// <summary>A stable seed from the test's name and sizes (see <see cref="Reference.StableSeed"/>).</summary>
    public static int Seed(string name, params int[] parts) => Reference.StableSeed.Of(name, parts);

    /// <summary>Uniform floats in [lo, hi).</summary>
    public static float[] Uniform(int seed, long n, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (long i = 0; i < n; i++) x[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return x;
    }

    /// <summary>Normal floats (Box–Muller) with the given mean and standard deviation.</summary>
    public static float[] Normal(int seed, long n, float std = 1f, float mean = 0f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (long i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = mean + std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return x;
    }

    /// <summary>Uniform floats in [lo, hi) whose magnitude is at least <paramref name="minAbs"/> (never zero).</summary>
    public static float[] NonZero(int seed, long n, float minAbs = 0.1f, float maxAbs = 2f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (long i = 0; i < n; i++)
        {
            float mag = minAbs + (float)rng.NextDouble() * (maxAbs - minAbs);
            x[i] = rng.Next(2) == 0 ? mag : -mag;
        }
        return x;
    }

    /// <summary>Uniform integers in [lo, hiExclusive).</summary>
    public static int[] Ints(int seed, long n, int lo, int hiExclusive)
    {
        var rng = new Random(seed);
        var x = new int[n];
        for (long i = 0; i < n; i++) x[i] = rng.Next(lo, hiExclusive);
        return x;
    }

    /// <summary>Uniform values in [lo, hi) rounded to bf16 bits.</summary>
    public static ushort[] UniformBf16(int seed, long n, float lo = -1f, float hi = 1f) => ToBf16(Uniform(seed, n, lo, hi));

    /// <summary>f32 → bf16 bits (round to nearest even) for every element.</summary>
    public static ushort[] ToBf16(float[] x)
    {
        var y = new ushort[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = Bf16.FromFloat(x[i]);
        return y;
    }

    /// <summary>bf16 bits → f32 (exact) for every element.</summary>
    public static float[] FromBf16(ushort[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = Bf16.ToFloat(x[i]);
        return y;
    }

    /// <summary>Rounds each value through bf16 and back, so references can see exactly what a bf16 kernel sees.</summary>
    public static float[] RoundThroughBf16(float[] x) => FromBf16(ToBf16(x));
}
