using PureLlama.IO;
using PureLlama.Tests.Shared;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>
/// PureLlama's exports against llama.cpp itself (node-llama-cpp 3.21.1): llama.cpp loads the GGUF files PureLlama writes
/// from models/demo, and its greedy continuation equals PureLlama's own on the same file; the exported LoRA adapter
/// changes llama.cpp's output as it changes PureLlama's.
/// </summary>
public sealed class GgufLlamaCppFixtureTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 32;
    private static readonly string[] s_prompts = ["In the beginning God created", "And the LORD said unto Moses"];
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(GgufExportType.F16, Steps)]
    [InlineData(GgufExportType.Q8_0, Steps)]
    [InlineData(GgufExportType.Q4_0, 0)]
    [InlineData(GgufExportType.Q4_K_M, 0)]
    public void Fixture_llama_cpp_continues_an_exported_model_as_PureLlama_does(GgufExportType type, int mustAgree)
    {
        var llamaCpp = LlamaCppRunner.Find(output);
        string path = _dir.File($"demo-{type}.gguf");
        output.WriteLine(GgufExporter.Export(RepoPaths.DemoModel, type, path));
        using var ours = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Mapped, contextLength: 512);
        foreach (var prompt in s_prompts)
        {
            var ids = ours.Encode(prompt);
            var mine = ours.Generate(ids, SamplingOptions.Greedy with { MaxNewTokens = Steps }).Select(t => t.Id).ToArray();
            var theirs = llamaCpp.Greedy(path, ids, Steps);
            int agree = Agreement(mine, theirs, ours);
            output.WriteLine($"{type} \"{prompt}\": {agree} of {Steps} greedy tokens agree with llama.cpp");
            agree.Should().BeGreaterThanOrEqualTo(mustAgree);
        }
    }

    [Fact]
    public void Fixture_exported_lora_adapter_changes_llama_cpp_as_it_changes_PureLlama()
    {
        var llamaCpp = LlamaCppRunner.Find(output);
        string model = _dir.File("demo-f16.gguf");
        GgufExporter.Export(RepoPaths.DemoModel, GgufExportType.F16, model);
        string adapterDir = _dir.File("adapter");
        using (var runtime = LlamaRuntime.Load(model, Device.Cpu))
        using (var adapter = LoraAdapter.Attach(runtime.Model, new LoraConfig { R = 4, Alpha = 8, TargetModules = LoraConfig.AllLinear }, seed: 5))
        {
            var rng = new Rng(11);
            foreach (var (_, layer) in adapter.Layers)          // B starts at zero: give it values so the adapter does something
            {
                using var b = Tensor.RandN(layer.B.Shape, rng, 0.02f);
                var values = b.ToFloatArray();
                unsafe { values.CopyTo(new Span<float>(layer.B.Pointer<float>(), values.Length)); }
            }
            adapter.Save(adapterDir);
        }
        string lora = _dir.File("adapter.gguf");
        output.WriteLine(GgufLoraExporter.Export(model, adapterDir, lora));

        using var ours = LlamaRuntime.Load(model, Device.Cpu, contextLength: 512);
        var ids = ours.Encode(s_prompts[0]);
        var options = SamplingOptions.Greedy with { MaxNewTokens = Steps };
        var baseTokens = ours.Generate(ids, options).Select(t => t.Id).ToArray();
        using var loaded = LoraAdapter.Load(ours.Model, adapterDir);
        var adapted = ours.Generate(ids, options).Select(t => t.Id).ToArray();
        var theirsBase = llamaCpp.Greedy(model, ids, Steps);
        var theirsAdapted = llamaCpp.Greedy(model, ids, Steps, lora);
        output.WriteLine($"PureLlama base {string.Join(",", baseTokens.Take(8))}…, with adapter {string.Join(",", adapted.Take(8))}…");
        output.WriteLine($"llama.cpp base {string.Join(",", theirsBase.Take(8))}…, with adapter {string.Join(",", theirsAdapted.Take(8))}…");
        adapted.Should().NotEqual(baseTokens, "the adapter changes PureLlama's continuation");
        theirsAdapted.Should().NotEqual(theirsBase, "the exported adapter changes llama.cpp's continuation");
        int agree = Agreement(adapted, theirsAdapted, ours);
        output.WriteLine($"with the adapter: {agree} of {Steps} greedy tokens agree");
        agree.Should().BeGreaterThanOrEqualTo(8, "llama.cpp applies the adapter as PureLlama does");
    }

    // Leading tokens in common; llama.cpp ends before an end-of-generation token, PureLlama yields it.
    private static int Agreement(int[] ours, int[] theirs, LlamaRuntime runtime)
    {
        int n = 0;
        while (n < ours.Length && n < theirs.Length && ours[n] == theirs[n]) n++;
        if (n == theirs.Length && n < ours.Length && runtime.StopTokenIds.Contains(ours[n])) n = ours.Length;
        return n == theirs.Length && theirs.Length < Steps && n == ours.Length ? Steps : n;
    }
}
