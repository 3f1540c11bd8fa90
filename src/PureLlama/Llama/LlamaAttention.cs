using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// Llama self-attention: q/k/v projections, RoPE on q and k (rotate-half, HF layout), causal GQA
/// attention with scale 1/√headDim (keys of a sequence from its KV cache when it has one), o_proj.
/// </summary>
public sealed class LlamaAttention : IDisposable
{
    /// <summary>Builds the block from its four projections.</summary>
    public LlamaAttention(ILinear qProj, ILinear kProj, ILinear vProj, ILinear oProj, int heads, int kvHeads, int headDim)
    {
        if (heads % kvHeads != 0) throw new ArgumentException($"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads}).");
        QProj = qProj; KProj = kProj; VProj = vProj; OProj = oProj;
        Heads = heads; KvHeads = kvHeads; HeadDim = headDim;
        Scale = 1f / MathF.Sqrt(headDim);
    }

    /// <summary>q_proj: [nHeads·headDim, hidden].</summary>
    public ILinear QProj { get; internal set; }
    /// <summary>k_proj: [nKvHeads·headDim, hidden].</summary>
    public ILinear KProj { get; internal set; }
    /// <summary>v_proj: [nKvHeads·headDim, hidden].</summary>
    public ILinear VProj { get; internal set; }
    /// <summary>o_proj: [hidden, nHeads·headDim].</summary>
    public ILinear OProj { get; internal set; }
    /// <summary>Query heads.</summary>
    public int Heads { get; }
    /// <summary>Key/value heads (GQA groups).</summary>
    public int KvHeads { get; }
    /// <summary>Width of a head.</summary>
    public int HeadDim { get; }
    /// <summary>Softmax scale 1/√headDim.</summary>
    public float Scale { get; }

    /// <summary>h: [N, hidden] (rows of every sequence) → [N, hidden].</summary>
    internal Tensor Forward(Tensor h, ForwardContext ctx, int layer)
    {
        using var tmp = new Temporaries();
        int n = ctx.Tokens;
        var q = tmp.Add(QProj.Forward(h));                            // [N, nHeads·d]
        var k = tmp.Add(KProj.Forward(h));                            // [N, nKv·d]
        var v = tmp.Add(VProj.Forward(h));                            // [N, nKv·d]
        var q3 = tmp.Add(q.Reshape(n, Heads, HeadDim));               // [N, nHeads, d]
        var k3 = tmp.Add(k.Reshape(n, KvHeads, HeadDim));             // [N, nKv, d]
        var v3 = tmp.Add(v.Reshape(n, KvHeads, HeadDim));             // [N, nKv, d]
        var qr = tmp.Add(Ops.Rope(q3, ctx.Positions, ctx.Rope.Cos, ctx.Rope.Sin));
        var kr = tmp.Add(Ops.Rope(k3, ctx.Positions, ctx.Rope.Cos, ctx.Rope.Sin));

        Tensor o3;                                                    // [N, nHeads, d]
        if (ctx.Sequences.Count == 1) o3 = tmp.Add(AttendOne(qr, kr, v3, ctx.Sequences[0], ctx, layer, tmp));
        else
        {
            if (GradMode.IsEnabled) throw new InvalidOperationException("A forward over several sequences is for inference: run it under GradMode.NoGrad().");
            o3 = tmp.Add(Tensor.Empty(new Shape(n, Heads, HeadDim), DType.F32, h.Device));
            foreach (var seq in ctx.Sequences)
            {
                using var qs = qr.SliceView(0, seq.Row, seq.Count);
                using var ks = kr.SliceView(0, seq.Row, seq.Count);
                using var vs = v3.SliceView(0, seq.Row, seq.Count);
                using var os = AttendOne(qs, ks, vs, seq with { Row = 0 }, ctx, layer, tmp);
                using var dst = o3.SliceView(0, seq.Row, seq.Count);
                h.Backend.Copy(os, dst);
            }
        }
        var o = tmp.Add(o3.Reshape(n, Heads * HeadDim));              // [N, nHeads·d]
        return OProj.Forward(o);                                      // [N, hidden]
    }

    // q: [T, nHeads, d], k/v: [T, nKv, d] of one sequence → [T, nHeads, d].
    private Tensor AttendOne(Tensor q, Tensor k, Tensor v, SequenceSlice seq, ForwardContext ctx, int layer, Temporaries tmp)
    {
        var settings = new AttentionSettings(Scale, Causal: true, QueryOffset: seq.Start);
        if (seq.Cache is not { } cache) return Ops.Attention(q, k, v, settings, ctx.Segments, ctx.Segments);
        // Append this step's keys/values to the cache, then attend to every cached position.
        using (var kDst = cache.Keys(layer, seq.Start, seq.Count)) Store(k, kDst);
        using (var vDst = cache.Values(layer, seq.Start, seq.Count)) Store(v, vDst);
        var kAll = tmp.Add(cache.Keys(layer, 0, seq.Start + seq.Count));   // [Start+T, nKv, d]
        var vAll = tmp.Add(cache.Values(layer, 0, seq.Start + seq.Count));
        return Ops.Attention(q, kAll, vAll, settings);
    }

    // k/v rows of this step (F32, maybe a strided view) into cache rows (F32 or BF16, contiguous).
    private static void Store(Tensor source, Tensor destination)
    {
        if (destination.DType == source.DType) { source.Backend.Copy(source, destination); return; }
        if (source.IsContiguous) { source.Backend.Cast(source, destination); return; }
        using var dense = source.ContiguousCopy();
        source.Backend.Cast(dense, destination);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        QProj.Dispose(); KProj.Dispose(); VProj.Dispose(); OProj.Dispose();
    }
}
