using PureLlama.Compute;
using PureLlama.Kernels;
using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// bitsandbytes-style 8-bit AdamW (Dettmers et al. 2021): m and v are stored block-wise quantized,
/// one byte per parameter each (m with the signed dynamic map, v with the unsigned one,
/// <see cref="DynamicMap"/>) plus one F32 absmax per block of 256 and moment — about 2.03 bytes of
/// state per parameter instead of AdamW's 8. Each step runs the fused <see cref="IBackend.AdamW8bit"/>
/// kernel: dequantize, AdamW update of the F32 parameter, requantize with the new block absmax.
/// <para>Paging: on an ILGPU device (with <c>paged</c> on, the default) the states live in host memory
/// and pass through one reusable device staging buffer of <see cref="ChunkElements"/> parameters:
/// each chunk is copied in, updated, and copied back, so device memory for the optimizer is bounded
/// by the chunk (<see cref="IOptimizer.DeviceStateBytes"/>) whatever the model size. Blocks never span
/// chunks, so the result equals the unpaged one exactly. On the CPU the states are updated in place.</para>
/// </summary>
public sealed unsafe class PagedAdamW8bit : IOptimizer
{
    /// <summary>The kind written into saved states (includes the block size).</summary>
    public const string Kind = "PureLlama.AdamW8bit.block256";

    private readonly NamedParameter[] _params;
    private readonly State[] _state;
    private readonly int[] _steps;
    private readonly bool[] _decay;
    private readonly Staging? _staging;
    private bool _disposed;

    /// <summary>
    /// Creates the zero state for <paramref name="parameters"/> (F32, contiguous, unique names, one device).
    /// <paramref name="chunkElements"/> (rounded up to a multiple of 256) bounds the device staging buffer
    /// when paging; <paramref name="paged"/> false keeps the states on an ILGPU device instead.
    /// </summary>
    public PagedAdamW8bit(IReadOnlyList<NamedParameter> parameters, AdamWOptions? options = null, long chunkElements = 1 << 22, bool paged = true)
    {
        _params = OptimizerStateFile.CheckParameters(parameters);
        Options = options ?? new AdamWOptions();
        Options.Validate();
        if (chunkElements <= 0) throw new ArgumentOutOfRangeException(nameof(chunkElements), chunkElements, "The chunk must hold at least one parameter.");
        var devices = _params.Select(p => p.Value.Device).Distinct().ToArray();
        if (devices.Length > 1) throw new ArgumentException($"All parameters must live on one device; found {string.Join(", ", devices)}.", nameof(parameters));
        Device = devices.Length == 1 ? devices[0] : Device.Cpu;
        IsPaged = paged && Device.Kind != DeviceKind.Cpu;
        var stateDevice = IsPaged ? Device.Cpu : Device;
        _state = _params.Select(p => new State(p.Value.Numel, stateDevice)).ToArray();
        _steps = new int[_params.Length];
        _decay = _params.Select(p => Options.Decays(p.Name)).ToArray();
        if (IsPaged && _params.Length > 0)
        {
            long largest = _params.Max(p => p.Value.Numel);
            ChunkElements = Math.Min((chunkElements + SimdAdamW8bit.BlockSize - 1) / SimdAdamW8bit.BlockSize, SimdAdamW8bit.Blocks(largest)) * SimdAdamW8bit.BlockSize;
            _staging = new Staging(ChunkElements, Device);
        }
    }

    /// <summary>The hyper-parameters.</summary>
    public AdamWOptions Options { get; }

    /// <summary>The device the parameters live on.</summary>
    public Device Device { get; }

    /// <summary>True when the states live in host memory and are staged through the device in chunks.</summary>
    public bool IsPaged { get; }

    /// <summary>Parameters per staging chunk (a multiple of 256; 0 when not paged).</summary>
    public long ChunkElements { get; }

    /// <inheritdoc/>
    public IReadOnlyList<NamedParameter> Parameters => _params;

    /// <inheritdoc/>
    public int StepCount { get; private set; }

    /// <inheritdoc/>
    public long StateBytes => _state.Sum(s => s.Bytes);

    /// <inheritdoc/>
    public long DeviceStateBytes => IsPaged ? _staging?.Bytes ?? 0 : StateBytes;

    /// <inheritdoc/>
    public void Step(float learningRate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        OptimizerStateFile.ForEachUpdate(_params, _steps, _decay, Options, learningRate, (i, g, settings, step) =>
        {
            var p = _params[i].Value;
            var s = _state[i];
            if (!IsPaged) p.Backend.AdamW8bit(p, g, s.MCodes, s.MAbsmax, s.VCodes, s.VAbsmax, settings, step);
            else StepPaged(p, g, s, settings, step);
        });
        StepCount++;
    }

    // Host state → staging → kernel → host, one chunk of whole blocks at a time.
    private void StepPaged(Tensor p, Tensor g, State s, in AdamWSettings settings, int step)
    {
        var be = p.Backend;
        var st = _staging!;
        long n = p.Numel;
        for (long start = 0; start < n; start += ChunkElements)
        {
            int len = (int)Math.Min(ChunkElements, n - start);
            int b0 = (int)(start / SimdAdamW8bit.BlockSize), blocks = (int)SimdAdamW8bit.Blocks(len);
            using var pv = p.ViewWith(new Shape(len), [1], p.Offset + start);          // [len] of the flat parameter
            using var gv = g.ViewWith(new Shape(len), [1], g.Offset + start);
            using var mq = st.MCodes.ViewWith(new Shape(len), [1], 0);                // staging views: [len] codes, [blocks] absmax
            using var vq = st.VCodes.ViewWith(new Shape(len), [1], 0);
            using var ma = st.MAbsmax.ViewWith(new Shape(blocks), [1], 0);
            using var va = st.VAbsmax.ViewWith(new Shape(blocks), [1], 0);
            var hostMq = new Span<byte>(s.MCodes.Pointer<byte>() + start, len);
            var hostVq = new Span<byte>(s.VCodes.Pointer<byte>() + start, len);
            var hostMa = new Span<byte>(s.MAbsmax.Pointer<float>() + b0, blocks * sizeof(float));
            var hostVa = new Span<byte>(s.VAbsmax.Pointer<float>() + b0, blocks * sizeof(float));
            be.CopyFromHost(hostMq, mq); be.CopyFromHost(hostVq, vq);
            be.CopyFromHost(hostMa, ma); be.CopyFromHost(hostVa, va);
            be.AdamW8bit(pv, gv, mq, ma, vq, va, settings, step);
            be.CopyToHost(mq, hostMq); be.CopyToHost(vq, hostVq);
            be.CopyToHost(ma, hostMa); be.CopyToHost(va, hostVa);
        }
    }

    /// <inheritdoc/>
    public void ZeroGrad() => OptimizerStateFile.ZeroGrad(_params);

    /// <inheritdoc/>
    public void SaveState(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        OptimizerStateFile.Save(path, Kind, StepCount, _params, _steps, Buffers);
    }

    /// <inheritdoc/>
    public void LoadState(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        StepCount = OptimizerStateFile.Load(path, Kind, _params, _steps, Buffers);
    }

    // The saved buffers of parameter i, by suffix: codes U8 [n] and absmax F32 [⌈n/256⌉] of each moment.
    private IEnumerable<(string, Tensor)> Buffers(int i) =>
    [
        ("exp_avg.codes", _state[i].MCodes), ("exp_avg.absmax", _state[i].MAbsmax),
        ("exp_avg_sq.codes", _state[i].VCodes), ("exp_avg_sq.absmax", _state[i].VAbsmax),
    ];

    /// <summary>Releases the states and the staging buffer.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _state) s.Dispose();
        _staging?.Dispose();
    }

    // The quantized moments of one parameter: codes U8 [n], absmax F32 [⌈n/256⌉] (zero state: code of 0, absmax 0).
    private sealed class State : IDisposable
    {
        public State(long n, Device device)
        {
            int count = checked((int)n), blocks = (int)SimdAdamW8bit.Blocks(n);
            MCodes = Tensor.FromSpan<byte>(Enumerable.Repeat(DynamicMap.SignedZero, count).ToArray(), new Shape(count), DType.U8, device);
            VCodes = Tensor.Zeros(new Shape(count), DType.U8, device);
            MAbsmax = Tensor.Zeros(new Shape(blocks), DType.F32, device);
            VAbsmax = Tensor.Zeros(new Shape(blocks), DType.F32, device);
        }

        public Tensor MCodes { get; }
        public Tensor VCodes { get; }
        public Tensor MAbsmax { get; }
        public Tensor VAbsmax { get; }
        public long Bytes => MCodes.ByteLength + VCodes.ByteLength + MAbsmax.ByteLength + VAbsmax.ByteLength;

        public void Dispose() { MCodes.Dispose(); VCodes.Dispose(); MAbsmax.Dispose(); VAbsmax.Dispose(); }
    }

    // The device buffers one chunk passes through: codes U8 [chunk] and absmax F32 [chunk/256] per moment.
    private sealed class Staging(long chunk, Device device) : IDisposable
    {
        public Tensor MCodes { get; } = Tensor.Empty(new Shape((int)chunk), DType.U8, device);
        public Tensor VCodes { get; } = Tensor.Empty(new Shape((int)chunk), DType.U8, device);
        public Tensor MAbsmax { get; } = Tensor.Empty(new Shape((int)(chunk / SimdAdamW8bit.BlockSize)), DType.F32, device);
        public Tensor VAbsmax { get; } = Tensor.Empty(new Shape((int)(chunk / SimdAdamW8bit.BlockSize)), DType.F32, device);
        public long Bytes => MCodes.ByteLength + VCodes.ByteLength + MAbsmax.ByteLength + VAbsmax.ByteLength;

        public void Dispose() { MCodes.Dispose(); VCodes.Dispose(); MAbsmax.Dispose(); VAbsmax.Dispose(); }
    }
}
