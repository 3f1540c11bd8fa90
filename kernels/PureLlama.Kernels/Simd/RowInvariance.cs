namespace PureLlama.Kernels.Simd;

/// <summary>
/// Batch-invariant products on the calling thread: while a scope is open, every weight-shaped product
/// (x·Wᵀ, dense or quantized) takes its GEMV path whatever the number of rows m, in which each output
/// element is one fixed-order dot product of its x row with its weight row. A row's result then does
/// not depend on which rows share the call, so a sequence decodes to the same bits alone or in any batch
/// (the serving engine and single-sequence generation open it; training keeps the faster GEMM).
/// </summary>
internal static class RowInvariance
{
    [ThreadStatic] private static int _depth;

    /// <summary>True while a scope is open on this thread.</summary>
    public static bool IsActive => _depth > 0;

    /// <summary>Opens a scope (nestable); dispose it on the same thread.</summary>
    public static Scope Enter()
    {
        _depth++;
        return new Scope();
    }

    /// <summary>An open scope.</summary>
    public readonly struct Scope : IDisposable
    {
        /// <summary>Closes the scope.</summary>
        public void Dispose() => _depth--;
    }
}
