using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>Instruction-set level used by the matmul kernels (<see cref="SimdGemm"/>, <see cref="SimdGemv"/>).</summary>
public enum GemmSimdLevel
{
    /// <summary>Pick the widest level the hardware accelerates.</summary>
    Auto = 0,
    /// <summary>Plain scalar C# (no vectors).</summary>
    Scalar = 1,
    /// <summary>256-bit vectors (AVX2-class hardware).</summary>
    Vector256 = 2,
    /// <summary>512-bit vectors (AVX-512-class hardware).</summary>
    Vector512 = 3,
}

/// <summary>
/// Selects the code path of the matmul kernels. For tests and benchmarks only: production code
/// leaves <see cref="Override"/> at <see cref="GemmSimdLevel.Auto"/>. Forcing a level the hardware
/// does not accelerate still gives correct results (the JIT emulates the vectors), only slowly.
/// </summary>
public static class GemmIsa
{
    private static GemmSimdLevel _override = GemmSimdLevel.Auto;

    /// <summary>Forces a level (tests/benchmarks); <see cref="GemmSimdLevel.Auto"/> restores detection.</summary>
    public static GemmSimdLevel Override
    {
        get => _override;
        set => _override = value is >= GemmSimdLevel.Auto and <= GemmSimdLevel.Vector512
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown GemmSimdLevel.");
    }

    /// <summary>The widest level this machine accelerates.</summary>
    public static GemmSimdLevel Detected { get; } =
        Vector512.IsHardwareAccelerated ? GemmSimdLevel.Vector512
        : Vector256.IsHardwareAccelerated ? GemmSimdLevel.Vector256
        : GemmSimdLevel.Scalar;

    /// <summary>The level the kernels use now.</summary>
    public static GemmSimdLevel Current => _override == GemmSimdLevel.Auto ? Detected : _override;
}
