using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <summary>
    /// y (=|+=) x·Ŵᵀ through the dp4a GEMVs (x quantized to int8 blocks of 32; docs/kernels/int8-dot.md, "GPU") for INT8
    /// and INT4 group weights at m ≤ 4 (decode). False, with nothing written, when the exact F32-code path is selected
    /// (<see cref="QuantizedInference.ExactDequant"/>), m is larger, the format has no dp4a kernel, an INT4 weight's groups
    /// straddle 32-column blocks, or the warp is not 32 lanes: the caller then takes <see cref="QuantizedMatMul"/>.
    /// </summary>
    internal bool TryInt8DotMatMul(Tensor x, QuantizedTensor w, Tensor y, bool accumulate)
    {
        if (QuantizedInference.ExactDequant || Accelerator.WarpSize != GpuQ8Activations.BlockSize) return false;
        int m = w switch
        {
            Int8Tensor => QuantizedShapes.Validate(this, x, w, y, transposeWeight: false).M,
            Int4GroupTensor g => Int4GroupShapes.Validate(this, x, g, y, transposeWeight: false),
            _ => -1,
        };
        if (m < 0 || m > GpuInt8DotMatmul.MaxRows) return false;
        var plan = w is Int4GroupTensor int4 ? Plan(int4) : null;
        if (w is Int4GroupTensor && plan is null) return false;
        if (m == 0) return true;
        long bytes = GpuInt8DotMatmul.ScratchBytes(m, w.Columns);
        var scratch = _pool.Rent(bytes);
        try
        {
            var view = ((ArrayView<byte>)scratch.View).SubView(0, bytes);
            if (w is Int8Tensor int8) GpuInt8DotMatmul.Int8(Stream, DeviceWeight(int8), F(x), F(y), m, accumulate, view);
            else GpuInt8DotMatmul.Int4(Stream, DotWeight((Int4GroupTensor)w, plan!), F(x), F(y), m, accumulate, view);
        }
        finally
        {
            _pool.Return(scratch);   // safe: every later use of the buffer is queued behind this on the same stream
        }
        return true;
    }

    /// <summary>
    /// The device's dp4a and byte permutes on the given words (<see cref="GpuDp4aProbe"/>): r[3i] = Dot4(a, b, c),
    /// r[3i+1], r[3i+2] = Permute(a, b, 0x6420 / 0x7531), for the self-test against the integer emulation.
    /// </summary>
    internal int[] Dp4aProbe(int[] a, int[] b, int[] c)
    {
        Enter();
        using var da = Accelerator.Allocate1D(a);
        using var db = Accelerator.Allocate1D(b);
        using var dc = Accelerator.Allocate1D(c);
        using var dr = Accelerator.Allocate1D<int>(3L * a.Length);
        GpuDp4aProbe.Run(Stream, da.View, db.View, dc.View, dr.View);
        Stream.Synchronize();
        return dr.GetAsArray1D();
    }

    /// <summary>Builds an INT4 group weight's dp4a layout now (at load) rather than at its first product.</summary>
    internal void Prepack(QuantizedTensor w)
    {
        if (w is Int4GroupTensor int4 && w.Device == Device) Plan(int4);
    }

    private static Int4DotPlan? Plan(Int4GroupTensor w) => w.HostPacked(q => Int4DotPlan.Create((Int4GroupTensor)q));

    private static Int4DotDeviceWeight DotWeight(Int4GroupTensor w, Int4DotPlan plan)
    {
        var (blockGroups, permutation, qweight) = plan.Tensors;
        return new(w.Rows, w.Columns, w.Groups, I32(qweight ?? w.QWeight), I32(w.QZeros), U16(w.Scales), I32(blockGroups),
            permutation is null ? default : I32(permutation));
    }
}
