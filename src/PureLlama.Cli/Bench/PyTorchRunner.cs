using System.Diagnostics;
using System.Text.Json;

namespace PureLlama.Cli.Bench;

/// <summary>One PyTorch figure parsed from benchmarks/pytorch/kernels.py.</summary>
internal sealed record PyTorchResult(string Id, string Op, double MedianMs, double MinMs, double Rate, string Unit);

/// <summary>What the PyTorch run reported about itself, plus its figures.</summary>
internal sealed record PyTorchRun(string Command, string TorchVersion, int Threads, string BlasSummary,
    IReadOnlyDictionary<string, PyTorchResult> Results, JsonElement Raw);

/// <summary>
/// Runs benchmarks/pytorch/kernels.py in a child process and parses its JSON. The child's
/// environment drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unless asked to keep them: this
/// machine sets them for old OpenBLAS builds, and they would hold OpenBLAS to its Haswell (AVX2)
/// kernels.
/// </summary>
internal static class PyTorchRunner
{
    private static readonly string[] OpenBlasOverrides = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

    /// <summary>Finds kernels.py by walking up from the working directory and from the executable.</summary>
    public static string? FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "benchmarks", "pytorch", "kernels.py");
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    public static PyTorchRun Run(string python, string script, IEnumerable<string> ids, int threads, int repeats, bool keepOpenBlasEnv)
    {
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string idList = string.Join(",", ids);
        foreach (var a in new[] { script, "--threads", threads.ToString(), "--repeats", repeats.ToString(), "--items", idList })
            psi.ArgumentList.Add(a);
        if (!keepOpenBlasEnv)
            foreach (var name in OpenBlasOverrides) psi.Environment.Remove(name);
        // torch sizes its pools from these; leave the thread count to --threads (torch.set_num_threads).
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString();
        psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString();
        string command = (keepOpenBlasEnv ? "" : "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ")
            + $"OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} {python} {script} --threads {threads} --repeats {repeats} --items {idList}";

        using var proc = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {python}");
        // Progress lines go to stderr: pass them through as they come.
        proc.ErrorDataReceived += (_, e) => { if (e.Data != null) Console.Error.WriteLine(e.Data); };
        proc.BeginErrorReadLine();
        string stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0)
            throw new InvalidOperationException($"{command} exited with {proc.ExitCode}");

        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement.Clone();
        var results = new Dictionary<string, PyTorchResult>();
        foreach (var r in root.GetProperty("results").EnumerateArray())
        {
            var id = r.GetProperty("id").GetString()!;
            results[id] = new PyTorchResult(id, r.GetProperty("op").GetString() ?? "", r.GetProperty("median_ms").GetDouble(),
                r.GetProperty("min_ms").GetDouble(), r.GetProperty("rate").GetDouble(), r.GetProperty("unit").GetString() ?? "");
        }
        return new PyTorchRun(command, root.GetProperty("torch").GetString() ?? "?", root.GetProperty("threads").GetInt32(),
            DescribeBlas(root), results, root);
    }

    private static string DescribeBlas(JsonElement root)
    {
        var parts = new List<string>();
        if (root.TryGetProperty("blas", out var blas))
        {
            if (blas.TryGetProperty("openblas_config", out var cfg)) parts.Add(cfg.GetString() ?? "OpenBLAS");
            if (blas.TryGetProperty("openblas_core", out var core)) parts.Add($"core {core.GetString()}");
            if (!blas.TryGetProperty("openblas_config", out _) && blas.TryGetProperty("libraries", out var libs))
                parts.Add("BLAS libraries: " + string.Join(", ", libs.EnumerateArray().Select(l => l.GetString())));
            if (blas.TryGetProperty("env", out var env))
            {
                var set = env.EnumerateObject().Where(p => p.Name.StartsWith("OPENBLAS_CORETYPE") || p.Name.StartsWith("OPENBLAS_L2"))
                    .Select(p => $"{p.Name}={p.Value.GetString()}").ToList();
                parts.Add(set.Count == 0 ? "OPENBLAS_CORETYPE/L2_SIZE unset" : string.Join(" ", set));
            }
        }
        if (root.TryGetProperty("mkldnn", out var dnn)) parts.Add($"mkldnn={dnn.GetBoolean()}");
        if (root.TryGetProperty("cpu_capability", out var cap) && cap.ValueKind == JsonValueKind.String) parts.Add($"cpu capability {cap.GetString()}");
        return string.Join("; ", parts);
    }
}
