using PureLlama.Compute;
using PureLlama.Llama;

namespace PureLlama.Serving;

// The scheduler (one thread). Each step: drop cancelled sequences; admit waiting ones (oldest first) while the
// running batch has room and the pool can hold their known tokens (matching full blocks in the prefix cache
// first); give every decoding sequence its one row and the prompts in prefill chunks of what is left of
// MaxBatchTokens; grow block tables, preempting the youngest sequences (blocks freed, tokens kept, recomputed
// later) when the pool runs dry; run one forward over all rows; sample for every sequence whose known tokens
// are all in the cache; stream the tokens out.
public sealed partial class ServingEngine
{
    private readonly PagedKvCache _cache;
    private readonly BlockPool _pool;
    private float[] _logits = [];                  // the step's logits, grown as needed (engine thread only)
    private readonly EngineAdapters _adapters;
    private readonly List<EngineSequence> _running = [];                // admission order, scheduler thread only
    private long _promptTokens, _generatedTokens, _prefixHitTokens, _preemptions, _finished;
    private EngineMetrics _published = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);  // under _gate

    /// <summary>Runs on the scheduler thread after every forward step; tests slow the engine with it so that a client's
    /// cancellation reliably arrives before a request could finish.</summary>
    internal Action? AfterForwardStep { get; set; }

    private void Loop()
    {
        Publish();
        while (!_stop.IsCancellationRequested)
        {
            bool busy;
            try { busy = Step(); }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                FailRunning(e);
                busy = true;
            }
            Publish();
            if (busy) continue;
            try { _wake.Wait(_stop.Token); }
            catch (OperationCanceledException) { break; }
        }
    }

    private bool Step()
    {
        Reap();
        Admit();
        if (_running.Count == 0) return false;
        var batch = Schedule();
        if (batch.Count == 0) return _running.Count > 0;
        Forward(batch);
        AfterForwardStep?.Invoke();
        return true;
    }

    private void Reap()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
            if (_running[i].Cancelled) Finish(_running[i], null);
        lock (_gate)
            for (var node = _waiting.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Cancelled) { _waiting.Remove(node); Finish(node.Value, null); }
                node = next;
            }
    }

    private void Admit()
    {
        int bs = _pool.BlockSize;
        while (_running.Count < Options.MaxRunningSequences)
        {
            EngineSequence? seq;
            lock (_gate) seq = _waiting.First?.Value;
            if (seq is null) return;
            if (seq.Blocks.Count == 0 && Options.PrefixCaching)
            {
                int parent = -1, full = (seq.Tokens.Count - 1) / bs;    // the last token is always computed (its logits)
                var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.Tokens);
                for (int b = 0; b < full; b++)
                {
                    int block = _pool.TakeCached(parent, seq.Adapter, tokens.Slice(b * bs, bs));
                    if (block < 0) break;
                    seq.Blocks.Add(block);
                    parent = block;
                }
            }
            int need = (seq.Tokens.Count + bs - 1) / bs - seq.Blocks.Count;
            if (need > _pool.Available)
            {
                ReleaseBlocks(seq);
                if (_running.Count > 0) return;                        // wait for running sequences to free blocks
                lock (_gate) _waiting.RemoveFirst();                   // cannot fit even alone (prevented by Generate's checks)
                seq.Output.Writer.TryComplete(new InvalidOperationException($"A sequence of {seq.Tokens.Count} tokens needs more KV blocks than the whole pool ({_pool.Total})."));
                _finished++;
                continue;
            }
            lock (_gate) _waiting.RemoveFirst();
            seq.Computed = seq.Blocks.Count * bs;
            seq.Registered = seq.Blocks.Count;
            if (seq.CachedPromptTokens < 0)
            {
                seq.CachedPromptTokens = Math.Min(seq.Computed, seq.PromptLength);
                _promptTokens += seq.PromptLength;
                _prefixHitTokens += seq.CachedPromptTokens;
            }
            _running.Add(seq);
        }
    }

    // (sequence, rows this step) in admission order.
    private List<(EngineSequence Seq, int Rows)> Schedule()
    {
        int decodes = 0;
        foreach (var s in _running) if (s.Pending == 1) decodes++;
        int prefillBudget = Math.Max(0, Options.MaxBatchTokens - decodes);
        var batch = new List<(EngineSequence, int)>();
        for (int i = 0; i < _running.Count; i++)
        {
            var seq = _running[i];
            int rows = seq.Pending == 1 ? 1 : Math.Min(seq.Pending, prefillBudget);
            if (rows <= 0) continue;
            if (!Grow(seq, seq.Computed + rows, i)) break;     // seq itself was preempted: everything after it is gone
            if (seq.Pending > 1) prefillBudget -= rows;
            batch.Add((seq, rows));
        }
        return batch;
    }

    // Blocks for positions [0, positions) of running[index]; preempts younger sequences (then itself) when the pool is dry.
    private bool Grow(EngineSequence seq, int positions, int index)
    {
        int need = (positions + _pool.BlockSize - 1) / _pool.BlockSize;
        while (seq.Blocks.Count < need)
        {
            int block = _pool.Allocate();
            if (block >= 0) { seq.Blocks.Add(block); continue; }
            if (_running.Count - 1 > index) { Preempt(_running[^1]); continue; }
            if (index == 0) throw new InvalidOperationException($"The KV pool ({_pool.Total} blocks) cannot hold one sequence of {positions} positions.");
            Preempt(seq);
            return false;
        }
        return true;
    }

    private void Preempt(EngineSequence seq)
    {
        _running.Remove(seq);
        ReleaseBlocks(seq);
        seq.Computed = 0;
        seq.Registered = 0;
        _preemptions++;
        lock (_gate) _waiting.AddFirst(seq);
    }

    private void ReleaseBlocks(EngineSequence seq)
    {
        foreach (int b in seq.Blocks) _pool.Release(b);
        seq.Blocks.Clear();
    }

    private void Forward(List<(EngineSequence Seq, int Rows)> batch)
    {
        // Rows grouped by adapter (base first) so each adapter's LoRA term runs on one contiguous row range.
        var ordered = batch.OrderBy(b => b.Seq.Adapter).ToList();
        int total = 0;
        foreach (var (_, rows) in ordered) total += rows;
        var ids = new int[total];
        var starts = new int[ordered.Count];
        var counts = new int[ordered.Count];
        var contexts = new int[ordered.Count];
        var tables = new IReadOnlyList<int>[ordered.Count];
        var groups = new List<(int Adapter, int Row, int Rows)>();
        for (int s = 0, row = 0; s < ordered.Count; s++)
        {
            var (seq, rows) = ordered[s];
            seq.Tokens.CopyTo(seq.Computed, ids, row, rows);
            starts[s] = seq.Computed; counts[s] = rows; contexts[s] = seq.Computed + rows; tables[s] = seq.Blocks;
            if (groups.Count > 0 && groups[^1].Adapter == seq.Adapter) groups[^1] = groups[^1] with { Rows = groups[^1].Rows + rows };
            else groups.Add((seq.Adapter, row, rows));
            row += rows;
        }
        var model = Runtime.Model;
        int vocab = model.VocabSize;
        if (_logits.Length < ordered.Count * vocab) _logits = new float[ordered.Count * vocab];
        var logits = _logits.AsSpan(0, ordered.Count * vocab);                  // [sequences, vocab], reused: no large-object allocation (and full GC) per step
        using (var layout = new PagedLayout(counts, contexts, tables, _pool.BlockSize, _pool.Total, model.Device))
        using (var result = model.ForwardPaged(ids, starts, counts, _cache.Step(layout), _adapters.ForStep(groups)))
            result.CopyFloatsTo(logits);
        for (int s = 0; s < ordered.Count; s++)
        {
            var (seq, rows) = ordered[s];
            seq.Computed += rows;
            Register(seq);
            if (seq.Pending == 0) Emit(seq, logits.Slice(s * vocab, vocab));
        }
    }

    // Full blocks of the sequence's known tokens go into the prefix cache, in chain order.
    private void Register(EngineSequence seq)
    {
        if (!Options.PrefixCaching) return;
        int bs = _pool.BlockSize, full = seq.Computed / bs;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.Tokens);
        for (int b = seq.Registered; b < full; b++)
        {
            if (!_pool.Register(seq.Blocks[b], b == 0 ? -1 : seq.Blocks[b - 1], seq.Adapter, tokens.Slice(b * bs, bs)))
            {
                seq.Registered = int.MaxValue;
                return;
            }
            seq.Registered = b + 1;
        }
    }

    // Samples the next token from the logits of the sequence's last position and streams it.
    private void Emit(EngineSequence seq, Span<float> row)
    {
        var request = seq.Request;
        float logprob = float.NaN;
        TokenLogprob[]? top = null;
        float[]? raw = null;
        double lse = 0;
        if (request.Logprobs || request.TopLogprobs > 0)
        {
            raw = row.ToArray();
            lse = LogSumExp(raw);
            if (request.TopLogprobs > 0) top = TopLogprobs(raw, request.TopLogprobs, lse);
        }
        int id = seq.Sampler.Sample(row);
        if (raw is not null) logprob = (float)(raw[id] - lse);
        int index = seq.Generated;
        var (text, stop) = seq.Emitter.Next(id, index, contextFull: seq.Computed >= seq.ContextLimit);
        seq.Tokens.Add(id);
        _generatedTokens++;
        StopReason? finish = stop == StopReason.None ? null : stop;
        seq.Output.Writer.TryWrite(new EngineToken(id, text, index, logprob, top, finish, seq.PromptLength, Math.Max(0, seq.CachedPromptTokens)));
        if (finish is not null) Finish(seq, finish);
    }

    private static double LogSumExp(float[] row)
    {
        float max = float.NegativeInfinity;
        foreach (float x in row) max = MathF.Max(max, x);
        double sum = 0;
        foreach (float x in row) sum += Math.Exp(x - max);
        return max + Math.Log(sum);
    }

    private TokenLogprob[] TopLogprobs(float[] row, int count, double lse)
    {
        var best = new List<int>(count + 1);
        for (int i = 0; i < row.Length; i++)
        {
            if (best.Count == count && row[i] <= row[best[^1]]) continue;
            int at = best.Count;
            while (at > 0 && row[best[at - 1]] < row[i]) at--;
            best.Insert(at, i);
            if (best.Count > count) best.RemoveAt(count);
        }
        var tok = Runtime.Tokenizer;
        return [.. best.Select(i => new TokenLogprob(i, tok?.Decode([i]) ?? "", (float)(row[i] - lse)))];
    }

    // Ends a sequence: frees its blocks and closes its stream (finish null: cancelled, nothing more to send).
    private void Finish(EngineSequence seq, StopReason? finish)
    {
        _running.Remove(seq);
        ReleaseBlocks(seq);
        seq.Finished = true;
        seq.Output.Writer.TryComplete();
        _finished++;
    }

    private void FailRunning(Exception e)
    {
        foreach (var seq in _running.ToList())
        {
            _running.Remove(seq);
            ReleaseBlocks(seq);
            seq.Output.Writer.TryComplete(new InvalidOperationException($"The serving engine failed while running this request: {e.Message}", e));
            _finished++;
        }
    }

    private void Publish()
    {
        var m = new EngineMetrics(_running.Count, 0, _promptTokens, _generatedTokens, _pool.Held, _pool.Available, _prefixHitTokens,
            _preemptions, _finished, _cache.BytesPerBlock);
        lock (_gate) _published = m;
    }
}
