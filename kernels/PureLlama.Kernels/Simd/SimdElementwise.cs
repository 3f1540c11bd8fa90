using System.Numerics.Tensors;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Elementwise kernels over n contiguous floats.
/// <code>
/// Binary: y[i] = a[i·aStep] ∘ b[i·bStep], ∘ ∈ {+, −, ·, /}, steps 0 (a scalar, broadcast) or 1
/// Scale:  y[i] = α·x[i]
/// Axpy:   y[i] += α·x[i]
/// Fill:   y[i] = v
/// </code>
/// Output may alias an input exactly (in place). Vectorised by TensorPrimitives
/// (Vector512/256 chosen at run time); large calls are split across threads.
/// </summary>
public static unsafe class SimdElementwise
{
    /// <summary>y[i] = a[i·aStep] ∘ b[i·bStep]. a, b, y: [n] (a or b: [1] when its step is 0).</summary>
    public static void Binary(BinaryOp op, float* a, int aStep, float* b, int bStep, float* y, long n)
    {
        if (n <= 0) return;
        if (aStep == 0 && bStep == 0) { Fill(y, Apply(op, *a, *b), n); return; }
        ParallelWork.For(n, (s, e) =>
        {
            for (long c = s; c < e; c += ParallelWork.MaxSpan)
            {
                int len = (int)Math.Min(ParallelWork.MaxSpan, e - c);
                var ys = new Span<float>(y + c, len);
                if (aStep != 0 && bStep != 0)
                {
                    var xa = new ReadOnlySpan<float>(a + c, len);
                    var xb = new ReadOnlySpan<float>(b + c, len);
                    switch (op)
                    {
                        case BinaryOp.Add: TensorPrimitives.Add(xa, xb, ys); break;
                        case BinaryOp.Sub: TensorPrimitives.Subtract(xa, xb, ys); break;
                        case BinaryOp.Mul: TensorPrimitives.Multiply(xa, xb, ys); break;
                        case BinaryOp.Div: TensorPrimitives.Divide(xa, xb, ys); break;
                        default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
                    }
                }
                else if (bStep == 0)
                {
                    var xa = new ReadOnlySpan<float>(a + c, len);
                    float sb = *b;
                    switch (op)
                    {
                        case BinaryOp.Add: TensorPrimitives.Add(xa, sb, ys); break;
                        case BinaryOp.Sub: TensorPrimitives.Subtract(xa, sb, ys); break;
                        case BinaryOp.Mul: TensorPrimitives.Multiply(xa, sb, ys); break;
                        case BinaryOp.Div: TensorPrimitives.Divide(xa, sb, ys); break;
                        default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
                    }
                }
                else
                {
                    float sa = *a;
                    var xb = new ReadOnlySpan<float>(b + c, len);
                    switch (op)
                    {
                        case BinaryOp.Add: TensorPrimitives.Add(xb, sa, ys); break;
                        case BinaryOp.Sub: TensorPrimitives.Subtract(sa, xb, ys); break;
                        case BinaryOp.Mul: TensorPrimitives.Multiply(xb, sa, ys); break;
                        case BinaryOp.Div: TensorPrimitives.Divide(sa, xb, ys); break;
                        default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
                    }
                }
            }
        });
    }

    /// <summary>y = α·x. x, y: [n].</summary>
    public static void Scale(float* x, float alpha, float* y, long n)
    {
        if (n <= 0) return;
        ParallelWork.For(n, (s, e) =>
        {
            for (long c = s; c < e; c += ParallelWork.MaxSpan)
            {
                int len = (int)Math.Min(ParallelWork.MaxSpan, e - c);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + c, len), alpha, new Span<float>(y + c, len));
            }
        });
    }

    /// <summary>y += α·x. x, y: [n].</summary>
    public static void Axpy(float alpha, float* x, float* y, long n)
    {
        if (n <= 0) return;
        ParallelWork.For(n, (s, e) =>
        {
            for (long c = s; c < e; c += ParallelWork.MaxSpan)
            {
                int len = (int)Math.Min(ParallelWork.MaxSpan, e - c);
                var ys = new Span<float>(y + c, len);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(x + c, len), alpha, ys, ys);
            }
        });
    }

    /// <summary>y = v. y: [n].</summary>
    public static void Fill(float* y, float v, long n)
    {
        if (n <= 0) return;
        ParallelWork.For(n, (s, e) =>
        {
            for (long c = s; c < e; c += ParallelWork.MaxSpan)
                new Span<float>(y + c, (int)Math.Min(ParallelWork.MaxSpan, e - c)).Fill(v);
        });
    }

    private static float Apply(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };
}
