namespace PureLlama.Quantization;

/// <summary>
/// The uniform grid of one group of one output row (GPTQ's min-max quantizer):
/// range [min(x, 0), max(x, 0)] (symmetric: ±max|x|), scale = (max − min)/(2^bits − 1) rounded to F16,
/// zero = round(−min/scale) (symmetric: 2^(bits−1)); q = clamp(round(x/scale) + zero, 0, 2^bits − 1),
/// x̂ = scale·(q − zero). An all-zero group gets the range [−1, 1] as in GPTQ.
/// </summary>
public readonly record struct QuantGrid(float Scale, byte Zero, int MaxQ)
{
    /// <summary>The grid for values in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static QuantGrid FromRange(double min, double max, int bits, bool symmetric)
    {
        int maxq = (1 << bits) - 1;
        min = Math.Min(min, 0); max = Math.Max(max, 0);
        if (symmetric)
        {
            max = Math.Max(-min, max);
            if (min < 0) min = -max;
        }
        if (min == 0 && max == 0) { min = -1; max = 1; }
        float scale = (float)(Half)((max - min) / maxq);
        if (scale == 0) scale = (float)Half.Epsilon;
        int zero = symmetric ? (maxq + 1) / 2 : (int)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, maxq);
        return new QuantGrid(scale, (byte)zero, maxq);
    }

    /// <summary>The grid for the values of a span (min-max).</summary>
    public static QuantGrid Fit(ReadOnlySpan<double> x, int bits, bool symmetric)
    {
        double min = 0, max = 0;
        foreach (double v in x) { if (v < min) min = v; if (v > max) max = v; }
        return FromRange(min, max, bits, symmetric);
    }

    /// <summary>The code of <paramref name="x"/>.</summary>
    public byte Code(double x) => (byte)Math.Clamp(Math.Round(x / Scale, MidpointRounding.ToEven) + Zero, 0, MaxQ);

    /// <summary>The value of code <paramref name="q"/>.</summary>
    public double Value(int q) => (double)Scale * (q - Zero);

    /// <summary>x rounded onto the grid.</summary>
    public double Round(double x) => Value(Code(x));
}

/// <summary>Options shared by the group quantizers.</summary>
/// <param name="Bits">Bits per code (4; 2…8 accepted by the algorithms, 4 by the packed format).</param>
/// <param name="GroupSize">Input columns per group, or −1 for one group per output channel.</param>
/// <param name="Symmetric">Symmetric grids (zero = 2^(bits−1)) instead of min-max asymmetric ones.</param>
public readonly record struct GroupQuantOptions(int Bits = 4, int GroupSize = 128, bool Symmetric = false)
{
    /// <summary>4-bit, group 128, asymmetric.</summary>
    public GroupQuantOptions() : this(4, 128, false) { }

    /// <summary>The number of groups over <paramref name="columns"/> input columns.</summary>
    public int GroupCount(int columns) => GroupSize < 0 ? 1 : (columns + GroupSize - 1) / GroupSize;

    /// <summary>Columns per group, resolved for <paramref name="columns"/> (−1 becomes all).</summary>
    public int Width(int columns) => GroupSize < 0 ? columns : GroupSize;

    internal void Validate(int rows, int columns)
    {
        if (Bits is < 2 or > 8) throw new ArgumentOutOfRangeException(nameof(Bits), Bits, "Bits must be 2…8.");
        if (GroupSize == 0 || GroupSize < -1) throw new ArgumentOutOfRangeException(nameof(GroupSize), GroupSize, "Group size must be positive or −1.");
        if (rows <= 0 || columns <= 0) throw new ArgumentException($"Weight must be [out, in] with both positive, got [{rows}, {columns}].");
    }
}
