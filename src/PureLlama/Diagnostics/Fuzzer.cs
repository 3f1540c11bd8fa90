using PureLlama.Diagnostics.Fuzzing;
using PureLlama.Tensors;

namespace PureLlama.Diagnostics;

/// <summary>How a reader met one mutated input.</summary>
internal enum FuzzOutcome
{
    /// <summary>Read without error.</summary>
    Accepted,
    /// <summary>One of PureLlama's errors (InvalidDataException, PureLlamaException, FileNotFoundException) naming the file or its folder.</summary>
    ClearError,
    /// <summary>Any other exception, or a message naming neither the file nor its folder.</summary>
    Unclear,
    /// <summary>No answer within the per-input timeout.</summary>
    Hang,
    /// <summary>The process died (only seen by a parent running the inputs in a child process).</summary>
    Death,
}

/// <summary>One input's outcome.</summary>
/// <param name="Index">The input's number (with the seed, it regenerates the input).</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Error">Exception type and message (null when accepted).</param>
/// <param name="File">The mutated file (relative to the corpus).</param>
internal sealed record FuzzResult(int Index, FuzzOutcome Outcome, string? Error, string File);

/// <summary>
/// The fuzz harness over every parser of a file a user may be handed: each input is a structure-aware mutation
/// (<c>Mutator</c>) of a valid seed file (<c>FuzzCorpus</c>), a pure function of (parser, seed, index), run through
/// the parser and classified. <c>purellama fuzz</c> runs long campaigns in child processes (deaths are seen there);
/// the test suite runs a short seeded one.
/// </summary>
internal static class Fuzzer
{
    /// <summary>The parser names accepted by <see cref="Run"/>.</summary>
    public static IReadOnlyList<string> Parsers => [.. FuzzTargets.All.Keys];

    /// <summary>Writes the valid seed corpus into <paramref name="directory"/>.</summary>
    public static void CreateCorpus(string directory) => FuzzCorpus.Create(directory);

    /// <summary>
    /// Runs inputs [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of <paramref name="parser"/>
    /// in this process on a private copy of <paramref name="corpus"/>, calling <paramref name="onResult"/> for each.
    /// Stops after a hang (the stuck reader keeps its thread; the caller should not trust this process further).
    /// </summary>
    /// <param name="parser">One of <see cref="Parsers"/>.</param>
    /// <param name="corpus">A folder written by <see cref="CreateCorpus"/> (not modified).</param>
    /// <param name="seed">Seeds the mutations.</param>
    /// <param name="start">First input index.</param>
    /// <param name="count">Inputs to run.</param>
    /// <param name="timeout">Per-input limit; beyond it the input is a hang.</param>
    /// <param name="onResult">Called after each input.</param>
    /// <param name="onStart">Called with the index before each input runs (a parent process uses it to attribute a death).</param>
    public static IReadOnlyList<FuzzResult> Run(string parser, string corpus, ulong seed, int start, int count, TimeSpan timeout,
        Action<FuzzResult>? onResult = null, Action<int>? onStart = null)
    {
        if (!FuzzTargets.All.TryGetValue(parser, out var variants))
            throw new ArgumentException($"Unknown parser '{parser}'; known: {string.Join(", ", Parsers)}.", nameof(parser));
        string work = Path.Combine(Path.GetTempPath(), "purellama-fuzz-" + Guid.NewGuid().ToString("N")[..10]);
        CopyTree(corpus, work);
        var results = new List<FuzzResult>();
        using var context = new FuzzContext(work);
        try
        {
            for (int i = start; i < start + count; i++)
            {
                onStart?.Invoke(i);
                var variant = variants[i % variants.Length];
                string folder = Path.Combine(work, variant.Folder), file = Path.Combine(folder, variant.File);
                byte[] original = File.ReadAllBytes(file);
                File.WriteAllBytes(file, Input(parser, corpus, seed, i));
                var result = RunOne(i, context, variant, folder, file, timeout);
                results.Add(result);
                onResult?.Invoke(result);
                if (result.Outcome == FuzzOutcome.Hang) break;
                File.WriteAllBytes(file, original);
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { }
        }
        return results;
    }

    /// <summary>The bytes of input <paramref name="index"/>: the variant's seed file mutated by a generator seeded from (seed, index).</summary>
    public static byte[] Input(string parser, string corpus, ulong seed, int index)
    {
        var variants = FuzzTargets.All[parser];
        var variant = variants[index % variants.Length];
        ulong name = 14695981039346656037UL; // FNV-1a of the parser name (string.GetHashCode differs between processes)
        foreach (char ch in parser) name = (name ^ ch) * 1099511628211UL;
        var rng = new Rng(seed * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xD1B54A32D192ED03UL ^ name);
        return Mutator.Mutate(File.ReadAllBytes(Path.Combine(corpus, variant.Folder, variant.File)), variant.Kind, rng);
    }

    /// <summary>The corpus-relative file that input <paramref name="index"/> of <paramref name="parser"/> replaces.</summary>
    public static string InputFile(string parser, int index)
    {
        var variants = FuzzTargets.All[parser];
        var v = variants[index % variants.Length];
        return Path.Combine(v.Folder, v.File);
    }

    private static FuzzResult RunOne(int index, FuzzContext context, FuzzVariant variant, string folder, string file, TimeSpan timeout)
    {
        string rel = Path.Combine(variant.Folder, variant.File);
        var fault = InjectedFault(index);
        var task = Task.Factory.StartNew(() =>
        {
            if (fault == "hang") Thread.Sleep(Timeout.Infinite);
            if (fault == "die") Environment.FailFast($"fuzz: injected death at input {index}");
            variant.Read(context, folder, file);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (!task.Wait(timeout)) return new FuzzResult(index, FuzzOutcome.Hang, $"no answer within {timeout.TotalSeconds:0.#} s", rel);
            return new FuzzResult(index, FuzzOutcome.Accepted, null, rel);
        }
        catch (AggregateException ae) when (ae.InnerException is { } e)
        {
            string error = $"{e.GetType().Name}: {e.Message}";
            bool ours = e is InvalidDataException or PureLlamaException or FileNotFoundException;
            bool named = e.Message.Contains(file, StringComparison.Ordinal) || e.Message.Contains(Path.GetFileName(file), StringComparison.Ordinal)
                         || e.Message.Contains(folder.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
            return new FuzzResult(index, ours && named ? FuzzOutcome.ClearError : FuzzOutcome.Unclear, error, rel);
        }
    }

    // Test injection through the environment (PURELLAMA_FUZZ_FAULT=hang:7 or die:7), so the harness's own hang and death
    // handling can be checked end to end in a child process.
    private static string? InjectedFault(int index) =>
        Environment.GetEnvironmentVariable("PURELLAMA_FUZZ_FAULT") is { } f && f.Split(':') is [var kind, var at]
        && int.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, out int i) && i == index ? kind : null;

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyTree(d, Path.Combine(to, Path.GetFileName(d)));
    }

    /// <summary>Counts of each outcome.</summary>
    public static IReadOnlyDictionary<FuzzOutcome, int> Tally(IEnumerable<FuzzResult> results)
    {
        var tally = Enum.GetValues<FuzzOutcome>().ToDictionary(o => o, _ => 0);
        foreach (var r in results) tally[r.Outcome]++;
        return tally;
    }
}
