using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// cos/sin tables [positions, headDim/2] for RoPE (θ and optional Llama 3.1 scaling), built in double
/// on the host and copied to the device once; <see cref="Ensure"/> grows them on demand up to the
/// model's maximum position. Owns its tensors.
/// </summary>
public sealed unsafe class RopeCache : IDisposable
{
    private readonly float[] _invFreq; // [headDim/2]
    private Tensor? _cos, _sin;        // [Positions, headDim/2]

    /// <summary>Creates tables for <paramref name="initialPositions"/> positions (grown later as needed).</summary>
    /// <remarks><paramref name="frequencyFactors"/>: optional divisors [headDim/2] of the frequencies (a GGUF file's rope_freqs), instead of <paramref name="scaling"/>.</remarks>
    public RopeCache(int headDim, double theta, Llama3RopeScaling? scaling, int maxPositions, Device device, int initialPositions = 256,
        IReadOnlyList<float>? frequencyFactors = null)
    {
        if (maxPositions <= 0) throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "Maximum positions must be positive.");
        _invFreq = RopeFrequencies.InverseFrequencies(headDim, theta, scaling);
        if (frequencyFactors is not null)
        {
            if (frequencyFactors.Count != _invFreq.Length)
                throw new ArgumentException($"{frequencyFactors.Count} RoPE frequency factors were given; head_dim/2 = {_invFreq.Length} are needed.", nameof(frequencyFactors));
            for (int i = 0; i < _invFreq.Length; i++) _invFreq[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim) / frequencyFactors[i]);
        }
        HeadDim = headDim;
        MaxPositions = maxPositions;
        Device = device;
        Build(Math.Clamp(initialPositions, 1, maxPositions));
    }

    /// <summary>Width of a head.</summary>
    public int HeadDim { get; }

    /// <summary>The model's limit (max_position_embeddings).</summary>
    public int MaxPositions { get; }

    /// <summary>Positions the tables currently cover.</summary>
    public int Positions { get; private set; }

    /// <summary>Device of the tables.</summary>
    public Device Device { get; }

    /// <summary>cos: [Positions, headDim/2].</summary>
    public Tensor Cos => _cos ?? throw new ObjectDisposedException(nameof(RopeCache));

    /// <summary>sin: [Positions, headDim/2].</summary>
    public Tensor Sin => _sin ?? throw new ObjectDisposedException(nameof(RopeCache));

    /// <summary>Makes the tables cover positions [0, <paramref name="positions"/>).</summary>
    public void Ensure(int positions)
    {
        if (positions > MaxPositions)
            throw new ContextLengthExceededException($"Position {positions - 1} is past the model's max_position_embeddings ({MaxPositions}).");
        if (positions <= Positions) return;
        Build(Math.Min(MaxPositions, Math.Max(positions, 2 * Positions)));
    }

    private void Build(int positions)
    {
        int h = _invFreq.Length;
        var cos = new float[(long)positions * h];
        var sin = new float[(long)positions * h];
        fixed (float* c = cos, s = sin) RopeFrequencies.BuildTables(_invFreq, positions, c, s);
        var newCos = Tensor.FromSpan<float>(cos, new Shape(positions, h), DType.F32, Device);
        var newSin = Tensor.FromSpan<float>(sin, new Shape(positions, h), DType.F32, Device);
        _cos?.Dispose();
        _sin?.Dispose();
        _cos = newCos; _sin = newSin;
        Positions = positions;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _cos?.Dispose(); _sin?.Dispose();
        _cos = null; _sin = null;
    }
}
