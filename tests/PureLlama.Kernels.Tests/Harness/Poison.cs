namespace PureLlama.Kernels.Tests.Harness;

/// <summary>
/// Output poisoning: fill an output with NaN (or a sentinel) before the kernel runs so that any
/// element the kernel forgets to write shows up in the comparison instead of passing as a stale zero.
/// </summary>
public static class Poison
{
    /// <summary>A fresh float array full of NaN.</summary>
    public static float[] Floats(long n) { var a = new float[n]; a.AsSpan().Fill(float.NaN); return a; }

    /// <summary>A fresh bf16/f16 bit array full of a NaN pattern (0x7FC1 is NaN in both bf16 and f16).</summary>
    public static ushort[] Halves(long n) { var a = new ushort[n]; a.AsSpan().Fill(0x7FC1); return a; }

    /// <summary>A fresh byte array full of 0xCD.</summary>
    public static byte[] Bytes(long n) { var a = new byte[n]; a.AsSpan().Fill(0xCD); return a; }

    /// <summary>Fills an existing array with NaN.</summary>
    public static void Fill(float[] a) => a.AsSpan().Fill(float.NaN);
}
