namespace PureLlama.Cli.Demo;

/// <summary>One question of the demo with the answers before and after the fine-tune.</summary>
/// <param name="Question">The instruction.</param>
/// <param name="Expected">The answer in the instruction set.</param>
/// <param name="Before">The answer of the pretrained model (NF4 base, no adapter).</param>
/// <param name="WithAdapter">The answer with the trained adapter over the NF4 base.</param>
/// <param name="Merged">The answer of the merged dense model (null when merging was off).</param>
internal sealed record DemoAnswer(string Question, string Expected, string Before, string WithAdapter, string? Merged)
{
    /// <summary>The answer after the fine-tune that the demo shows: the merged model's, else the adapter's.</summary>
    public string After => Merged ?? WithAdapter;

    /// <summary>True when <paramref name="answer"/> is the expected answer (white space at the ends ignored).</summary>
    public bool Matches(string answer) => string.Equals(answer.Trim(), Expected.Trim(), StringComparison.Ordinal);

    /// <summary>
    /// How many leading words <paramref name="answer"/> shares with the expected answer: the phrasing the
    /// instruction set teaches ("The book after Genesis is …") shows up as a long shared prefix.
    /// </summary>
    public int SharedLeadingWords(string answer)
    {
        var a = answer.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var e = Expected.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int n = 0;
        while (n < a.Length && n < e.Length && a[n] == e[n]) n++;
        return n;
    }
}

/// <summary>What <see cref="DemoPipeline.Run"/> did and measured.</summary>
/// <param name="Answers">The questions with their answers before and after.</param>
/// <param name="HeldOutLossBefore">Mean token loss on the held-out instructions before the fine-tune.</param>
/// <param name="HeldOutLossAfter">The same after it.</param>
/// <param name="FirstTrainLoss">Training loss of the first step.</param>
/// <param name="LastTrainLoss">Training loss of the last step.</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="TrainTokensPerSecond">Training throughput (input tokens per second).</param>
/// <param name="GenerationTokensPerSecond">Generated tokens per second over every answer (prefill included in the time).</param>
/// <param name="PeakResidentBytes">Peak resident set of the process.</param>
/// <param name="TrainableParameters">LoRA parameters trained.</param>
/// <param name="ModelParameters">Parameters of the base model.</param>
/// <param name="AdapterDirectory">The PEFT adapter folder.</param>
/// <param name="MergedDirectory">The merged model folder (null when merging was off).</param>
/// <param name="LossCurve">The loss-curve PNG.</param>
/// <param name="Elapsed">Wall time of the whole run.</param>
/// <param name="TrainingTime">Wall time of the fine-tune alone.</param>
internal sealed record DemoResult(IReadOnlyList<DemoAnswer> Answers, double HeldOutLossBefore, double HeldOutLossAfter, double FirstTrainLoss,
    double LastTrainLoss, int Steps, double TrainTokensPerSecond, double GenerationTokensPerSecond, long PeakResidentBytes,
    long TrainableParameters, long ModelParameters, string AdapterDirectory, string? MergedDirectory, string LossCurve, TimeSpan Elapsed,
    TimeSpan TrainingTime)
{
    /// <summary>Questions answered exactly as the instruction set does, before the fine-tune.</summary>
    public int ExactBefore => Answers.Count(a => a.Matches(a.Before));

    /// <summary>Questions answered exactly as the instruction set does, after the fine-tune.</summary>
    public int ExactAfter => Answers.Count(a => a.Matches(a.After));
}
