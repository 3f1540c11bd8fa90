using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Tests.Llama;

/// <summary>
/// Locates ../shared/fixtures/llama3-tiny (through <see cref="IO.Fixtures"/>: a missing fixture skips the test,
/// or fails it under CI=true) and loads it.
/// </summary>
internal static class LlamaFixtures
{
    /// <summary>The llama3-tiny folder (its reference.safetensors checked).</summary>
    public static string FindTiny() => Path.GetDirectoryName(IO.Fixtures.Get(Path.Combine("llama3-tiny", "reference.safetensors")))!;

    /// <summary>The model folder f32/ or bf16/ of the tiny fixture.</summary>
    public static LlamaModel LoadModel(string tinyDir, string variant, Device device)
    {
        var dir = Path.Combine(tinyDir, variant);
        var config = LlamaConfig.FromFile(Path.Combine(dir, "config.json"));
        using var checkpoint = HfCheckpoint.Open(dir);
        return LlamaModel.Load(checkpoint, config, device);
    }

    /// <summary>An F32 tensor of reference.safetensors as (values, shape).</summary>
    public static (float[] Values, int[] Shape) Reference(string tinyDir, string name)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(tinyDir, "reference.safetensors"));
        using var t = file.GetTensor(name);
        return (t.ToFloatArray(), t.Shape.ToArray());
    }

    public static int[] Prompt => [1, 250, 250, 252, 99, 46, 236, 29, 69, 38, 83, 138, 32, 204, 64, 201];

    public static int[] GreedyNewTokens => [24, 73, 50, 196, 93, 216, 123, 184, 100, 125, 38, 140, 175, 71, 113, 38, 177, 113, 13, 34];

    public static int[] GreedyBf16WeightsF32Compute => [24, 73, 50, 196, 93, 216, 123, 184, 100, 125, 38, 132, 226, 86, 142, 84, 161, 240, 142, 84];

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Lengths differ: {a.Length} vs {b.Length}.");
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return worst;
    }

    /// <summary>
    /// Devices for the fixture tests beyond the one f32 forward (generations, caches, variants): all
    /// present except ILGPU's CPU accelerator, a thread-per-GPU-thread simulator on which one tiny-model
    /// forward takes a minute under load. It runs the f32 logits test (<see cref="Devices"/>) and the
    /// kernel checks; CUDA runs everything.
    /// </summary>
    public static TheoryData<string> GenerationDevices()
    {
        var d = new TheoryData<string>();
        foreach (var device in PureLlama.Compute.Backends.Available())
            if (device.Kind != DeviceKind.IlgpuCpu) d.Add(device.ToString());
        return d;
    }

    /// <summary>Every device present: for tests that run one forward pass.</summary>
    public static TheoryData<string> Devices()
    {
        var d = new TheoryData<string>();
        foreach (var device in PureLlama.Compute.Backends.Available()) d.Add(device.ToString());
        return d;
    }
}
