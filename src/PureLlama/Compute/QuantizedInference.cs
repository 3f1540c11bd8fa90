namespace PureLlama.Compute;

/// <summary>
/// Which CPU kernels multiply quantized weights during inference (docs/kernels/int8-dot.md). By default
/// (<see cref="ExactDequant"/> false) a forward product outside autograd quantizes the activations to int8
/// blocks of 32 and runs integer dot products against the weight repacked at load (INT8, NF4, INT4 groups):
/// bitwise batch-invariant, about 0.3 % relative error per product. With <see cref="ExactDequant"/> every product
/// dequantizes Ŵ to exact F32 codes (the fidelity path: what the fixtures and training use).
/// </summary>
public static class QuantizedInference
{
    private static volatile bool s_exact;
    private static readonly AsyncLocal<bool?> s_scoped = new();

    /// <summary>Process-wide choice (the CLI's <c>--exact-dequant</c>); a <see cref="Scope"/> overrides it on its flow.</summary>
    public static bool ExactDequant
    {
        get => s_scoped.Value ?? s_exact;
        set => s_exact = value;
    }

    /// <summary>Sets the choice for the current flow (thread and the tasks it starts) until disposed.</summary>
    public static IDisposable Scope(bool exactDequant)
    {
        var previous = s_scoped.Value;
        s_scoped.Value = exactDequant;
        return new Restore(previous);
    }

    private sealed class Restore(bool? previous) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            s_scoped.Value = previous;
        }
    }
}
