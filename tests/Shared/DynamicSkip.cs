using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace PureLlama.Tests.Shared;

/// <summary>
/// Thrown by a test that cannot run here (a fixture is missing, a simulator check outside CI): the test is reported
/// as skipped with this message, never as passed. <see cref="DynamicSkipFramework"/> does the conversion.
/// </summary>
public sealed class SkipTestException(string reason) : Exception(reason);

/// <summary>
/// xunit's test framework with one change: a test that fails with <see cref="SkipTestException"/> is reported as
/// skipped, the exception's message as the reason (xunit 2 has no dynamic skip of its own). Each test assembly
/// selects it with <c>[assembly: TestFramework("PureLlama.Tests.Shared.DynamicSkipFramework", "&lt;assembly&gt;")]</c>.
/// </summary>
public sealed class DynamicSkipFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    /// <inheritdoc/>
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new XunitTestAssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, new SkippingSink(executionMessageSink), executionOptions);
            await runner.RunAsync();
        }
    }
}

/// <summary>Passes every message on, except a failure caused by <see cref="SkipTestException"/>, which becomes a skip.</summary>
public sealed class SkippingSink(IMessageSink inner) : LongLivedMarshalByRefObject, IMessageSink
{
    /// <inheritdoc/>
    public bool OnMessage(IMessageSinkMessage message)
    {
        if (message is ITestFailed failed && failed.ExceptionTypes.Length > 0 && failed.ExceptionTypes[0] == typeof(SkipTestException).FullName)
            return inner.OnMessage(new TestSkipped(failed.Test, failed.Messages[0]));
        return inner.OnMessage(message);
    }
}

/// <summary>
/// The ILGPU CPU-accelerator ("simulator") checks: slow (one host thread per GPU thread), so the default
/// <c>dotnet test</c> reports them as skipped and CI runs them (<c>CI=true</c>, which <c>.ci/run</c> sets, or
/// <c>PURELLAMA_SIMULATOR_CHECKS=1</c>).
/// </summary>
public static class SimulatorChecks
{
    /// <summary>The variable that turns the checks on outside CI.</summary>
    public const string Variable = "PURELLAMA_SIMULATOR_CHECKS";

    /// <summary>True in CI or when <see cref="Variable"/> is 1.</summary>
    public static bool Enabled =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)
        || Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>Skips the calling test when <paramref name="device"/> is the ILGPU CPU accelerator and the checks are off.</summary>
    public static void RequireFor(string device)
    {
        if (string.Equals(device, "ilgpu-cpu", StringComparison.OrdinalIgnoreCase)) Require();
    }

    /// <summary>Skips the calling test unless the checks are enabled.</summary>
    /// <exception cref="SkipTestException">Not enabled.</exception>
    public static void Require()
    {
        if (!Enabled)
            throw new SkipTestException($"ILGPU CPU-accelerator check: runs in CI (CI=true) or with {Variable}=1; the default run leaves it out for time.");
    }
}
