using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Tests.Llama;

/// <summary>KV cache bookkeeping and RoPE table growth.</summary>
public class KvCacheTests
{
    [Fact]
    public void Cache_reports_its_bytes_and_guards_its_length()
    {
        using var cache = new KvCache(layers: 16, kvHeads: 8, headDim: 64, capacity: 100, Device.Cpu);
        cache.ByteLength.Should().Be(2L * 16 * 100 * 8 * 64 * 4);
        cache.Length.Should().Be(0);
        cache.Invoking(c => c.EnsureRoom(101)).Should().Throw<ContextLengthExceededException>().WithMessage("*101 new token*0 of 100*");
        cache.Invoking(c => c.Truncate(1)).Should().Throw<ArgumentOutOfRangeException>();
        cache.Dispose();
        cache.Invoking(c => c.EnsureRoom(1)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void Bad_cache_sizes_are_rejected()
    {
        FluentActions.Invoking(() => new KvCache(0, 8, 64, 10, Device.Cpu)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => new KvCache(2, 8, 64, 0, Device.Cpu)).Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Rope_tables_grow_on_demand_up_to_the_model_limit()
    {
        using var rope = new RopeCache(headDim: 16, theta: 500000, scaling: null, maxPositions: 1000, Device.Cpu, initialPositions: 8);
        rope.Positions.Should().Be(8);
        var before = rope.Cos.ToFloatArray();
        rope.Ensure(9);
        rope.Positions.Should().Be(16);
        rope.Cos.ToFloatArray()[..before.Length].Should().Equal(before);
        rope.Ensure(1000);
        rope.Positions.Should().Be(1000);
        rope.Invoking(r => r.Ensure(1001)).Should().Throw<ContextLengthExceededException>().WithMessage("*max_position_embeddings (1000)*");
    }
}
