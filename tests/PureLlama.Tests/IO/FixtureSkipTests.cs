using PureLlama.Tests.Shared;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace PureLlama.Tests.IO;

/// <summary>
/// The missing-fixture rule: skipped with the missing path outside CI, failed under CI=true; and the runner-side
/// conversion of <see cref="SkipTestException"/> into a skip (never a pass, never a failure).
/// </summary>
public class FixtureSkipTests
{
    [Fact]
    public void Missing_fixture_skips_naming_the_path_outside_CI_and_fails_under_CI()
    {
        string root = Path.Combine(Path.GetTempPath(), "purellama-fixtures-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "present"));
        try
        {
            File.WriteAllText(Path.Combine(root, "present", "a.json"), "{}");
            Fixtures.Require(Path.Combine("present", "a.json"), root, ci: false).Should().Be(Path.Combine(root, "present", "a.json"));
            Fixtures.Require("present", root, ci: true).Should().Be(Path.Combine(root, "present"));

            string missing = Path.Combine(root, "absent", "b.safetensors");
            var skip = () => Fixtures.Require(Path.Combine("absent", "b.safetensors"), root, ci: false);
            skip.Should().Throw<SkipTestException>().Which.Message.Should().Be($"fixture missing: {missing}");
            var fail = () => Fixtures.Require(Path.Combine("absent", "b.safetensors"), root, ci: true);
            fail.Should().Throw<XunitException>().Which.Message.Should().Contain(missing).And.Contain("CI=true");

            var noRoot = () => Fixtures.Require("llama3-tiny", root: null, ci: false);
            noRoot.Should().Throw<SkipTestException>().Which.Message.Should().Contain(Path.Combine("..", "shared", "fixtures", "llama3-tiny"));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    private sealed class Collect : LongLivedMarshalByRefObject, IMessageSink
    {
        public List<IMessageSinkMessage> Messages { get; } = [];
        public bool OnMessage(IMessageSinkMessage message) { Messages.Add(message); return true; }
    }

    private static ITest SomeTest()
    {
        var assembly = new TestAssembly(Reflector.Wrap(typeof(FixtureSkipTests).Assembly));
        var cls = new TestClass(new TestCollection(assembly, null, "c"), Reflector.Wrap(typeof(FixtureSkipTests)));
        var method = new TestMethod(cls, Reflector.Wrap(typeof(FixtureSkipTests).GetMethod(nameof(Missing_fixture_skips_naming_the_path_outside_CI_and_fails_under_CI))!));
        return new XunitTest(new XunitTestCase(new Collect(), TestMethodDisplay.Method, TestMethodDisplayOptions.None, method), "some test");
    }

    [Fact]
    public void Runner_reports_a_SkipTestException_failure_as_skipped_and_other_failures_unchanged()
    {
        var collected = new Collect();
        var sink = new SkippingSink(collected);
        var test = SomeTest();
        sink.OnMessage(new TestFailed(test, 0, "", new SkipTestException("fixture missing: /x/y.json")));
        sink.OnMessage(new TestFailed(test, 0, "", new InvalidOperationException("a real failure")));
        sink.OnMessage(new TestPassed(test, 0, ""));
        collected.Messages[0].Should().BeAssignableTo<ITestSkipped>().Which.Reason.Should().Be("fixture missing: /x/y.json");
        collected.Messages[1].Should().BeAssignableTo<ITestFailed>().Which.Messages[0].Should().Be("a real failure");
        collected.Messages[2].Should().BeAssignableTo<ITestPassed>();
    }
}
