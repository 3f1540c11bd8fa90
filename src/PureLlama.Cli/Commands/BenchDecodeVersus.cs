using System.Diagnostics;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>bench-decode --versus DIR…</c>: decode steps of several model folders (e.g. BF16, INT8, NF4 of one
/// shape) timed alternately in one process, one step of each per round, so a busy machine slows them
/// alike and the ratios stay meaningful when absolute figures do not.
/// </summary>
internal static class BenchDecodeVersus
{
    public static void Run(IReadOnlyList<string> dirs, int promptTokens, int rounds, Device device)
    {
        var runtimes = new List<LlamaRuntime>();
        var caches = new List<KvCache>();
        try
        {
            var rng = new Rng(1);
            int vocab = dirs.Min(d => LlamaRuntime.ReadConfig(d).VocabSize);  // ids valid for every model
            int[] prompt = Enumerable.Range(0, promptTokens + rounds).Select(_ => rng.NextInt(vocab)).ToArray();
            foreach (var dir in dirs)
            {
                var rt = LlamaRuntime.Load(dir, device, WeightLoading.Copied, contextLength: promptTokens + rounds + 8);
                runtimes.Add(rt);
                var cache = rt.Model.CreateCache(promptTokens + rounds + 1);
                caches.Add(cache);
                using (rt.Model.Forward([prompt[..promptTokens]], [cache])) { } // prefill, JIT
            }
            var times = dirs.Select(_ => new List<double>()).ToList();
            for (int r = 0; r < rounds; r++)
                for (int m = 0; m < runtimes.Count; m++)
                {
                    var clock = Stopwatch.StartNew();
                    using (var logits = runtimes[m].Model.Forward([[prompt[promptTokens + r]]], [caches[m]])) logits.ToFloatArray();
                    times[m].Add(clock.Elapsed.TotalMilliseconds);
                }
            var medians = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToList();
            var best = times.Select(t => t.Min()).ToList();
            for (int m = 0; m < runtimes.Count; m++)
                Console.WriteLine($"{dirs[m]}: {runtimes[m].Model.WeightBytes / 1e9:F2} GB/token | decode step median {medians[m]:F1} ms = {1000 / medians[m]:F2} tok/s " +
                                  $"(best {1000 / best[m]:F2} tok/s) | speed vs the first: median {medians[0] / medians[m]:F2}×, best {best[0] / best[m]:F2}×");
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
            foreach (var rt in runtimes) rt.Dispose();
        }
    }
}
