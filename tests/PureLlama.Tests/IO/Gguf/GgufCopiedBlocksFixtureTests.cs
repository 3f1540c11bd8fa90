using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>
/// Copied loading of a GGUF file on the int8 fast path keeps a projection's stored blocks as a view of the mapped file
/// (the tiles carry the products; the view's pages leave the resident set once read): every reader of the blocks — the
/// exact path, dequantization for export and LoRA, the upload to another device — sees the file's bytes, and the logits
/// equal those of mapped loading and of a copy.
/// </summary>
public sealed class GgufCopiedBlocksFixtureTests(ITestOutputHelper output)
{
    private static readonly int[] Ids = [1, 5, 9, 200, 3, 77];

    [Theory]
    [InlineData("random-q4_0.gguf")]
    [InlineData("random-q4_k_m.gguf")]
    public void Fixture_copied_loading_views_tiled_blocks_in_the_file_and_every_reader_sees_them(string file)
    {
        string path = Path.Combine(GgufFixtures.Dir(output), file);
        float[] fastCopied, fastMapped, exactCopied, exactFromCopy;
        using (QuantizedInference.Scope(exactDequant: false))
        {
            using var copied = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Copied);
            using var mapped = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Mapped);
            var down = (GgmlBlockTensor)copied.Model.Layers[0].Mlp.DownProj.Should().BeOfType<QuantLinear>().Subject.Weight;
            (down.Blocks.Storage is MappedStorage).Should().Be(CpuBackend.MultipliesGgmlBlocksFromTiles(down.Type), "blocks behind tiles stay in the file");
            using (var gguf = GgufFile.Open(path, WeightLoading.Mapped))
                down.Blocks.ToArray<byte>().Should().Equal(gguf.Bytes(gguf.Header.Tensor("blk.0.ffn_down.weight")).ToArray(), "pages dropped at load read back");
            fastCopied = copied.Logits(Ids);
            fastMapped = mapped.Logits(Ids);
            using (QuantizedInference.Scope(exactDequant: true)) exactCopied = copied.Logits(Ids);   // the exact path reads the view
        }
        using (var copy = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Copied))   // exact from the start: blocks copied
        {
            ((GgmlBlockTensor)((QuantLinear)copy.Model.Layers[0].Mlp.DownProj).Weight).Blocks.Storage.Should().BeOfType<NativeStorage>();
            exactFromCopy = copy.Logits(Ids);
        }
        fastCopied.Should().Equal(fastMapped);
        exactCopied.Should().Equal(exactFromCopy);

        // Another device uploads from the view; its logits follow the exact path's within float summation order.
        using (QuantizedInference.Scope(exactDequant: false))
        using (var other = LlamaRuntime.Load(path, Device.IlgpuCpu, WeightLoading.Copied))
        {
            var logits = other.Logits(Ids);
            double worst = 0, scale = 0;
            for (int i = 0; i < logits.Length; i++) { worst = Math.Max(worst, Math.Abs(logits[i] - exactFromCopy[i])); scale = Math.Max(scale, Math.Abs(exactFromCopy[i])); }
            worst.Should().BeLessThan(1e-3 * Math.Max(1, scale));
        }
    }
}
