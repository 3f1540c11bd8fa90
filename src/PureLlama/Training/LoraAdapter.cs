using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// A LoRA adapter attached to a <see cref="LlamaModel"/>: each targeted projection is wrapped in a
/// <see cref="LoraLinear"/> through <see cref="LlamaModel.ReplaceLinear"/>. <see cref="Parameters"/>
/// lists lora_A/lora_B under PEFT's saved key names
/// (<c>base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight</c>). Save/Load use PEFT's
/// files (LoraAdapter.Peft.cs); Merge folds the update into dense weights (LoraAdapter.Merge.cs).
/// Disposing detaches (restores the base layers) unless merged.
/// </summary>
public sealed partial class LoraAdapter : IDisposable
{
    /// <summary>Prefix PEFT puts before the model's own module names.</summary>
    public const string KeyPrefix = "base_model.model.";

    private readonly List<(string Module, LoraLinear Layer)> _layers;
    private readonly List<NamedParameter> _parameters = [];
    private bool _attached = true;

    private LoraAdapter(LlamaModel model, LoraConfig config, LoraDropout dropout, List<(string, LoraLinear)> layers)
    {
        Model = model; Config = config; Dropout = dropout; _layers = layers;
        foreach (var (module, layer) in layers)
        {
            layer.A.Name = KeyPrefix + module + ".lora_A.weight";
            layer.B.Name = KeyPrefix + module + ".lora_B.weight";
            _parameters.Add(new NamedParameter(layer.A.Name, layer.A));
            _parameters.Add(new NamedParameter(layer.B.Name, layer.B));
        }
    }

    /// <summary>The model the adapter is attached to.</summary>
    public LlamaModel Model { get; }

    /// <summary>The hyper-parameters.</summary>
    public LoraConfig Config { get; }

    /// <summary>The shared dropout stream (train/eval flag and resumable counter).</summary>
    public LoraDropout Dropout { get; }

    /// <summary>The wrapped modules by Hugging Face name (model.layers.{i}.self_attn.q_proj …), in model order.</summary>
    public IReadOnlyList<(string Module, LoraLinear Layer)> Layers => _layers;

    /// <summary>lora_A and lora_B of every wrapped module under PEFT's saved key names (A then B per module).</summary>
    public IReadOnlyList<NamedParameter> Parameters => _parameters;

    /// <summary>The dropout RNG state to store in a training checkpoint (restore it to resume the same masks).</summary>
    public ulong DropoutState { get => Dropout.Counter; set => Dropout.Counter = value; }

    /// <summary>True in training mode (dropout active).</summary>
    public bool Training => Dropout.Training;

    /// <summary>Training mode: dropout masks are applied.</summary>
    public void Train() => Dropout.Training = true;

    /// <summary>Evaluation mode: dropout is the identity.</summary>
    public void Eval() => Dropout.Training = false;

    /// <summary>
    /// Wraps the projections named by <paramref name="config"/> in every layer with fresh adapters
    /// (A from <paramref name="seed"/>, B = 0: the model's outputs are unchanged until trained).
    /// Starts in training mode.
    /// </summary>
    public static LoraAdapter Attach(LlamaModel model, LoraConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        var dropout = new LoraDropout(config.Dropout, Mix(seed, ulong.MaxValue)) { Training = true };
        int index = 0;
        return Wrap(model, config, dropout, (module, baseLayer) =>
            new LoraLinear(baseLayer, config.R, config.Alpha, config.UseRsLora, dropout, Mix(seed, (ulong)index++), model.Device));
    }

    /// <summary>Replaces each target module by the wrapper <paramref name="make"/> builds around it.</summary>
    private static LoraAdapter Wrap(LlamaModel model, LoraConfig config, LoraDropout dropout, Func<string, ILinear, LoraLinear> make)
    {
        var targets = config.ResolvedTargets();
        var names = model.NamedLinears().Select(n => n.Name).Where(n => targets.Contains(n[(n.LastIndexOf('.') + 1)..])).ToHashSet(StringComparer.Ordinal);
        if (names.Count == 0) throw new ArgumentException($"No linear layer of the model matches target_modules [{string.Join(", ", targets)}].");
        return WrapModules(model, config, dropout, names, make);
    }

    /// <summary>Replaces the modules named in <paramref name="names"/> (in model order) by their wrappers.</summary>
    private static LoraAdapter WrapModules(LlamaModel model, LoraConfig config, LoraDropout dropout, HashSet<string> names, Func<string, ILinear, LoraLinear> make)
    {
        var chosen = model.NamedLinears().Where(n => names.Contains(n.Name)).ToList();
        foreach (var (name, linear) in chosen)
            if (linear is LoraLinear) throw new InvalidOperationException($"'{name}' already carries a LoRA adapter; detach or merge it first.");
        var layers = new List<(string, LoraLinear)>();
        try
        {
            foreach (var (name, linear) in chosen)
            {
                var wrapped = make(name, linear);
                model.ReplaceLinear(name, wrapped);
                layers.Add((name, wrapped));
            }
        }
        catch
        {
            foreach (var (name, wrapped) in layers) { model.ReplaceLinear(name, wrapped.Base); wrapped.ReleaseAdapter(); }
            throw;
        }
        // The model replays this dropout stream when gradient checkpointing recomputes a layer.
        model.CheckpointedDropout = dropout;
        return new LoraAdapter(model, config, dropout, layers);
    }

    private static ulong Mix(ulong seed, ulong stream)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (stream + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Elements of lora_A and lora_B.</summary>
    public long TrainableParameters => _parameters.Sum(p => p.Value.Numel);

    /// <summary>
    /// Elements of every weight of the model plus the adapter (logical elements: a 4-bit weight counts
    /// in·out, as PEFT counts bitsandbytes' packed Params4bit), a tied lm_head counted once.
    /// </summary>
    public long AllParameters
    {
        get
        {
            long n = Model.EmbedTokens.Table.Numel + Model.Norm.Weight.Numel;
            foreach (var l in Model.Layers) n += l.InputNorm.Weight.Numel + l.PostAttentionNorm.Weight.Numel;
            foreach (var (name, linear) in Model.NamedLinears())
            {
                if (name == "lm_head" && Model.Config.TieWordEmbeddings) continue;
                n += (long)linear.InFeatures * linear.OutFeatures;
            }
            return n + TrainableParameters;
        }
    }

    /// <summary>"trainable params: 1,234 || all params: 5,678 || trainable%: 21.7326", as PEFT's print_trainable_parameters.</summary>
    public string Summary
    {
        get
        {
            long t = TrainableParameters, all = AllParameters;
            var c = System.Globalization.CultureInfo.InvariantCulture;
            return string.Create(c, $"trainable params: {t:N0} || all params: {all:N0} || trainable%: {100.0 * t / all:F4}");
        }
    }

    /// <summary>Restores the base layers and releases A and B. The adapter is unusable afterwards.</summary>
    public void Detach()
    {
        ThrowIfDetached();
        foreach (var (name, layer) in _layers)
        {
            Model.ReplaceLinear(name, layer.Base);
            layer.ReleaseAdapter();
        }
        MarkDetached();
    }

    // No longer attached: the model stops replaying this adapter's dropout stream.
    private void MarkDetached()
    {
        if (ReferenceEquals(Model.CheckpointedDropout, Dropout)) Model.CheckpointedDropout = null;
        _attached = false;
    }

    private void ThrowIfDetached()
    {
        if (!_attached) throw new InvalidOperationException("This LoRA adapter was detached or merged.");
    }

    /// <summary>Detaches if still attached.</summary>
    public void Dispose()
    {
        if (_attached) Detach();
    }
}
