using PureLlama.Compute;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>Small parameter sets and deterministic gradients for the optimizer tests.</summary>
internal static class OptimizerTestData
{
    /// <summary>Every device present (shapes here are a few hundred elements, fine on ilgpu-cpu).</summary>
    public static TheoryData<string> Devices()
    {
        var d = new TheoryData<string>();
        foreach (var device in Backends.Available()) d.Add(device.ToString());
        return d;
    }

    /// <summary>Three parameters (ragged sizes; one norm weight, which gets no decay by default).</summary>
    public static NamedParameter[] Parameters(Device device, ulong seed = 1)
    {
        Shared.SimulatorChecks.RequireFor(device.ToString());
        var rng = new Rng(seed);
        return
        [
            Make("layers.0.q_proj.weight", Tensor.RandN(new Shape(7, 37), rng, 0.5f, DType.F32, device)),
            Make("layers.0.input_layernorm.weight", Tensor.RandN(new Shape(37), rng, 0.5f, DType.F32, device)),
            Make("lm_head.weight", Tensor.RandN(new Shape(300), rng, 0.5f, DType.F32, device)),
        ];
    }

    private static NamedParameter Make(string name, Tensor t)
    {
        t.RequiresGrad = true;
        t.Name = name;
        return new NamedParameter(name, t);
    }

    /// <summary>Sets every parameter's gradient to a fresh random tensor for step <paramref name="step"/>.</summary>
    public static void SetGradients(IReadOnlyList<NamedParameter> ps, int step, float scale = 1f)
    {
        for (int i = 0; i < ps.Count; i++)
        {
            var p = ps[i].Value;
            p.Grad?.Dispose();
            p.Grad = Tensor.RandN(p.Shape, new Rng((ulong)(1000 * step + i + 7)), scale, DType.F32, p.Device);
        }
    }

    /// <summary>Copies of the parameters (same names and values) on the same device.</summary>
    public static NamedParameter[] Clone(IReadOnlyList<NamedParameter> ps) =>
        ps.Select(p => Make(p.Name, Tensor.FromArray(p.Value.ToFloatArray(), p.Value.Shape, p.Value.Device))).ToArray();

    public static void Dispose(IEnumerable<NamedParameter> ps)
    {
        foreach (var p in ps) p.Value.Dispose();
    }
}
