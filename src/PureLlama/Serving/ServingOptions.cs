namespace PureLlama.Serving;

/// <summary>How the serving engine stores keys and values: F32 (exact), BF16 (half) or INT8 with a scale per position and head (a quarter).</summary>
public enum KvCacheType
{
    /// <summary>float32 keys and values.</summary>
    F32,
    /// <summary>bfloat16 keys and values.</summary>
    BF16,
    /// <summary>int8 keys and values, each (position, KV head) row with its own F32 scale max|x|/127.</summary>
    Int8,
}

/// <summary>Settings of a <see cref="ServingEngine"/>: KV memory, batching limits, prefix caching and LoRA adapters.</summary>
public sealed record ServingOptions
{
    /// <summary>Bytes of KV cache (the block pool, scales included): the pool holds ⌊bytes / block bytes⌋ blocks.</summary>
    public long KvMemoryBytes { get; init; } = 256L << 20;

    /// <summary>Element type of the cached keys and values.</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F32;

    /// <summary>Positions per KV block.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Most tokens one forward step takes (decode rows plus prefill chunks); a longer prompt is prefilled in chunks.</summary>
    public int MaxBatchTokens { get; init; } = 512;

    /// <summary>Most sequences in the running batch.</summary>
    public int MaxRunningSequences { get; init; } = 32;

    /// <summary>Most requests waiting to start; beyond it <see cref="ServingEngine.Generate"/> throws <see cref="ServingOverloadedException"/>.</summary>
    public int MaxWaitingRequests { get; init; } = 256;

    /// <summary>Share full KV blocks between requests whose token prefixes are equal (a repeated system prompt skips its prefill).</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>LoRA adapters by name: a PEFT adapter folder (adapter_config.json, adapter_model.safetensors) each.</summary>
    public IReadOnlyDictionary<string, string> Adapters { get; init; } = new Dictionary<string, string>();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (KvMemoryBytes <= 0) throw new ArgumentException($"KvMemoryBytes must be positive, got {KvMemoryBytes}.", nameof(KvMemoryBytes));
        if (!Enum.IsDefined(KvCacheType)) throw new ArgumentException($"KvCacheType {KvCacheType} is not one of F32, BF16, Int8.", nameof(KvCacheType));
        if (BlockSize < 1 || BlockSize > 1024) throw new ArgumentException($"BlockSize must be in [1, 1024], got {BlockSize}.", nameof(BlockSize));
        if (MaxBatchTokens < 1) throw new ArgumentException($"MaxBatchTokens must be at least 1, got {MaxBatchTokens}.", nameof(MaxBatchTokens));
        if (MaxRunningSequences < 1) throw new ArgumentException($"MaxRunningSequences must be at least 1, got {MaxRunningSequences}.", nameof(MaxRunningSequences));
        if (MaxBatchTokens < MaxRunningSequences)
            throw new ArgumentException($"MaxBatchTokens ({MaxBatchTokens}) must be at least MaxRunningSequences ({MaxRunningSequences}): every running sequence needs its decode row.", nameof(MaxBatchTokens));
        if (MaxWaitingRequests < 0) throw new ArgumentException($"MaxWaitingRequests must be ≥ 0, got {MaxWaitingRequests}.", nameof(MaxWaitingRequests));
        ArgumentNullException.ThrowIfNull(Adapters, nameof(Adapters));
        foreach (var (name, dir) in Adapters)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("An adapter name is empty.", nameof(Adapters));
            if (string.IsNullOrWhiteSpace(dir)) throw new ArgumentException($"Adapter '{name}' has no folder.", nameof(Adapters));
        }
    }
}
