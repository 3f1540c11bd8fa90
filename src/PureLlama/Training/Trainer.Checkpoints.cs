using System.Globalization;
using PureLlama.IO;

namespace PureLlama.Training;

public sealed partial class Trainer
{
    private const string CheckpointPrefix = "checkpoint-";
    private const string LegacyPartialPrefix = ".partial-checkpoint-"; // temporary folders of earlier versions

    // ".checkpoint-5.partial-1a2b3c4d" → "checkpoint-5"
    private static string ParentName(string leftover)
    {
        string name = Path.GetFileName(leftover)[1..];
        int cut = name.IndexOf(".partial-", StringComparison.Ordinal);
        if (cut < 0) cut = name.IndexOf(".old-", StringComparison.Ordinal);
        return cut < 0 ? name : name[..cut];
    }
    private const string StateFile = "trainer_state.json";
    private const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Test hook: runs after the checkpoint files are written into the temporary folder, before it is renamed.</summary>
    internal Action<string>? BeforeCheckpointCommit { get; set; }

    /// <summary>
    /// Writes checkpoint-{step}/ atomically (<see cref="AtomicFolder"/>): everything goes into a hidden temporary folder
    /// first (weights, optimizer.safetensors, then trainer_state.json), which is swapped into place only when complete.
    /// A crash leaves earlier checkpoints untouched and at worst a temporary folder, removed on the next start.
    /// Returns the checkpoint folder.
    /// </summary>
    public string SaveCheckpoint()
    {
        string output = Options.OutputDirectory;
        Directory.CreateDirectory(output);
        string final = CheckpointPath(State.Step);
        AtomicFolder.Write(final, temp =>
        {
            _weights.Save(temp);
            _optimizer.SaveState(Path.Combine(temp, OptimizerFile));
            State.WeightsRandomState = _weights.RandomState;
            string json = State.ToJson();
            AtomicFile.Write(Path.Combine(temp, StateFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(json)));
            BeforeCheckpointCommit?.Invoke(temp);
        });
        PruneCheckpoints();
        return final;
    }

    // checkpoint-{step} under the output folder.
    private string CheckpointPath(int step) => Path.Combine(Options.OutputDirectory, CheckpointPrefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>The complete checkpoint folder with the highest step in <paramref name="outputDirectory"/>, or null.</summary>
    public static string? LatestCheckpoint(string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(outputDirectory);
        return Checkpoints(outputDirectory).LastOrDefault().Path;
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/>: trainable weights, optimizer state, data
    /// cursor, random state and history. Training then continues exactly as the uninterrupted run would have.
    /// </summary>
    public void Resume(string checkpointDirectory)
    {
        ArgumentNullException.ThrowIfNull(checkpointDirectory);
        string statePath = Path.Combine(checkpointDirectory, StateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"'{checkpointDirectory}' is not a complete checkpoint: {StateFile} is missing.", statePath);
        var state = TrainerState.Load(statePath);
        if (state.RowsPerEpoch != State.RowsPerEpoch)
            throw new InvalidDataException($"'{statePath}' was written for {state.RowsPerEpoch} rows per epoch; this data has {State.RowsPerEpoch}: resume with the same data and options.");
        _weights.Load(checkpointDirectory);
        _optimizer.LoadState(Path.Combine(checkpointDirectory, OptimizerFile));
        _weights.RandomState = state.WeightsRandomState;
        state.TotalSteps = State.TotalSteps;
        State = state;
    }

    // checkpoint-{n} folders holding trainer_state.json, by step.
    private static List<(int Step, string Path)> Checkpoints(string outputDirectory)
    {
        var list = new List<(int, string)>();
        if (!Directory.Exists(outputDirectory)) return list;
        foreach (var dir in Directory.GetDirectories(outputDirectory, CheckpointPrefix + "*"))
        {
            string name = Path.GetFileName(dir);
            if (int.TryParse(name.AsSpan(CheckpointPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int step)
                && File.Exists(Path.Combine(dir, StateFile)))
                list.Add((step, dir));
        }
        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }

    private void PruneCheckpoints()
    {
        if (Options.SaveTotalLimit <= 0) return;
        var all = Checkpoints(Options.OutputDirectory);
        for (int i = 0; i < all.Count - Options.SaveTotalLimit; i++) TryDelete(all[i].Path);
    }

    // Left-overs of a crash during a checkpoint write.
    private void RemoveIncompleteCheckpoints()
    {
        foreach (var dir in Directory.GetDirectories(Options.OutputDirectory, LegacyPartialPrefix + "*")) TryDelete(dir);
        foreach (var dir in Directory.GetDirectories(Options.OutputDirectory, "." + CheckpointPrefix + "*"))
            AtomicFolder.RemoveLeftovers(Path.Combine(Options.OutputDirectory, ParentName(dir)));
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { /* best effort */ }
        catch (UnauthorizedAccessException) { }
    }
}
