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
        var qkv = LinearGroup.Forward(h, QProj, KProj, VProj);
        var q = tmp.Add(qkv[0]);                                      // [N, nHeads·d]
        var k = tmp.Add(qkv[1]);                                      // [N, nKv·d]
        var v = tmp.Add(qkv[2]);                                      // [N, nKv·d]
        ctx.Lora?.Apply(layer, LoraModule.Q, h, q);
        ctx.Lora?.Apply(layer, LoraModule.K, h, k);
        ctx.Lora?.Apply(layer, LoraModule.V, h, v);
        var q3 = tmp.Add(q.Reshape(n, Heads, HeadDim));               // [N, nHeads, d]
        var k3 = tmp.Add(k.Reshape(n, KvHeads, HeadDim));             // [N, nKv, d]
        var v3 = tmp.Add(v.Reshape(n, KvHeads, HeadDim));             // [N, nKv, d]
        var qr = tmp.Add(Ops.Rope(q3, ctx.Positions, ctx.Rope.Cos, ctx.Rope.Sin));
        var kr = tmp.Add(Ops.Rope(k3, ctx.Positions, ctx.Rope.Cos, ctx.Rope.Sin));

        Tensor o3;                                                    // [N, nHeads, d]
        if (ctx.Paged is { } paged) o3 = tmp.Add(AttendPaged(qr, kr, v3, paged, layer));
        else if (ctx.Sequences.Count == 1) o3 = tmp.Add(AttendOne(qr, kr, v3, ctx.Sequences[0], 0, ctx, layer));
        else
        {
            if (GradMode.IsEnabled) throw new InvalidOperationException("A forward over several sequences is for inference: run it under GradMode.NoGrad().");
            o3 = tmp.Add(Tensor.Empty(new Shape(n, Heads, HeadDim), DType.F32, h.Device));
            for (int si = 0; si < ctx.Sequences.Count; si++)
            {
                var seq = ctx.Sequences[si];
                using var qs = qr.SliceView(0, seq.Row, seq.Count);
                using var ks = kr.SliceView(0, seq.Row, seq.Count);
                using var vs = v3.SliceView(0, seq.Row, seq.Count);
                using var os = AttendOne(qs, ks, vs, seq with { Row = 0 }, si, ctx, layer);
                using var dst = o3.SliceView(0, seq.Row, seq.Count);
                h.Backend.Copy(os, dst);
            }
        }
        var o = tmp.Add(o3.Reshape(n, Heads * HeadDim));              // [N, nHeads·d]
        var y = OProj.Forward(o);                                     // [N, hidden]
        ctx.Lora?.Apply(layer, LoraModule.O, o, y);
        return y;
    }

    // Every row against the shared block pool: store this step's keys/values at the rows' slots, then PagedAttention.
    private Tensor AttendPaged(Tensor q, Tensor k, Tensor v, PagedStep paged, int layer)
    {
        var be = q.Backend;
        be.PagedKvStore(k, v, paged.Layout, paged.Keys[layer], paged.Values[layer], paged.KeyScales?[layer], paged.ValueScales?[layer]);
        var o = Tensor.Empty(q.Shape, DType.F32, q.Device);
        be.PagedAttention(q, paged.Keys[layer], paged.Values[layer], paged.KeyScales?[layer], paged.ValueScales?[layer], paged.Layout, o, Scale);
        return o;
    }

    // q: [T, nHeads, d], k/v: [T, nKv, d] of one sequence → [T, nHeads, d].
    // q: [T, nHeads, d], k/v: [T, nKv, d] of sequence number `index` → [T, nHeads, d]. With a KV cache the cache is
    // one block of a paged pool, so generation runs the serving engine's kernels (batch invariance).
    private Tensor AttendOne(Tensor q, Tensor k, Tensor v, SequenceSlice seq, int index, ForwardContext ctx, int layer)
    {
        var settings = new AttentionSettings(Scale, Causal: true, QueryOffset: seq.Start);
        if (seq.Cache is not { } cache) return Ops.Attention(q, k, v, settings, ctx.Segments, ctx.Segments);
        var layout = ctx.CacheLayouts![index];
        using var kPool = cache.KeyPool(layer);     // [1, nKv, capacity, d]
        using var vPool = cache.ValuePool(layer);
        using var kc = k.IsContiguous ? null : k.ContiguousCopy();
        using var vc = v.IsContiguous ? null : v.ContiguousCopy();
        using var qc = q.IsContiguous ? null : q.ContiguousCopy();
        var be = q.Backend;
        be.PagedKvStore(kc ?? k, vc ?? v, layout, kPool, vPool, null, null);
        var o = Tensor.Empty(q.Shape, DType.F32, q.Device);
        be.PagedAttention(qc ?? q, kPool, vPool, null, null, layout, o, Scale);
        return o;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        QProj.Dispose(); KProj.Dispose(); VProj.Dispose(); OProj.Dispose();
    }
}
