namespace PureLlama.Training;

/// <summary>
/// Updates a fixed list of <see cref="NamedParameter"/>s from their gradients. Implementations: AdamW
/// (F32 states) and paged 8-bit AdamW. The state (moments and step count) can be saved and restored
/// exactly, so a resumed run continues bit-for-bit.
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>The parameters, in the order their states are kept.</summary>
    IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>Steps taken so far (bias correction uses step + 1 on the next update).</summary>
    int StepCount { get; }

    /// <summary>Bytes of optimizer state (moments and quantization scales), wherever it lives.</summary>
    long StateBytes { get; }

    /// <summary>Bytes of optimizer state resident on the compute device (less than <see cref="StateBytes"/> when paged).</summary>
    long DeviceStateBytes { get; }

    /// <summary>One update of every parameter that has a gradient, at <paramref name="learningRate"/>.</summary>
    void Step(float learningRate);

    /// <summary>Drops every parameter's gradient (sets <c>Grad</c> to null after disposing it).</summary>
    void ZeroGrad();

    /// <summary>Writes the state as safetensors to <paramref name="path"/> atomically (write, then rename).</summary>
    void SaveState(string path);

    /// <summary>Restores a state written by <see cref="SaveState"/> for the same parameters (names and shapes checked).</summary>
    void LoadState(string path);
}
