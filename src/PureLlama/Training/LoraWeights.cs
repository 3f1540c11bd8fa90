using System.Globalization;

namespace PureLlama.Training;

/// <summary>
/// LoRA (or QLoRA over quantized base layers) training: only the adapter's lora_A/lora_B are trainable;
/// checkpoints hold the adapter in PEFT format (adapter_model.safetensors, adapter_config.json). The
/// dropout stream's counter is the random state saved for an exact resume (the model replays the stream
/// when gradient checkpointing recomputes a layer: <see cref="LoraAdapter.Attach"/> hands it over).
/// </summary>
public sealed class LoraWeights : ITrainableWeights, IMicroBatchRandomState
{
    /// <summary>Trains <paramref name="adapter"/> (attached to its model).</summary>
    public LoraWeights(LoraAdapter adapter)
    {
        Adapter = adapter ?? throw new ArgumentNullException(nameof(adapter));
    }

    /// <summary>The adapter.</summary>
    public LoraAdapter Adapter { get; }

    /// <inheritdoc/>
    public IReadOnlyList<NamedParameter> Parameters => Adapter.Parameters;

    /// <inheritdoc/>
    public string Summary => "LoRA " + Adapter.Summary;

    /// <inheritdoc/>
    public string? RandomState
    {
        get => Adapter.DropoutState.ToString(CultureInfo.InvariantCulture);
        set
        {
            if (value is null) return;
            Adapter.DropoutState = ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong c) ? c
                : throw new InvalidDataException($"The LoRA dropout state '{value}' in trainer_state.json is not an unsigned integer.");
        }
    }

    // Each training forward draws one dropout mask per adapted layer (a checkpointed layer replays its own).
    string? IMicroBatchRandomState.StateAfter(string? stepStart, int microBatches)
    {
        if (stepStart is null) return null;
        RandomState = stepStart;   // validates the text
        ulong perForward = Adapter.Dropout.Probability > 0f ? (ulong)Adapter.Layers.Count : 0;
        return (Adapter.DropoutState + perForward * (ulong)microBatches).ToString(CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public void SetTraining(bool training)
    {
        if (training) Adapter.Train(); else Adapter.Eval();
    }

    /// <inheritdoc/>
    public void AfterBackward() { }

    /// <inheritdoc/>
    public void Save(string directory) => Adapter.Save(directory);

    /// <inheritdoc/>
    public void Load(string directory) => FullWeights.CopyInto(Path.Combine(directory, LoraAdapter.WeightsFileName), Parameters);
}
