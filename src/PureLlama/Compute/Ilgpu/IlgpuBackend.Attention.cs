using ILGPU;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor? lse, in AttentionSettings settings,
        Tensor? querySegments = null, Tensor? keySegments = null)
    {
        var n = LayerChecks.Attention(this, q, k, v, output, lse, settings, querySegments, keySegments);
        var p = Dims(n, settings, querySegments);
        if (n.Tokens == 0) return;
        // BF16 operands are widened once into F32 device temporaries (the kernels read F32).
        using var q32 = AsF32(q); using var k32 = AsF32(k); using var v32 = AsF32(v);
        var qs = querySegments is null ? ArrayView<int>.Empty : I32(querySegments);
        var ks = keySegments is null ? ArrayView<int>.Empty : I32(keySegments);
        var lseView = lse is null ? ArrayView<float>.Empty : F(lse);
        if (GpuFlashAttention.UseDecode(p))
        {
            int chunks = GpuFlashAttention.DecodeChunks(p);
            using var partO = Temp(new Shape(n.Tokens * n.Heads, chunks, n.HeadDim));   // [T·H, chunks, d]
            using var partLse = Temp(new Shape(n.Tokens * n.Heads, chunks));            // [T·H, chunks]
            GpuFlashAttention.Decode(Stream, F(q32 ?? q), F(k32 ?? k), F(v32 ?? v), F(output), lseView, lse is not null, qs, ks, p, F(partO), F(partLse));
            Stream.Synchronize();
        }
        else
        {
            GpuFlashAttention.Forward(Stream, F(q32 ?? q), F(k32 ?? k), F(v32 ?? v), F(output), lseView, lse is not null, qs, ks, p);
            if (q32 is not null || k32 is not null) Stream.Synchronize();   // the temporaries go back to the pool
        }
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor dOutput, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv, in AttentionSettings settings, Tensor? querySegments = null, Tensor? keySegments = null)
    {
        var n = LayerChecks.AttentionBackward(this, q, k, v, output, dOutput, lse, dq, dk, dv, settings, querySegments, keySegments);
        var p = Dims(n, settings, querySegments);
        using var q32 = AsF32(q); using var k32 = AsF32(k); using var v32 = AsF32(v);
        using var rowDot = Temp(new Shape(Math.Max(1, n.Heads * n.Tokens)));   // D: [H, T]
        var qs = querySegments is null ? ArrayView<int>.Empty : I32(querySegments);
        var ks = keySegments is null ? ArrayView<int>.Empty : I32(keySegments);
        GpuFlashAttentionBackward.Backward(Stream, F(q32 ?? q), F(k32 ?? k), F(v32 ?? v), F(output), F(dOutput), F(lse), F(rowDot),
            F(dq), F(dk), F(dv), qs, ks, p);
        Stream.Synchronize();
    }

    private static GpuAttentionDims Dims(LayerChecks.AttentionSizes n, in AttentionSettings s, Tensor? segments)
    {
        if (n.HeadDim > GpuFlashAttention.MaxHeadDim)
            throw new ArgumentException($"Attention: headDim {n.HeadDim} exceeds the {GpuFlashAttention.MaxHeadDim} the GPU kernels support.", "q");
        return new GpuAttentionDims
        {
            Tokens = n.Tokens, KvLen = n.KvLen, Heads = n.Heads, KvHeads = n.KvHeads, HeadDim = n.HeadDim,
            Causal = s.Causal ? 1 : 0, Window = s.Window, QueryOffset = s.QueryOffset, HasSegments = segments is null ? 0 : 1, Scale = s.Scale,
        };
    }

    /// <summary>An F32 device copy of a BF16 tensor, or null when it is F32 already.</summary>
    private Tensor? AsF32(Tensor t)
    {
        if (t.DType == DType.F32) return null;
        var f = Temp(t.Shape);
        Cast(t, f);
        return f;
    }

    /// <summary>A contiguous F32 device tensor of this backend (pooled storage).</summary>
    private Tensor Temp(Shape shape) => new(Allocate(Math.Max(1, shape.Numel) * sizeof(float)), shape, shape.ContiguousStrides(), 0, DType.F32);
}
