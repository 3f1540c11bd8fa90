namespace PureLlama.Training;

/// <summary>What <see cref="Trainer.Train"/> reports through its <see cref="IProgress{T}"/>: one of the records below.</summary>
public abstract record TrainingEvent;

/// <summary>After each optimizer step.</summary>
/// <param name="Step">Optimizer steps done (1-based).</param>
/// <param name="TotalSteps">Steps the run will take.</param>
/// <param name="Epoch">Fractional epoch reached.</param>
/// <param name="Loss">Mean token loss of the step's accumulated batch.</param>
/// <param name="LearningRate">Learning rate used for the step.</param>
/// <param name="GradNorm">Global gradient norm before clipping (NaN/∞ when the step was skipped).</param>
/// <param name="Skipped">True when the update was skipped (no scored token or a non-finite gradient norm).</param>
/// <param name="Tokens">Input tokens in the step.</param>
/// <param name="TokensPerSecond">Input tokens per second of the step.</param>
/// <param name="Elapsed">Wall time since training started (this process).</param>
/// <param name="Remaining">Estimated time left.</param>
/// <param name="ResidentBytes">Process resident set.</param>
/// <param name="BackendBytes">Tensor memory held by the compute backend (native CPU memory or GPU buffers).</param>
public sealed record StepReport(int Step, int TotalSteps, double Epoch, double Loss, double LearningRate, double GradNorm, bool Skipped,
    long Tokens, double TokensPerSecond, TimeSpan Elapsed, TimeSpan Remaining, long ResidentBytes, long BackendBytes) : TrainingEvent;

/// <summary>A held-out evaluation (step 0: before training).</summary>
public sealed record EvalReport(int Step, double Loss) : TrainingEvent;

/// <summary>A checkpoint folder was written.</summary>
public sealed record CheckpointReport(int Step, string Path) : TrainingEvent;

/// <summary>The run continues from a checkpoint.</summary>
public sealed record ResumeReport(int Step, string Path) : TrainingEvent;

/// <summary>A note for the user: why an update was skipped, why a checkpoint was not written, a warning about the run's health.</summary>
public sealed record NoticeReport(int Step, string Message) : TrainingEvent;
