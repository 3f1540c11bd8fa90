namespace PureLlama.Training;

/// <summary>
/// Hyper-parameters shared by <see cref="AdamWOptimizer"/> and <see cref="PagedAdamW8bit"/> (the
/// learning rate is passed to each step). Weight decay applies only to parameters whose name
/// <see cref="Decays"/> accepts; the default follows the Hugging Face Trainer: no decay on biases
/// and normalisation weights.
/// </summary>
public sealed record AdamWOptions
{
    /// <summary>β1, the first-moment decay.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>β2, the second-moment decay.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>ε added to √v̂.</summary>
    public float Eps { get; init; } = 1e-8f;
    /// <summary>Decoupled weight decay (the HF Trainer's default is 0).</summary>
    public float WeightDecay { get; init; }
    /// <summary>Which parameters (by name) get weight decay.</summary>
    public Func<string, bool> Decays { get; init; } = DefaultDecays;

    /// <summary>
    /// The HF Trainer's rule: every parameter but biases and norm weights (names containing "bias"
    /// or "norm", e.g. <c>input_layernorm.weight</c>, <c>model.norm.weight</c>).
    /// </summary>
    public static bool DefaultDecays(string name) =>
        !name.Contains("bias", StringComparison.OrdinalIgnoreCase) && !name.Contains("norm", StringComparison.OrdinalIgnoreCase);

    internal void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β1 must be in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β2 must be in [0, 1).");
        if (!(Eps > 0)) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "ε must be > 0.");
        if (!(WeightDecay >= 0) || float.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be finite and ≥ 0.");
    }
}
