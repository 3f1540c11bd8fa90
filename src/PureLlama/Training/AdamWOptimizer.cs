using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// AdamW with F32 moments (8 bytes of state per parameter) on each parameter's device, one fused
/// <see cref="Compute.IBackend.AdamW"/> kernel per parameter:
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·(wd·p + m̂/(√v̂ + ε)) with m̂, v̂ bias-corrected by
/// the parameter's own update count (as torch keeps <c>state["step"]</c> per parameter). Weight decay
/// applies where <see cref="AdamWOptions.Decays"/> says. Parameters without a gradient are skipped.
/// </summary>
public sealed class AdamWOptimizer : IOptimizer
{
    /// <summary>The kind written into saved states.</summary>
    public const string Kind = "PureLlama.AdamW";

    private readonly NamedParameter[] _params;
    private readonly Tensor[] _m, _v;    // F32, each parameter's shape and device
    private readonly int[] _steps;       // updates applied to each parameter
    private readonly bool[] _decay;
    private bool _disposed;

    /// <summary>Creates zero moments for <paramref name="parameters"/> (F32, contiguous, unique names).</summary>
    public AdamWOptimizer(IReadOnlyList<NamedParameter> parameters, AdamWOptions? options = null)
    {
        _params = OptimizerStateFile.CheckParameters(parameters);
        Options = options ?? new AdamWOptions();
        Options.Validate();
        _m = new Tensor[_params.Length];
        _v = new Tensor[_params.Length];
        _steps = new int[_params.Length];
        _decay = new bool[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i].Value;
            _m[i] = Tensor.Zeros(p.Shape, DType.F32, p.Device);
            _v[i] = Tensor.Zeros(p.Shape, DType.F32, p.Device);
            _decay[i] = Options.Decays(_params[i].Name);
        }
    }

    /// <summary>The hyper-parameters.</summary>
    public AdamWOptions Options { get; }

    /// <inheritdoc/>
    public IReadOnlyList<NamedParameter> Parameters => _params;

    /// <inheritdoc/>
    public int StepCount { get; private set; }

    /// <inheritdoc/>
    public long StateBytes => _params.Sum(p => 8L * p.Value.Numel);

    /// <inheritdoc/>
    public long DeviceStateBytes => StateBytes;

    /// <summary>Whether parameter <paramref name="name"/> gets weight decay.</summary>
    public bool Decays(string name) => _decay[IndexOf(name)];

    /// <inheritdoc/>
    public void Step(float learningRate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        OptimizerStateFile.ForEachUpdate(_params, _steps, _decay, Options, learningRate,
            (i, g, settings, step) => _params[i].Value.Backend.AdamW(_params[i].Value, g, _m[i], _v[i], settings, step));
        StepCount++;
    }

    /// <inheritdoc/>
    public void ZeroGrad() => OptimizerStateFile.ZeroGrad(_params);

    /// <inheritdoc/>
    public void SaveState(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        OptimizerStateFile.Save(path, Kind, StepCount, _params, _steps, Buffers);
    }

    /// <inheritdoc/>
    public void LoadState(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        StepCount = OptimizerStateFile.Load(path, Kind, _params, _steps, Buffers);
    }

    // The saved buffers of parameter i, by suffix.
    private IEnumerable<(string, Tensor)> Buffers(int i) => [("exp_avg", _m[i]), ("exp_avg_sq", _v[i])];

    /// <summary>Releases the moments.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }

    private int IndexOf(string name)
    {
        for (int i = 0; i < _params.Length; i++) if (_params[i].Name == name) return i;
        throw new ArgumentException($"No parameter named '{name}'.", nameof(name));
    }
}
