using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Tests.Training;

/// <summary>A tiny random Llama, a synthetic question→answer task and a gradient-recording optimizer for the trainer tests.</summary>
internal static class TrainingTestSupport
{
    public const int Bos = 1, Eos = 2, Sep = 3;

    /// <summary>vocab 48, hidden 32, 2 layers, 4 heads / 2 KV heads of 8, MLP 48.</summary>
    public static LlamaConfig TinyConfig(bool tied = false) => new()
    {
        VocabSize = 48, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, RmsNormEps = 1e-5, RopeTheta = 10000, MaxPositionEmbeddings = 64, TieWordEmbeddings = tied,
        BosTokenId = Bos, EosTokenIds = [Eos], TorchDtype = "float32",
    };

    public static LlamaModel TinyModel(ulong seed = 7, bool tied = false) => LlamaModel.CreateRandom(TinyConfig(tied), Device.Cpu, seed, 0.1f);

    /// <summary>Question i (i in 0..7): BOS, 10+i, 20+(i%3), SEP; answer: 30+i, 30+(5i+3)%8, EOS. Only the answer is trained.</summary>
    public static (int[] Prompt, int[] Answer) Pair(int i) => ([Bos, 10 + i, 20 + i % 3, Sep], [30 + i, 30 + (5 * i + 3) % 8, Eos]);

    public static List<TrainingExample> QaExamples(int count = 8)
    {
        var list = new List<TrainingExample>();
        for (int i = 0; i < count; i++)
        {
            var (p, a) = Pair(i);
            int[] ids = [.. p, .. a];
            var trained = ids.Select((_, t) => t >= p.Length).ToArray();
            list.Add(new TrainingExample(ids, TrainingExample.ShiftedLabels(ids, trained), i + 1));
        }
        return list;
    }

    /// <summary>Rows of varied lengths, every token trained (a language-modelling task).</summary>
    public static List<TrainingExample> RandomExamples(int count, ulong seed, int minLen = 3, int maxLen = 11)
    {
        var rng = new Rng(seed);
        var list = new List<TrainingExample>();
        for (int i = 0; i < count; i++)
        {
            int n = minLen + rng.NextInt(maxLen - minLen + 1);
            var ids = new int[n];
            for (int t = 0; t < n; t++) ids[t] = 4 + rng.NextInt(40);
            var trained = ids.Select((_, t) => t > 0 && (t % 4 != 1)).ToArray(); // some masked labels
            list.Add(new TrainingExample(ids, TrainingExample.ShiftedLabels(ids, trained), i + 1));
        }
        return list;
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> by full recompute.</summary>
    public static int[] Greedy(LlamaModel model, int[] prompt, int newTokens)
    {
        using var _ = GradMode.NoGrad();
        var ids = prompt.ToList();
        for (int k = 0; k < newTokens; k++)
        {
            using var t = Tensor.FromArray(ids.ToArray(), new Shape(ids.Count));
            using var logits = model.Forward(t);
            var last = logits.ToFloatArray().AsSpan((ids.Count - 1) * model.VocabSize, model.VocabSize);
            int best = 0;
            for (int v = 1; v < last.Length; v++) if (last[v] > last[best]) best = v;
            ids.Add(best);
        }
        return [.. ids.Skip(prompt.Length)];
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "purellama-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>An optimizer that only records each step's gradients (copies) and learning rate.</summary>
internal sealed class RecordingOptimizer(IReadOnlyList<NamedParameter> parameters) : IOptimizer
{
    public List<Dictionary<string, float[]>> Gradients { get; } = [];
    public IReadOnlyList<NamedParameter> Parameters { get; } = parameters;
    public int StepCount { get; private set; }
    public long StateBytes => 0;
    public long DeviceStateBytes => 0;

    public void Step(float learningRate)
    {
        StepCount++;
        Gradients.Add(Parameters.Where(p => p.Value.Grad is not null).ToDictionary(p => p.Name, p => p.Value.Grad!.ToFloatArray()));
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters) { p.Value.Grad?.Dispose(); p.Value.Grad = null; }
    }

    public void SaveState(string path) => File.WriteAllText(path, StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
    public void LoadState(string path) => StepCount = int.Parse(File.ReadAllText(path), System.Globalization.CultureInfo.InvariantCulture);
    public void Dispose() { }
}
