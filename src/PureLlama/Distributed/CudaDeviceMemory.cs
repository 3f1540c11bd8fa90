using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>Device pointers and CUDA streams of tensors on the ILGPU CUDA backend, for NCCL.</summary>
internal sealed class CudaDeviceMemory : IDeviceMemory
{
    public bool TryLocate(Tensor tensor, out nint pointer, out nint stream)
    {
        pointer = stream = 0;
        if (tensor.Device.Kind == DeviceKind.Cpu) return false;
        if (tensor.Storage is not IlgpuStorage storage || Backends.Get(tensor.Device) is not IlgpuBackend backend || backend.Stream is not CudaStream cuda)
            throw new ArgumentException($"NCCL moves CUDA tensors; this one lives on {tensor.Device}.", nameof(tensor));
        var view = storage.View<byte>(tensor.Offset * tensor.DType.SizeOf(), tensor.ByteLength);
        pointer = view.LoadEffectiveAddressAsPtr();
        stream = cuda.StreamPtr;
        return true;
    }

    public void Synchronize(Tensor tensor) => Backends.Get(tensor.Device).Synchronize();
}
