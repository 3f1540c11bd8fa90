// Fused LoRA products on ILGPU (GPU form of PureLlama.Kernels.Simd.SimdLora).
//
// Math: x [m, in], A [r, in], B [out, r], h, g [m, r], y, dy [m, out], dA [r, in], dB [out, r]:
//   forward:  h[i,k]  = s·Σ_j x[i,j]·A[k,j]      y[i,o] += Σ_k h[i,k]·B[o,k]
//   backward: g[i,k]  = s·Σ_o dy[i,o]·B[o,k]     dx[i,j] = Σ_k g[i,k]·A[k,j]
//             dA[k,j] = Σ_i g[i,k]·x[i,j]        dB[o,k] = Σ_i dy[i,o]·h[i,k]
// Thread mapping: one thread per output element, grid-stride; the fastest index is the output
// column, so neighbouring threads read neighbouring elements of the row-major operand walked
// along its rows (A rows in h, B rows in y, x/dy columns in dA/dB). The rank-r inner loops
// (y, dx) read r contiguous values of h/g per thread; the long reductions accumulate in F32.
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>LoRA forward and backward products for a small rank r on ILGPU.</summary>
public static class GpuLora
{
    /// <summary>h = s·x·Aᵀ; y += h·Bᵀ.</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> a, ArrayView<float> b, float s,
        ArrayView<float> h, ArrayView<float> y, int m, int inF, int outF, int r)
    {
        var k = GpuKernelCache.For(stream);
        Check(m, inF, outF, r);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>(DownKernel)
            (stream, k.Stride((long)m * r), x, a, h, m, inF, r, s);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(UpKernel)
            (stream, k.Stride((long)m * outF), h, b, y, m, outF, r);
    }

    /// <summary>g = s·dy·B; dx = g·A (skipped when dx is empty); dA = gᵀ·x; dB = dyᵀ·h.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> h, float s, ArrayView<float> g, ArrayView<float> dx, ArrayView<float> dA, ArrayView<float> dB, int m, int inF, int outF, int r)
    {
        var k = GpuKernelCache.For(stream);
        Check(m, inF, outF, r);
        // g[i,k] = s·Σ_o dy[i,o]·B[o,k] is DownKernel's product with B read column-wise: its own kernel.
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>(GradHiddenKernel)
            (stream, k.Stride((long)m * r), dy, b, g, m, outF, r, s);
        if (dx.Length > 0)
            k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(GradInputKernel)
                (stream, k.Stride((long)m * inF), g, a, dx, m, inF, r);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(OuterSumKernel)
            (stream, k.Stride((long)r * inF), g, x, dA, m, r, inF);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(OuterSumTransposedKernel)
            (stream, k.Stride((long)outF * r), dy, h, dB, m, outF, r);
    }

    private static void Check(int m, int inF, int outF, int r)
    {
        long most = Math.Max(Math.Max((long)m * inF, (long)m * outF), (long)outF * r);
        if (most > int.MaxValue / 2) throw new ArgumentException($"LoRA over m={m}, in={inF}, out={outF}, r={r} exceeds 2^30 elements in one call.");
    }

    /// <summary>h[i,k] = s·Σ_j x[i,j]·A[k,j]; one thread per (i, k).</summary>
    [GpuKernel]
    internal static void DownKernel(ArrayView<float> x, ArrayView<float> a, ArrayView<float> h, int m, int inF, int r, float s)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < m * r; p += stride)
        {
            int i = p / r, k = p - i * r;
            long xi = (long)i * inF, ak = (long)k * inF;
            float acc = 0f;
            for (int j = 0; j < inF; j++) acc += x[xi + j] * a[ak + j];
            h[p] = s * acc;
        }
    }

    /// <summary>y[i,o] += Σ_k h[i,k]·B[o,k]; one thread per (i, o).</summary>
    [GpuKernel]
    internal static void UpKernel(ArrayView<float> h, ArrayView<float> b, ArrayView<float> y, int m, int outF, int r)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < m * outF; p += stride)
        {
            int i = p / outF, o = p - i * outF;
            long hi = (long)i * r, bo = (long)o * r;
            float acc = 0f;
            for (int k = 0; k < r; k++) acc += h[hi + k] * b[bo + k];
            y[p] += acc;
        }
    }

    /// <summary>g[i,k] = s·Σ_o dy[i,o]·B[o,k]; one thread per (i, k).</summary>
    [GpuKernel]
    internal static void GradHiddenKernel(ArrayView<float> dy, ArrayView<float> b, ArrayView<float> g, int m, int outF, int r, float s)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < m * r; p += stride)
        {
            int i = p / r, k = p - i * r;
            long dyi = (long)i * outF;
            float acc = 0f;
            for (int o = 0; o < outF; o++) acc += dy[dyi + o] * b[(long)o * r + k];
            g[p] = s * acc;
        }
    }

    /// <summary>dx[i,j] = Σ_k g[i,k]·A[k,j]; one thread per (i, j).</summary>
    [GpuKernel]
    internal static void GradInputKernel(ArrayView<float> g, ArrayView<float> a, ArrayView<float> dx, int m, int inF, int r)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < m * inF; p += stride)
        {
            int i = p / inF, j = p - i * inF;
            long gi = (long)i * r;
            float acc = 0f;
            for (int k = 0; k < r; k++) acc += g[gi + k] * a[(long)k * inF + j];
            dx[p] = acc;
        }
    }

    /// <summary>dA[k,j] = Σ_i g[i,k]·x[i,j] (g: [m, r], x: [m, in]); one thread per (k, j).</summary>
    [GpuKernel]
    internal static void OuterSumKernel(ArrayView<float> g, ArrayView<float> x, ArrayView<float> dA, int m, int r, int inF)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < r * inF; p += stride)
        {
            int k = p / inF, j = p - k * inF;
            float acc = 0f;
            for (int i = 0; i < m; i++) acc += g[(long)i * r + k] * x[(long)i * inF + j];
            dA[p] = acc;
        }
    }

    /// <summary>dB[o,k] = Σ_i dy[i,o]·h[i,k] (dy: [m, out], h: [m, r]); one thread per (o, k).</summary>
    [GpuKernel]
    internal static void OuterSumTransposedKernel(ArrayView<float> dy, ArrayView<float> h, ArrayView<float> dB, int m, int outF, int r)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < outF * r; p += stride)
        {
            int o = p / r, k = p - o * r;
            float acc = 0f;
            for (int i = 0; i < m; i++) acc += dy[(long)i * outF + o] * h[(long)i * r + k];
            dB[p] = acc;
        }
    }
}
