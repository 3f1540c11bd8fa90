using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// Causal GQA attention composed of differentiable ops (batched matmul, additive mask, softmax),
/// used until the fused <c>Ops.Attention</c> lands. q: [T, nHeads, d], k, v: [L, nKvHeads, d];
/// query i sits at position queryOffset + i and sees keys j ≤ queryOffset + i. Returns [T, nHeads, d].
/// </summary>
internal static class AttentionFallback
{
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int queryOffset, float scale)
    {
        using var tmp = new Temporaries();
        int t = q.Shape[0], heads = q.Shape[1], d = q.Shape[2];
        int len = k.Shape[0], kvHeads = k.Shape[1], group = heads / kvHeads;
        // q [T, nKv, group, d] → [nKv, group, T, d] → [nKv, group·T, d]
        var q4 = tmp.Add(q.Reshape(t, kvHeads, group, d));
        var qa = tmp.Add(q4.Transpose(0, 1));
        var qb = tmp.Add(qa.Transpose(1, 2));
        var qc = tmp.Add(Ops.Contiguous(qb));
        var qm = tmp.Add(qc.Reshape(kvHeads, group * t, d));
        var ka = tmp.Add(k.Transpose(0, 1));
        var kt = tmp.Add(Ops.Contiguous(ka));            // [nKv, L, d]
        var va = tmp.Add(v.Transpose(0, 1));
        var vt = tmp.Add(Ops.Contiguous(va));            // [nKv, L, d]
        var s = tmp.Add(Ops.MatMul(qm, kt, transB: true)); // [nKv, group·T, L]
        var ss = tmp.Add(Ops.Scale(s, scale));
        var maskData = new float[(long)group * t * len];
        for (int r = 0; r < group * t; r++)
        {
            int pos = queryOffset + r % t;
            for (int j = pos + 1; j < len; j++) maskData[(long)r * len + j] = -1e30f;
        }
        var mask = tmp.Add(Tensor.FromArray(maskData, new Shape(group * t, len), q.Device));
        var sm = tmp.Add(Ops.Add(ss, mask));
        var p = tmp.Add(Ops.Softmax(sm));
        var o = tmp.Add(Ops.MatMul(p, vt));               // [nKv, group·T, d]
        var o4 = tmp.Add(o.Reshape(kvHeads, group, t, d));
        var oa = tmp.Add(o4.Transpose(1, 2));             // [nKv, T, group, d]
        var ob = tmp.Add(oa.Transpose(0, 1));             // [T, nKv, group, d]
        var oc = tmp.Add(Ops.Contiguous(ob));
        return oc.Reshape(t, heads, d);
    }
}
