namespace PureLlama.Llama;

/// <summary>
/// One generated token: its id and the text it completes. Text may be empty while a UTF-8
/// character or a possible stop string is still incomplete; the held text comes with a later
/// token, so concatenating every <see cref="Text"/> gives the generated text (stop string excluded).
/// A sampled stop token (EOS, <c>&lt;|eot_id|&gt;</c>) comes last, with the held text (often empty)
/// and no text of its own, as Hugging Face keeps EOS in its output ids.
/// </summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">The text released with this token.</param>
/// <param name="Index">0 for the first generated token.</param>
public readonly record struct GeneratedToken(int Id, string Text, int Index);

/// <summary>Why generation ended.</summary>
public enum StopReason
{
    /// <summary>Still running (or never started).</summary>
    None,
    /// <summary>The max-new-tokens limit was reached.</summary>
    MaxNewTokens,
    /// <summary>A stop token id (EOS, <c>&lt;|eot_id|&gt;</c>, …) was sampled (emitted last, without text).</summary>
    StopToken,
    /// <summary>A stop string appeared in the generated text.</summary>
    StopString,
    /// <summary>The context (KV cache) is full.</summary>
    ContextFull,
    /// <summary>The caller cancelled or stopped enumerating.</summary>
    Cancelled,
}

/// <summary>
/// Timings and memory of one generation: prefill (the prompt's forward up to the first token's
/// logits) and decode (each later one-token forward plus sampling) reported separately, like
/// llama-bench's pp and tg.
/// </summary>
public sealed class GenerationStats
{
    /// <summary>Tokens fed in the prefill.</summary>
    public int PromptTokens { get; internal set; }
    /// <summary>Tokens generated (a final stop token included).</summary>
    public int GeneratedTokens { get; internal set; }
    /// <summary>One-token forwards run after the prefill.</summary>
    public int DecodeSteps { get; internal set; }
    /// <summary>Seconds of the prefill forward.</summary>
    public double PrefillSeconds { get; internal set; }
    /// <summary>Seconds of the decode forwards (with sampling).</summary>
    public double DecodeSeconds { get; internal set; }
    /// <summary>Prompt tokens per second.</summary>
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PromptTokens / PrefillSeconds : 0;
    /// <summary>Decode steps per second.</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? DecodeSteps / DecodeSeconds : 0;
    /// <summary>Why it ended.</summary>
    public StopReason StopReason { get; internal set; }
    /// <summary>The stop token sampled, when <see cref="StopReason"/> is <see cref="StopReason.StopToken"/>.</summary>
    public int? StopTokenId { get; internal set; }
    /// <summary>Bytes of the KV cache used.</summary>
    public long KvCacheBytes { get; internal set; }
    /// <summary>Peak resident memory of the process (bytes) seen during generation.</summary>
    public long PeakWorkingSetBytes { get; internal set; }
    /// <summary>Peak native tensor memory (<see cref="Tensors.NativeStorage.LiveBytes"/>) seen during generation.</summary>
    public long PeakNativeBytes { get; internal set; }

    internal void SampleMemory()
    {
        PeakWorkingSetBytes = Math.Max(PeakWorkingSetBytes, Environment.WorkingSet);
        PeakNativeBytes = Math.Max(PeakNativeBytes, Tensors.NativeStorage.LiveBytes);
    }

    /// <summary>One line: prefill and decode tokens/s and peak memory.</summary>
    public override string ToString() =>
        $"prefill {PromptTokens} tok in {PrefillSeconds:F3} s ({PrefillTokensPerSecond:F1} tok/s), " +
        $"decode {DecodeSteps} tok in {DecodeSeconds:F3} s ({DecodeTokensPerSecond:F2} tok/s), " +
        $"peak RSS {PeakWorkingSetBytes / 1048576.0:F0} MiB, tensors {PeakNativeBytes / 1048576.0:F0} MiB, KV cache {KvCacheBytes / 1048576.0:F1} MiB, stop: {StopReason}";
}
