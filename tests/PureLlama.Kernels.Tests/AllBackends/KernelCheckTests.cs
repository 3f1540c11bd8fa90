using PureLlama.Compute;
using PureLlama.Diagnostics;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.AllBackends;

/// <summary>
/// Every kernel of the op set on every backend present, against its float64 reference, with
/// poisoned outputs and ragged shapes (the catalogue is <see cref="KernelChecks"/>, shared with
/// <c>purellama selftest</c>).
/// </summary>
public class KernelCheckTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in Backends.Available())
            foreach (var check in KernelChecks.For(device))
                data.Add(device.ToString(), check.ToString());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kernel_matches_float64_reference(string device, string check)
    {
        PureLlama.Tests.Shared.SimulatorChecks.RequireFor(device);
        var dev = Device.Parse(device);
        var kernelCheck = KernelChecks.For(dev).Single(c => c.ToString() == check);
        var result = kernelCheck.Run(Backends.Get(dev));
        if (result.Skipped is not null) return;   // op not implemented on this backend yet; selftest lists it as skipped
        result.Failure.Should().BeNull($"{check} on {device}");
        result.RelativeError.Should().BeLessThanOrEqualTo(result.Tolerance, $"{check} on {device}: max abs error {result.MaxAbsError:G3}");
    }
}
