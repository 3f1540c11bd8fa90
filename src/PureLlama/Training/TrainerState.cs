using System.Text.Json;
using System.Text.Json.Serialization;

namespace PureLlama.Training;

/// <summary>One logged optimizer step (Hugging Face's log_history entry).</summary>
/// <param name="Step">Step number (1-based).</param>
/// <param name="Epoch">Fractional epoch.</param>
/// <param name="Loss">Mean token loss of the step (NaN when nothing was scored).</param>
/// <param name="LearningRate">Learning rate of the step.</param>
/// <param name="GradNorm">Gradient norm before clipping.</param>
/// <param name="Skipped">The update was skipped (non-finite norm or no scored token).</param>
/// <param name="Tokens">Input tokens of the step.</param>
public sealed record StepLog(int Step, double Epoch, double Loss, double LearningRate, double GradNorm, bool Skipped, long Tokens);

/// <summary>One evaluation on the held-out rows.</summary>
/// <param name="Step">Optimizer steps done when it ran.</param>
/// <param name="Loss">Mean token loss over every held-out row.</param>
public sealed record EvalLog(int Step, double Loss);

/// <summary>
/// Where a run stands, saved as trainer_state.json in every checkpoint: steps done, the data cursor
/// (epoch and row), the random state of the trainable weights (LoRA dropout), and the
/// loss history. Together with the weights and the optimizer state it resumes a run exactly.
/// </summary>
public sealed class TrainerState
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Optimizer steps done.</summary>
    public int Step { get; set; }
    /// <summary>Steps the run takes in all.</summary>
    public int TotalSteps { get; set; }
    /// <summary>The data cursor ("epoch:row", <see cref="Data.DataCursor"/>) of the next step's first row.</summary>
    public string DataCursor { get; set; } = Data.DataCursor.Start.ToString();
    /// <summary>Rows in one epoch.</summary>
    public int RowsPerEpoch { get; set; }
    /// <summary>Random state of the trainable weights (LoRA dropout), or null.</summary>
    public string? WeightsRandomState { get; set; }
    /// <summary>Input tokens trained on so far.</summary>
    public long Tokens { get; set; }
    /// <summary>Every step's log.</summary>
    public List<StepLog> LogHistory { get; set; } = [];
    /// <summary>Every evaluation.</summary>
    public List<EvalLog> EvalHistory { get; set; } = [];

    /// <summary>Fractional epoch reached.</summary>
    [JsonIgnore]
    public double EpochProgress
    {
        get
        {
            var c = Data.DataCursor.Parse(DataCursor);
            return c.Epoch + (RowsPerEpoch > 0 ? (double)c.Index / RowsPerEpoch : 0);
        }
    }

    // Values a hand-edited or corrupted file may hold that System.Text.Json lets through: nulls in place of
    // lists, entries and the cursor, negative counts.
    internal void Check(string path)
    {
        InvalidDataException Bad(string field, string problem) => new($"Field '{field}' in '{path}' {problem}");
        if (Step < 0) throw Bad("step", $"is {Step}; expected ≥ 0.");
        if (TotalSteps < 0) throw Bad("total_steps", $"is {TotalSteps}; expected ≥ 0.");
        if (RowsPerEpoch < 0) throw Bad("rows_per_epoch", $"is {RowsPerEpoch}; expected ≥ 0.");
        if (Tokens < 0) throw Bad("tokens", $"is {Tokens}; expected ≥ 0.");
        if (DataCursor is null) throw Bad("data_cursor", "is null; expected \"epoch:row\".");
        try { Data.DataCursor.Parse(DataCursor); }
        catch (FormatException e) { throw Bad("data_cursor", $"is invalid: {e.Message}."); }
        if (LogHistory is null) throw Bad("log_history", "is null; expected a list of step logs.");
        if (EvalHistory is null) throw Bad("eval_history", "is null; expected a list of evaluations.");
        int i = LogHistory.IndexOf(null!);
        if (i >= 0) throw Bad($"log_history[{i}]", "is null; expected a step log.");
        i = EvalHistory.IndexOf(null!);
        if (i >= 0) throw Bad($"eval_history[{i}]", "is null; expected an evaluation.");
    }

    /// <summary>The state as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads trainer_state.json.</summary>
    public static TrainerState Load(string path)
    {
        try
        {
            using var doc = IO.StrictJson.ParseFile(path);
            var state = doc.Deserialize<TrainerState>(s_json) ?? throw new InvalidDataException($"'{path}' holds no trainer state.");
            state.Check(path);
            return state;
        }
        catch (JsonException e) { throw new InvalidDataException($"'{path}' is not a valid trainer_state.json: {e.Message}", e); }
    }
}
