namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: softmax cross-entropy. logits: [rows, vocab]; targets, loss, lse: [rows].
/// lse[r] = log Σ_v exp logits[r, v]; loss[r] = lse[r] − logits[r, t] (0 when t = ignoreIndex).
/// </summary>
internal static class ReferenceCrossEntropy
{
    /// <summary>Forward: returns (loss, lse). lse is computed for every row, ignored ones included.</summary>
    public static (double[] Loss, double[] Lse) Forward(float[] logits, int[] targets, int rows, int vocab, int ignoreIndex)
    {
        var loss = new double[rows];
        var lse = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            long b = (long)r * vocab;
            double m = double.NegativeInfinity;
            for (int v = 0; v < vocab; v++) m = Math.Max(m, logits[b + v]);
            double s = 0;
            for (int v = 0; v < vocab; v++) s += Math.Exp(logits[b + v] - m);
            lse[r] = m + Math.Log(s);
            loss[r] = targets[r] == ignoreIndex ? 0 : lse[r] - logits[b + targets[r]];
        }
        return (loss, lse);
    }

    /// <summary>dlogits = scale·(softmax − onehot(t)), all-zero rows where t = ignoreIndex. lse is the kernel's float lse.</summary>
    public static double[] Backward(float[] logits, int[] targets, float[] lse, int rows, int vocab, int ignoreIndex, double scale)
    {
        var d = new double[(long)rows * vocab];
        for (int r = 0; r < rows; r++)
        {
            if (targets[r] == ignoreIndex) continue;
            long b = (long)r * vocab;
            for (int v = 0; v < vocab; v++)
                d[b + v] = scale * (Math.Exp(logits[b + v] - (double)lse[r]) - (v == targets[r] ? 1 : 0));
        }
        return d;
    }
}
