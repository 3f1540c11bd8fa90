using PureLlama.Tensors;

namespace PureLlama.Cli.Demo;

/// <summary>Settings of <see cref="DemoPipeline.Run"/>: the defaults are the ones <c>purellama demo</c> uses.</summary>
internal sealed record DemoOptions
{
    /// <summary>The training split's file name in the model folder.</summary>
    public const string TrainFileName = "extraction-train.jsonl";

    /// <summary>The held-out split's file name in the model folder.</summary>
    public const string HeldOutFileName = "extraction-heldout.jsonl";

    /// <summary>The demo model folder (config.json, model.safetensors, tokenizer files, the extraction splits).</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>Where the checkpoints, the fine-tuned model and the pictures are written.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The training split (Alpaca JSONL whose outputs are JSON objects); null: <see cref="TrainFileName"/> in the model folder.</summary>
    public string? TrainPath { get; init; }

    /// <summary>The held-out split (never trained on); null: <see cref="HeldOutFileName"/> in the model folder.</summary>
    public string? HeldOutPath { get; init; }

    /// <summary>Optimizer steps of the fine-tune.</summary>
    public int Steps { get; init; } = 3200;

    /// <summary>Seed of the data order.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Where to compute (null: <see cref="Compute.Backends.DefaultDevice"/>).</summary>
    public Device? Device { get; init; }

    /// <summary>Peak learning rate (cosine schedule, a few warm-up steps).</summary>
    public float LearningRate { get; init; } = 2.5e-4f;

    /// <summary>Tokens per packed training row.</summary>
    public int RowTokens { get; init; } = 256;

    /// <summary>Held-out records scored before and after (the first ones of the split; 0: all).</summary>
    public int HeldOutCount { get; init; }

    /// <summary>Largest answer generated per record (greedy decoding, stops at <c>&lt;|eot_id|&gt;</c>).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Held-out records shown before and after in the narration.</summary>
    public int ShownExamples { get; init; } = 3;
}
