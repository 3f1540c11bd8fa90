using PureLlama.Llama;
using static PureLlama.Tests.Training.TrainingTestSupport;

namespace PureLlama.Tests.Llama;

/// <summary><see cref="LlamaRuntime.GenerateAsync(int[], SamplingOptions?, CancellationToken)"/> ends with OperationCanceledException when cancelled, as .NET async streams do.</summary>
public class GenerateAsyncCancellationTests
{
    [Fact]
    public async Task Cancelling_mid_stream_throws_OperationCanceledException()
    {
        using var llama = LlamaRuntime.FromModel(TinyModel(seed: 5));
        using var cts = new CancellationTokenSource();
        var got = new List<int>();
        var act = async () =>
        {
            await foreach (var t in llama.GenerateAsync([1, 2, 3], SamplingOptions.Greedy with { MaxNewTokens = 50 }, cts.Token))
            {
                got.Add(t.Id);
                if (got.Count == 2) cts.Cancel();
            }
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        got.Should().HaveCount(2, "no token is yielded after the cancellation");
    }

    [Fact]
    public async Task An_uncancelled_stream_ends_normally()
    {
        using var llama = LlamaRuntime.FromModel(TinyModel(seed: 5));
        int n = 0;
        await foreach (var _ in llama.GenerateAsync([1, 2, 3], SamplingOptions.Greedy with { MaxNewTokens = 4 }, CancellationToken.None)) n++;
        n.Should().Be(4);
    }
}
