namespace PureLlama.Training;

/// <summary>
/// Settings of a <see cref="Trainer"/> run. The learning-rate schedule and the optimizer are given to the trainer;
/// rows per micro-batch, packing, shuffling and the data seed belong to the <see cref="Data.SequenceBatcher"/>.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Folder of checkpoints (checkpoint-{step}/), the loss curve and the final weights.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Passes over the training rows (used when <see cref="MaxSteps"/> is null).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimizer steps to take; overrides <see cref="Epochs"/> when set.</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Micro-batches per optimizer step; the loss is divided by the scored tokens of all of them together.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Clip the global gradient norm to this value (0 = no clipping; the norm is still measured). A non-finite norm skips the update.</summary>
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>Evaluate on the held-out rows every this many steps (0 = only before and after training).</summary>
    public int EvalSteps { get; init; }

    /// <summary>Write a checkpoint every this many steps (0 = only at the end).</summary>
    public int SaveSteps { get; init; }

    /// <summary>Keep at most this many checkpoint folders, deleting the oldest (0 = keep all).</summary>
    public int SaveTotalLimit { get; init; }

    /// <summary>Continue from the latest complete checkpoint in <see cref="OutputDirectory"/> when there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// The ranks of a data-parallel run (null: this process alone). Every rank runs the same trainer over the same
    /// data: each rank runs a contiguous block of every step's micro-batches (MicroBatchTree), the gradients are summed over the ranks before
    /// clipping, and rank 0 alone writes checkpoints and the loss curve (see docs/distributed.md).
    /// </summary>
    public Distributed.ICommunicator? Communicator { get; init; }

    /// <summary>Checks the values; names the first bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("An output directory is required.");
        if (MaxSteps is null && Epochs < 1) throw new ArgumentException($"epochs must be at least 1, not {Epochs}.");
        if (MaxSteps is < 1) throw new ArgumentException($"max steps must be at least 1, not {MaxSteps}.");
        if (GradientAccumulationSteps < 1) throw new ArgumentException($"gradient accumulation steps must be at least 1, not {GradientAccumulationSteps}.");
        if (!(MaxGradNorm >= 0)) throw new ArgumentException($"max grad norm must be ≥ 0, not {MaxGradNorm}.");
        if (EvalSteps < 0 || SaveSteps < 0 || SaveTotalLimit < 0) throw new ArgumentException("eval steps, save steps and save total limit must be ≥ 0.");
    }
}
