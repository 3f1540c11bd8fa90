namespace PureLlama;

/// <summary>Base of the errors PureLlama raises where a caller may want to catch ours specifically.</summary>
public class PureLlamaException : Exception
{
    public PureLlamaException(string message) : base(message) { }
    public PureLlamaException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A requested device (for example CUDA) is not available on this machine.</summary>
public sealed class DeviceUnavailableException : PureLlamaException
{
    public DeviceUnavailableException(string message) : base(message) { }
    public DeviceUnavailableException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Training stopped because too many consecutive steps had a non-finite loss or gradient; the message says which
/// step, why, and which checkpoint is the last good one (the CLI exits with code 3).
/// </summary>
public sealed class TrainingDivergedException : PureLlamaException
{
    public TrainingDivergedException(string message) : base(message) { }
}
