using PureLlama.Kernels;
using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        Check.F32(this, a, nameof(a));
        Check.F32(this, b, nameof(b));
        Check.F32Out(this, y, nameof(y));
        var plan = BroadcastPlan.Create(a.Shape, b.Shape, y.Shape);
        float* pa = a.Pointer<float>(), pb = b.Pointer<float>(), py = y.Pointer<float>();
        int inner = plan.Inner;
        long outer = plan.Outer;
        for (long r = 0; r < outer; r++)
        {
            var (oa, ob) = plan.Offsets(r);
            SimdElementwise.Binary(op, pa + oa, plan.StepA, pb + ob, plan.StepB, py + r * inner, inner);
        }
    }

    /// <inheritdoc/>
    public void Scale(Tensor x, float alpha, Tensor y)
    {
        Check.F32(this, x, nameof(x));
        Check.F32Out(this, y, nameof(y));
        Check.SameShape(x, y, nameof(x), nameof(y));
        SimdElementwise.Scale(x.Pointer<float>(), alpha, y.Pointer<float>(), x.Numel);
    }

    /// <inheritdoc/>
    public void Axpy(float alpha, Tensor x, Tensor y)
    {
        Check.F32(this, x, nameof(x));
        Check.F32Out(this, y, nameof(y));
        Check.SameShape(x, y, nameof(x), nameof(y));
        SimdElementwise.Axpy(alpha, x.Pointer<float>(), y.Pointer<float>(), x.Numel);
    }

    /// <inheritdoc/>
    public void SumToShape(Tensor source, Tensor destination)
    {
        Check.F32(this, source, nameof(source));
        Check.F32Out(this, destination, nameof(destination));
        var plan = ReductionPlan.Create(source.Shape, destination.Shape);
        float* src = source.Pointer<float>(), dst = destination.Pointer<float>();
        // Merged dims alternate kept/reduced; the common layouts map straight onto one kernel.
        switch (plan.Pattern)
        {
            case ReductionPattern.All: *dst = SimdReduce.Sum(src, source.Numel); break;
            case ReductionPattern.None: Buffer.MemoryCopy(src, dst, destination.ByteLength, source.ByteLength); break;
            case ReductionPattern.LeadingReduced: SimdReduce.SumOverRows(src, plan.Rows, plan.Cols, dst, accumulate: false); break;
            case ReductionPattern.TrailingReduced: SimdReduce.SumOverCols(src, plan.Rows, plan.Cols, dst, accumulate: false); break;
            default: plan.SumGeneral(src, dst); break;
        }
    }
}
