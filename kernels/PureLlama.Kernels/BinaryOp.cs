namespace PureLlama.Kernels;

/// <summary>Elementwise binary operations shared by the SIMD and GPU kernels: y = a ∘ b.</summary>
public enum BinaryOp
{
    /// <summary>y = a + b</summary>
    Add,
    /// <summary>y = a − b</summary>
    Sub,
    /// <summary>y = a · b</summary>
    Mul,
    /// <summary>y = a / b</summary>
    Div,
}
