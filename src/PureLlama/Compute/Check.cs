using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Argument checks shared by the backends; each message names the argument and the tensor.</summary>
internal static class Check
{
    public static void OnDevice(IBackend backend, Tensor t, string name)
    {
        t.ThrowIfDisposed();
        if (t.Device != backend.Device) throw new ArgumentException($"{name}: {t.Describe()} is not on {backend.Device}.", name);
    }

    public static void Contiguous(Tensor t, string name)
    {
        if (!t.IsContiguous) throw new ArgumentException($"{name}: {t.Describe()} must be contiguous.", name);
    }

    public static void DType(Tensor t, DType dtype, string name)
    {
        if (t.DType != dtype) throw new ArgumentException($"{name}: {t.Describe()} must be {dtype}.", name);
    }

    public static void Shape(Tensor t, Shape shape, string name)
    {
        if (t.Shape != shape) throw new ArgumentException($"{name}: {t.Describe()} must have shape {shape}.", name);
    }

    public static void Writable(Tensor t, string name)
    {
        if (t.Storage.IsReadOnly) throw new ArgumentException($"{name}: {t.Describe()} is read-only (a mapped file).", name);
    }

    /// <summary>Contiguous F32 on the backend's device: the common case of op arguments.</summary>
    public static void F32(IBackend backend, Tensor t, string name)
    {
        OnDevice(backend, t, name);
        Contiguous(t, name);
        DType(t, PureLlama.Tensors.DType.F32, name);
    }

    /// <summary>Like <see cref="F32"/> and also writable: an output.</summary>
    public static void F32Out(IBackend backend, Tensor t, string name)
    {
        F32(backend, t, name);
        Writable(t, name);
    }

    /// <summary>Contiguous F32 or BF16 (a weight used as stored).</summary>
    public static void F32OrBf16(IBackend backend, Tensor t, string name)
    {
        OnDevice(backend, t, name);
        Contiguous(t, name);
        if (t.DType is not (PureLlama.Tensors.DType.F32 or PureLlama.Tensors.DType.BF16))
            throw new ArgumentException($"{name}: {t.Describe()} must be F32 or BF16.", name);
    }

    public static void SameShape(Tensor a, Tensor b, string nameA, string nameB)
    {
        if (a.Shape != b.Shape) throw new ArgumentException($"{nameB}: {b.Describe()} must have the shape of {nameA} {a.Shape}.", nameB);
    }

    /// <summary>Both sides of a dtype cast: on the device, contiguous, same shape, destination writable.</summary>
    public static void CastArguments(IBackend backend, Tensor source, Tensor destination)
    {
        OnDevice(backend, source, nameof(source));
        OnDevice(backend, destination, nameof(destination));
        Contiguous(source, nameof(source));
        Contiguous(destination, nameof(destination));
        Writable(destination, nameof(destination));
        SameShape(source, destination, nameof(source), nameof(destination));
    }

    /// <summary>Elements as an int count, or an error for tensors too large for one kernel call.</summary>
    public static int Int(long n, string what) =>
        n <= int.MaxValue ? (int)n : throw new ArgumentException($"{what}: {n} elements exceed the 2^31 limit of one kernel call.");
}
