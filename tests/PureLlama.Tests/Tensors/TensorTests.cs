using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Tests.Tensors;

public class TensorTests
{
    private static float[] Iota(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    [Fact]
    public void Views_share_storage_and_index_correctly()
    {
        using var x = Tensor.FromArray(Iota(24), new Shape(2, 3, 4));
        using var t = x.Transpose(0, 2);              // [4, 3, 2]
        t.IsContiguous.Should().BeFalse();
        t.Storage.Should().BeSameAs(x.Storage);
        t.ToArray<float>()[..4].Should().Equal(0f, 12f, 4f, 16f);
        using var s = x.Slice(1, 1, 2);               // [2, 2, 4]
        s.ToArray<float>().Should().Equal(4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23);
        using var r = x.Reshape(6, -1);
        r.Shape.Should().Be(new Shape(6, 4));
        r.Storage.Should().BeSameAs(x.Storage);
        using var rt = t.Reshape(24);                 // not viewable: copies
        rt.Storage.Should().NotBeSameAs(x.Storage);
        rt.ToArray<float>()[..3].Should().Equal(0f, 12f, 4f);
    }

    [Fact]
    public void Reshape_of_a_slice_stays_a_view_when_strides_allow()
    {
        using var x = Tensor.FromArray(Iota(60), new Shape(5, 3, 4));
        using var s = x.Slice(0, 1, 3);   // rows 1..3, contiguous block
        using var r = s.Reshape(3, 12);
        r.Storage.Should().BeSameAs(x.Storage);
        r.ToArray<float>()[0].Should().Be(12f);
        using var inner = x.Slice(2, 0, 2); // [5, 3, 2]: the last two dims are not mergeable with the first
        using var merged = inner.Reshape(15, 2);
        merged.Storage.Should().BeSameAs(x.Storage);
        merged.ToArray<float>()[..4].Should().Equal(0f, 1f, 4f, 5f);
    }

    [Fact]
    public void Bf16_and_f16_casts_round_to_nearest_even()
    {
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to the even mantissa (1.0); 1 + 3·2^-8 rounds up.
        float tieDown = BitConverter.Int32BitsToSingle(0x3F808000), tieUp = BitConverter.Int32BitsToSingle(0x3F818000);
        using var x = Tensor.FromArray(new[] { tieDown, tieUp, float.PositiveInfinity, -0f }, new Shape(4));
        using var b = x.To(DType.BF16);
        b.ToArray<ushort>().Should().Equal((ushort)0x3F80, (ushort)0x3F82, (ushort)0x7F80, (ushort)0x8000);
        using var h = x.To(DType.F16);
        using var back = h.To(DType.F32);
        back.ToArray<float>()[0].Should().Be(tieDown); // exact in f16's 10-bit mantissa
        float.IsPositiveInfinity(back.ToArray<float>()[2]).Should().BeTrue();
    }

    [Fact]
    public void Seeded_random_is_repeatable_and_seed_dependent()
    {
        using var a = Tensor.RandN(new Shape(1000), new Rng(42));
        using var b = Tensor.RandN(new Shape(1000), new Rng(42));
        using var c = Tensor.RandN(new Shape(1000), new Rng(43));
        a.ToArray<float>().Should().Equal(b.ToArray<float>());
        a.ToArray<float>().Should().NotEqual(c.ToArray<float>());
        var v = a.ToArray<float>();
        v.Average().Should().BeApproximately(0f, 0.1f);
        Math.Sqrt(v.Select(x => (double)x * x).Average()).Should().BeApproximately(1.0, 0.1);
    }

    [Fact]
    public void A_view_keeps_its_storage_alive_after_the_base_is_disposed()
    {
        var x = Tensor.FromArray(Iota(6), new Shape(2, 3));
        var view = x.Slice(1, 1, 2);
        x.Dispose();
        view.ToArray<float>().Should().Equal(1f, 2f, 4f, 5f);
        view.Dispose();
        view.Storage.IsReleased.Should().BeTrue();
    }

    [Fact]
    public void Bad_arguments_name_what_is_wrong()
    {
        var act = () => Tensor.FromArray(new float[5], new Shape(2, 3));
        act.Should().Throw<ArgumentException>().WithMessage("*5 values*[2, 3]*");
        using var x = Tensor.Zeros(new Shape(2, 3));
        var reshape = () => x.Reshape(4, 2);
        reshape.Should().Throw<ArgumentException>().WithMessage("*[4, 2]*");
        using var y = Tensor.Zeros(new Shape(4, 5));
        var mm = () => Ops.MatMul(x, y);
        mm.Should().Throw<ArgumentException>().WithMessage("*inner dimensions*3 vs 4*");
        var add = () => Ops.Add(x, y);
        add.Should().Throw<ArgumentException>().WithMessage("*[2, 3]*[4, 5]*");
    }

    [Fact]
    public void Memory_mapped_storage_reads_a_file_region()
    {
        var path = Path.GetTempFileName();
        try
        {
            var bytes = new byte[64];
            var floats = new[] { 1.5f, -2f, 3.25f };
            Buffer.BlockCopy(floats, 0, bytes, 16, 12);
            File.WriteAllBytes(path, bytes);
            using var storage = MappedStorage.Open(path, 16, 12);
            storage.IsReadOnly.Should().BeTrue();
            unsafe
            {
                var span = new ReadOnlySpan<float>(storage.Pointer, 3);
                span.ToArray().Should().Equal(floats);
            }
            var tooLong = () => MappedStorage.Open(path, 60, 8);
            tooLong.Should().Throw<InvalidDataException>().WithMessage($"*{path}*64 bytes*");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Gradients_accumulate_and_no_grad_records_nothing()
    {
        using var w = Tensor.FromArray(new[] { 1f, 2f, 3f }, new Shape(3));
        w.RequiresGrad = true;
        for (int i = 0; i < 2; i++)
        {
            using var loss = Ops.Sum(w * 2f);
            loss.Backward();
        }
        w.Grad!.ToArray<float>().Should().Equal(4f, 4f, 4f);
        using (GradMode.NoGrad())
        {
            using var y = w * 3f;
            y.RequiresGrad.Should().BeFalse();
        }
        using var z = w * 3f;
        var bad = () => z.Backward();
        bad.Should().Throw<InvalidOperationException>().WithMessage("*one-element*");
    }
}

/// <summary>Runs alone: it reads the process-wide count of live native bytes.</summary>
[CollectionDefinition(nameof(NativeMemoryLeakTests), DisableParallelization = true)]
public class NativeMemoryLeakCollection { }

[Collection(nameof(NativeMemoryLeakTests))]
public class NativeMemoryLeakTests
{
    [Fact]
    public void Disposal_releases_native_memory_over_many_allocations()
    {
        // Settle what earlier tests left to the finalizer, so the count only moves with this loop.
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        long before = NativeStorage.LiveBytes;
        for (int i = 0; i < 5000; i++)
        {
            using var t = Tensor.Zeros(new Shape(64, 64));
            using var v = t.Transpose(0, 1);
            using var s = v.Slice(0, 3, 10);
        }
        NativeStorage.LiveBytes.Should().Be(before);
    }
}
