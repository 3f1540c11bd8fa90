using PureLlama.Tensors;

namespace PureLlama.Cli.Demo;

/// <summary>Settings of <see cref="DemoPipeline.Run"/>: the defaults are the ones <c>purellama demo</c> uses.</summary>
internal sealed record DemoOptions
{
    /// <summary>The demo model folder (config.json, model.safetensors, tokenizer files, instructions.jsonl).</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>Where the adapter, the checkpoints, the loss curve and the merged model are written.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The instruction set (Alpaca JSONL); null: <c>instructions.jsonl</c> in the model folder.</summary>
    public string? InstructionsPath { get; init; }

    /// <summary>Optimizer steps of the QLoRA fine-tune.</summary>
    public int Steps { get; init; } = 800;

    /// <summary>Seed of the LoRA initialisation, the data order and the held-out choice.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Where to compute (null: <see cref="Compute.Backends.DefaultDevice"/>).</summary>
    public Device? Device { get; init; }

    /// <summary>LoRA rank r.</summary>
    public int LoraR { get; init; } = 16;

    /// <summary>LoRA alpha (scaling alpha / r).</summary>
    public float LoraAlpha { get; init; } = 32;

    /// <summary>Peak learning rate (cosine schedule, a few warm-up steps).</summary>
    public float LearningRate { get; init; } = 2e-3f;

    /// <summary>Tokens per packed training row.</summary>
    public int RowTokens { get; init; } = 128;

    /// <summary>Instruction examples held out to measure the loss before and after (never trained on).</summary>
    public int HeldOutExamples { get; init; } = 24;

    /// <summary>Largest answer generated per question (greedy decoding, stops at <c>&lt;|eot_id|&gt;</c>).</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>The questions asked before and after the fine-tune; each must be an instruction of the set (it is kept in the training split).</summary>
    public IReadOnlyList<string> Questions { get; init; } = DefaultQuestions;

    /// <summary>Text prompts the pretrained model continues first, to show what it learned from its corpus.</summary>
    public IReadOnlyList<string> TextPrompts { get; init; } = ["In the beginning", "And Jesus said unto them,"];

    /// <summary>Write the merged model (dense, BF16) and answer again with it.</summary>
    public bool Merge { get; init; } = true;

    /// <summary>The questions <c>purellama demo</c> asks: one of each kind in the instruction set.</summary>
    public static IReadOnlyList<string> DefaultQuestions { get; } =
    [
        "Which book comes after Genesis?",
        "Which book comes before Revelation?",
        "How many chapters are in Psalms?",
        "Is Romans in the Old or the New Testament?",
        "Quote John 11:35.",
    ];
}
