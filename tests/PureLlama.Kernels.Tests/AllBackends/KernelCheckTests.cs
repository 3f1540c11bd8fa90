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

/// <summary>The harness's performance mode: ops run through CheckIo.Timed are timed inside a scope, and only there.</summary>
public class KernelCheckTimingTests
{
    [Fact]
    public void Perf_mode_times_each_op_of_a_check_and_numeric_mode_times_nothing()
    {
        var check = KernelChecks.For(Device.Cpu).First(c => c.Kernel == "matmul f32");
        var (result, timings) = check.Time(Backends.Cpu);
        result.Failure.Should().BeNull();
        timings.Should().ContainSingle().Which.Should().Match<OpTiming>(t => t.Label == "matmul" && t.Seconds > 0 && t.Repeats >= 1 && t.Work.Flops > 0);
        timings[0].Work.Rate(timings[0].Seconds).Should().EndWith("GFLOP/s");

        var softmax = KernelChecks.For(Device.Cpu).First(c => c.Kernel == "softmax");
        softmax.Time(Backends.Cpu).Timings.Select(t => t.Label).Should().Equal("fwd", "bwd");
        softmax.Time(Backends.Cpu).Timings.Should().OnlyContain(t => t.Work.Bytes > 0 && t.Work.Rate(t.Seconds).EndsWith("GB/s"));

        int calls = 0;
        var counting = new KernelCheck("count", "[1]", be => { CheckIo.Timed(be, "op", OpWork.Floats(1), () => calls++); return new("count", "[1]", 0, 0, 0, null); });
        counting.Execute(Backends.Cpu);
        calls.Should().Be(1, "outside the performance mode an op runs once");
        counting.Time(Backends.Cpu).Timings.Should().ContainSingle();
        calls.Should().BeGreaterThan(2, "the performance mode repeats the op in timed batches");
    }
}
