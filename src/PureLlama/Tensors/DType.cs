namespace PureLlama.Tensors;

/// <summary>Element types a tensor can hold. Arithmetic always accumulates in F32.</summary>
public enum DType
{
    /// <summary>IEEE float32.</summary>
    F32,
    /// <summary>bfloat16 (top half of a float32), stored as ushort bits.</summary>
    BF16,
    /// <summary>IEEE float16, stored as ushort bits.</summary>
    F16,
    /// <summary>signed 8-bit integer.</summary>
    I8,
    /// <summary>unsigned 8-bit integer.</summary>
    U8,
    /// <summary>signed 32-bit integer (token ids, positions, targets).</summary>
    I32,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.I8 or DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>True for the floating-point types.</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.F32 or DType.BF16 or DType.F16;

    /// <summary>The CLR element type used to read or write host data of this dtype.</summary>
    public static Type ClrType(this DType dtype) => dtype switch
    {
        DType.F32 => typeof(float),
        DType.BF16 or DType.F16 => typeof(ushort),
        DType.I8 => typeof(sbyte),
        DType.U8 => typeof(byte),
        DType.I32 => typeof(int),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>The dtype whose host element type is <typeparamref name="T"/> (ushort maps to BF16).</summary>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.F32;
        if (typeof(T) == typeof(ushort)) return DType.BF16;
        if (typeof(T) == typeof(int)) return DType.I32;
        if (typeof(T) == typeof(sbyte)) return DType.I8;
        if (typeof(T) == typeof(byte)) return DType.U8;
        throw new ArgumentException($"No PureLlama dtype holds elements of type {typeof(T).Name}.");
    }

    /// <summary>Parses a Hugging Face / safetensors dtype name (F32, BF16, F16, I8, U8, I32; case-insensitive).</summary>
    public static DType Parse(string name) => name.ToUpperInvariant() switch
    {
        "F32" or "FLOAT32" => DType.F32,
        "BF16" or "BFLOAT16" => DType.BF16,
        "F16" or "FLOAT16" => DType.F16,
        "I8" or "INT8" => DType.I8,
        "U8" or "UINT8" => DType.U8,
        "I32" or "INT32" => DType.I32,
        _ => throw new ArgumentException($"Unknown dtype name '{name}' (expected F32, BF16, F16, I8, U8 or I32)."),
    };

    /// <summary>Name of a floating-point weight dtype as torch writes it (config.json torch_dtype, bitsandbytes quant_state "dtype").</summary>
    public static string TorchName(this DType dtype) => dtype switch
    {
        DType.F32 => "float32",
        DType.BF16 => "bfloat16",
        DType.F16 => "float16",
        _ => throw new ArgumentException($"{dtype} is not a floating-point weight dtype."),
    };
}
