using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// loss = Σ_r [t_r ≠ ignore]·(lse_r − logits[r, t_r]) / normalizer, normalizer = number of
/// non-ignored targets unless given (gradient accumulation divides by the total over micro-batches).
/// dlogits = g/normalizer·(softmax − onehot), zero rows where ignored.
/// </summary>
internal sealed class CrossEntropyFunction : Function
{
    private Tensor? _logits, _targets, _lse;
    private int _ignoreIndex;
    private float _normalizer;

    public static Tensor Apply(Tensor logits, Tensor targets, int ignoreIndex, float? normalizer)
    {
        if (logits.Rank != 2) throw new ArgumentException($"CrossEntropy: logits must be [rows, vocab], got {logits.Describe()}.");
        if (targets.DType != DType.I32 || targets.Rank != 1 || targets.Shape[0] != logits.Shape[0])
            throw new ArgumentException($"CrossEntropy: targets must be I32 [{logits.Shape[0]}], got {targets.Describe()}.");
        int vocab = logits.Shape[1];
        var ids = targets.ToArray<int>();
        int count = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] == ignoreIndex) continue;
            if (ids[i] < 0 || ids[i] >= vocab) throw new ArgumentException($"CrossEntropy: target {ids[i]} at row {i} is outside [0, {vocab}) and is not the ignore index {ignoreIndex}.");
            count++;
        }
        float norm = normalizer ?? count;
        if (norm <= 0 && count > 0) throw new ArgumentException($"CrossEntropy: normalizer {norm} must be positive.");
        var cl = logits.Contiguous();
        using var loss = Tensor.Empty(new Shape(logits.Shape[0]), DType.F32, logits.Device);
        var lse = Tensor.Empty(new Shape(logits.Shape[0]), DType.F32, logits.Device);
        logits.Backend.CrossEntropy(cl, targets, ignoreIndex, loss, lse);
        var total = Tensor.Empty(new Shape(), DType.F32, logits.Device);
        logits.Backend.SumToShape(loss, total);
        if (count > 0) logits.Backend.Scale(total, 1f / norm, total);
        var fn = new CrossEntropyFunction { _logits = cl, _targets = targets, _lse = lse, _ignoreIndex = ignoreIndex, _normalizer = count > 0 ? norm : 1f };
        return Tape.Record(fn, total, logits);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        float scale = g.Item() / _normalizer;
        var d = Tensor.Empty(_logits!.Shape, DType.F32, g.Device);
        g.Backend.CrossEntropyBackward(_logits, _targets!, _lse!, _ignoreIndex, scale, d);
        return [d];
    }

    protected internal override void ReleaseSaved() { _logits = null; _targets = null; _lse?.Dispose(); _lse = null; }
}
