using PureLlama.Compute;
using PureLlama.Diagnostics;
using PureLlama.Tensors;

namespace PureLlama.Tests.Autograd;

/// <summary>
/// The harness's gradient mode (<see cref="GradChecks"/>): every differentiable op against float64 central differences,
/// on every backend present (the list is shared with <c>purellama selftest --mode grad</c>).
/// </summary>
public class GradCheckTests
{
    /// <summary>
    /// The CPU and CUDA (when present). Not ILGPU's CPU accelerator: its thread-per-GPU-thread simulator turns each
    /// probe into seconds, and the autograd functions are the same on every device — the GPU forward and backward
    /// kernels themselves are checked against float64 references there by the kernel checks.
    /// </summary>
    public static TheoryData<string> Devices() => [.. GradDevices().Select(d => d.ToString())];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in GradDevices())
            foreach (var check in GradChecks.For(device))
                data.Add(device.ToString(), check.ToString());
        return data;
    }

    private static IEnumerable<Device> GradDevices() => Backends.Available().Where(d => d.Kind != DeviceKind.IlgpuCpu);

    /// <summary>Elements probed per input on <paramref name="device"/> (<see cref="GradChecks.ElementsToCheck"/>), for feature tests' own checks.</summary>
    internal static int ElementsToCheck(Device device) => GradChecks.ElementsToCheck(device);

    /// <summary>A uniform(−1, 1) F32 leaf that requires grad (<see cref="GradChecks.Leaf"/>), for feature tests' own checks.</summary>
    internal static Tensor Leaf(Device dev, ulong seed, params int[] shape) => GradChecks.Leaf(dev, seed, shape);

    [Theory, MemberData(nameof(Cases))]
    public void Gradient_matches_central_differences(string device, string check)
    {
        var dev = Device.Parse(device);
        var gradCheck = GradChecks.For(dev).Single(c => c.ToString() == check);
        var result = gradCheck.Execute(Backends.Get(dev));
        result.Failure.Should().BeNull($"{check} on {device}");
        result.RelativeError.Should().BeLessThan(result.Tolerance, $"{check} on {device}");
    }

    [Fact]
    public void Every_grad_check_has_a_distinct_name()
    {
        var names = GradChecks.For(Device.Cpu).Select(c => c.ToString()).ToList();
        names.Should().OnlyHaveUniqueItems();
        names.Should().Contain(n => n.StartsWith("grad attention")).And.Contain(n => n.StartsWith("grad unary"));
    }
}
