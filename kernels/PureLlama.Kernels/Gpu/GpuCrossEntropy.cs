// Cross-entropy over a vocabulary, forward and backward (GPU form of CrossEntropy in contracts.md).
//
// Forward:  lse[r] = log Σ_c e^(logits[r,c]) (= m + log s with the online max m, sum s);
//           loss[r] = lse[r] − logits[r, t_r], or 0 when t_r = ignoreIndex.
// Backward: dlogits[r,c] = scale·(e^(logits[r,c] − lse[r]) − [c = t_r]); the whole row is 0 when
//           t_r = ignoreIndex.
// Thread mapping: one group per row; threads stride over the vocabulary (128256 for Llama 3:
// ~500 columns per thread at 256 threads), the forward keeping an online (max, sum) per thread
// merged across the group; thread 0 writes loss and lse. The backward is a strided write per row.
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Softmax cross-entropy with an ignore index, on ILGPU.</summary>
internal static class GpuCrossEntropy
{
    /// <summary>Per-row loss and log-sum-exp of logits [rows, vocab] against targets [rows].</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> loss, ArrayView<float> lse,
        int rows, int vocab, int ignoreIndex)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int>(ForwardKernel)
            (stream, k.PerRow(rows), logits, targets, loss, lse, vocab, ignoreIndex);
    }

    /// <summary>dlogits = scale·(softmax − onehot(t)), zero rows where t = ignoreIndex. dlogits may alias logits.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> dlogits,
        int rows, int vocab, int ignoreIndex, float scale)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, float>(BackwardKernel)
            (stream, k.PerRow(rows), logits, targets, lse, dlogits, vocab, ignoreIndex, scale);
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> loss, ArrayView<float> lse, int vocab, int ignoreIndex)
    {
        int r = Grid.IdxX;
        long row = (long)r * vocab;
        float m = float.NegativeInfinity, s = 0f;
        for (int c = Group.IdxX; c < vocab; c += Group.DimX) GpuGroupReduce.OnlineAdd(ref m, ref s, logits[row + c]);
        GpuGroupReduce.GroupOnlineSoftmax(ref m, ref s);
        if (Group.IdxX == 0)
        {
            float l = m + XMath.Log(s);
            lse[r] = l;
            int t = targets[r];
            loss[r] = t == ignoreIndex ? 0f : l - logits[row + t];
        }
    }

    [GpuKernel]
    internal static void BackwardKernel(ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> dlogits, int vocab, int ignoreIndex, float scale)
    {
        int r = Grid.IdxX;
        long row = (long)r * vocab;
        int t = targets[r];
        if (t == ignoreIndex)
        {
            for (int c = Group.IdxX; c < vocab; c += Group.DimX) dlogits[row + c] = 0f;
            return;
        }
        float l = lse[r];
        for (int c = Group.IdxX; c < vocab; c += Group.DimX)
        {
            float p = XMath.Exp(logits[row + c] - l);
            dlogits[row + c] = scale * (c == t ? p - 1f : p);
        }
    }
}
