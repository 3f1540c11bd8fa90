namespace PureLlama.IO;

/// <summary>Finds NaN/±Inf in values read from a file (scales, adapter weights, optimizer state), so loading refuses them.</summary>
internal static class FiniteValues
{
    /// <summary>Index of the first non-finite value, or −1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>Index of the first non-finite F16 value (given as raw bits), or −1.</summary>
    public static int FirstNonFiniteHalf(ReadOnlySpan<ushort> bits)
    {
        // F16: exponent bits all ones (0x7C00) is ±Inf or NaN.
        for (int i = 0; i < bits.Length; i++)
            if ((bits[i] & 0x7C00) == 0x7C00) return i;
        return -1;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> "<paramref name="what"/> holds v at index i; <paramref name="why"/>" on the first non-finite value.</summary>
    public static void Require(ReadOnlySpan<float> values, string what, string why)
    {
        int i = FirstNonFinite(values);
        if (i >= 0) throw new InvalidDataException($"{what} holds {values[i]} at index {i}; {why}");
    }
}
