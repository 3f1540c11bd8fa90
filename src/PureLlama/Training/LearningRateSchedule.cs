namespace PureLlama.Training;

/// <summary>Shape of a <see cref="LearningRateSchedule"/> after its linear warmup.</summary>
public enum ScheduleKind
{
    /// <summary>The base rate throughout (no warmup: transformers' get_constant_schedule).</summary>
    Constant,
    /// <summary>Linear warmup from 0, then the base rate (get_constant_schedule_with_warmup).</summary>
    ConstantWithWarmup,
    /// <summary>Linear warmup, then linear decay to 0 at the last step (get_linear_schedule_with_warmup).</summary>
    Linear,
    /// <summary>Linear warmup, then half a cosine down to 0 (get_cosine_schedule_with_warmup).</summary>
    Cosine,
}

/// <summary>
/// The learning rate at each optimizer step, with the formulas of Hugging Face transformers'
/// <c>get_*_schedule_with_warmup</c> (factor·base rate; s = steps taken so far, W = warmup steps,
/// T = total steps, c = cycles, default 0.5):
/// <code>
/// warmup (s &lt; W):  s / max(1, W)
/// constant:          1
/// linear:            max(0, (T − s) / max(1, T − W))
/// cosine:            max(0, ½·(1 + cos(π·c·2·p))),  p = (s − W) / max(1, T − W)
/// </code>
/// As in transformers, the first update (s = 0) of a schedule with warmup runs at rate 0.
/// Factors are computed in double.
/// </summary>
public sealed class LearningRateSchedule
{
    private LearningRateSchedule(ScheduleKind kind, float baseRate, int warmupSteps, int totalSteps, double cycles)
    {
        if (!(baseRate >= 0) || float.IsInfinity(baseRate)) throw new ArgumentOutOfRangeException(nameof(baseRate), baseRate, "The learning rate must be finite and ≥ 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegative(totalSteps);
        if ((kind is ScheduleKind.Linear or ScheduleKind.Cosine) && totalSteps == 0)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"A {kind} schedule needs the total number of training steps.");
        Kind = kind; BaseRate = baseRate; WarmupSteps = warmupSteps; TotalSteps = totalSteps; Cycles = cycles;
    }

    /// <summary>The shape after warmup.</summary>
    public ScheduleKind Kind { get; }
    /// <summary>Peak learning rate.</summary>
    public float BaseRate { get; }
    /// <summary>Linear warmup steps W.</summary>
    public int WarmupSteps { get; }
    /// <summary>Total training steps T (linear and cosine).</summary>
    public int TotalSteps { get; }
    /// <summary>Cosine cycles c (0.5: one half-cosine from the peak to 0).</summary>
    public double Cycles { get; }

    /// <summary>Constant rate, no warmup.</summary>
    public static LearningRateSchedule Constant(float rate) => new(ScheduleKind.Constant, rate, 0, 0, 0);

    /// <summary>Linear warmup over <paramref name="warmupSteps"/>, then constant.</summary>
    public static LearningRateSchedule ConstantWithWarmup(float rate, int warmupSteps) => new(ScheduleKind.ConstantWithWarmup, rate, warmupSteps, 0, 0);

    /// <summary>Linear warmup, then linear decay to 0 at <paramref name="totalSteps"/>.</summary>
    public static LearningRateSchedule Linear(float rate, int warmupSteps, int totalSteps) => new(ScheduleKind.Linear, rate, warmupSteps, totalSteps, 0);

    /// <summary>Linear warmup, then cosine decay (<paramref name="cycles"/> = 0.5: to 0 at <paramref name="totalSteps"/>).</summary>
    public static LearningRateSchedule Cosine(float rate, int warmupSteps, int totalSteps, double cycles = 0.5) => new(ScheduleKind.Cosine, rate, warmupSteps, totalSteps, cycles);

    /// <summary>
    /// A schedule by its transformers name (<c>constant</c>, <c>constant_with_warmup</c>, <c>linear</c>, <c>cosine</c>).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static LearningRateSchedule Parse(string name, float rate, int warmupSteps, int totalSteps) =>
        Create(ParseKind(name), rate, warmupSteps, totalSteps);

    /// <summary>A schedule of <paramref name="kind"/>; constant with warm-up steps is <see cref="ScheduleKind.ConstantWithWarmup"/>.</summary>
    public static LearningRateSchedule Create(ScheduleKind kind, float rate, int warmupSteps, int totalSteps) => kind switch
    {
        ScheduleKind.Constant => warmupSteps == 0 ? Constant(rate) : ConstantWithWarmup(rate, warmupSteps),
        ScheduleKind.ConstantWithWarmup => ConstantWithWarmup(rate, warmupSteps),
        ScheduleKind.Linear => Linear(rate, warmupSteps, totalSteps),
        ScheduleKind.Cosine => Cosine(rate, warmupSteps, totalSteps),
        _ => throw new ArgumentException($"Unknown learning-rate schedule {(int)kind} (expected constant, constant_with_warmup, linear or cosine).", nameof(kind)),
    };

    /// <summary>The kind named by transformers' schedule name (<c>constant</c>, <c>constant_with_warmup</c>, <c>linear</c>, <c>cosine</c>).</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static ScheduleKind ParseKind(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "constant" => ScheduleKind.Constant,
        "constant_with_warmup" => ScheduleKind.ConstantWithWarmup,
        "linear" => ScheduleKind.Linear,
        "cosine" => ScheduleKind.Cosine,
        _ => throw new ArgumentException($"Unknown learning-rate schedule '{name}' (expected constant, constant_with_warmup, linear or cosine).", nameof(name)),
    };

    /// <summary>The multiplier of the base rate after <paramref name="step"/> optimizer steps.</summary>
    public double Factor(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (Kind == ScheduleKind.Constant) return 1.0;
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        switch (Kind)
        {
            case ScheduleKind.ConstantWithWarmup:
                return 1.0;
            case ScheduleKind.Linear:
                return Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps));
            default:
                double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
                return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * Cycles * 2.0 * progress)));
        }
    }

    /// <summary>The learning rate for the update after <paramref name="step"/> steps taken.</summary>
    public float RateAt(int step) => (float)(BaseRate * Factor(step));

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ScheduleKind.Constant => $"constant {BaseRate:G4}",
        ScheduleKind.ConstantWithWarmup => $"constant {BaseRate:G4} after {WarmupSteps} warmup steps",
        _ => $"{Kind.ToString().ToLowerInvariant()} {BaseRate:G4}, {WarmupSteps} warmup of {TotalSteps} steps",
    };
}
