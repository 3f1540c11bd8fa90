using PureLlama.Tests.Tokenization;
using PureLlama.Training.Data;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training.Data;

/// <summary>The pretraining text dataset: documents, the token stream, shifted rows and the held-out split.</summary>
[Collection(TokenizerCollection.Name)]
public sealed class TextDatasetTests(TokenizerFixture fixture, ITestOutputHelper output)
{
    private const string Text = "First paragraph,\nstill the first.\n\n\n  \nSecond one: 12345 numbers.\r\n\r\nThird <|eot_id|> plain.\n";

    [Fact]
    public void Paragraphs_are_split_on_blank_lines()
    {
        TextDataset.SplitDocuments(Text, DocumentSplit.BlankLines).Should().Equal(
            "First paragraph,\nstill the first.", "Second one: 12345 numbers.", "Third <|eot_id|> plain.");
        TextDataset.SplitDocuments(Text, DocumentSplit.WholeFile).Should().ContainSingle();
    }

    [Fact]
    public void Fixture_rows_are_consecutive_windows_of_the_document_stream()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        int bos = tok.BosId!.Value, eos = tok.EosId!.Value;
        var stream = new List<int>();
        foreach (string doc in TextDataset.SplitDocuments(Text, DocumentSplit.BlankLines))
            stream.AddRange([bos, .. tok.Encode(doc, parseSpecial: false), eos]);
        const int T = 5;
        var ds = TextDataset.FromText(Text, "t.txt", tok, new TextDatasetOptions { SequenceLength = T });
        ds.Summary.Documents.Should().Be(3);
        ds.Summary.Tokens.Should().Be(stream.Count);
        ds.Train.Should().HaveCount((stream.Count - 1) / T);
        ds.Eval.Should().BeEmpty();
        ds.Summary.DroppedTailTokens.Should().Be(stream.Count - (ds.Train.Count * T + 1));
        for (int k = 0; k < ds.Train.Count; k++)
        {
            var row = ds.Train[k];
            row.Source.Should().Be(k);
            row.Ids.Should().Equal(stream.GetRange(k * T, T));
            row.Labels.Should().Equal(stream.GetRange(k * T + 1, T), "labels are the ids shifted by one");
        }
        var batcher = new SequenceBatcher(ds.Train, new BatcherOptions { MaxSeqLength = T, Pack = true });
        batcher.EpochSequences(0).Should().OnlyContain(s => s.Length == T && s.TargetCount == T && s.ExampleCount == 1);
    }

    [Fact]
    public void Fixture_eval_rows_are_held_out_and_too_little_text_is_an_error()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var ds = TextDataset.FromText(Text, "t.txt", tok, new TextDatasetOptions { SequenceLength = 3, EvalFractionOrCount = 0.3, Seed = 9 });
        ds.Eval.Should().NotBeEmpty();
        ds.Train.Select(r => r.Source).Intersect(ds.Eval.Select(r => r.Source)).Should().BeEmpty();
        (ds.Train.Count + ds.Eval.Count).Should().Be(ds.Summary.TrainRows + ds.Summary.EvalRows);
        var whole = TextDataset.FromText(Text, "t.txt", tok, new TextDatasetOptions { SequenceLength = 4, Documents = DocumentSplit.WholeFile, AddBos = false });
        whole.Summary.Documents.Should().Be(1);
        whole.Train[0].Ids[0].Should().NotBe(tok.BosId!.Value);
        var tiny = () => TextDataset.FromText("hi", "tiny.txt", tok, new TextDatasetOptions { SequenceLength = 64 });
        tiny.Should().Throw<InvalidDataException>().WithMessage("tiny.txt: * fewer than one row of T+1 = 65");
    }
}
