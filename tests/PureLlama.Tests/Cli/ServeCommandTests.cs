using PureLlama.Cli.Commands;
using PureLlama.Serving;

namespace PureLlama.Tests.Cli;

/// <summary>The option parsing of <c>purellama serve</c> (the server itself is tested in PureLlama.Server.Tests).</summary>
public class ServeCommandTests
{
    [Fact]
    public void LoraOptionsParseAndBadOnesAreNamed()
    {
        ServeCommand.ParseAdapters(["bible=runs/a", "psalms = /x/y=z"]).Should().BeEquivalentTo(
            new Dictionary<string, string> { ["bible"] = "runs/a", ["psalms"] = "/x/y=z" });
        foreach (var bad in new[] { "noequals", "=dir", "name=" })
            FluentActions.Invoking(() => ServeCommand.ParseAdapters([bad])).Should().Throw<ArgumentException>().WithMessage($"--lora '{bad}'*");
        FluentActions.Invoking(() => ServeCommand.ParseAdapters(["a=x", "a=y"])).Should().Throw<ArgumentException>().WithMessage("*'a' twice*");
    }

    [Fact]
    public void KvCacheTypesParse()
    {
        ServeCommand.ParseKvCache("INT8").Should().Be(KvCacheType.Int8);
        ServeCommand.ParseKvCache("bf16").Should().Be(KvCacheType.BF16);
        ServeCommand.ParseKvCache(null).Should().Be(KvCacheType.F32);
        FluentActions.Invoking(() => ServeCommand.ParseKvCache("fp8")).Should().Throw<ArgumentException>().WithMessage("--kv-cache*fp8*");
    }

    [Fact]
    public void SizesNameTheirOption()
    {
        QuantizeCommand.ParseSize("512MiB", "--kv-memory").Should().Be(512L << 20);
        FluentActions.Invoking(() => QuantizeCommand.ParseSize("lots", "--kv-memory")).Should().Throw<ArgumentException>().WithMessage("--kv-memory*");
    }
}
