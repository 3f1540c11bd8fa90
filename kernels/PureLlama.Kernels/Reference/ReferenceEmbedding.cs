namespace PureLlama.Kernels.Reference;

/// <summary>float64 reference: embedding lookup and its gradient. table: [vocab, dim]; ids: [n]; y: [n, dim].</summary>
internal static class ReferenceEmbedding
{
    /// <summary>y[i] = table[ids[i]].</summary>
    public static double[] Gather(float[] table, int[] ids, int n, int dim)
    {
        var y = new double[(long)n * dim];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < dim; c++) y[(long)i * dim + c] = table[(long)ids[i] * dim + c];
        return y;
    }

    /// <summary>dTable = dTable0 + Σ_i onehot(ids[i]) ⊗ dy[i].</summary>
    public static double[] ScatterAdd(float[] dy, int[] ids, float[] dTable0, int n, int dim)
    {
        var d = new double[dTable0.Length];
        for (int k = 0; k < d.Length; k++) d[k] = dTable0[k];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < dim; c++) d[(long)ids[i] * dim + c] += dy[(long)i * dim + c];
        return d;
    }
}
