using PureLlama.Training;

namespace PureLlama.Tests.Distributed;

public class MicroBatchTreeTests
{
    [Theory]
    [InlineData(2, 1)] [InlineData(3, 2)] [InlineData(4, 2)] [InlineData(5, 4)] [InlineData(8, 4)] [InlineData(9, 8)] [InlineData(1000, 512)]
    public void A_range_splits_after_the_largest_power_of_two_below_its_length(int length, int left) =>
        MicroBatchTree.LeftLength(length).Should().Be(left);

    [Fact]
    public void The_ranks_blocks_partition_the_micro_batches_in_order()
    {
        for (int size = 1; size <= 6; size++)
            for (int n = 0; n <= 11; n++)
            {
                int next = 0;
                for (int r = 0; r < size; r++)
                {
                    var (start, end) = MicroBatchTree.Block(n, r, size);
                    start.Should().Be(next, $"n={n} size={size}: rank {r} starts where rank {r - 1} ended");
                    end.Should().BeGreaterThanOrEqualTo(start);
                    next = end;
                }
                next.Should().Be(n, $"n={n} size={size}: every micro-batch has a rank");
            }
    }

    [Fact]
    public void Two_ranks_take_the_two_subtrees_of_the_root()
    {
        MicroBatchTree.Block(4, 0, 2).Should().Be((0, 2));
        MicroBatchTree.Block(4, 1, 2).Should().Be((2, 4));
        MicroBatchTree.Block(6, 0, 2).Should().Be((0, 4));
        MicroBatchTree.Block(6, 1, 2).Should().Be((4, 6));
        MicroBatchTree.Block(1, 1, 2).Should().Be((1, 1), "a single micro-batch stays on rank 0");
    }

    [Fact]
    public void A_bad_rank_is_refused() =>
        FluentActions.Invoking(() => MicroBatchTree.Block(4, 2, 2)).Should().Throw<ArgumentOutOfRangeException>();
}
