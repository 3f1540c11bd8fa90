using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Shape and dtype validation of the fused layer ops, shared by every backend.</summary>
internal static class LayerChecks
{
    public static (int Rows, int Dim) RmsNorm(IBackend be, Tensor x, Tensor w, Tensor y, Tensor rstd)
    {
        Check.F32(be, x, nameof(x));
        Check.F32OrBf16(be, w, "weight");
        Check.F32Out(be, y, nameof(y));
        Check.F32Out(be, rstd, nameof(rstd));
        if (x.Rank != 2) throw new ArgumentException($"RmsNorm: x {x.Describe()} must be [rows, dim].");
        int rows = x.Shape[0], dim = x.Shape[1];
        Check.Shape(w, new Shape(dim), "weight");
        Check.SameShape(x, y, nameof(x), nameof(y));
        Check.Shape(rstd, new Shape(rows), nameof(rstd));
        return (rows, dim);
    }

    public static (int Rows, int Dim) RmsNormBackward(IBackend be, Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw)
    {
        var (rows, dim) = RmsNorm(be, x, w, dx, rstd);
        Check.F32(be, dy, nameof(dy));
        Check.SameShape(x, dy, nameof(x), nameof(dy));
        Check.F32Out(be, dw, "dWeight");
        Check.Shape(dw, new Shape(dim), "dWeight");
        return (rows, dim);
    }

    public static (int Tokens, int Heads, int HeadDim) Rope(IBackend be, Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y)
    {
        Check.F32(be, x, nameof(x));
        Check.F32Out(be, y, nameof(y));
        Check.SameShape(x, y, nameof(x), nameof(y));
        if (x.Rank != 3) throw new ArgumentException($"Rope: x {x.Describe()} must be [tokens, heads, headDim].");
        int tokens = x.Shape[0], heads = x.Shape[1], headDim = x.Shape[2];
        if (headDim % 2 != 0) throw new ArgumentException($"Rope: headDim {headDim} of {x.Describe()} must be even.");
        Check.OnDevice(be, positions, nameof(positions));
        Check.Contiguous(positions, nameof(positions));
        Check.DType(positions, DType.I32, nameof(positions));
        Check.Shape(positions, new Shape(tokens), nameof(positions));
        Check.F32(be, cos, nameof(cos));
        Check.F32(be, sin, nameof(sin));
        if (cos.Rank != 2 || cos.Shape[1] != headDim / 2) throw new ArgumentException($"Rope: cos {cos.Describe()} must be [maxPositions, {headDim / 2}].");
        Check.SameShape(cos, sin, nameof(cos), nameof(sin));
        return (tokens, heads, headDim);
    }

    public static void Unary(IBackend be, Tensor x, Tensor other)
    {
        Check.F32(be, x, nameof(x));
        Check.F32(be, other, "other");
        Check.SameShape(x, other, nameof(x), "other");
    }

    public static (int Rows, int Cols) Rows(IBackend be, Tensor x, Tensor y)
    {
        Unary(be, x, y);
        if (x.Rank == 0) throw new ArgumentException($"{x.Describe()} needs at least one dimension.");
        int cols = x.Shape[-1];
        return (Check.Int(cols == 0 ? 0 : x.Numel / cols, "rows"), cols);
    }

    public static (int Rows, int Vocab) CrossEntropy(IBackend be, Tensor logits, Tensor targets, Tensor loss, Tensor lse)
    {
        Check.F32(be, logits, nameof(logits));
        if (logits.Rank != 2) throw new ArgumentException($"CrossEntropy: logits {logits.Describe()} must be [rows, vocab].");
        int rows = logits.Shape[0];
        Check.OnDevice(be, targets, nameof(targets));
        Check.Contiguous(targets, nameof(targets));
        Check.DType(targets, DType.I32, nameof(targets));
        Check.Shape(targets, new Shape(rows), nameof(targets));
        Check.F32(be, loss, nameof(loss));
        Check.Shape(loss, new Shape(rows), nameof(loss));
        Check.F32(be, lse, nameof(lse));
        Check.Shape(lse, new Shape(rows), nameof(lse));
        return (rows, logits.Shape[1]);
    }

    public static (int N, int Dim) Embedding(IBackend be, Tensor table, Tensor ids, Tensor rows, bool gather)
    {
        if (gather) Check.F32OrBf16(be, table, nameof(table)); else Check.F32Out(be, table, "dTable");
        if (table.Rank != 2) throw new ArgumentException($"Embedding: table {table.Describe()} must be [vocab, dim].");
        Check.OnDevice(be, ids, nameof(ids));
        Check.Contiguous(ids, nameof(ids));
        Check.DType(ids, DType.I32, nameof(ids));
        if (ids.Rank != 1) throw new ArgumentException($"Embedding: ids {ids.Describe()} must be one-dimensional.");
        int n = ids.Shape[0], dim = table.Shape[1];
        Check.F32(be, rows, gather ? "y" : "dy");
        Check.Shape(rows, new Shape(n, dim), gather ? "y" : "dy");
        return (n, dim);
    }

    public static void AdamW(IBackend be, Tensor p, Tensor g, Tensor m, Tensor v, int step)
    {
        Check.F32Out(be, p, "param");
        Check.F32(be, g, "grad");
        Check.F32Out(be, m, nameof(m));
        Check.F32Out(be, v, nameof(v));
        Check.SameShape(p, g, "param", "grad");
        Check.SameShape(p, m, "param", nameof(m));
        Check.SameShape(p, v, "param", nameof(v));
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW step counts from 1.");
    }

    public static void AdamW8bit(IBackend be, Tensor p, Tensor g, Tensor mq, Tensor mAbs, Tensor vq, Tensor vAbs, int step)
    {
        Check.F32Out(be, p, "param");
        Check.F32(be, g, "grad");
        Check.SameShape(p, g, "param", "grad");
        var codes = new Shape(Check.Int(p.Numel, "param elements"));
        var blocks = new Shape((int)Kernels.Simd.SimdAdamW8bit.Blocks(p.Numel));
        foreach (var (t, name) in new[] { (mq, "mCodes"), (vq, "vCodes") })
        {
            Check.OnDevice(be, t, name); Check.Contiguous(t, name); Check.Writable(t, name);
            Check.DType(t, DType.U8, name); Check.Shape(t, codes, name);
        }
        foreach (var (t, name) in new[] { (mAbs, "mAbsmax"), (vAbs, "vAbsmax") })
        {
            Check.F32Out(be, t, name);
            Check.Shape(t, blocks, name);
        }
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW step counts from 1.");
    }

    /// <summary>Sizes of an attention problem, validated by <see cref="Attention"/>.</summary>
    public readonly record struct AttentionSizes(int Tokens, int KvLen, int Heads, int KvHeads, int HeadDim);

    /// <summary>Largest query-head group (heads / kvHeads) the attention kernels take.</summary>
    public const int MaxAttentionGroup = 64;

    public static AttentionSizes Attention(IBackend be, Tensor q, Tensor k, Tensor v, Tensor output, Tensor? lse, in AttentionSettings s, Tensor? qSeg, Tensor? kSeg)
    {
        Check.F32OrBf16(be, q, nameof(q));
        Check.F32OrBf16(be, k, nameof(k));
        Check.F32OrBf16(be, v, nameof(v));
        if (q.Rank != 3) throw new ArgumentException($"Attention: q {q.Describe()} must be [tokens, heads, headDim].", nameof(q));
        if (k.Rank != 3) throw new ArgumentException($"Attention: k {k.Describe()} must be [kvLen, kvHeads, headDim].", nameof(k));
        Check.SameShape(k, v, nameof(k), nameof(v));
        if (k.DType != v.DType) throw new ArgumentException($"Attention: k {k.Describe()} and v {v.Describe()} must have the same dtype.", nameof(v));
        int tokens = q.Shape[0], heads = q.Shape[1], d = q.Shape[2], kvLen = k.Shape[0], kvHeads = k.Shape[1];
        if (k.Shape[2] != d) throw new ArgumentException($"Attention: k {k.Describe()} must have headDim {d} like q {q.Describe()}.", nameof(k));
        if (d <= 0 || d % 8 != 0) throw new ArgumentException($"Attention: headDim {d} of {q.Describe()} must be a positive multiple of 8.", nameof(q));
        if (kvHeads <= 0 || heads % kvHeads != 0) throw new ArgumentException($"Attention: {heads} query heads of {q.Describe()} are not a multiple of the {kvHeads} KV heads of {k.Describe()}.", nameof(k));
        if (heads / kvHeads > MaxAttentionGroup) throw new ArgumentException($"Attention: {heads / kvHeads} query heads per KV head exceeds the supported {MaxAttentionGroup}.", nameof(k));
        Check.F32Out(be, output, nameof(output));
        Check.Shape(output, new Shape(tokens, heads, d), nameof(output));
        if (lse is not null) { Check.F32Out(be, lse, nameof(lse)); Check.Shape(lse, new Shape(heads, tokens), nameof(lse)); }
        if (!float.IsFinite(s.Scale) || s.Scale == 0) throw new ArgumentException($"Attention: scale {s.Scale} must be finite and non-zero.", "settings");
        if (s.Window < 0) throw new ArgumentException($"Attention: window {s.Window} must be ≥ 0 (0 = none).", "settings");
        if (s.QueryOffset < 0) throw new ArgumentException($"Attention: query offset {s.QueryOffset} must be ≥ 0.", "settings");
        if ((qSeg is null) != (kSeg is null)) throw new ArgumentException("Attention: querySegments and keySegments must be given together.", qSeg is null ? "querySegments" : "keySegments");
        if (qSeg is not null && kSeg is not null)
        {
            Segments(be, qSeg, tokens, "querySegments");
            Segments(be, kSeg, kvLen, "keySegments");
        }
        return new(tokens, kvLen, heads, kvHeads, d);
    }

    public static AttentionSizes AttentionBackward(IBackend be, Tensor q, Tensor k, Tensor v, Tensor output, Tensor dOutput, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv, in AttentionSettings s, Tensor? qSeg, Tensor? kSeg)
    {
        Check.F32(be, output, nameof(output));
        var sizes = Attention(be, q, k, v, output, null, s, qSeg, kSeg);
        Check.F32(be, lse, nameof(lse));
        Check.Shape(lse, new Shape(sizes.Heads, sizes.Tokens), nameof(lse));
        Check.F32(be, dOutput, nameof(dOutput));
        Check.SameShape(output, dOutput, nameof(output), nameof(dOutput));
        Check.F32Out(be, dq, nameof(dq));
        Check.Shape(dq, q.Shape, nameof(dq));
        Check.F32Out(be, dk, nameof(dk));
        Check.Shape(dk, k.Shape, nameof(dk));
        Check.F32Out(be, dv, nameof(dv));
        Check.Shape(dv, k.Shape, nameof(dv));
        return sizes;
    }

    private static void Segments(IBackend be, Tensor ids, int length, string name)
    {
        Check.OnDevice(be, ids, name);
        Check.Contiguous(ids, name);
        Check.DType(ids, DType.I32, name);
        Check.Shape(ids, new Shape(length), name);
    }

    /// <summary>Host-side check that every index lies in [0, limit).</summary>
    public static unsafe void IndicesInRange(int* idx, int n, int limit, string what, string limitName)
    {
        for (int i = 0; i < n; i++)
            if ((uint)idx[i] >= (uint)limit)
                throw new ArgumentException($"{what}[{i}] = {idx[i]} is outside [0, {limit}) ({limitName}).");
    }

    /// <summary>Host-side check of cross-entropy targets: in [0, vocab) or the ignore index.</summary>
    public static unsafe void TargetsInRange(int* t, int n, int vocab, int ignoreIndex)
    {
        for (int i = 0; i < n; i++)
            if (t[i] != ignoreIndex && (uint)t[i] >= (uint)vocab)
                throw new ArgumentException($"targets[{i}] = {t[i]} is outside [0, {vocab}) and is not the ignore index {ignoreIndex}.");
    }
}
