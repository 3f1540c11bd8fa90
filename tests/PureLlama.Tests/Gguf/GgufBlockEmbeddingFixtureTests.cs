using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tests.IO.Gguf;
using Xunit.Abstractions;

namespace PureLlama.Tests.Gguf;

/// <summary>
/// A GGUF file's block-format token_embd stays in its blocks on the CPU: the gather dequantizes the rows it reads, with the
/// same bits as a gather from the whole dequantized table (made only when something asks for <c>Embedding.Table</c>).
/// </summary>
public sealed class GgufBlockEmbeddingFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("random-q8_0.gguf")]
    [InlineData("random-q4_0.gguf")]
    [InlineData("random-q4_k_m.gguf")]
    [InlineData("random-q6_k.gguf")]
    [InlineData("demo-q4_k_m.gguf")]
    public void Fixture_block_embedding_gathers_rows_as_the_dense_table_does(string file)
    {
        string path = Path.Combine(GgufFixtures.Dir(output), file);
        using var runtime = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Mapped, contextLength: 64);
        var embed = runtime.Model.EmbedTokens;
        embed.GathersFromBlocks.Should().BeTrue("the file's token_embd is a block format");
        int vocab = embed.VocabSize, dim = embed.Dim;
        var rng = new Rng(7);
        var ids = new[] { 0, vocab - 1, 5, 5 }.Concat(Enumerable.Range(0, 9).Select(_ => rng.NextInt(vocab))).ToArray();
        using var idTensor = Tensor.FromArray(ids, new Shape(1, ids.Length));
        using var fromBlocks = embed.Forward(idTensor);
        fromBlocks.Shape.Should().Be(new Shape(1, ids.Length, dim));
        var gathered = fromBlocks.ToFloatArray();

        var table = embed.Table.ToFloatArray();       // the whole table, made now
        embed.GathersFromBlocks.Should().BeFalse("the dense table exists once asked for");
        using var fromTable = embed.Forward(idTensor);
        var dense = fromTable.ToFloatArray();
        for (int i = 0; i < ids.Length; i++)
            for (int c = 0; c < dim; c++)
            {
                BitConverter.SingleToInt32Bits(gathered[i * dim + c]).Should().Be(BitConverter.SingleToInt32Bits(table[(long)ids[i] * dim + c]));
                BitConverter.SingleToInt32Bits(dense[i * dim + c]).Should().Be(BitConverter.SingleToInt32Bits(gathered[i * dim + c]));
            }
    }

    [Fact]
    public void Fixture_block_embedding_rejects_an_id_outside_the_vocabulary()
    {
        string path = Path.Combine(GgufFixtures.Dir(output), "random-q4_0.gguf");
        using var runtime = LlamaRuntime.Load(path, Device.Cpu, WeightLoading.Mapped, contextLength: 64);
        var embed = runtime.Model.EmbedTokens;
        foreach (int bad in new[] { -1, embed.VocabSize })
        {
            using var ids = Tensor.FromArray(new[] { 3, bad }, new Shape(2));
            var act = () => embed.Forward(ids);
            act.Should().Throw<ArgumentException>().WithMessage($"*id {bad} at position 1*outside the vocabulary*");
        }
        embed.GathersFromBlocks.Should().BeTrue();
    }
}
