using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using PureLlama.Kernels.Gpu;

namespace PureLlama.Kernels.Tests.Gpu;

// Shared pieces of the GPU matmul tests: accelerators (ILGPU's CPU simulator always, CUDA when
// present), the float64 reference, random operands, and one runner that poisons C and checks
// both the result and the untouched padding.

/// <summary>The ILGPU CPU accelerator, created once for the GPU matmul test classes.</summary>
public sealed class GpuMatmulCpuFixture : IDisposable
{
    public GpuMatmulCpuFixture()
    {
        // 8 warps of 32 threads: group sizes up to 256, lanes as on a GPU.
        Context = Context.Create(b => b.CPU(new CPUDevice(32, 8, 2)));
        Accelerator = Context.CreateCPUAccelerator(0);
        Matmul = new GpuMatmul(Accelerator);
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public GpuMatmul Matmul { get; }

    public void Dispose()
    {
        Matmul.Dispose();
        Accelerator.Dispose();
        Context.Dispose();
    }
}

/// <summary>The first CUDA device, or null when there is none (tests then skip).</summary>
public sealed class GpuMatmulCudaFixture : IDisposable
{
    public GpuMatmulCudaFixture()
    {
        if (!CudaProbe.Available) return;
        Context = Context.Create(b => b.Cuda());
        Accelerator = Context.GetCudaDevice(0).CreateAccelerator(Context);
        Matmul = new GpuMatmul(Accelerator);
    }

    public Context? Context { get; }
    public Accelerator? Accelerator { get; }
    public GpuMatmul? Matmul { get; }

    public void Dispose()
    {
        Matmul?.Dispose();
        Accelerator?.Dispose();
        Context?.Dispose();
    }
}

/// <summary>Whether a CUDA device can be opened (driver resolved through <see cref="CudaDriverLoader"/>).</summary>
public static class CudaProbe
{
    private static readonly Lazy<bool> Probe = new(() =>
    {
        try
        {
            CudaDriverLoader.Register();
            using var context = Context.Create(b => b.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception)
        {
            return false;
        }
    });

    public static bool Available => Probe.Value;
}

/// <summary>A fact that is skipped, with its reason shown, when no CUDA device is present.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaProbe.Available) Skip = "no CUDA device on this machine (GPU matmul checked on the ILGPU CPU accelerator instead)";
    }
}

/// <summary>Operand storage kinds of one GEMM call.</summary>
public enum MatmulKind
{
    F32,
    F32Bf16,
    Bf16,
    /// <summary>Bf16 forced through the tensor-core kernel's tiling (emulated mma off CUDA).</summary>
    Bf16TensorCoreLayout,
    /// <summary>Bf16 through the PTX-builder kernel (CUDA sm_80+ only; A [m,k], B [n,k]).</summary>
    Bf16Ptx,
}

/// <summary>One GEMM problem: shape, layout, padding of leading dimensions, accumulate.</summary>
public readonly record struct MatmulCase(int M, int N, int K, bool TransA, bool TransB, bool Accumulate, int Pad = 0)
{
    public int Lda => (TransA ? M : K) + Pad;
    public int Ldb => (TransB ? K : N) + Pad;
    public int Ldc => N + Pad;
    public override string ToString() =>
        $"m={M} n={N} k={K} A{(TransA ? "ᵀ" : "")} B{(TransB ? "ᵀ" : "")} acc={Accumulate} pad={Pad}";
}

public static class GpuMatmulCheck
{
    /// <summary>Round-to-nearest-even f32 → bf16 bits.</summary>
    public static ushort ToBf16(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    public static float FromBf16(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    /// <summary>
    /// Plain float64 triple loop: C[i,j] = C0[i,j]·acc + Σ_k op(A)[i,k]·op(B)[k,j] over the
    /// stored (already bf16-rounded where relevant) operands.
    /// </summary>
    public static double[] Reference(MatmulCase t, float[] a, float[] b, float[] c0)
    {
        var r = new double[t.M * t.N];
        for (int i = 0; i < t.M; i++)
            for (int j = 0; j < t.N; j++)
            {
                double sum = t.Accumulate ? c0[i * t.Ldc + j] : 0.0;
                for (int k = 0; k < t.K; k++)
                {
                    double x = a[t.TransA ? k * t.Lda + i : i * t.Lda + k];
                    double y = b[t.TransB ? j * t.Ldb + k : k * t.Ldb + j];
                    sum += x * y;
                }
                r[i * t.N + j] = sum;
            }
        return r;
    }

    /// <summary>
    /// Runs one case on the accelerator with fresh random operands (seeded), C poisoned with NaN
    /// (random values in the M×N region when accumulating), and returns ‖out−ref‖/‖ref‖.
    /// Fails the test if any padding element of C (column ≥ N) stopped being NaN.
    /// </summary>
    public static double Run(Accelerator accelerator, GpuMatmul matmul, MatmulKind kind, MatmulCase t, int seed)
    {
        var rng = new Random(seed);
        int aLen = (t.TransA ? t.K : t.M) * t.Lda, bLen = (t.TransB ? t.N : t.K) * t.Ldb, cLen = t.M * t.Ldc;
        var a = RandomArray(rng, aLen);
        var b = RandomArray(rng, bLen);
        var c0 = new float[cLen];
        Array.Fill(c0, float.NaN);
        if (t.Accumulate)
            for (int i = 0; i < t.M; i++)
                for (int j = 0; j < t.N; j++)
                    c0[i * t.Ldc + j] = (float)(rng.NextDouble() * 2 - 1);

        bool aBf16 = kind is MatmulKind.Bf16 or MatmulKind.Bf16TensorCoreLayout or MatmulKind.Bf16Ptx;
        bool bBf16 = kind != MatmulKind.F32;
        var aBits = new ushort[aLen];
        var bBits = new ushort[bLen];
        if (aBf16) RoundToBf16(a, aBits);
        if (bBf16) RoundToBf16(b, bBits);

        using var dc = accelerator.Allocate1D(c0);
        using var daF = accelerator.Allocate1D(a);
        using var dbF = accelerator.Allocate1D(b);
        using var daU = accelerator.Allocate1D(aBits);
        using var dbU = accelerator.Allocate1D(bBits);
        var s = accelerator.DefaultStream;
        switch (kind)
        {
            case MatmulKind.F32:
                matmul.F32(s, t.M, t.N, t.K, daF.View, t.Lda, t.TransA, dbF.View, t.Ldb, t.TransB, dc.View, t.Ldc, t.Accumulate);
                break;
            case MatmulKind.F32Bf16:
                matmul.F32Bf16(s, t.M, t.N, t.K, daF.View, t.Lda, t.TransA, dbU.View, t.Ldb, t.TransB, dc.View, t.Ldc, t.Accumulate);
                break;
            case MatmulKind.Bf16:
                matmul.Bf16(s, t.M, t.N, t.K, daU.View, t.Lda, t.TransA, dbU.View, t.Ldb, t.TransB, dc.View, t.Ldc, t.Accumulate);
                break;
            case MatmulKind.Bf16TensorCoreLayout:
                matmul.Bf16TensorCoreLayout(s, t.M, t.N, t.K, daU.View, t.Lda, dbU.View, t.Ldb, dc.View, t.Ldc, t.Accumulate);
                break;
            case MatmulKind.Bf16Ptx:
                matmul.Bf16Ptx(s, t.M, t.N, t.K, daU.View, t.Lda, dbU.View, t.Ldb, dc.View, t.Ldc, t.Accumulate);
                break;
        }
        s.Synchronize();
        var c = dc.GetAsArray1D();

        var expected = Reference(t, a, b, c0);
        double num = 0, den = 0;
        for (int i = 0; i < t.M; i++)
        {
            for (int j = 0; j < t.N; j++)
            {
                double d = c[i * t.Ldc + j] - expected[i * t.N + j];
                num += d * d;
                den += expected[i * t.N + j] * expected[i * t.N + j];
            }
            for (int j = t.N; j < t.Ldc; j++)
                float.IsNaN(c[i * t.Ldc + j]).Should().BeTrue($"padding C[{i},{j}] (ldc={t.Ldc} > n={t.N}) must not be written ({kind}, {t})");
        }
        double err = Math.Sqrt(num / den);
        return double.IsNaN(err) ? double.PositiveInfinity : err;
    }

    private static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void RoundToBf16(float[] values, ushort[] bits)
    {
        for (int i = 0; i < values.Length; i++)
        {
            bits[i] = ToBf16(values[i]);
            values[i] = FromBf16(bits[i]); // the reference sees exactly what the kernel reads
        }
    }

    /// <summary>Every (transA, transB) pair.</summary>
    public static IEnumerable<(bool TransA, bool TransB)> Transposes()
    {
        yield return (false, false);
        yield return (true, false);
        yield return (false, true);
        yield return (true, true);
    }
}
