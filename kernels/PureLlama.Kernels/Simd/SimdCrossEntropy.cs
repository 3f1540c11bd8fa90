using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Softmax cross-entropy over a vocabulary, fused (the probabilities are never stored).
/// logits, dlogits: [rows, vocab]; targets, loss, lse: [rows].
/// <code>
/// forward:  m = max_v logits[r,v];  lse[r] = m + log Σ_v exp(logits[r,v] − m)
///           loss[r] = lse[r] − logits[r, t_r]            (0 when t_r = ignoreIndex)
/// backward: dlogits[r,v] = scale·(exp(logits[r,v] − lse[r]) − [v = t_r])   (all 0 when t_r = ignoreIndex)
/// </code>
/// lse is written for every row, ignored ones included. The caller chooses scale, typically
/// 1/(number of non-ignored targets over the whole batch, across micro-batches). dlogits may alias
/// logits (the backward then overwrites the logits in place, saving a [rows, vocab] buffer).
/// </summary>
public static unsafe class SimdCrossEntropy
{
    /// <summary>Per-row loss and log-sum-exp.</summary>
    public static void Forward(float* logits, int* targets, float* loss, float* lse, int rows, int vocab, int ignoreIndex) =>
        ParallelWork.Rows(rows, vocab, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float* xr = logits + (long)r * vocab;
                float m = TensorPrimitives.Max(new ReadOnlySpan<float>(xr, vocab));
                float l = m + MathF.Log(SimdSoftmax.ExpShifted(xr, null, vocab, m));
                lse[r] = l;
                int t = targets[r];
                loss[r] = t == ignoreIndex ? 0f : l - xr[t];
            }
        });

    /// <summary>Gradient of scale·Σ_r loss[r] with respect to the logits.</summary>
    public static void Backward(float* logits, int* targets, float* lse, float* dlogits, int rows, int vocab, int ignoreIndex, float scale) =>
        ParallelWork.Rows(rows, vocab, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float* xr = logits + (long)r * vocab, dr = dlogits + (long)r * vocab;
                int t = targets[r];
                if (t == ignoreIndex) { new Span<float>(dr, vocab).Clear(); continue; }
                float l = lse[r];
                float target = xr[t]; // read before a possible in-place overwrite
                int v = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512<float> vl = Vector512.Create(l), vs = Vector512.Create(scale);
                    for (; v <= vocab - 16; v += 16) Vector512.Store(vs * Vector512.Exp(Vector512.Load(xr + v) - vl), dr + v);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> vl = Vector256.Create(l), vs = Vector256.Create(scale);
                    for (; v <= vocab - 8; v += 8) Vector256.Store(vs * Vector256.Exp(Vector256.Load(xr + v) - vl), dr + v);
                }
                for (; v < vocab; v++) dr[v] = scale * MathF.Exp(xr[v] - l);
                dr[t] = scale * (MathF.Exp(target - l) - 1f);
            }
        });
}
