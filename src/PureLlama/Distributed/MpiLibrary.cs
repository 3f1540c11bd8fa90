using System.Runtime.InteropServices;

namespace PureLlama.Distributed;

/// <summary>
/// Open MPI's C API (<c>libmpi.so.40</c>), loaded at run time and called through function pointers, so that the
/// library has no native dependency unless a distributed run is asked for. Open MPI's handles are addresses of
/// exported globals (<c>MPI_COMM_WORLD</c> = <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c> = <c>&amp;ompi_mpi_float</c>, …),
/// <c>MPI_IN_PLACE</c> is <c>(void*)1</c> and <c>MPI_STATUS_IGNORE</c> is null — facts of Open MPI's ABI, which
/// is why this binding names Open MPI and not MPICH. The library is opened with <c>RTLD_GLOBAL</c>: Open MPI's
/// plug-ins (its transports) resolve their symbols against it and fail to load otherwise.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    /// <summary>The library file names tried, in order (PURELLAMA_MPI_LIBRARY, when set, is tried alone).</summary>
    public static readonly string[] Names = ["libmpi.so.40", "libmpi.so"];

    /// <summary>Environment variable naming the MPI library file to open instead of the default names.</summary>
    public const string PathVariable = "PURELLAMA_MPI_LIBRARY";

    /// <summary>What to install when the library is missing.</summary>
    public const string InstallHint = "Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and launch with mpirun.";

    public const int Success = 0;
    public static readonly nint InPlace = 1;

    public readonly nint CommWorld, Float, Double, Byte, LongLong, OpSum;

    public readonly delegate* unmanaged<int*, nint*, int> Init;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, nint, int, nint, nint, int, nint, nint*, int> Ireduce;
    public readonly delegate* unmanaged<nint, int, nint, int, nint, nint*, int> Ibcast;
    public readonly delegate* unmanaged<nint, nint*, int> Ibarrier;
    public readonly delegate* unmanaged<nint, int, nint, int, int, nint, nint*, int> Isend;
    public readonly delegate* unmanaged<nint, int, nint, int, int, nint, nint*, int> Irecv;
    public readonly delegate* unmanaged<nint*, int*, nint, int> Test;
    public readonly delegate* unmanaged<nint*, int> Cancel;
    public readonly delegate* unmanaged<nint*, int> RequestFree;
    public readonly delegate* unmanaged<int*, int*, int*, int> GetVersion;
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    private MpiLibrary(nint handle)
    {
        nint Sym(string name) => NativeLibrary.TryGetExport(handle, name, out var p) ? p
            : throw new DistributedException($"{Names[0]} has no symbol '{name}': not an Open MPI 4/5 library. {InstallHint}");
        CommWorld = Sym("ompi_mpi_comm_world");
        Float = Sym("ompi_mpi_float");
        Double = Sym("ompi_mpi_double");
        Byte = Sym("ompi_mpi_byte");
        LongLong = Sym("ompi_mpi_long_long_int");
        OpSum = Sym("ompi_mpi_op_sum");
        Init = (delegate* unmanaged<int*, nint*, int>)Sym("MPI_Init");
        Initialized = (delegate* unmanaged<int*, int>)Sym("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Sym("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Sym("MPI_Finalize");
        Abort = (delegate* unmanaged<nint, int, int>)Sym("MPI_Abort");
        CommRank = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_size");
        Ireduce = (delegate* unmanaged<nint, nint, int, nint, nint, int, nint, nint*, int>)Sym("MPI_Ireduce");
        Ibcast = (delegate* unmanaged<nint, int, nint, int, nint, nint*, int>)Sym("MPI_Ibcast");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)Sym("MPI_Ibarrier");
        Isend = (delegate* unmanaged<nint, int, nint, int, int, nint, nint*, int>)Sym("MPI_Isend");
        Irecv = (delegate* unmanaged<nint, int, nint, int, int, nint, nint*, int>)Sym("MPI_Irecv");
        Test = (delegate* unmanaged<nint*, int*, nint, int>)Sym("MPI_Test");
        Cancel = (delegate* unmanaged<nint*, int>)Sym("MPI_Cancel");
        RequestFree = (delegate* unmanaged<nint*, int>)Sym("MPI_Request_free");
        GetVersion = (delegate* unmanaged<int*, int*, int*, int>)Sym("MPI_Get_version");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Sym("MPI_Error_string");
    }

    private static MpiLibrary? s_loaded;
    private static readonly Lock s_lock = new();

    /// <summary>Loads the library once per process; a clear <see cref="DistributedException"/> when it is not installed.</summary>
    public static MpiLibrary Load()
    {
        lock (s_lock)
        {
            if (s_loaded is not null) return s_loaded;
            if (!OperatingSystem.IsLinux())
                throw new DistributedException($"MPI runs are supported on Linux with Open MPI. {InstallHint}");
            string[] names = Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path ? [path] : Names;
            nint handle = 0;
            foreach (var name in names)
            {
                handle = LinuxDl.OpenGlobal(name);
                if (handle != 0) break;
            }
            if (handle == 0)
                throw new DistributedException($"Open MPI's {names[0]} was not found ({LinuxDl.LastError()}). {InstallHint}");
            return s_loaded = new MpiLibrary(handle);
        }
    }

    /// <summary>The text of an MPI error code.</summary>
    public string Describe(int code)
    {
        var text = stackalloc byte[512];
        int length = 0;
        return ErrorString(code, text, &length) == Success ? $"MPI error {code}: {Marshal.PtrToStringUTF8((nint)text, length)}" : $"MPI error {code}";
    }

    /// <summary>Throws naming <paramref name="call"/> when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code != Success) throw new DistributedException($"{call} failed: {Describe(code)}.");
    }
}

/// <summary><c>dlopen(RTLD_NOW | RTLD_GLOBAL)</c> from the C library: .NET's NativeLibrary opens with RTLD_LOCAL.</summary>
internal static partial class LinuxDl
{
    private const int RtldNow = 2, RtldGlobal = 0x100;

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);

    [LibraryImport("libc", EntryPoint = "dlerror")]
    private static partial nint DlError();

    public static nint OpenGlobal(string file) => DlOpen(file, RtldNow | RtldGlobal);

    public static string LastError() => Marshal.PtrToStringUTF8(DlError()) ?? "no error text";
}
