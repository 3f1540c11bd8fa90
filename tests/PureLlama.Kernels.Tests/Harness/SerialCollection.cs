namespace PureLlama.Kernels.Tests.Harness;

/// <summary>
/// Tests that read process-wide counters (allocated bytes) or change process-wide settings run in
/// this collection, alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
