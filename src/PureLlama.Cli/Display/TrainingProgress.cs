using System.Globalization;
using PureLlama.Training;

namespace PureLlama.Cli.Display;

/// <summary>
/// The console progress display: one line rewritten in place (carriage return) on a terminal, or one
/// plain line per step when the output is redirected to a file or pipe. Other events (eval results,
/// checkpoints, skipped steps, a resume) go on lines of their own. <see cref="Checkpointed"/> runs after
/// each checkpoint is reported (the CLI redraws its loss curve there).
/// </summary>
internal sealed class TrainingProgress : IProgress<TrainingEvent>
{
    private readonly TextWriter _out;
    private readonly bool _live;
    private int _lastWidth;

    /// <summary>Writes to <paramref name="output"/>; <paramref name="live"/> = rewrite one line (a terminal).</summary>
    public TrainingProgress(TextWriter output, bool live)
    {
        _out = output ?? throw new ArgumentNullException(nameof(output));
        _live = live;
    }

    /// <summary>A display on the console: live unless standard output is redirected.</summary>
    public static TrainingProgress ForConsole() => new(Console.Out, !Console.IsOutputRedirected);

    /// <summary>Runs after each <see cref="CheckpointReport"/> is shown.</summary>
    public Action<CheckpointReport>? Checkpointed { get; set; }

    /// <summary>Shows one event.</summary>
    public void Report(TrainingEvent value)
    {
        var c = CultureInfo.InvariantCulture;
        switch (value)
        {
            case StepReport r:
                Step(r);   // a skipped update's reason follows as a NoticeReport
                break;
            case NoticeReport n:
                Message(n.Message);
                break;
            case EvalReport e:
                Message(e.Step == 0 ? string.Create(c, $"eval loss before training: {e.Loss:0.0000}") : string.Create(c, $"step {e.Step}: eval loss {e.Loss:0.0000}"));
                break;
            case CheckpointReport k:
                Message($"saved {k.Path}");
                Checkpointed?.Invoke(k);
                break;
            case ResumeReport m:
                Message($"resumed from {m.Path} at step {m.Step}");
                break;
        }
    }

    /// <summary>Shows one step.</summary>
    public void Step(StepReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        string line = Format(r);
        if (_live)
        {
            _out.Write('\r' + line + new string(' ', Math.Max(0, _lastWidth - line.Length)));
            _lastWidth = line.Length;
        }
        else _out.WriteLine(line);
        _out.Flush();
    }

    /// <summary>A message on its own line (ends the live line first).</summary>
    public void Message(string text)
    {
        if (_live && _lastWidth > 0) { _out.WriteLine(); _lastWidth = 0; }
        _out.WriteLine(text);
        _out.Flush();
    }

    /// <summary>Ends the live line.</summary>
    public void Finish()
    {
        if (_live && _lastWidth > 0) { _out.WriteLine(); _lastWidth = 0; }
    }

    /// <summary>The one-line form of a step report.</summary>
    public static string Format(StepReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var c = CultureInfo.InvariantCulture;
        string pct = r.TotalSteps > 0 ? (100.0 * r.Step / r.TotalSteps).ToString("0", c) : "?";
        string norm = r.Skipped ? "skipped" : r.GradNorm.ToString("0.000", c);
        return string.Create(c, $"step {r.Step}/{r.TotalSteps} ({pct}%) epoch {r.Epoch:0.00} | loss {r.Loss:0.0000} | lr {r.LearningRate:0.00e+0} | grad {norm} | {r.TokensPerSecond:0} tok/s | ETA {Duration(r.Remaining)} | rss {Bytes(r.ResidentBytes)} tensors {Bytes(r.BackendBytes)}");
    }

    /// <summary>h:mm:ss, or m:ss under an hour.</summary>
    public static string Duration(TimeSpan t)
    {
        if (t < TimeSpan.Zero || t.TotalDays > 99) return "?";
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    /// <summary>Bytes as KiB/MiB/GiB with one decimal.</summary>
    public static string Bytes(long bytes)
    {
        var c = CultureInfo.InvariantCulture;
        if (bytes >= 1L << 30) return (bytes / (double)(1L << 30)).ToString("0.0", c) + " GiB";
        if (bytes >= 1L << 20) return (bytes / (double)(1L << 20)).ToString("0.0", c) + " MiB";
        return (bytes / 1024.0).ToString("0.0", c) + " KiB";
    }
}
