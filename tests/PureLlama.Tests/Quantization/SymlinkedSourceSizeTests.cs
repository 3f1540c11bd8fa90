using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tests.Shared;

namespace PureLlama.Tests.Quantization;

/// <summary>quantize reports the true source size when the model folder holds symbolic links (as Hugging Face's cache does).</summary>
public class SymlinkedSourceSizeTests
{
    [Fact]
    public void Source_bytes_follow_symbolic_links()
    {
        string root = Path.Combine(Path.GetTempPath(), "purellama-symlinks-" + Guid.NewGuid().ToString("N"));
        string linked = Path.Combine(root, "linked"), output = Path.Combine(root, "nf4");
        try
        {
            Directory.CreateDirectory(linked);
            foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
                File.CreateSymbolicLink(Path.Combine(linked, f), Path.Combine(RepoPaths.DemoModel, f));
            new FileInfo(Path.Combine(linked, "model.safetensors")).Length.Should().BeLessThan(1000, "the link itself is a few bytes");
            var report = CheckpointQuantizer.Quantize(linked, output, QuantizationConfig.Nf4());
            report.SourceWeightBytes.Should().Be(new FileInfo(Path.Combine(RepoPaths.DemoModel, "model.safetensors")).Length);
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
