using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// The dropout masks of a LoRA adapter as a counter-based stream: mask number n is drawn from
/// <c>Rng(mix(Seed, n))</c>, so the whole stream is fixed by the seed and <see cref="Counter"/> is the
/// complete, resumable state (save it in a training checkpoint and restore it to continue the same masks).
/// Shared by the adapter's layers: each training forward of a layer takes the next mask.
/// </summary>
public sealed class LoraDropout
{
    /// <summary>A stream for dropout probability <paramref name="probability"/> ∈ [0, 1).</summary>
    public LoraDropout(float probability, ulong seed)
    {
        if (!(probability >= 0f && probability < 1f)) throw new ArgumentOutOfRangeException(nameof(probability), probability, "lora_dropout must be in [0, 1).");
        Probability = probability;
        Seed = seed;
    }

    /// <summary>Probability that an input element of the adapter is zeroed in training.</summary>
    public float Probability { get; }

    /// <summary>The seed of the stream.</summary>
    public ulong Seed { get; }

    /// <summary>Masks drawn so far (the resumable state).</summary>
    public ulong Counter { get; set; }

    /// <summary>True while training (masks are applied); false in evaluation (identity).</summary>
    public bool Training { get; set; }

    /// <summary>True when a forward must apply a mask now.</summary>
    public bool Active => Training && Probability > 0f;

    /// <summary>The next mask [shape] on <paramref name="device"/>: 0 with probability p, else 1/(1−p) (inverted dropout, as torch).</summary>
    public Tensor NextMask(Shape shape, Device device)
    {
        ulong n = Counter++;
        var rng = new Rng(Seed ^ (0x9E3779B97F4A7C15UL * (n + 1)));
        var values = new float[shape.Numel];
        float keep = 1f / (1f - Probability);
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextDouble() < Probability ? 0f : keep;
        return Tensor.FromArray(values, shape, device);
    }
}
