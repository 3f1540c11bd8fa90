using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Calibration;

/// <summary>
/// A projection that hands a host copy of each input x [N, in] to <see cref="Sink"/> and then runs the
/// wrapped layer unchanged: how the calibration pipeline sees what a layer's linears read. Does not own
/// the wrapped layer (dispose it separately).
/// </summary>
internal sealed class CaptureLinear(ILinear inner, Action<float[], int>? sink) : ILinear
{
    /// <summary>The wrapped layer.</summary>
    public ILinear Inner { get; } = inner;

    /// <summary>Receives (x [rows, in] row-major, rows); null: pass through.</summary>
    public Action<float[], int>? Sink { get; } = sink;

    public int InFeatures => Inner.InFeatures;
    public int OutFeatures => Inner.OutFeatures;
    public long WeightBytes => Inner.WeightBytes;

    public Tensor Forward(Tensor x)
    {
        if (Sink is not null)
        {
            int rows = (int)(x.Shape.Numel / InFeatures);
            Sink(x.ToFloatArray(), rows);
        }
        return Inner.Forward(x);
    }

    public void Dispose() { }
}
