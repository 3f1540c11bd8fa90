using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// y = x·Ŵᵀ with a frozen quantized weight Ŵ [out, in] (NF4/INT8, dequantized inside the kernel);
/// x: [.., in] → y: [.., out]. Backward: dx = dy·Ŵ (the transposed dequant-matmul); the weight gets no gradient.
/// </summary>
internal sealed class QuantLinearFunction : Function
{
    private QuantizedTensor? _w;

    public static Tensor Apply(Tensor x, QuantizedTensor w)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (x.Rank < 1 || x.Shape[-1] != w.Columns)
            throw new ArgumentException($"QuantLinear{(w.Name is null ? "" : " " + w.Name)}: input {x.Describe()} must end in {w.Columns} for weight {w.Describe()}.", nameof(x));
        using var dense = x.IsContiguous ? null : x.ContiguousCopy();
        var input = dense ?? x;
        var y = Output(x, w);   // [.., out]
        try
        {
            // Inference (no autograd) takes the int8 dot-product kernels (CPU; dp4a GEMVs on ILGPU) unless QuantizedInference.ExactDequant.
            bool fast = !GradMode.IsEnabled && input.Backend switch
            {
                CpuBackend cpu => cpu.TryInt8DotMatMul(input, w, y, accumulate: false),
                IlgpuBackend gpu => gpu.TryInt8DotMatMul(input, w, y, accumulate: false),
                _ => false,
            };
            if (!fast) x.Backend.QuantizedMatMul(input, w, y, transposeWeight: false, accumulate: false);
        }
        catch { y.Dispose(); throw; }
        return Tape.Record(new QuantLinearFunction { _w = w }, y, x);
    }

    /// <summary>An empty F32 y [.., w.Rows] for x [.., w.Columns], on x's device.</summary>
    internal static Tensor Output(Tensor x, QuantizedTensor w)
    {
        var dims = x.Shape.ToArray();
        dims[^1] = w.Rows;
        return Tensor.Empty(new Shape(dims), DType.F32, x.Device);
    }

    protected internal override Tensor?[] Backward(Tensor dy)
    {
        if (!NeedsGrad(0)) return [null];
        var w = _w!;
        var x = Inputs[0];
        using var dense = dy.IsContiguous ? null : dy.ContiguousCopy();
        var dx = Tensor.Empty(x.Shape, DType.F32, x.Device);            // [.., in]
        dy.Backend.QuantizedMatMul(dense ?? dy, w, dx, transposeWeight: true, accumulate: false);
        return [dx];
    }

    protected internal override void ReleaseSaved() => _w = null;
}
