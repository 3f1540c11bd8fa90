using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace PureLlama.Benchmarks;

/// <summary>
/// A benchmark class whose work per call is known, so the summary can show GFLOP/s or GB/s.
/// The column creates an instance (no setup runs) and asks it for the amount of one case.
/// </summary>
public interface IWorkAmount
{
    /// <summary>Flops (or bytes) done by one call of <paramref name="method"/> with the case's parameters.</summary>
    double Amount(string method, ParameterLookup parameters);

    /// <summary>"GFLOP/s" or "GB/s" for <paramref name="method"/>.</summary>
    string Unit(string method);
}

/// <summary>Parameter values of one benchmark case, by name.</summary>
public sealed class ParameterLookup(BenchmarkCase benchmarkCase)
{
    public object? this[string name] => benchmarkCase.Parameters[name];
}

/// <summary>
/// Short job (3 warm-up, 7 measured iterations, one launch) so a whole suite takes minutes, plus
/// the throughput column. Threads: the kernels use <c>SimdThreading.MaxThreads</c> (all cores, or
/// PURELLAMA_THREADS).
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default.WithId("Short").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(7));
        AddColumn(new ThroughputColumn());
        AddColumn(StatisticColumn.Median);
    }
}

/// <summary>Throughput from the median time: amount / median.</summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => "Throughput";
    public string ColumnName => "Throughput";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Work per call / median time: GFLOP/s for matmuls, GB/s (bytes read + written) for memory-bound kernels";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats == null || stats.Median <= 0) return "NA";
        if (Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IWorkAmount work) return "-";
        string method = benchmarkCase.Descriptor.WorkloadMethod.Name;
        double amount = work.Amount(method, new ParameterLookup(benchmarkCase));
        double perSecond = amount / (stats.Median * 1e-9) / 1e9;
        return $"{perSecond:F1} {work.Unit(method)}";
    }

    public override string ToString() => ColumnName;
}
