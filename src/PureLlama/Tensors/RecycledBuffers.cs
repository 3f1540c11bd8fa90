using System.Collections.Concurrent;

namespace PureLlama.Tensors;

/// <summary>
/// Freed host buffers of the sizes a decode step allocates and frees again and again (logits, MLP activations: 128 KiB
/// to 8 MiB), kept for the next allocation of the same size. The C allocator serves such sizes with fresh mmap'd pages,
/// or trims them from its heap, so without this every step page-faults its temporaries in again (measured: page faults
/// and zeroing ≈ 2.6 % of a 1B decode step). At most <see cref="MaxPerSize"/> buffers per size and
/// <see cref="MaxBytes"/> in all are kept; anything else goes back to the allocator.
/// </summary>
internal sealed unsafe class RecycledBuffers
{
    /// <summary>The buffers every <see cref="NativeStorage"/> of the process shares.</summary>
    public static RecycledBuffers Shared { get; } = new();

    /// <summary>Smallest size kept (below it the C heap reuses memory well).</summary>
    public const long MinBytes = 128L << 10;

    /// <summary>Largest size kept.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>Largest single buffer kept.</summary>
    public const long MaxSize = 8L << 20;

    /// <summary>Buffers kept per size.</summary>
    public const int MaxPerSize = 4;

    private readonly ConcurrentDictionary<nuint, ConcurrentStack<nint>> _bySize = new();
    private long _keptBytes;

    /// <summary>A kept buffer of exactly <paramref name="size"/> bytes, or null.</summary>
    public byte* TryTake(nuint size)
    {
        if ((long)size < MinBytes || (long)size > MaxSize || !_bySize.TryGetValue(size, out var stack) || !stack.TryPop(out nint p)) return null;
        Interlocked.Add(ref _keptBytes, -(long)size);
        return (byte*)p;
    }

    /// <summary>Keeps <paramref name="p"/> (allocated with 64-byte alignment) for reuse when there is room; false when the caller must free it.</summary>
    public bool TryKeep(byte* p, nuint size)
    {
        if ((long)size < MinBytes || (long)size > MaxSize) return false;
        if (Interlocked.Add(ref _keptBytes, (long)size) > MaxBytes) { Interlocked.Add(ref _keptBytes, -(long)size); return false; }
        var stack = _bySize.GetOrAdd(size, _ => new ConcurrentStack<nint>());
        if (stack.Count >= MaxPerSize) { Interlocked.Add(ref _keptBytes, -(long)size); return false; }
        stack.Push((nint)p);
        return true;
    }
}
