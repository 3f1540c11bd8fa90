namespace PureLlama.Training;

/// <summary>Which optimizer a <see cref="Trainer"/> builds over the trainable weights.</summary>
public enum OptimizerKind
{
    /// <summary><see cref="AdamWOptimizer"/>: F32 moments on the weights' device.</summary>
    AdamW,
    /// <summary><see cref="PagedAdamW8bit"/>: 8-bit block-quantized moments, paged to host memory.</summary>
    PagedAdamW8bit,
}

/// <summary>
/// Settings of a <see cref="Trainer"/> run: the loop, the optimizer and its learning-rate schedule, checkpoints.
/// Rows per micro-batch, packing, shuffling and the data seed belong to the data (<see cref="Data.BatcherOptions"/>).
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Folder of checkpoints (checkpoint-{step}/).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Passes over the training rows (used when <see cref="MaxSteps"/> is null).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimizer steps to take; overrides <see cref="Epochs"/> when set.</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Micro-batches per optimizer step; the loss is divided by the scored tokens of all of them together.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public float LearningRate { get; init; } = 2e-4f;

    /// <summary>Shape of the learning rate over the run (after <see cref="WarmupSteps"/>).</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;

    /// <summary>Linear warm-up steps from 0 to <see cref="LearningRate"/>.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>β1, β2, ε and weight decay of the optimizer.</summary>
    public AdamWOptions AdamW { get; init; } = new();

    /// <summary>Clip the global gradient norm to this value (0 = no clipping; the norm is still measured). A non-finite norm skips the update.</summary>
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>Evaluate on the held-out rows every this many steps (0 = only before and after training).</summary>
    public int EvalSteps { get; init; }

    /// <summary>Write a checkpoint every this many steps (0 = only at the end and when cancelled).</summary>
    public int SaveSteps { get; init; }

    /// <summary>Keep at most this many checkpoint folders, deleting the oldest (0 = keep all).</summary>
    public int SaveTotalLimit { get; init; }

    /// <summary>Continue from the latest complete checkpoint in <see cref="OutputDirectory"/>; an error when there is none.</summary>
    public bool Resume { get; init; }

    /// <summary>Stop with <see cref="TrainingDivergedException"/> after this many consecutive steps with a non-finite loss or gradient (each is skipped).</summary>
    public int MaxNonFiniteSteps { get; init; } = 5;

    /// <summary>
    /// Start afresh in an <see cref="OutputDirectory"/> that holds another run's checkpoints, deleting them. Without it
    /// (and without <see cref="Resume"/>) such a folder is refused.
    /// </summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// The ranks of a data-parallel run (null: this process alone). Every rank runs the same trainer over the same
    /// data: each rank runs a contiguous block of every step's micro-batches (MicroBatchTree), the gradients are summed over the ranks before
    /// clipping, and rank 0 alone writes checkpoints and reports progress (see docs/distributed.md).
    /// </summary>
    public Distributed.ICommunicator? Communicator { get; init; }

    /// <summary>Checks the values; names the first bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("An output directory is required.");
        if (MaxSteps is null && Epochs < 1) throw new ArgumentException($"epochs must be at least 1, not {Epochs}.");
        if (MaxSteps is < 1) throw new ArgumentException($"max steps must be at least 1, not {MaxSteps}.");
        if (GradientAccumulationSteps < 1) throw new ArgumentException($"gradient accumulation steps must be at least 1, not {GradientAccumulationSteps}.");
        if (!(LearningRate >= 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"the learning rate must be finite and ≥ 0, not {LearningRate}.");
        if (WarmupSteps < 0) throw new ArgumentException($"warm-up steps must be ≥ 0, not {WarmupSteps}.");
        if (!Enum.IsDefined(Schedule)) throw new ArgumentException($"the schedule must be constant, constant_with_warmup, linear or cosine, not {(int)Schedule}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"the optimizer must be adamw or paged-adamw-8bit, not {(int)Optimizer}.");
        if (!(MaxGradNorm >= 0)) throw new ArgumentException($"max grad norm must be ≥ 0, not {MaxGradNorm}.");
        if (EvalSteps < 0 || SaveSteps < 0 || SaveTotalLimit < 0) throw new ArgumentException("eval steps, save steps and save total limit must be ≥ 0.");
        if (Resume && Overwrite) throw new ArgumentException("resume and overwrite exclude each other: resume continues the run in the output folder, overwrite deletes it.");
    }
}
