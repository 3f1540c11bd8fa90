using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Full fine-tuning or pretraining: every weight of the model is trainable (it must be loaded as F32,
/// which are then the master weights). Checkpoints are Hugging Face model folders: model.safetensors
/// with HF names, plus companion files (config.json, tokenizer and generation files) copied in, so a
/// checkpoint loads like any model folder.
/// </summary>
public sealed class FullWeights : ITrainableWeights
{
    private static readonly string[] s_companionFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
    private readonly LlamaModel _model;
    private readonly IReadOnlyList<string> _companions;

    /// <summary>
    /// Every weight of <paramref name="model"/> (checked F32 and dense; marked trainable only when training starts,
    /// <see cref="SetTraining"/>). <paramref name="companionFiles"/> are copied into each checkpoint under their own
    /// names (config.json, tokenizer.json …).
    /// </summary>
    public FullWeights(LlamaModel model, IReadOnlyList<string> companionFiles)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _companions = companionFiles ?? throw new ArgumentNullException(nameof(companionFiles));
        var list = new List<NamedParameter>();
        foreach (var (name, w) in model.NamedWeights())
        {
            if (w.DType != DType.F32)
                throw new ArgumentException($"Full training needs F32 master weights; '{name}' is {w.DType}. Load the model as F32.");
            list.Add(new NamedParameter(name, w));
        }
        if (list.Count != 3 + model.Config.NumHiddenLayers * 9 - (model.Config.TieWordEmbeddings ? 1 : 0))
            throw new ArgumentException("Full training needs every projection dense (no quantized or LoRA-wrapped linears).");
        Parameters = list;
    }

    /// <inheritdoc/>
    public IReadOnlyList<NamedParameter> Parameters { get; }

    /// <inheritdoc/>
    public string Summary => $"full training: {Parameters.Sum(p => p.Value.Numel):N0} trainable parameters (all weights, F32)";

    /// <inheritdoc/>
    public string? RandomState { get => null; set { } }

    /// <summary>Training: every weight (and a tied lm_head's view of the embedding) requires a gradient. Evaluation runs without gradients.</summary>
    public void SetTraining(bool training)
    {
        if (!training) return;
        foreach (var p in Parameters) p.Value.RequiresGrad = true;
        if (_model.TiedLmHeadWeight is { } tied) tied.RequiresGrad = true;
    }

    /// <inheritdoc/>
    public void AfterBackward() => _model.FoldTiedGradient();

    /// <inheritdoc/>
    public void Save(string directory)
    {
        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), Parameters.Select(p => (p.Name, p.Value)),
            new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var f in _companions) AtomicFile.Copy(f, Path.Combine(directory, Path.GetFileName(f)));
    }

    /// <summary>The config, tokenizer and generation files present in a model folder (to pass as companion files).</summary>
    public static IReadOnlyList<string> CompanionFilesIn(string modelDirectory) =>
        [.. s_companionFiles.Select(f => Path.Combine(modelDirectory, f)).Where(File.Exists)];

    /// <inheritdoc/>
    public void Load(string directory) => CopyInto(Path.Combine(directory, "model.safetensors"), Parameters);

    /// <summary>Copies the F32 tensors of a safetensors file into the parameters of the same names and shapes.</summary>
    internal static void CopyInto(string path, IReadOnlyList<NamedParameter> parameters)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var p in parameters)
        {
            if (!file.Contains(p.Name)) throw new InvalidDataException($"'{path}' has no tensor '{p.Name}'.");
            using var stored = file.GetTensor(p.Name);
            if (stored.Shape != p.Value.Shape || stored.DType != DType.F32)
                throw new InvalidDataException($"'{path}': '{p.Name}' is {stored.Shape} {stored.DType}; {p.Value.Shape} F32 was expected.");
            using var moved = stored.To(p.Value.Device);
            p.Value.Backend.Copy(moved, p.Value);
        }
    }
}
