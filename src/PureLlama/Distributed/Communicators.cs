namespace PureLlama.Distributed;

/// <summary>Picks the communicator of a run: MPI when the process was launched by mpirun, else the process alone.</summary>
public static class Communicators
{
    /// <summary>The default time one collective may wait for the other ranks.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// <paramref name="mode"/>: <c>auto</c> (MPI when launched by mpirun with more than one rank, else single), <c>mpi</c>
    /// (MPI even for one rank; an error when Open MPI is missing), <c>none</c> (this process alone).
    /// </summary>
    public static ICommunicator Create(string mode, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(mode);
        return mode.Trim().ToLowerInvariant() switch
        {
            "none" or "single" => SingleProcessCommunicator.Instance,
            "mpi" => MpiCommunicator.Initialize(timeout ?? DefaultTimeout),
            "auto" => MpiCommunicator.LaunchedSize() is > 1 ? MpiCommunicator.Initialize(timeout ?? DefaultTimeout) : SingleProcessCommunicator.Instance,
            var other => throw new ArgumentException($"--distributed must be auto, mpi or none, not '{other}'."),
        };
    }

    /// <summary>Ranks of the launched job on this machine (Open MPI's local size), 1 outside mpirun.</summary>
    public static int LocalRanks() =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int n) && n > 0 ? n : 1;
}
