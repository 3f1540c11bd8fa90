using PureLlama.Training.Data;

namespace PureLlama.Tests.Training.Data;

/// <summary>Packing, shuffling, resuming from a cursor and the eval split (synthetic examples, no tokenizer).</summary>
public sealed class SequenceBatcherTests
{
    // Example i has a made-up length; its ids are 1000·i + t so every token says where it came from.
    private static List<TrainingExample> Examples(int count, int maxLength, int seed)
    {
        var rng = new Random(seed);
        var list = new List<TrainingExample>();
        for (int i = 0; i < count; i++)
        {
            int n = 1 + rng.Next(maxLength);
            int[] ids = Enumerable.Range(0, n).Select(t => 1000 * i + t).ToArray();
            var trained = Enumerable.Range(0, n).Select(t => t >= n / 2).ToArray();
            list.Add(new TrainingExample(ids, TrainingExample.ShiftedLabels(ids, trained), i));
        }
        return list;
    }

    [Fact]
    public void Packing_keeps_every_example_once_with_restarting_positions_and_distinct_segments()
    {
        var examples = Examples(97, 40, 1);
        var batcher = new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 64, Pack = true, Seed = 5 });
        var rows = batcher.EpochSequences(0);
        var seen = new List<int>();
        foreach (var row in rows)
        {
            row.Length.Should().BeLessThanOrEqualTo(64);
            row.Positions.Should().HaveCount(row.Length);
            for (int t = 0; t < row.Length; t++)
            {
                int example = row.Ids[t] / 1000, offset = row.Ids[t] % 1000;
                row.Positions[t].Should().Be(offset, "positions restart at 0 in each example");
                bool starts = t == 0 || row.SegmentIds[t] != row.SegmentIds[t - 1];
                (offset == 0).Should().Be(starts, "a new segment id exactly where a new example starts");
                if (starts) { seen.Add(example); row.SegmentIds[t].Should().Be(t == 0 ? 0 : row.SegmentIds[t - 1] + 1); }
                row.Labels[t].Should().Be(examples[example].Labels[offset]);
                bool last = t + 1 == row.Length || row.SegmentIds[t + 1] != row.SegmentIds[t];
                if (last) row.Labels[t].Should().Be(TrainingExample.IgnoreIndex, "no prediction across a boundary");
            }
            row.ExampleCount.Should().Be(row.SegmentIds[^1] + 1);
        }
        seen.Should().BeEquivalentTo(Enumerable.Range(0, 97));
        rows.Count.Should().BeLessThan(60, "packing fills rows");
        rows.Sum(r => r.TargetCount).Should().Be(examples.Sum(e => e.TargetCount));
    }

    [Fact]
    public void Packing_is_first_fit_in_the_shuffled_order()
    {
        var lengths = new List<int>();
        var rng = new Random(9);
        for (int i = 0; i < 300; i++) lengths.Add(1 + rng.Next(50));
        var order = SeededOrder.Permutation(300, 17, 1);
        var rows = SequencePacker.FirstFit(lengths, order, 64);
        // Naive first fit: scan the rows from the oldest.
        var naive = new List<List<int>>();
        var free = new List<int>();
        foreach (int e in order)
        {
            int r = free.FindIndex(f => f >= lengths[e]);
            if (r < 0) { naive.Add([]); free.Add(64); r = naive.Count - 1; }
            naive[r].Add(e);
            free[r] -= lengths[e];
        }
        rows.Should().BeEquivalentTo(naive, o => o.WithStrictOrdering());
    }

    [Fact]
    public void Without_packing_each_row_is_one_example_and_epochs_are_reshuffled_deterministically()
    {
        var examples = Examples(30, 20, 2);
        var options = new BatcherOptions { MaxSeqLength = 32, Seed = 42 };
        var a = new SequenceBatcher(examples, options);
        var b = new SequenceBatcher(examples, options);
        var e0 = a.EpochSequences(0).Select(r => r.Ids[0] / 1000).ToList();
        var e1 = a.EpochSequences(1).Select(r => r.Ids[0] / 1000).ToList();
        b.EpochSequences(0).Select(r => r.Ids[0] / 1000).Should().Equal(e0);
        e0.Should().BeEquivalentTo(Enumerable.Range(0, 30));
        e1.Should().NotEqual(e0);
        a.EpochSequences(0).Should().OnlyContain(r => r.ExampleCount == 1 && r.SegmentIds.All(s => s == 0));
        var other = new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 32, Seed = 43 });
        other.EpochSequences(0).Select(r => r.Ids[0] / 1000).Should().NotEqual(e0);
        var fixedOrder = new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 32, Shuffle = false });
        fixedOrder.EpochSequences(3).Select(r => r.Ids[0] / 1000).Should().Equal(Enumerable.Range(0, 30));
    }

    [Fact]
    public void Resuming_from_a_saved_cursor_gives_exactly_the_same_batches()
    {
        var examples = Examples(50, 30, 3);
        var options = new BatcherOptions { MaxSeqLength = 48, Pack = true, Seed = 7, MicroBatchSize = 3 };
        var run = new SequenceBatcher(examples, options);
        var cursor = DataCursor.Start;
        var all = new List<MicroBatch>();
        DataCursor saved = default;
        for (int step = 0; step < 25; step++)
        {
            var mb = run.Next(cursor);
            all.Add(mb);
            cursor = mb.Next;
            if (step == 11) saved = DataCursor.Parse(cursor.ToString()); // as a checkpoint would store it
        }
        all.Select(m => m.Start.Epoch).Distinct().Count().Should().BeGreaterThan(1, "the run crosses epochs");
        var resumed = new SequenceBatcher(examples, options); // a fresh process
        cursor = saved;
        for (int step = 12; step < 25; step++)
        {
            var mb = resumed.Next(cursor);
            mb.Start.Should().Be(all[step].Start);
            mb.Sequences.Select(s => s.Ids).Should().BeEquivalentTo(all[step].Sequences.Select(s => s.Ids), o => o.WithStrictOrdering());
            cursor = mb.Next;
        }
    }

    [Fact]
    public void Micro_batches_stop_at_the_epoch_end_and_accumulated_steps_count_targets()
    {
        var examples = Examples(10, 8, 4);
        var batcher = new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 8, MicroBatchSize = 4, Seed = 1 });
        batcher.MicroBatchesInEpoch(0).Should().Be(3);
        var step = batcher.NextStep(DataCursor.Start, 3);
        step.MicroBatches.Select(m => m.Sequences.Count).Should().Equal(4, 4, 2);
        step.Next.Should().Be(new DataCursor(1, 0));
        step.TargetCount.Should().Be(examples.Sum(e => e.TargetCount));
        batcher.Next(new DataCursor(0, 10)).Start.Should().Be(new DataCursor(1, 0));
        var bad = () => batcher.Next(new DataCursor(0, 11));
        bad.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*does not belong*");
        var tooLong = () => new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 2 });
        tooLong.Should().Throw<ArgumentException>().WithMessage("*tokens; rows hold 1..2*");
    }

    [Fact]
    public void Pad_fills_rows_to_the_longest_with_ignored_labels()
    {
        var a = new TrainingSequence([1, 2, 3], [2, 3, -100], [0, 1, 2], [0, 0, 0], 1);
        var b = new TrainingSequence([7], [-100], [0], [0], 1);
        var padded = new MicroBatch([a, b], DataCursor.Start, new DataCursor(0, 2)).Pad(padId: 0);
        padded.Rows.Should().Be(2);
        padded.Length.Should().Be(3);
        padded.Ids.Should().Equal(1, 2, 3, 7, 0, 0);
        padded.Labels.Should().Equal(2, 3, -100, -100, -100, -100);
        padded.Positions.Should().Equal(0, 1, 2, 0, 0, 0);
        padded.SegmentIds.Should().Equal(0, 0, 0, 0, -1, -1);
    }

    [Fact]
    public void Eval_split_is_seeded_and_disjoint_from_train()
    {
        var items = Enumerable.Range(0, 200).ToList();
        var (train, eval) = SeededOrder.Split(items, SeededOrder.EvalCount(0.1, 200), 3);
        eval.Should().HaveCount(20);
        train.Should().HaveCount(180);
        train.Intersect(eval).Should().BeEmpty();
        train.Concat(eval).Should().BeEquivalentTo(items);
        train.Should().BeInAscendingOrder();
        SeededOrder.Split(items, 20, 3).Eval.Should().Equal(eval);
        SeededOrder.Split(items, 20, 4).Eval.Should().NotEqual(eval);
        SeededOrder.EvalCount(5, 200).Should().Be(5);
        SeededOrder.EvalCount(0.001, 200).Should().Be(1);
        var all = () => SeededOrder.Split(items, 200, 1);
        all.Should().Throw<ArgumentOutOfRangeException>();
        DataCursor.Parse("3:17").Should().Be(new DataCursor(3, 17));
        var badCursor = () => DataCursor.Parse("3-17");
        badCursor.Should().Throw<FormatException>();
    }
}
