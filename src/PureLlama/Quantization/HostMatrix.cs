namespace PureLlama.Quantization;

/// <summary>A row-major F32 matrix [Rows, Columns] on the host (weights, calibration activations).</summary>
public sealed class HostMatrix
{
    /// <summary>Wraps <paramref name="data"/> (not copied) after checking its length.</summary>
    public HostMatrix(float[] data, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (rows < 0 || columns <= 0 || data.Length != (long)rows * columns)
            throw new ArgumentException($"Matrix data has {data.Length} elements, expected [{rows}, {columns}].", nameof(data));
        Data = data; Rows = rows; Columns = columns;
    }

    /// <summary>[Rows, Columns] row-major.</summary>
    public float[] Data { get; }
    /// <summary>Rows.</summary>
    public int Rows { get; }
    /// <summary>Columns.</summary>
    public int Columns { get; }

    /// <summary>A deep copy.</summary>
    public HostMatrix Clone() => new((float[])Data.Clone(), Rows, Columns);

    /// <summary>C [Rows, other.Rows] = this·otherᵀ (F32 SIMD GEMM), e.g. activations X [n, in] times a weight [out, in].</summary>
    public unsafe float[] TimesTransposed(HostMatrix other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Columns != Columns) throw new ArgumentException($"Inner dimensions differ: [{Rows}, {Columns}]·[{other.Rows}, {other.Columns}]ᵀ.", nameof(other));
        var c = new float[(long)Rows * other.Rows];
        if (c.Length == 0) return c;
        fixed (float* pa = Data, pb = other.Data, pc = c)
            Kernels.Simd.SimdGemm.F32(Rows, other.Rows, Columns, pa, Columns, false, pb, Columns, true, pc, other.Rows, accumulate: false);
        return c;
    }
}
