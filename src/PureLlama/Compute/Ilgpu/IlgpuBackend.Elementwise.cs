using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;
using Device = PureLlama.Tensors.Device;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <summary>Floats of the reduction scratch used by SumToShape's full sums (one partial per group).</summary>
    private const int SumScratchFloats = 1024;

    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        Check.F32(this, a, nameof(a));
        Check.F32(this, b, nameof(b));
        Check.F32Out(this, y, nameof(y));
        var plan = BroadcastPlan.Create(a.Shape, b.Shape, y.Shape);
        if (y.Numel == 0) return;
        ArrayView<float> pa = F(a), pb = F(b), py = F(y);
        if (plan.Dims.Length == 1)
        {
            GpuElementwise.Binary(Stream, op, pa, plan.StepA, pb, plan.StepB, py, plan.Inner);
        }
        else if (plan.Dims.Length <= 6)
        {
            GpuElementwise.BinaryBroadcast(Stream, op, pa, new StridedLayout6(plan.Dims, plan.StridesA, 0),
                pb, new StridedLayout6(plan.Dims, plan.StridesB, 0), py, y.Numel);
        }
        else
        {
            // More than 6 alternating broadcast dimensions: one launch per output row.
            int inner = plan.Inner;
            for (long r = 0; r < plan.Outer; r++)
            {
                var (oa, ob) = plan.Offsets(r);
                GpuElementwise.Binary(Stream, op, pa.SubView(oa), plan.StepA, pb.SubView(ob), plan.StepB, py.SubView(r * inner, inner), inner);
            }
        }
    }

    /// <inheritdoc/>
    public void Scale(Tensor x, float alpha, Tensor y)
    {
        Check.F32(this, x, nameof(x));
        Check.F32Out(this, y, nameof(y));
        Check.SameShape(x, y, nameof(x), nameof(y));
        if (x.Numel == 0) return;
        GpuElementwise.Scale(Stream, F(x), alpha, F(y), x.Numel);
    }

    /// <inheritdoc/>
    public void Axpy(float alpha, Tensor x, Tensor y)
    {
        Check.F32(this, x, nameof(x));
        Check.F32Out(this, y, nameof(y));
        Check.SameShape(x, y, nameof(x), nameof(y));
        if (x.Numel == 0) return;
        GpuElementwise.Axpy(Stream, alpha, F(x), F(y), x.Numel);
    }

    /// <inheritdoc/>
    public unsafe void SumToShape(Tensor source, Tensor destination)
    {
        Check.F32(this, source, nameof(source));
        Check.F32Out(this, destination, nameof(destination));
        var plan = ReductionPlan.Create(source.Shape, destination.Shape);
        if (destination.Numel == 0) return;
        ArrayView<float> src = F(source), dst = F(destination);
        switch (plan.Pattern)
        {
            case ReductionPattern.All:
                {
                    var scratch = _pool.Rent(SumScratchFloats * sizeof(float));
                    try
                    {
                        GpuReduce.Sum(Stream, src, source.Numel, dst, ((ArrayView<byte>)scratch.View).SubView(0, SumScratchFloats * sizeof(float)).Cast<float>());
                    }
                    finally
                    {
                        _pool.Return(scratch); // safe: every later use of the buffer is queued behind this on the same stream
                    }
                    break;
                }
            case ReductionPattern.None:
                if (source.Numel == 0) Fill(destination, 0f);
                else Raw(source).CopyTo(Stream, Raw(destination));
                break;
            case ReductionPattern.LeadingReduced: GpuReduce.SumOverRows(Stream, src, plan.Rows, plan.Cols, dst, accumulate: false); break;
            case ReductionPattern.TrailingReduced: GpuReduce.SumOverCols(Stream, src, plan.Rows, plan.Cols, dst, accumulate: false); break;
            default:
                {
                    // Rare layouts (alternating kept/reduced groups): sum on the host.
                    var host = new float[source.Numel];
                    var result = new float[destination.Numel];
                    CopyToHost(source, System.Runtime.InteropServices.MemoryMarshal.AsBytes(host.AsSpan()));
                    fixed (float* ps = host, pd = result) plan.SumGeneral(ps, pd);
                    CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()), destination);
                    break;
                }
        }
    }
}
