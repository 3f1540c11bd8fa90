namespace PureLlama.Training;

/// <summary>
/// What a training run updates and checkpoints: the parameters handed to the optimizer and how to
/// save and restore them. Implementations: <see cref="FullWeights"/> (every weight of the model, saved
/// as a Hugging Face safetensors checkpoint) and the LoRA adapter (PEFT adapter files).
/// </summary>
public interface ITrainableWeights
{
    /// <summary>Trainable tensors (F32, RequiresGrad) under the names they are saved with.</summary>
    IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>A short description for logs (kind, parameter count, share of the model).</summary>
    string Summary { get; }

    /// <summary>Training mode (dropout on) or evaluation mode (off).</summary>
    void SetTraining(bool training);

    /// <summary>State of the random generator used in training mode (LoRA dropout), or null when there is none; settable to resume.</summary>
    string? RandomState { get; set; }

    /// <summary>Called after each micro-batch's backward pass, before its gradients are accumulated (e.g. to fold a tied lm_head gradient).</summary>
    void AfterBackward();

    /// <summary>Writes the weights into the existing folder <paramref name="directory"/>.</summary>
    void Save(string directory);

    /// <summary>
    /// Writes the weights as the whole folder <paramref name="directory"/>: written aside and swapped into place, so
    /// a failure leaves any previous folder there intact and byte-identical (its other contents are replaced).
    /// </summary>
    void SaveFolder(string directory) => IO.AtomicFolder.Write(directory, Save);

    /// <summary>Restores values written by <see cref="Save"/> into the live parameters (names and shapes checked).</summary>
    void Load(string directory);
}
