using PureLlama.Tokenization;

namespace PureLlama.Calibration;

/// <summary>
/// Calibration sequences for GPTQ/AWQ: token windows cut from a text (a file, or <see cref="BuiltInText"/>).
/// The text is tokenized once (BOS first when the tokenizer has one) and <c>count</c> windows of
/// <c>length</c> tokens are taken at evenly spaced offsets (disjoint when the text is long enough,
/// overlapping otherwise, at most 2·⌈tokens/length⌉ windows so a short text is not repeated many times;
/// one shorter window when the text is shorter than a window).
/// </summary>
public static class CalibrationData
{
    /// <summary>
    /// A small default calibration text (written for PureLlama): varied everyday English prose, a little
    /// arithmetic and code, so that every kind of token the model knows is likely to appear.
    /// Real calibration sets (C4, WikiText, the fine-tuning data) calibrate better: pass a file.
    /// </summary>
    public const string BuiltInText = """
        The morning train left the valley a few minutes late, and most of the passengers did not mind. A farmer
        counted crates of apples on the platform while two students argued about whether the bridge over the
        river was older than the church on the hill. The conductor, who had worked the line for thirty years,
        said the bridge was built in 1887 and repaired after the flood of 1952, when the water rose higher than
        anyone could remember.

        In the kitchen of the small inn, the cook was making bread. She mixed flour, water, salt and a little
        yeast, left the dough to rise near the stove, and folded it twice before shaping the loaves. "Patience is
        the only secret," she told the new helper. "If you hurry the dough, it will punish you at the oven."

        A ship's navigator once explained that finding your position at sea is a problem of angles and time.
        Measure the height of the sun at noon, note the exact hour by the chronometer, and a table turns the two
        numbers into latitude and longitude. An error of four seconds in the clock moves you about one nautical
        mile, which is why sailors guarded their clocks more carefully than their maps.

        Questions and answers from a science class:
        Why is the sky blue? Sunlight is scattered by the molecules of the air, and short blue wavelengths are
        scattered much more than long red ones. Why does ice float? Water expands when it freezes, so ice is less
        dense than the liquid around it. How far away is the moon? On average about 384,400 kilometres.

        The committee met on Thursday to review the budget. Revenue for the quarter was 12.4 million, three percent
        above the forecast, while costs rose by five percent because of new equipment. The chair proposed to delay
        the second warehouse until spring; the motion passed with seven votes in favour and two against.

        def mean(values):
            total = 0.0
            for v in values:
                total += v
            return total / len(values) if values else 0.0

        print(mean([3, 4, 5]))  # prints 4.0

        Long ago, before the roads were paved, the village held a market every Saturday. People walked in from
        the farms with eggs, cheese, wool and honey, and went home with salt, needles, lamp oil and news. The
        market square is a car park now, but on the first Saturday of every month the stalls come back, and the
        old men still say that the honey was sweeter when they were young.

        Dear Mr. Alvarez, thank you for your letter of 14 March. We are pleased to confirm your reservation for
        two adults from Friday to Monday. Breakfast is served from seven until ten, and the museum across the
        street is open every day except Tuesday. Please let us know if you will arrive after nine in the evening.
        """;

    /// <summary>
    /// <paramref name="count"/> windows of at most <paramref name="length"/> tokens from <paramref name="text"/>
    /// (null: <see cref="BuiltInText"/>).
    /// </summary>
    public static IReadOnlyList<int[]> Sequences(Llama3Tokenizer tokenizer, string? text, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = tokenizer.Encode(text ?? BuiltInText, addBos: tokenizer.BosId is not null, parseSpecial: false);
        return Windows(ids, count, length);
    }

    /// <summary><paramref name="count"/> evenly spaced windows of at most <paramref name="length"/> tokens of <paramref name="ids"/>.</summary>
    public static IReadOnlyList<int[]> Windows(IReadOnlyList<int> ids, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The number of calibration samples must be positive.");
        if (length < 2) throw new ArgumentOutOfRangeException(nameof(length), length, "Calibration sequences need at least 2 tokens.");
        if (ids.Count < 2) throw new ArgumentException($"The calibration text has {ids.Count} token(s); it needs at least 2.", nameof(ids));
        var all = ids.ToArray();
        if (all.Length <= length) return [all];
        int span = all.Length - length;
        count = Math.Min(count, 2 * ((all.Length + length - 1) / length)); // a short text: windows overlap by half on average, not more
        var result = new List<int[]>(count);
        for (int i = 0; i < count; i++)
        {
            int start = count == 1 ? 0 : (int)((long)span * i / (count - 1));
            result.Add(all.AsSpan(start, length).ToArray());
        }
        return result;
    }
}
