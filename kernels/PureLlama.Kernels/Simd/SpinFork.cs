// Fork/join for the many short back-to-back kernel calls of a decode step (a 1B decode step is ~113 products of
// 0.1–2 ms each). Parallel.For wakes a pool thread per call (~30 µs here, 3–4 ms of a 25–80 ms step); SpinFork keeps
// MaxThreads − 1 parked workers that, after each job, spin on a job counter for a short while — long enough to catch the
// next product of the same step — and then block on an event, so an idle process burns nothing.
//
//   Run(pieces, body): the caller and the workers take pieces 0 … pieces − 1 from a shared counter (dynamic, as
//   Parallel.For does), return when every piece is done, rethrow the first exception.
//
// One caller owns the workers at a time (a compare-exchange, not a re-entrant lock): a concurrent call from another
// thread, a nested call from inside a piece, or a call while workers are being created falls back to Parallel.For.
// The pieces are the same either way, so results never depend on who ran them. PURELLAMA_SPIN_FORK=0 turns it off
// (every call then goes to Parallel.For), e.g. on a machine shared with busy processes where spinning is wasted.
namespace PureLlama.Kernels.Simd;

/// <summary>Low-latency fork/join over parked spinning workers, falling back to <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>.</summary>
internal static class SpinFork
{
    /// <summary>How long a worker spins for the next job before it blocks.</summary>
    private static readonly TimeSpan SpinBeforeBlocking = TimeSpan.FromMilliseconds(0.5);

    /// <summary>Whether the spinning workers are used (unless PURELLAMA_SPIN_FORK=0).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("PURELLAMA_SPIN_FORK") != "0";

    private static int s_owned;                 // 1 while a caller owns the workers
    private static Worker[] s_workers = [];

    /// <summary>Runs body(0 … pieces − 1) on the calling thread and up to MaxThreads − 1 workers.</summary>
    public static void Run(int pieces, Action<int> body)
    {
        int helpers = Math.Min(pieces, SimdThreading.MaxThreads) - 1;
        if (helpers <= 0) { for (int k = 0; k < pieces; k++) body(k); return; }
        if (!Enabled || Interlocked.CompareExchange(ref s_owned, 1, 0) != 0)
        {
            Parallel.For(0, pieces, SimdThreading.Options, body);
            return;
        }
        try
        {
            var workers = Workers(helpers);
            var job = new Job(pieces, body);
            for (int t = 0; t < helpers; t++) workers[t].Post(job);
            job.Work();
            for (int t = 0; t < helpers; t++) workers[t].Join();
            if (job.Error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw();
        }
        finally { Volatile.Write(ref s_owned, 0); }
    }

    // Called by the owner only.
    private static Worker[] Workers(int count)
    {
        if (s_workers.Length < count)
        {
            var grown = new Worker[count];
            Array.Copy(s_workers, grown, s_workers.Length);
            for (int i = s_workers.Length; i < count; i++) grown[i] = new Worker(i + 1);
            s_workers = grown;
        }
        return s_workers;
    }

    /// <summary>One call's pieces, taken by every participant from a shared counter.</summary>
    private sealed class Job(int pieces, Action<int> body)
    {
        private int _next = -1;
        private Exception? _error;

        public Exception? Error => Volatile.Read(ref _error);

        public void Work()
        {
            for (int k; (k = Interlocked.Increment(ref _next)) < pieces;)
            {
                try { body(k); }
                catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            }
        }
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);
        private Job? _job;
        private volatile int _posted;   // jobs posted (written by the owner only)
        private volatile int _done;     // jobs finished (written by this worker only)

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"PureLlama SpinFork {index}" };
            thread.Start();
        }

        public void Post(Job job)
        {
            _job = job;
            _posted = _posted + 1;   // the volatile write publishes _job
            _wake.Set();
        }

        public void Join()
        {
            var spin = new SpinWait();
            while (_done != _posted) spin.SpinOnce(sleep1Threshold: -1);
        }

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                var spin = new SpinWait();
                while (_posted == seen)
                {
                    if (System.Diagnostics.Stopwatch.GetElapsedTime(start) < SpinBeforeBlocking) { spin.SpinOnce(sleep1Threshold: -1); continue; }
                    _wake.Reset();
                    Interlocked.MemoryBarrier();   // the reset is visible before _posted is read again (else a post could be missed)
                    if (_posted == seen) _wake.Wait();
                    start = System.Diagnostics.Stopwatch.GetTimestamp();
                }
                seen = _posted;
                _job!.Work();                      // never throws: Job.Work catches each piece's exception
                _job = null;
                _done = seen;
            }
        }
    }
}
