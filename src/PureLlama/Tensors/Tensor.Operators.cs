using PureLlama.Autograd;

namespace PureLlama.Tensors;

public sealed partial class Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);
    public static Tensor operator *(Tensor a, float s) => Ops.Scale(a, s);
    public static Tensor operator *(float s, Tensor a) => Ops.Scale(a, s);
}
