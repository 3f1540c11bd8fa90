// Softmax over the last dimension, forward and backward (GPU form of Softmax in contracts.md).
//
// Forward:  y[r,c] = e^(x[r,c] − m_r) / s_r, with m_r = max_c x and s_r = Σ_c e^(x − m_r).
// Backward: dx[r,c] = y[r,c]·(dy[r,c] − Σ_c dy·y).
// Thread mapping: one group per row. Forward: each thread keeps an online (max, sum) over its
// strided columns (one read of the row), the group combines the pairs (GpuGroupReduce
// .GroupOnlineSoftmax), then threads stride again to write y. Backward: a group sum of dy·y,
// then a strided write. y may alias x; dx may alias dy.
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Row softmax on ILGPU.</summary>
internal static class GpuSoftmax
{
    /// <summary>y = softmax(x) per row of x [rows, cols].</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int rows, int cols)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, int>(ForwardKernel)
            (stream, k.PerRow(rows), x, y, cols);
    }

    /// <summary>dx = y·(dy − Σ dy·y) per row.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int rows, int cols)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(BackwardKernel)
            (stream, k.PerRow(rows), y, dy, dx, cols);
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> y, int cols)
    {
        long row = (long)Grid.IdxX * cols;
        float m = float.NegativeInfinity, s = 0f;
        for (int c = Group.IdxX; c < cols; c += Group.DimX) GpuGroupReduce.OnlineAdd(ref m, ref s, x[row + c]);
        GpuGroupReduce.GroupOnlineSoftmax(ref m, ref s);
        float inv = 1f / s;
        for (int c = Group.IdxX; c < cols; c += Group.DimX) y[row + c] = XMath.Exp(x[row + c] - m) * inv;
    }

    [GpuKernel]
    internal static void BackwardKernel(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int cols)
    {
        long row = (long)Grid.IdxX * cols;
        float dot = 0f;
        for (int c = Group.IdxX; c < cols; c += Group.DimX) dot += dy[row + c] * y[row + c];
        dot = GpuGroupReduce.GroupSum(dot);
        for (int c = Group.IdxX; c < cols; c += Group.DimX) dx[row + c] = y[row + c] * (dy[row + c] - dot);
    }
}
