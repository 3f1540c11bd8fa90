using System.CommandLine;
using PureLlama.Cli.Commands;
using PureLlama.IO.Gguf;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tests.Shared;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>The commands on a llama.cpp GGUF base: LoRA fine-tuning over block-format weights, adapter export, clear refusals.</summary>
[Collection(PureLlama.Tests.Cli.ConsoleCaptureCollection.Name)]
public sealed class GgufCliFixtureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Err) Run(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(ExportGgufCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        var stderr = new StringWriter();
        var previous = Console.Error;
        Console.SetError(stderr);
        try { return (root.Parse(args).Invoke(), stderr.ToString()); }
        finally { Console.SetError(previous); }
    }

    [Fact]
    public void Fixture_lora_finetune_on_a_q4_k_m_gguf_base_then_export_the_adapter_for_llama_cpp()
    {
        string dir = GgufFixtures.Dir(output);
        string model = Path.Combine(dir, "demo-q4_k_m.gguf");
        string run = _dir.File("run");
        var (code, err) = Run("finetune", "--model", model, "--data", Path.Combine(RepoPaths.DemoModel, "instructions.jsonl"), "--output", run,
            "--device", "cpu", "--max-seq-length", "48", "--batch-size", "2", "--max-steps", "3", "--lora-r", "4", "--lr", "1e-3");
        code.Should().Be(0, err);
        string adapterDir = Path.Combine(run, "adapter");
        File.Exists(Path.Combine(adapterDir, LoraAdapter.WeightsFileName)).Should().BeTrue();

        string lora = _dir.File("adapter.gguf");
        (code, err) = Run("export-gguf", "--model", model, "--adapter", adapterDir, "--out", lora);
        code.Should().Be(0, err);
        var h = GgufHeaderReader.Read(lora);
        h.RequiredString("general.type").Should().Be("adapter");
        h.RequiredString("adapter.type").Should().Be("lora");
        h.Tensors.Should().HaveCount(4 * 7 * 2, "lora_a and lora_b for the 7 projections of 4 layers");
        h.Tensor("blk.0.attn_q.weight.lora_a").Dims.Should().Equal(256L, 4L);
        h.Tensor("blk.0.attn_q.weight.lora_b").Dims.Should().Equal(4L, 256L);

        using var llama = LlamaRuntime.Load(model, Device.Cpu, contextLength: 64);
        llama.Model.Layers[0].Attention.QProj.Should().BeOfType<PureLlama.Nn.QuantLinear>("the Q4_K base stays in its blocks");
        using var adapter = LoraAdapter.Load(llama.Model, adapterDir);
        adapter.Layers.Should().HaveCount(28);
    }

    [Fact]
    public void Fixture_commands_that_write_a_model_folder_name_the_gguf_file()
    {
        string dir = GgufFixtures.Dir(output);
        string model = Path.Combine(dir, "demo-f16.gguf");
        var (code, err) = Run("merge", "--model", model, "--adapter", _dir.File("none"), "--out", _dir.File("merged"));
        code.Should().Be(2);
        err.Should().Contain(model).And.Contain("is a GGUF file");
    }
}
