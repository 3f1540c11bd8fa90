using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// A frozen base layer plus a trainable low-rank update (LoRA, Hu et al. 2021):
/// y = base(x) + s·(dropout(x)·Aᵀ)·Bᵀ with A: [r, in], B: [out, r] F32, s = alpha/r (alpha/√r with
/// rsLoRA). The base may be any <see cref="ILinear"/> (dense or quantized); only A and B require
/// gradients. Initialised as PEFT does: A ~ U(−1/√in, 1/√in) (torch's kaiming_uniform_ with a = √5:
/// gain √(2/(1+a²)) = √(1/3), bound = gain·√(3/fan_in) = 1/√in), B = 0, so the wrapped layer starts
/// equal to its base. Disposing releases A, B and the base; <see cref="Training.LoraAdapter.Detach"/> hands the base back.
/// </summary>
public sealed class LoraLinear : ILinear
{
    /// <summary>Wraps <paramref name="baseLayer"/> with fresh A (seeded) and zero B.</summary>
    public LoraLinear(ILinear baseLayer, int rank, float alpha, bool useRsLora, LoraDropout dropout, ulong seed, Device device)
        : this(baseLayer, InitA(baseLayer, rank, seed, device), Tensor.Zeros(new Shape(baseLayer.OutFeatures, rank), DType.F32, device), alpha, useRsLora, dropout)
    {
    }

    /// <summary>Wraps <paramref name="baseLayer"/> with the given A [r, in] and B [out, r] (taking ownership of both).</summary>
    public LoraLinear(ILinear baseLayer, Tensor a, Tensor b, float alpha, bool useRsLora, LoraDropout dropout)
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(dropout);
        if (a.Rank != 2 || a.DType != DType.F32 || a.Shape[1] != baseLayer.InFeatures || a.Shape[0] < 1)
            throw new ArgumentException($"LoRA A {a.Describe()} must be F32 [r, {baseLayer.InFeatures}] with r ≥ 1.", nameof(a));
        if (b.Rank != 2 || b.DType != DType.F32 || b.Shape[0] != baseLayer.OutFeatures || b.Shape[1] != a.Shape[0])
            throw new ArgumentException($"LoRA B {b.Describe()} must be F32 [{baseLayer.OutFeatures}, {a.Shape[0]}].", nameof(b));
        Base = baseLayer;
        A = a; B = b;
        A.RequiresGrad = true;
        B.RequiresGrad = true;
        Alpha = alpha;
        UseRsLora = useRsLora;
        Dropout = dropout;
    }

    private static Tensor InitA(ILinear baseLayer, int rank, ulong seed, Device device)
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, "LoRA rank r must be at least 1.");
        double bound = 1.0 / Math.Sqrt(baseLayer.InFeatures);
        return Tensor.RandU(new Shape(rank, baseLayer.InFeatures), new Rng(seed), (float)-bound, (float)bound, DType.F32, device);
    }

    /// <summary>The frozen layer.</summary>
    public ILinear Base { get; }

    /// <summary>lora_A: [r, in], trainable.</summary>
    public Tensor A { get; }

    /// <summary>lora_B: [out, r], trainable.</summary>
    public Tensor B { get; }

    /// <summary>The rank r.</summary>
    public int Rank => A.Shape[0];

    /// <summary>lora_alpha.</summary>
    public float Alpha { get; }

    /// <summary>True for rsLoRA scaling alpha/√r.</summary>
    public bool UseRsLora { get; }

    /// <summary>s = alpha/r, or alpha/√r with rsLoRA.</summary>
    public float Scaling => UseRsLora ? (float)(Alpha / Math.Sqrt(Rank)) : Alpha / Rank;

    /// <summary>The adapter's dropout stream (train/eval state and RNG counter).</summary>
    public LoraDropout Dropout { get; }

    /// <inheritdoc/>
    public int InFeatures => Base.InFeatures;

    /// <inheritdoc/>
    public int OutFeatures => Base.OutFeatures;

    /// <inheritdoc/>
    public long WeightBytes => Base.WeightBytes + A.ByteLength + B.ByteLength;

    /// <summary>x: [.., in] → base(x) + s·(dropout(x)·Aᵀ)·Bᵀ: [.., out].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Shape[-1] != InFeatures)
            throw new ArgumentException($"LoRA layer: input {x.Describe()} must end in {InFeatures}.", nameof(x));
        var baseOut = Base.Forward(x);                      // [.., out]
        Tensor? mask = null, dropped = null;
        if (Dropout.Active)
        {
            mask = Dropout.NextMask(x.Shape, x.Device);     // [.., in]
            dropped = Ops.Mul(x, mask);
        }
        // The base output is ours alone: the update goes into its storage (no [.., out] copy kept by the graph).
        var y = Autograd.Functions.LoraFunction.Apply(dropped ?? x, A, B, baseOut, Scaling, overwriteBase: true);
        if (!GradMode.IsEnabled)
        {
            baseOut.Dispose(); dropped?.Dispose(); mask?.Dispose();
        }
        return y;
    }

    /// <summary>Releases A, B and the wrapped base layer (the wrapper owns its base, as a model owns its layers).</summary>
    public void Dispose()
    {
        ReleaseAdapter();
        Base.Dispose();
    }

    /// <summary>Releases A and B only, leaving the base layer to its new owner (detaching).</summary>
    internal void ReleaseAdapter()
    {
        A.Dispose();
        B.Dispose();
    }
}
