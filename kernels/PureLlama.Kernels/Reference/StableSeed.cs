namespace PureLlama.Kernels.Reference;

/// <summary>
/// A seed derived from a check's name and sizes (FNV-1a, not string.GetHashCode, which is randomized
/// per process): inputs are fresh per test and shape, yet identical run to run.
/// </summary>
internal static class StableSeed
{
    /// <summary>A non-negative seed for <paramref name="name"/> and <paramref name="parts"/>.</summary>
    public static int Of(string name, params int[] parts)
    {
        unchecked
        {
            uint h = 2166136261;
            foreach (char c in name) { h ^= c; h *= 16777619; }
            foreach (int p in parts) { h ^= (uint)p; h *= 16777619; h ^= h >> 15; }
            return (int)(h & 0x7FFF_FFFF);
        }
    }
}
