namespace PureLlama.Training;

/// <summary>
/// LoRA hyper-parameters under PEFT's names (r, lora_alpha, lora_dropout, target_modules, use_rslora).
/// Target modules are the projection names of a Llama layer (q_proj … down_proj), lm_head, or
/// "all-linear" (the seven projections of every layer, never lm_head, as PEFT expands it).
/// </summary>
public sealed record LoraConfig
{
    /// <summary>The seven projections of a Llama decoder layer, in PEFT's names.</summary>
    public static IReadOnlyList<string> AllLinear { get; } = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>Rank r (PEFT default 8).</summary>
    public int R { get; init; } = 8;

    /// <summary>lora_alpha (PEFT default 8).</summary>
    public float Alpha { get; init; } = 8;

    /// <summary>lora_dropout on the adapter's input in training (PEFT default 0).</summary>
    public float Dropout { get; init; }

    /// <summary>Module names, or ["all-linear"] (PEFT's default for Llama is q_proj and v_proj).</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    /// <summary>rsLoRA: scale alpha/√r instead of alpha/r.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>base_model_name_or_path written to adapter_config.json (informational).</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>The scaling s = alpha/r, or alpha/√r with rsLoRA.</summary>
    public float Scaling => UseRsLora ? (float)(Alpha / Math.Sqrt(R)) : Alpha / R;

    /// <summary>The module names after expanding "all-linear", validated; throws naming a bad entry.</summary>
    public IReadOnlyList<string> ResolvedTargets()
    {
        if (R < 1) throw new ArgumentException($"LoRA r must be at least 1, got {R}.");
        if (!(Alpha > 0) || float.IsInfinity(Alpha)) throw new ArgumentException($"lora_alpha must be positive and finite, got {Alpha}.");
        if (!(Dropout >= 0f && Dropout < 1f)) throw new ArgumentException($"lora_dropout must be in [0, 1), got {Dropout}.");
        if (TargetModules is null || TargetModules.Count == 0) throw new ArgumentException("LoRA target_modules is empty.");
        var result = new List<string>();
        foreach (var t in TargetModules)
        {
            if (string.Equals(t, "all-linear", StringComparison.OrdinalIgnoreCase)) { result.AddRange(AllLinear); continue; }
            if (!AllLinear.Contains(t) && t != "lm_head")
                throw new ArgumentException($"Unknown LoRA target module '{t}': expected one of {string.Join(", ", AllLinear)}, lm_head or all-linear.");
            result.Add(t);
        }
        return result.Distinct().ToList();
    }
}
