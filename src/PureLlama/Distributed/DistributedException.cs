namespace PureLlama.Distributed;

/// <summary>A distributed run cannot go on: a library is missing, a collective failed or timed out, a rank is gone.</summary>
public sealed class DistributedException : Exception
{
    /// <summary>An error with its message.</summary>
    public DistributedException(string message) : base(message) { }
}
