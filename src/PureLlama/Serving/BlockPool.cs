namespace PureLlama.Serving;

/// <summary>
/// The KV block allocator: <see cref="Total"/> blocks of <see cref="BlockSize"/> positions, each with a
/// refcount (sequences holding it). With prefix caching a full block is registered under its token
/// prefix (the chain parent block → tokens, exact, no hash collisions trusted); when its last holder
/// lets go it stays cached as evictable (least recently released first) until the space is needed.
/// Blocks free + evictable are what an allocation can take. Single-threaded (the scheduler's).
/// </summary>
internal sealed class BlockPool
{
    private readonly Stack<int> _free = new();
    private readonly int[] _refs;
    private readonly PrefixEntry?[] _entryOf;                        // [block] its registration, or null
    private readonly Dictionary<PrefixKey, int> _byPrefix = [];
    private readonly LinkedList<int> _evictable = new();             // cached blocks nobody holds, oldest first
    private readonly LinkedListNode<int>?[] _evictNode;

    public BlockPool(int blocks, int blockSize)
    {
        if (blocks < 1) throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "The KV pool needs at least one block.");
        Total = blocks; BlockSize = blockSize;
        _refs = new int[blocks];
        _entryOf = new PrefixEntry?[blocks];
        _evictNode = new LinkedListNode<int>?[blocks];
        for (int b = blocks - 1; b >= 0; b--) _free.Push(b);
    }

    public int Total { get; }
    public int BlockSize { get; }
    /// <summary>Blocks an allocation can take (free, or cached and unreferenced).</summary>
    public int Available => _free.Count + _evictable.Count;
    /// <summary>Blocks held by some sequence.</summary>
    public int Held => Total - Available;
    /// <summary>Blocks kept only by the prefix cache.</summary>
    public int CachedUnreferenced => _evictable.Count;

    /// <summary>Takes a block (refcount 1), evicting the oldest unreferenced cached block when none is free; −1 when the pool is dry.</summary>
    public int Allocate()
    {
        int b;
        if (_free.Count > 0) b = _free.Pop();
        else if (_evictable.First is { } oldest)
        {
            b = oldest.Value;
            _evictable.RemoveFirst();
            _evictNode[b] = null;
            Unregister(b);
        }
        else return -1;
        _refs[b] = 1;
        return b;
    }

    /// <summary>Drops one holder of <paramref name="block"/>; at zero it becomes free, or evictable when cached.</summary>
    public void Release(int block)
    {
        if (_refs[block] <= 0) throw new InvalidOperationException($"KV block {block} released more often than taken.");
        if (--_refs[block] > 0) return;
        if (_entryOf[block] is not null) _evictNode[block] = _evictable.AddLast(block);
        else _free.Push(block);
    }

    /// <summary>Holders of a block (tests, metrics).</summary>
    public int RefCount(int block) => _refs[block];

    /// <summary>
    /// The cached block holding <paramref name="tokens"/> (one full block) right after <paramref name="parent"/>
    /// (−1 at the start) for <paramref name="adapter"/>, taken (refcount + 1); −1 when not cached.
    /// </summary>
    public int TakeCached(int parent, int adapter, ReadOnlySpan<int> tokens)
    {
        var key = new PrefixKey(parent, adapter, Hash(tokens));
        if (!_byPrefix.TryGetValue(key, out int b) || !_entryOf[b]!.Tokens.AsSpan().SequenceEqual(tokens)) return -1;
        if (_refs[b]++ == 0)
        {
            _evictable.Remove(_evictNode[b]!);
            _evictNode[b] = null;
        }
        return b;
    }

    /// <summary>
    /// Registers a full, held <paramref name="block"/> as holding <paramref name="tokens"/> after <paramref name="parent"/>
    /// (itself registered, or −1). Returns false (and leaves it uncached) when that prefix is already cached elsewhere.
    /// </summary>
    public bool Register(int block, int parent, int adapter, ReadOnlySpan<int> tokens)
    {
        if (_entryOf[block] is not null) return true;
        if (parent >= 0 && _entryOf[parent] is null) return false;
        var key = new PrefixKey(parent, adapter, Hash(tokens));
        if (_byPrefix.ContainsKey(key)) return false;
        _byPrefix[key] = block;
        _entryOf[block] = new PrefixEntry(key, tokens.ToArray());
        return true;
    }

    /// <summary>True when the block is registered in the prefix cache.</summary>
    public bool IsCached(int block) => _entryOf[block] is not null;

    // A block leaving the cache takes its descendants' keys with it only by name: their parent id is
    // reused later, so children registered under it must go too, or a stale chain could match.
    private void Unregister(int block)
    {
        var entry = _entryOf[block]!;
        _byPrefix.Remove(entry.Key);
        _entryOf[block] = null;
        var children = new List<int>();
        foreach (var (key, child) in _byPrefix) if (key.Parent == block) children.Add(child);
        foreach (int child in children)
        {
            if (_refs[child] == 0) { _evictable.Remove(_evictNode[child]!); _evictNode[child] = null; _free.Push(child); }
            Unregister(child);
        }
    }

    private static ulong Hash(ReadOnlySpan<int> tokens)
    {
        ulong h = 0x9E3779B97F4A7C15UL ^ (ulong)tokens.Length;
        foreach (int t in tokens) h = (h ^ (uint)t) * 0x100000001B3UL + (h >> 29);
        return h;
    }

    private readonly record struct PrefixKey(int Parent, int Adapter, ulong TokensHash);
    private sealed record PrefixEntry(PrefixKey Key, int[] Tokens);
}
