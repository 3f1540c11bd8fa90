#!/usr/bin/env bash
# GPU matmul check and benchmark for a machine with the NVIDIA driver and PyTorch but no .NET.
#
# Here (with the .NET SDK): publishes scripts/gpu/matmul-probe self-contained into OUT
# (default <repo>/.gpu/matmul, git-ignored, ~40 MB) together with torch_matmul.py.
# There: run the printed command. The probe checks every GpuMatmul path against a float64
# reference (ragged shapes, all transposes, accumulate, poisoned padding) and times F32 tiled,
# BF16 tensor-core and the bf16 GEMV; torch_matmul.py times cuBLAS at the same 4096^3.
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
out=${1:-$root/.gpu/matmul}
dotnet publish "$root/scripts/gpu/matmul-probe" -c Release -r linux-x64 --self-contained \
  -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
  -p:EnableCompressionInSingleFile=true -p:InvariantGlobalization=true -o "$out"
rm -f "$out"/*.pdb "$out"/*.xml
cp "$root/scripts/gpu/torch_matmul.py" "$out/"
if [[ $out == "$root"/* ]]; then dir="./${out#"$root"/}"; else dir=$out; fi
echo "on the GPU machine, from the repo root:"
echo "  $dir/matmul-probe all 4096 && PURELLAMA_PTX_GEMM=1 $dir/matmul-probe all 4096 && python3 $dir/torch_matmul.py 4096 20"
echo "  (the second run routes BF16 A·Bᵀ through the PTX-builder GEMM, kernels/PureLlama.Kernels/Gpu/Ptx, checks it and times it)"
