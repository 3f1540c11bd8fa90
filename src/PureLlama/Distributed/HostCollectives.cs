using System.Runtime.InteropServices;
using PureLlama.Compute;
using PureLlama.Kernels;
using PureLlama.Kernels.Numerics;
using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>
/// Tensor collectives for transports that move host memory (MPI): a host F32 tensor is reduced where it lies; BF16
/// is widened to F32, reduced and rounded once; a device tensor is staged through host memory.
/// </summary>
internal static unsafe class HostCollectives
{
    public static void AllReduceTensor(Tensor buffer, ReduceOp op, int ranks, Action<Span<float>> reduceSum)
    {
        long n = buffer.Numel;
        if (n > int.MaxValue) throw new ArgumentException("An all-reduce buffer may hold at most 2^31 − 1 elements.", nameof(buffer));
        bool direct = buffer.Device.Kind == DeviceKind.Cpu && buffer.DType == DType.F32;
        float[]? staged = direct ? null : new float[n];
        Span<float> values = direct ? new Span<float>(buffer.Pointer<float>(), (int)n) : staged;
        if (!direct) ReadAsF32(buffer, staged!);
        reduceSum(values);
        if (op == ReduceOp.Average)
        {
            float inverse = 1f / ranks;
            foreach (ref var v in values) v *= inverse;
        }
        if (!direct) WriteFromF32(staged!, buffer);
    }

    public static void BroadcastTensor(Tensor buffer, Action<Span<byte>> broadcast)
    {
        if (!buffer.IsContiguous) throw new ArgumentException("A broadcast buffer must be contiguous.", nameof(buffer));
        if (buffer.ByteLength > int.MaxValue) throw new ArgumentException("A broadcast buffer may hold at most 2 GiB.", nameof(buffer));
        if (buffer.Device.Kind == DeviceKind.Cpu)
        {
            broadcast(new Span<byte>(buffer.Pointer<byte>(), (int)buffer.ByteLength));
            return;
        }
        var bytes = new byte[buffer.ByteLength];
        var backend = Backends.Get(buffer.Device);
        backend.CopyToHost(buffer, bytes);
        broadcast(bytes);
        backend.CopyFromHost(bytes, buffer);
    }

    private static void ReadAsF32(Tensor buffer, float[] values)
    {
        var bytes = new byte[buffer.ByteLength];
        Backends.Get(buffer.Device).CopyToHost(buffer, bytes);
        if (buffer.DType == DType.F32) { MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values); return; }
        var bits = MemoryMarshal.Cast<byte, ushort>(bytes);
        for (int i = 0; i < values.Length; i++) values[i] = Bf16.ToFloat(bits[i]);
    }

    private static void WriteFromF32(float[] values, Tensor buffer)
    {
        byte[] bytes;
        if (buffer.DType == DType.F32) bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        else
        {
            var bits = new ushort[values.Length];
            for (int i = 0; i < values.Length; i++) bits[i] = Bf16.FromFloat(values[i]);
            bytes = MemoryMarshal.AsBytes(bits.AsSpan()).ToArray();
        }
        Backends.Get(buffer.Device).CopyFromHost(bytes, buffer);
    }
}
