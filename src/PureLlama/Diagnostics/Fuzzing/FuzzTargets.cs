using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Diagnostics.Fuzzing;

/// <summary>One file a parser reads: where its seed lies in the corpus, how to mutate it, and the reader to run on it.</summary>
/// <param name="Folder">Folder of the corpus (relative; "" for the root).</param>
/// <param name="File">The file that is mutated.</param>
/// <param name="Kind">Its structure.</param>
/// <param name="Read">Runs the reader: (work context, folder, file) → throws or returns.</param>
internal sealed record FuzzVariant(string Folder, string File, Mutator.Kind Kind, Action<FuzzContext, string, string> Read);

/// <summary>What the readers share within one run (built from the corpus once).</summary>
internal sealed class FuzzContext(string root) : IDisposable
{
    private Llama3Tokenizer? _tokenizer;
    private LlamaModel? _model;

    public string Root { get; } = root;
    public Llama3Tokenizer Tokenizer => _tokenizer ??= Llama3Tokenizer.Load(Path.Combine(Root, "dense"));
    public LlamaModel Model => _model ??= LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);

    public void Dispose() => _model?.Dispose();
}

/// <summary>The parsers the fuzzer covers, by name.</summary>
internal static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, FuzzVariant[]> All = new Dictionary<string, FuzzVariant[]>(StringComparer.Ordinal)
    {
        ["safetensors"] =
        [
            new("dense", "model.safetensors", Mutator.Kind.SafeTensors, (_, _, f) => ReadAll(f, WeightLoading.Copied)),
            new("dense", "model.safetensors", Mutator.Kind.SafeTensors, (_, _, f) => ReadAll(f, WeightLoading.Mapped)),
        ],
        ["config"] =
        [
            new("dense", "config.json", Mutator.Kind.Json, (_, _, f) =>
            {
                LlamaConfig.FromFile(f);
                QuantizationConfig.FromConfigFile(f);
                Int4CheckpointConfig.FromConfigFile(f);
            }),
            new("dense", "generation_config.json", Mutator.Kind.Json, (_, _, f) => GenerationConfig.FromFile(f)),
            new("nf4", "config.json", Mutator.Kind.Json, (_, _, f) => { QuantizationConfig.FromConfigFile(f); LlamaConfig.FromFile(f); }),
            new("int8", "config.json", Mutator.Kind.Json, (_, _, f) => QuantizationConfig.FromConfigFile(f)),
            new("gptq", "config.json", Mutator.Kind.Json, (_, _, f) => Int4CheckpointConfig.FromConfigFile(f)),
            new("awq", "config.json", Mutator.Kind.Json, (_, _, f) => Int4CheckpointConfig.FromConfigFile(f)),
        ],
        ["tokenizer"] =
        [
            new("dense", "tokenizer.json", Mutator.Kind.Json, (_, d, _) => Exercise(Llama3Tokenizer.Load(d))),
            new("dense", "tokenizer_config.json", Mutator.Kind.Json, (_, d, _) => Exercise(Llama3Tokenizer.Load(d))),
        ],
        ["adapter"] =
        [
            new("adapter", LoraAdapter.ConfigFileName, Mutator.Kind.Json, (c, d, _) => LoraAdapter.Load(c.Model, d).Dispose()),
            new("adapter", LoraAdapter.WeightsFileName, Mutator.Kind.SafeTensors, (c, d, _) => LoraAdapter.Load(c.Model, d).Dispose()),
        ],
        ["quantized"] =
        [
            .. new[] { "nf4", "int8", "gptq", "awq" }.SelectMany(q => new FuzzVariant[]
            {
                new(q, "model.safetensors", Mutator.Kind.SafeTensors, (_, d, _) => LlamaRuntime.Load(d, Device.Cpu).Dispose()),
                new(q, "config.json", Mutator.Kind.Json, (_, d, _) => LlamaRuntime.Load(d, Device.Cpu).Dispose()),
            }),
        ],
        ["gguf"] =
        [
            new("gguf", "model-f16.gguf", Mutator.Kind.Gguf, (_, _, f) => LlamaRuntime.Load(f, Device.Cpu).Dispose()),
            new("gguf", "model-q8_0.gguf", Mutator.Kind.Gguf, (_, _, f) => LlamaRuntime.Load(f, Device.Cpu).Dispose()),
            new("gguf", "model-f16.gguf", Mutator.Kind.Gguf, (_, _, f) => ReadAllGguf(f)),
        ],
        ["sft"] =
        [
            new("", "train.jsonl", Mutator.Kind.JsonLines, (c, _, f) => SftDataset.Load(f, c.Tokenizer)),
            new("", "train.jsonl", Mutator.Kind.JsonLines, (c, _, f) => SftDataset.Load(f, c.Tokenizer, new SftDatasetOptions { SkipInvalidLines = true, MaxSeqLength = 16 })),
        ],
        ["trainer-state"] =
        [
            new("checkpoint", "trainer_state.json", Mutator.Kind.Json, (_, _, f) => _ = TrainerState.Load(f).EpochProgress),
        ],
        ["optimizer"] =
        [
            new("checkpoint", "optimizer.safetensors", Mutator.Kind.SafeTensors, (c, _, f) =>
            {
                using var adapter = LoraAdapter.Attach(c.Model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj"] }, 3);
                using var optimizer = new AdamWOptimizer(adapter.Parameters);
                optimizer.LoadState(f);
            }),
        ],
    };

    private static void ReadAllGguf(string path)
    {
        using var file = IO.Gguf.GgufFile.Open(path, WeightLoading.Mapped);
        foreach (var t in file.Tensors) _ = file.Bytes(t).Length;
    }

    private static void ReadAll(string path, WeightLoading loading)
    {
        using var file = SafeTensorsFile.Open(path, loading);
        foreach (var t in file.Tensors.Where(t => t.IsSupported))
        {
            using var tensor = file.GetTensor(t.Name);
        }
    }

    // Loading is not enough: a hostile regex or id table only shows when text is encoded and decoded.
    private static void Exercise(Llama3Tokenizer tok)
    {
        var ids = tok.Encode("Hello world <|eot_id|> héllo 12345 \n\n  x", addBos: tok.BosId is not null);
        tok.Decode(ids);
        tok.ChatTemplate.Encode([ChatTurn.User("hi")]);
    }
}
