using System.Security.Cryptography;
using PureLlama.Calibration;
using PureLlama.Diagnostics.Fuzzing;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Tests.Reliability;

/// <summary>
/// The disk-full matrix: every command that writes a model or adapter folder, failed at each point it reaches
/// (each file it writes, before the swap, between the two renames of the fallback swap), leaves the previous
/// folder byte-identical and loadable, and no temporary folder behind; without a failure the folder is replaced.
/// </summary>
public sealed class FolderAtomicityTests(CorpusFixture fx) : IClassFixture<CorpusFixture>
{
    public static TheoryData<string> Commands => ["merge", "quantize-nf4", "quantize-int8", "quantize-gptq", "convert", "adapter-save"];

    private void Run(string command, string outDir)
    {
        var c = fx.Corpus;
        switch (command)
        {
            case "merge": LoraMerge.WriteMergedCheckpoint(c.Dense, c.Adapter, outDir); break;
            case "quantize-nf4": CheckpointQuantizer.Quantize(c.Dense, outDir, new QuantizationConfig { Format = QuantFormat.Nf4 }, force: true); break;
            case "quantize-int8": CheckpointQuantizer.Quantize(c.Dense, outDir, new QuantizationConfig { Format = QuantFormat.Int8 }, force: true); break;
            case "quantize-gptq":
                using (var rt = LlamaRuntime.Load(c.Dense, Device.Cpu))
                {
                    LayerwiseQuantizer.Quantize(rt.Model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
                    Int4Checkpoint.Write(rt.Model, c.Dense, outDir, new Int4CheckpointConfig { Method = "gptq", GroupSize = 32 }, force: true);
                }
                break;
            case "convert": CheckpointConverter.Convert(c.Dense, outDir, DType.BF16); break;
            case "adapter-save":
                using (var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 5))
                using (var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj"] }, 9))
                    ((ITrainableWeights)new LoraWeights(adapter)).SaveFolder(outDir);
                break;
            default: throw new ArgumentException(command);
        }
    }

    private static Dictionary<string, string> Snapshot(string dir) => Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
        .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    // The previous output: a complete model folder (the dense seed), or an adapter folder for adapter saves.
    private string Previous(string command) => fx.CopyOf(command == "adapter-save" ? fx.Corpus.Adapter : fx.Corpus.Dense);

    private static void AssertLoadable(string command, string dir)
    {
        if (command == "adapter-save")
        {
            using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 5);
            LoraAdapter.Load(model, dir).Dispose();
        }
        else LlamaRuntime.Load(dir, Device.Cpu).Dispose();
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void A_failure_at_every_point_leaves_the_previous_folder_intact(string command)
    {
        var points = new List<string>();
        string probe = Path.Combine(fx.Root, "probe-" + Guid.NewGuid().ToString("N")[..6]);
        AtomicFolder.FailurePoint.Value = points.Add;
        try { Run(command, probe); }
        finally { AtomicFolder.FailurePoint.Value = null; }
        points.Should().Contain("begin").And.Contain("before-swap").And.Contain(p => p.StartsWith("file ", StringComparison.Ordinal));

        string outDir = Previous(command);
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "the user's own file");
        var before = Snapshot(outDir);
        foreach (bool fallback in new[] { false, true })
            foreach (var point in fallback ? points.Append("swap-renames") : points)
            {
                AtomicFolder.WithoutExchange.Value = fallback;
                AtomicFolder.FailurePoint.Value = p => { if (p == point) throw new IOException($"injected: no space left on device at {point}"); };
                try
                {
                    FluentActions.Invoking(() => Run(command, outDir)).Should().Throw<IOException>().WithMessage($"*{point}*");
                }
                finally
                {
                    AtomicFolder.FailurePoint.Value = null;
                    AtomicFolder.WithoutExchange.Value = false;
                }
                Snapshot(outDir).Should().Equal(before, $"a failure at '{point}' (fallback swap: {fallback}) must leave the folder as it was");
                Directory.GetDirectories(Path.GetDirectoryName(outDir)!, "." + Path.GetFileName(outDir) + ".*").Should().BeEmpty();
            }
        AssertLoadable(command, outDir);

        Run(command, outDir);
        var expected = Snapshot(probe);
        if (command != "adapter-save") expected["notes.txt"] = before["notes.txt"]; // model folders keep the user's other files
        Snapshot(outDir).Should().Equal(expected, "a successful write replaces the folder's contents");
        AssertLoadable(command, outDir);
    }

    [Fact]
    public void Leftovers_of_a_crash_between_the_renames_are_recovered()
    {
        string dir = fx.CopyOf(fx.Corpus.Adapter);
        var before = Snapshot(dir);
        string aside = Path.Combine(Path.GetDirectoryName(dir)!, "." + Path.GetFileName(dir) + ".old-deadbeef");
        string partial = Path.Combine(Path.GetDirectoryName(dir)!, "." + Path.GetFileName(dir) + ".partial-deadbeef");
        Directory.Move(dir, aside);
        Directory.CreateDirectory(partial);
        AtomicFolder.RemoveLeftovers(dir);
        Snapshot(dir).Should().Equal(before);
        Directory.Exists(partial).Should().BeFalse();
        Directory.Exists(aside).Should().BeFalse();
    }
}
