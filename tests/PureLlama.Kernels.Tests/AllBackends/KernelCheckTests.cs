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
        var result = kernelCheck.Execute(Backends.Get(dev));
        if (result.Skipped is not null) return;   // op not implemented on this backend yet; selftest lists it as skipped
        result.Failure.Should().BeNull($"{check} on {device}");
        result.RelativeError.Should().BeLessThanOrEqualTo(result.Tolerance, $"{check} on {device}: max abs error {result.MaxAbsError:G3}");
    }
}

/// <summary>The harness itself: a kernel that writes past its output is caught by the sentinel guards.</summary>
public class KernelCheckGuardTests
{
    [Fact]
    public void A_write_past_the_end_of_an_output_fails_the_check()
    {
        var check = new KernelCheck("overrun", "[5]", be =>
        {
            using var y = CheckIo.Poisoned(be, 5);
            using var wide = new Tensor(y.Storage, new Shape(6), [1], y.Offset, DType.F32);   // one element too many
            be.Fill(wide, 1f);
            return CheckIo.Compare("overrun", "[5]", y, [1, 1, 1, 1, 1], 0);
        });
        check.Execute(Backends.Cpu).Failure.Should().Contain("written past its end").And.Contain("guard element 0");

        var inBounds = check with { Run = be => { using var y = CheckIo.Poisoned(be, 5); be.Fill(y, 1f); return CheckIo.Compare("fill", "[5]", y, [1, 1, 1, 1, 1], 0); } };
        inBounds.Execute(Backends.Cpu).Passed.Should().BeTrue();
    }
}
