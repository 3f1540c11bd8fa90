using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Tests;

/// <summary>SpinFork: every piece runs exactly once, exceptions reach the caller, nested and concurrent calls fall back.</summary>
public sealed class SpinForkTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    public void Every_piece_runs_exactly_once_over_many_back_to_back_calls(int pieces)
    {
        for (int call = 0; call < 300; call++)
        {
            var counts = new int[pieces];
            SpinFork.Run(pieces, k => Interlocked.Increment(ref counts[k]));
            counts.Should().OnlyContain(c => c == 1, $"call {call}");
        }
    }

    [Fact]
    public void An_exception_in_a_piece_reaches_the_caller_and_the_next_call_still_works()
    {
        var act = () => SpinFork.Run(8, k => { if (k == 5) throw new InvalidOperationException("piece 5"); });
        act.Should().Throw<Exception>().Where(e => e.Message.Contains("piece 5") || (e.InnerException != null && e.InnerException.Message.Contains("piece 5")));
        int ran = 0;
        SpinFork.Run(8, _ => Interlocked.Increment(ref ran));
        ran.Should().Be(8);
    }

    [Fact]
    public void Nested_and_concurrent_calls_complete_with_every_piece_once()
    {
        var outer = new int[6];
        var inner = new int[6 * 5];
        SpinFork.Run(6, i =>
        {
            SpinFork.Run(5, j => Interlocked.Increment(ref inner[i * 5 + j]));   // nested: falls back
            Interlocked.Increment(ref outer[i]);
        });
        outer.Should().OnlyContain(c => c == 1);
        inner.Should().OnlyContain(c => c == 1);

        var totals = new int[4];
        Parallel.For(0, 4, t =>
        {
            for (int call = 0; call < 50; call++)
                SpinFork.Run(9, _ => Interlocked.Increment(ref totals[t]));      // concurrent owners: one spins, others fall back
        });
        totals.Should().OnlyContain(c => c == 50 * 9);
    }
}
