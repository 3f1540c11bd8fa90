using System.Diagnostics;
using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Distributed;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training.Data;

namespace PureLlama.Training;

/// <summary>The outcome of <see cref="Trainer.Train"/>.</summary>
/// <param name="Steps">Optimizer steps done in all (including those before a resume).</param>
/// <param name="FirstLoss">Training loss of the first step of this process.</param>
/// <param name="LastLoss">Training loss of the last step.</param>
/// <param name="EvalLossBefore">Held-out loss before the first step (null without held-out rows or when resumed).</param>
/// <param name="EvalLossAfter">Held-out loss after the last step (null without held-out rows).</param>
/// <param name="TokensPerSecond">Input tokens per second over this process's steps.</param>
/// <param name="PeakResidentBytes">Peak process resident set.</param>
/// <param name="PeakBackendBytes">Peak tensor memory of the compute backend (CPU: native storage high-water mark, activations included; GPU: pool bytes in use sampled after each step).</param>
/// <param name="LastCheckpoint">The final checkpoint folder.</param>
public sealed record TrainerResult(int Steps, double FirstLoss, double LastLoss, double? EvalLossBefore, double? EvalLossAfter,
    double TokensPerSecond, long PeakResidentBytes, long PeakBackendBytes, string LastCheckpoint);

/// <summary>
/// The training loop: for each optimizer step, <see cref="TrainerOptions.GradientAccumulationSteps"/> micro-batches
/// from the <see cref="SequenceBatcher"/> run forward and backward (each micro-batch's rows packed into one
/// sequence with segment ids), the loss of each divided by the scored tokens of the whole step; the gradient norm
/// is clipped (a non-finite norm skips the update), the optimizer steps at the scheduled learning rate, and the
/// step is reported. Held-out loss every <see cref="TrainerOptions.EvalSteps"/>, checkpoints every
/// <see cref="TrainerOptions.SaveSteps"/> and when cancelled (atomic folders; <see cref="TrainerOptions.Resume"/>
/// continues from the latest one exactly: weights, optimizer state, data cursor and dropout state are restored).
/// The loss history is in <see cref="State"/>; drawing it is the caller's business.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly LlamaModel _model;
    private readonly ITrainableWeights _weights;
    private readonly IOptimizer _optimizer;
    private readonly bool _ownsOptimizer;
    private readonly SequenceBatcher _train;
    private readonly IReadOnlyList<TrainingSequence> _eval;
    private IProgress<TrainingEvent>? _progress;
    private readonly ICommunicator _comm;
    private readonly GradientAllReduce _gradients;
    private long _peakRss, _peakBackend;

    /// <summary>
    /// Prepares a run: builds the optimizer named by <paramref name="options"/> over <paramref name="weights"/>'
    /// parameters and its learning-rate schedule. Nothing is changed until <see cref="Train"/>.
    /// </summary>
    /// <param name="model">The model (the trainable tensors inside it are updated in place while training).</param>
    /// <param name="weights">What is trained and checkpointed (LoRA adapter or every weight).</param>
    /// <param name="data">The training rows, batched, and the held-out rows.</param>
    /// <param name="options">Loop, optimizer, schedule and checkpoint settings.</param>
    public Trainer(LlamaModel model, ITrainableWeights weights, TrainingData data, TrainerOptions options)
        : this(model, weights, data, options, optimizer: null) { }

    /// <summary>Test hook: <paramref name="optimizer"/> (owned by the caller) instead of the one the options name.</summary>
    internal Trainer(LlamaModel model, ITrainableWeights weights, TrainingData data, TrainerOptions options, IOptimizer? optimizer)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _weights = weights ?? throw new ArgumentNullException(nameof(weights));
        ArgumentNullException.ThrowIfNull(data);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _train = data.Train;
        _eval = data.HeldOut;
        _comm = options.Communicator ?? SingleProcessCommunicator.Instance;
        _gradients = new GradientAllReduce(_comm);
        int microPerEpoch = _train.MicroBatchesInEpoch(0);
        StepsPerEpoch = (microPerEpoch + options.GradientAccumulationSteps - 1) / options.GradientAccumulationSteps;
        State = new TrainerState
        {
            TotalSteps = options.MaxSteps ?? options.Epochs * StepsPerEpoch,
            RowsPerEpoch = _train.EpochSequences(0).Count,
        };
        Schedule = LearningRateSchedule.Create(options.Schedule, options.LearningRate, options.WarmupSteps, State.TotalSteps);
        _ownsOptimizer = optimizer is null;
        _optimizer = optimizer ?? options.Optimizer switch
        {
            OptimizerKind.PagedAdamW8bit => new PagedAdamW8bit(weights.Parameters, options.AdamW),
            _ => new AdamWOptimizer(weights.Parameters, options.AdamW),
        };
    }

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Where the run stands (restored by a resume): step, data cursor, loss and eval history.</summary>
    public TrainerState State { get; private set; }

    /// <summary>Optimizer steps in one pass over the training rows.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>The optimizer built from <see cref="TrainerOptions.Optimizer"/> (its state size is <see cref="IOptimizer.StateBytes"/>).</summary>
    public IOptimizer Optimizer => _optimizer;

    /// <summary>The learning rate of each step.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>
    /// Runs (or resumes) training to <see cref="TrainerState.TotalSteps"/> and writes the final checkpoint.
    /// When <paramref name="cancellationToken"/> is cancelled, the step under way finishes, a checkpoint of it is
    /// written (reported to <paramref name="progress"/>; its folder is named in the exception's message) and
    /// <see cref="OperationCanceledException"/> is thrown: <see cref="TrainerOptions.Resume"/> continues from there.
    /// </summary>
    /// <exception cref="InvalidOperationException">Resume with no checkpoint to resume from, or an output folder
    /// holding another run's checkpoints without <see cref="TrainerOptions.Overwrite"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (after writing a checkpoint of the last step).</exception>
    public TrainerResult Train(CancellationToken cancellationToken = default, IProgress<TrainingEvent>? progress = null)
    {
        _progress = _comm.Rank == 0 ? progress : null;   // one progress display for the whole job
        try { return Run(cancellationToken); }
        finally { _progress = null; }
    }

    private TrainerResult Run(CancellationToken cancellationToken)
    {
        if (IsWriter)
        {
            Directory.CreateDirectory(Options.OutputDirectory);
            RemoveIncompleteCheckpoints();
        }
        _comm.Barrier();   // every rank sees the same checkpoints
        PrepareOutputFolder();
        _comm.Barrier();
        if (_comm.Size > 1)
            foreach (var p in _weights.Parameters) _comm.Broadcast(p.Value);   // every rank starts from rank 0's weights
        double? evalBefore = null;
        if (State.Step == 0 && _eval.Count > 0)
        {
            evalBefore = Evaluate();
            State.EvalHistory.Add(new EvalLog(0, evalBefore.Value));
            _progress?.Report(new EvalReport(0, evalBefore.Value));
        }
        _weights.SetTraining(true);
        var clock = Stopwatch.StartNew();
        long tokensThisRun = 0;
        double first = double.NaN, last = double.NaN;
        string? lastCheckpoint = null;
        int startStep = State.Step;
        while (State.Step < State.TotalSteps)
        {
            if (CancelledOnAnyRank(cancellationToken)) StopCancelled(lastCheckpoint, cancellationToken);
            var log = Step();
            tokensThisRun += log.Tokens;
            if (double.IsNaN(first)) first = log.Loss;
            last = log.Loss;
            var (rss, backend) = SampleMemory();
            double elapsed = clock.Elapsed.TotalSeconds;
            int done = State.Step - startStep;
            var remaining = TimeSpan.FromSeconds(elapsed / done * (State.TotalSteps - State.Step));
            _progress?.Report(new StepReport(State.Step, State.TotalSteps, log.Epoch, log.Loss, log.LearningRate, log.GradNorm, log.Skipped,
                log.Tokens, log.Tokens / Math.Max(LastStepSeconds, 1e-9), clock.Elapsed, remaining, rss, backend));
            if (log.Skipped) Notice($"step {log.Step}: update skipped ({LastSkipReason})");
            CheckHealth(log);

            bool final = State.Step == State.TotalSteps;
            if (_eval.Count > 0 && (final || (Options.EvalSteps > 0 && State.Step % Options.EvalSteps == 0)))
            {
                double ev = Evaluate();
                State.EvalHistory.Add(new EvalLog(State.Step, ev));
                _progress?.Report(new EvalReport(State.Step, ev));
            }
            if ((final || (Options.SaveSteps > 0 && State.Step % Options.SaveSteps == 0)) && _nonFiniteRun > 0)
                Notice($"step {State.Step}: checkpoint not saved (the last {_nonFiniteRun} step(s) were non-finite; the previous checkpoint stays the latest)");
            else if (final || (Options.SaveSteps > 0 && State.Step % Options.SaveSteps == 0)) lastCheckpoint = SaveAndReport();
        }
        lastCheckpoint ??= LatestCheckpoint(Options.OutputDirectory) ?? "";
        double? evalAfter = State.EvalHistory.Count > 0 && State.EvalHistory[^1].Step == State.Step ? State.EvalHistory[^1].Loss : null;
        return new TrainerResult(State.Step, first, last, evalBefore, evalAfter, tokensThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
            _peakRss, _peakBackend, lastCheckpoint);
    }

    // Resume (an error when there is nothing to resume), or refuse/clear another run's checkpoints.
    private void PrepareOutputFolder()
    {
        string dir = Options.OutputDirectory;
        if (Options.Resume)
        {
            string latest = LatestCheckpoint(dir)
                ?? throw new InvalidOperationException($"Nothing to resume: '{dir}' holds no complete checkpoint (checkpoint-N with {StateFile}).");
            Resume(latest);
            _progress?.Report(new ResumeReport(State.Step, latest));
            return;
        }
        if (State.Step != 0) return; // steps were taken by hand before Train: their own run
        var existing = Checkpoints(dir);
        if (existing.Count == 0) return;
        if (!Options.Overwrite)
            throw new InvalidOperationException($"'{dir}' holds another run's checkpoints ({Path.GetFileName(existing[^1].Path)}): resume to continue that run, overwrite to delete them and start afresh, or choose another output folder.");
        if (IsWriter) foreach (var (_, path) in existing) Directory.Delete(path, recursive: true);
    }

    // Cancelled between steps: checkpoint the last step (unless just saved) and stop.
    private void StopCancelled(string? lastCheckpoint, CancellationToken cancellationToken)
    {
        string stepName = CheckpointPrefix + State.Step.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string? saved = State.Step == 0 ? null
            : lastCheckpoint is not null && Path.GetFileName(lastCheckpoint) == stepName ? lastCheckpoint : SaveAndReport();
        throw new OperationCanceledException(saved is null
            ? "Training was cancelled before its first step; nothing was saved."
            : $"Training was cancelled after step {State.Step} of {State.TotalSteps}; checkpoint saved to {saved} (resume to continue).", cancellationToken);
    }

    // A note for the user: a skipped update and why, a checkpoint not saved, a warning about the run's health.
    private void Notice(string message) => _progress?.Report(new NoticeReport(State.Step, message));

    // Rank 0 writes the checkpoint; the other ranks wait for it, so none runs ahead of a checkpoint being written.
    private string SaveAndReport()
    {
        string path = IsWriter ? SaveCheckpoint() : CheckpointPath(State.Step);
        _comm.Barrier();
        _progress?.Report(new CheckpointReport(State.Step, path));
        return path;
    }

    // Ranks stop together: a Ctrl-C reaches the ranks of a job at slightly different times.
    private bool CancelledOnAnyRank(CancellationToken cancellationToken)
    {
        if (_comm.Size == 1) return cancellationToken.IsCancellationRequested;
        Span<double> flag = [cancellationToken.IsCancellationRequested ? 1 : 0];
        _comm.AllReduce(flag);
        return flag[0] > 0;
    }

    /// <summary>Disposes the optimizer the trainer built.</summary>
    public void Dispose()
    {
        if (_ownsOptimizer) _optimizer.Dispose();
    }

    private double LastStepSeconds { get; set; }

    /// <summary>Test hook: runs before step n (1-based) starts; the CLI's fault injection for distributed-failure tests.</summary>
    internal Action<int>? BeforeStep { get; set; }

    // Rank 0 writes the output folder; the other ranks of a data-parallel run only compute.
    private bool IsWriter => _comm.Rank == 0;

    /// <summary>Seconds this process spent summing gradients over the ranks (0 in one process).</summary>
    public double AllReduceSeconds => _gradients.Seconds;

    /// <summary>Gradient bytes each rank sends per step (0 in one process).</summary>
    public long AllReduceBytesPerStep => _gradients.BytesPerStep;

    /// <summary>One optimizer step over the next accumulated batch; returns its log (also appended to the state).</summary>
    public StepLog Step()
    {
        BeforeStep?.Invoke(State.Step + 1);
        var sw = Stopwatch.StartNew();
        var batch = _train.NextStep(DataCursor.Parse(State.DataCursor), Options.GradientAccumulationSteps);
        int targets = batch.TargetCount;
        double loss = 0;
        long tokens = batch.MicroBatches.Sum(mb => (long)mb.TokenCount);   // the whole step's, over every rank
        _weights.SetTraining(true);
        string? randomAtStart = _weights.RandomState;
        var (first, end) = MicroBatchTree.Block(batch.MicroBatches.Count, _comm.Rank, _comm.Size);   // this rank's share
        using var accumulator = new TreeGradientAccumulator(_weights.Parameters);
        for (int i = first; i < end && targets > 0; i++)
        {
            var mb = batch.MicroBatches[i];
            if (_weights is IMicroBatchRandomState seekable) _weights.RandomState = seekable.StateAfter(randomAtStart, i);
            var (ids, labels, positions, segments) = Flatten(mb.Sequences);
            using var idsT = Tensor.FromArray(ids, new Shape(ids.Length), _model.Device); // I32 [T]
            using var logits = _model.Forward(idsT, positions, segments);              // [T, vocab]
            using var l = LlamaModel.CausalLmLoss(logits, labels, targets);            // Σ token losses / step's targets
            l.Backward();
            loss += l.Item();
            _weights.AfterBackward();   // per micro-batch, so a tied head's gradient joins the tree like the others
            accumulator.Push();
        }
        accumulator.Finish();
        if (_weights is IMicroBatchRandomState advanced) _weights.RandomState = advanced.StateAfter(randomAtStart, batch.MicroBatches.Count);
        if (_comm.Size > 1 && targets > 0)
        {
            _gradients.Run(_weights.Parameters);
            Span<double> sum = [loss];
            _comm.AllReduce(sum);
            loss = sum[0];
        }
        double lr = Schedule.RateAt(State.Step);
        double norm = double.NaN;
        bool skipped = true;
        if (targets > 0)
        {
            norm = Options.MaxGradNorm > 0 ? GradientClipping.ClipGlobalNorm(_weights.Parameters, Options.MaxGradNorm)
                : GradientClipping.GlobalNorm(_weights.Parameters);
            skipped = !double.IsFinite(norm) || !double.IsFinite(loss);
            if (!skipped) _optimizer.Step((float)lr);
        }
        LastSkipReason = !skipped ? null : SkipReason(targets, loss, norm);
        _optimizer.ZeroGrad();
        State.Step++;
        State.DataCursor = batch.Next.ToString();
        State.Tokens += tokens;
        State.WeightsRandomState = _weights.RandomState;
        var log = new StepLog(State.Step, State.EpochProgress, targets > 0 ? loss : double.NaN, lr, norm, skipped, tokens);
        State.LogHistory.Add(log);
        LastStepSeconds = sw.Elapsed.TotalSeconds;
        return log;
    }

    /// <summary>Mean token loss over every held-out row (no dropout, no gradients); NaN without held-out rows.</summary>
    public double Evaluate()
    {
        if (_eval.Count == 0) return double.NaN;
        long targets = _eval.Sum(s => (long)s.TargetCount);
        if (targets == 0) return double.NaN;
        _weights.SetTraining(false);
        try
        {
            using var _ = GradMode.NoGrad();
            double sum = 0;
            for (int r = 0; r < _eval.Count; r++)
            {
                var row = _eval[r];
                if (row.TargetCount == 0 || r % _comm.Size != _comm.Rank) continue;   // held-out rows split over the ranks
                var (ids, labels, positions, segments) = Flatten([row]);
                using var idsT = Tensor.FromArray(ids, new Shape(ids.Length), _model.Device);
                using var logits = _model.Forward(idsT, positions, segments);
                using var l = LlamaModel.CausalLmLoss(logits, labels, targets);
                sum += l.Item();
            }
            Span<double> total = [sum];
            _comm.AllReduce(total);
            return total[0];
        }
        finally { _weights.SetTraining(true); }
    }

    /// <summary>
    /// The rows of a micro-batch as one packed sequence: ids, labels and positions concatenated, segment ids
    /// renumbered so that every example of every row has its own; null segments for a single example.
    /// </summary>
    internal static (int[] Ids, int[] Labels, int[] Positions, int[]? Segments) Flatten(IReadOnlyList<TrainingSequence> rows)
    {
        if (rows.Count == 1 && rows[0].ExampleCount <= 1) return (rows[0].Ids, rows[0].Labels, rows[0].Positions, null);
        int total = rows.Sum(r => r.Length);
        var ids = new int[total]; var labels = new int[total]; var positions = new int[total]; var segments = new int[total];
        int at = 0, offset = 0;
        foreach (var r in rows)
        {
            r.Ids.CopyTo(ids, at);
            r.Labels.CopyTo(labels, at);
            r.Positions.CopyTo(positions, at);
            int max = -1;
            for (int i = 0; i < r.Length; i++) { segments[at + i] = offset + r.SegmentIds[i]; max = Math.Max(max, r.SegmentIds[i]); }
            offset += max + 1;
            at += r.Length;
        }
        return (ids, labels, positions, segments);
    }

    // Process resident set and the backend's tensor bytes; tracks the peaks.
    private (long Rss, long Backend) SampleMemory()
    {
        long rss = Environment.WorkingSet;
        long backend = _model.Device.Kind == DeviceKind.Cpu ? NativeStorage.LiveBytes
            : Backends.Get(_model.Device) is IlgpuBackend gpu ? gpu.BytesInUse : 0;
        // The kernel's high-water mark (VmHWM on Linux) sees the peak inside the step, not just the sample after it.
        using (var self = Process.GetCurrentProcess()) _peakRss = Math.Max(_peakRss, Math.Max(rss, self.PeakWorkingSet64));
        // CPU: the allocator's high-water mark, which sees activations inside the step; GPU: sampled after the step.
        _peakBackend = Math.Max(_peakBackend, _model.Device.Kind == DeviceKind.Cpu ? NativeStorage.PeakLiveBytes : backend);
        return (rss, backend);
    }
}
