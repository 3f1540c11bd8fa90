namespace PureLlama.Cli.Demo;

/// <summary>One held-out record with the answers before and after the fine-tune.</summary>
/// <param name="Index">1-based position in the held-out split.</param>
/// <param name="Prompt">The user turn (instruction and text).</param>
/// <param name="Expected">The expected JSON.</param>
/// <param name="Before">The pretrained model's answer.</param>
/// <param name="After">The answer of the fine-tuned model, loaded back from the folder it was saved to.</param>
internal sealed record DemoExample(int Index, string Prompt, string Expected, string Before, string After);

/// <summary>What <see cref="DemoPipeline.Run"/> did and measured.</summary>
/// <param name="Before">Held-out scores of the pretrained model.</param>
/// <param name="After">Held-out scores of the fine-tuned model, loaded back from <paramref name="ModelDirectory"/>.</param>
/// <param name="Shown">The examples shown before and after.</param>
/// <param name="TrainCount">Training records.</param>
/// <param name="HeldOutLossBefore">Mean token loss of the held-out answers before the fine-tune.</param>
/// <param name="HeldOutLossAfter">The same after it.</param>
/// <param name="FirstTrainLoss">Training loss of the first step.</param>
/// <param name="LastTrainLoss">Training loss of the last step.</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="TrainTokensPerSecond">Training throughput (input tokens per second).</param>
/// <param name="GenerationTokensPerSecond">Generated tokens per second over every answer (prefill included in the time).</param>
/// <param name="PeakResidentBytes">Peak resident set of the process.</param>
/// <param name="TrainableParameters">Parameters trained (every weight).</param>
/// <param name="ModelDirectory">The fine-tuned model folder (Hugging Face layout).</param>
/// <param name="LossCurve">The loss-curve PNG.</param>
/// <param name="ScoresChart">The before/after held-out scores PNG.</param>
/// <param name="Elapsed">Wall time of the whole run.</param>
/// <param name="TrainingTime">Wall time of the fine-tune alone.</param>
internal sealed record DemoResult(ExtractionScore Before, ExtractionScore After, IReadOnlyList<DemoExample> Shown, int TrainCount,
    double HeldOutLossBefore, double HeldOutLossAfter, double FirstTrainLoss, double LastTrainLoss, int Steps, double TrainTokensPerSecond,
    double GenerationTokensPerSecond, long PeakResidentBytes, long TrainableParameters, string ModelDirectory, string LossCurve,
    string ScoresChart, TimeSpan Elapsed, TimeSpan TrainingTime);
