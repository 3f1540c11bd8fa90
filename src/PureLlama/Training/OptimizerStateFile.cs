using System.Globalization;
using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Safetensors form of an optimizer state: one tensor per state buffer under
/// <c>{parameter}.{buffer}</c>, the optimizer's kind and step count in the metadata. Writing is
/// atomic (the writer renames a finished temporary file); reading checks the kind, that every
/// expected tensor is present with its dtype and shape, and that nothing else is.
/// </summary>
internal static class OptimizerStateFile
{
    public const string KindKey = "optimizer", StepKey = "step";

    /// <summary>The largest step count a state file may hold (far beyond any run; keeps step + 1 and the bias corrections in range).</summary>
    public const int MaxStep = 1 << 30;

    public static void Write(string path, string kind, int step, IEnumerable<(string Name, Tensor Tensor)> tensors) =>
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string>
        {
            [KindKey] = kind,
            [StepKey] = step.ToString(CultureInfo.InvariantCulture),
        });

    /// <summary>Opens <paramref name="path"/> and checks it against the expected buffers; returns the file and its step.</summary>
    public static (SafeTensorsFile File, int Step) Open(string path, string kind, IReadOnlyList<(string Name, DType DType, Shape Shape)> expected)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Optimizer state file '{path}' does not exist.", path);
        var file = SafeTensorsFile.Open(path);
        try
        {
            if (!file.Metadata.TryGetValue(KindKey, out var got) || got != kind)
                throw new InvalidDataException($"Optimizer state '{path}' was written by '{got ?? "(no optimizer metadata)"}', not {kind}.");
            if (!file.Metadata.TryGetValue(StepKey, out var stepText) || !int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out int step) || step > MaxStep)
                throw new InvalidDataException($"Optimizer state '{path}' has no valid '{StepKey}' in its metadata (an integer in [0, {MaxStep}]).");
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, dtype, shape) in expected)
            {
                names.Add(name);
                if (!file.Contains(name))
                    throw new InvalidDataException($"Optimizer state '{path}' lacks tensor '{name}' (were the parameters renamed or changed?).");
                var info = file.Info(name);
                if (info.DType != dtype || info.Shape != shape)
                    throw new InvalidDataException($"Optimizer state '{path}': tensor '{name}' is {info.DTypeName} {info.Shape}, expected {dtype} {shape}.");
            }
            foreach (var t in file.Tensors)
                if (!names.Contains(t.Name))
                    throw new InvalidDataException($"Optimizer state '{path}' has tensor '{t.Name}' that belongs to no parameter of this optimizer.");
            return (file, step);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Copies the file's tensor <paramref name="name"/> into <paramref name="destination"/> (any device, contiguous).</summary>
    public static void CopyInto(SafeTensorsFile file, string name, Tensor destination)
    {
        using var src = file.GetTensor(name);
        var bytes = new byte[src.ByteLength];
        src.Backend.CopyToHost(src, bytes);
        if (src.DType == DType.F32)
        {
            FiniteValues.Require(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes), $"Optimizer state '{file.Path}': tensor '{name}'",
                "optimizer state must be finite (was it saved from a diverged run?).");
        }
        destination.Backend.CopyFromHost(bytes, destination);
    }

    /// <summary>Each parameter's update count as an I32 tensor [1] on the host.</summary>
    public static Tensor[] Steps(int[] steps) => steps.Select(s => Tensor.FromArray(new[] { s }, new Shape(1))).ToArray();

    /// <summary>The update count stored under <paramref name="name"/> (I32 [1], ≥ 0).</summary>
    public static int ReadStep(SafeTensorsFile file, string name)
    {
        using var t = file.GetTensor(name);
        int step = t.ToArray<int>()[0];
        if (step < 0 || step > MaxStep) throw new InvalidDataException($"Optimizer state '{file.Path}': '{name}' is {step}, expected an integer in [0, {MaxStep}].");
        return step;
    }

    /// <summary>Checks the parameter list: unique names, F32 values that require gradients.</summary>
    public static NamedParameter[] CheckParameters(IReadOnlyList<NamedParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in parameters)
        {
            if (string.IsNullOrEmpty(p.Name)) throw new ArgumentException("A parameter has an empty name.", nameof(parameters));
            if (!seen.Add(p.Name)) throw new ArgumentException($"Parameter '{p.Name}' appears twice.", nameof(parameters));
            if (p.Value.DType != DType.F32) throw new ArgumentException($"Parameter '{p.Name}' is {p.Value.Describe()}; the optimizers update F32 tensors.", nameof(parameters));
            if (!p.Value.IsContiguous) throw new ArgumentException($"Parameter '{p.Name}' ({p.Value.Describe()}) is not contiguous.", nameof(parameters));
        }
        return [.. parameters];
    }

    /// <summary>The gradient of <paramref name="p"/> checked against its value, or null when it has none.</summary>
    public static Tensor? Gradient(NamedParameter p)
    {
        var g = p.Value.Grad;
        if (g is null) return null;
        if (g.Shape != p.Value.Shape || g.DType != DType.F32 || g.Device != p.Value.Device || !g.IsContiguous)
            throw new InvalidOperationException($"The gradient of '{p.Name}' is {g.Describe()}, expected contiguous F32 {p.Value.Shape} on {p.Value.Device}.");
        return g;
    }

    /// <summary>
    /// The loop both optimizers share: checks <paramref name="learningRate"/>, then for every parameter
    /// with a gradient counts its update and calls <paramref name="update"/>(index, gradient, settings, step)
    /// with the weight decay of its group.
    /// </summary>
    public static void ForEachUpdate(NamedParameter[] ps, int[] steps, bool[] decay, AdamWOptions o, float learningRate,
        Action<int, Tensor, AdamWSettings, int> update)
    {
        if (!(learningRate >= 0) || float.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be finite and ≥ 0.");
        for (int i = 0; i < ps.Length; i++)
        {
            var g = Gradient(ps[i]);
            if (g is null) continue;
            steps[i]++;
            update(i, g, new AdamWSettings(learningRate, o.Beta1, o.Beta2, o.Eps, decay[i] ? o.WeightDecay : 0f), steps[i]);
        }
    }

    /// <summary>
    /// Saves per-parameter buffers (<c>{name}.step</c> plus <paramref name="buffers"/>(i) as
    /// <c>{name}.{suffix}</c>) atomically.
    /// </summary>
    public static void Save(string path, string kind, int step, NamedParameter[] ps, int[] steps, Func<int, IEnumerable<(string Suffix, Tensor Tensor)>> buffers)
    {
        var stepTensors = Steps(steps);
        var tensors = new List<(string, Tensor)>();
        for (int i = 0; i < ps.Length; i++)
        {
            tensors.Add(($"{ps[i].Name}.step", stepTensors[i]));
            foreach (var (suffix, t) in buffers(i)) tensors.Add(($"{ps[i].Name}.{suffix}", t));
        }
        try { Write(path, kind, step, tensors); }
        finally { foreach (var t in stepTensors) t.Dispose(); }
    }

    /// <summary>
    /// Loads what <see cref="Save"/> wrote, after checking every name, dtype and shape: restores
    /// <paramref name="steps"/> and copies each file tensor into its buffer. Returns the global step.
    /// </summary>
    public static int Load(string path, string kind, NamedParameter[] ps, int[] steps, Func<int, IEnumerable<(string Suffix, Tensor Tensor)>> buffers)
    {
        var expected = new List<(string, DType, Shape)>();
        for (int i = 0; i < ps.Length; i++)
        {
            expected.Add(($"{ps[i].Name}.step", DType.I32, new Shape(1)));
            foreach (var (suffix, t) in buffers(i)) expected.Add(($"{ps[i].Name}.{suffix}", t.DType, t.Shape));
        }
        var (file, step) = Open(path, kind, expected);
        using (file)
        {
            for (int i = 0; i < ps.Length; i++)
            {
                steps[i] = ReadStep(file, $"{ps[i].Name}.step");
                foreach (var (suffix, t) in buffers(i)) CopyInto(file, $"{ps[i].Name}.{suffix}", t);
            }
        }
        return step;
    }

    /// <summary>Disposes every parameter's gradient and clears it.</summary>
    public static void ZeroGrad(IEnumerable<NamedParameter> parameters)
    {
        foreach (var p in parameters)
        {
            p.Value.Grad?.Dispose();
            p.Value.Grad = null;
        }
    }
}
