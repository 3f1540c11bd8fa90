#!/usr/bin/env bash
# GPU runs from a machine without a GPU, for a machine without .NET (the NVIDIA driver and PyTorch only).
#
#   scripts/gpu/run.sh publish [DIR]   here (with the .NET SDK): publish `purellama` self-contained for
#                                      linux-x64 into DIR (default .gpu/purellama, git-ignored, ~40 MB),
#                                      with the PyTorch scripts and the llama3-tiny fixture beside it.
#   scripts/gpu/run.sh device  [DIR]   there, from the repository root: every kernel against its float64
#                                      reference on CUDA (selftest), the backend benchmarks on CUDA, and
#                                      the same work in PyTorch (torch.matmul, SDPA) for ratios.
set -euo pipefail
mode=${1:?usage: run.sh publish|device [DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${2:-$root/.gpu/purellama}
case "$mode" in
  publish)
    dotnet publish "$root/src/PureLlama.Cli" -c Release -r linux-x64 --self-contained \
      -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
      -p:EnableCompressionInSingleFile=true -p:InvariantGlobalization=true -o "$dir"
    rm -f "$dir"/*.pdb "$dir"/*.xml
    cp "$root/scripts/gpu/torch_matmul.py" "$root/scripts/gpu/check_llama_fixture.py" "$root/benchmarks/pytorch/attention.py" "$dir/"
    fixtures="$root/../shared/fixtures/llama3-tiny"
    if [ -d "$fixtures" ]; then rm -rf "$dir/llama3-tiny"; cp -r "$fixtures" "$dir/llama3-tiny"; chmod -R u+w "$dir/llama3-tiny"; fi
    du -sh "$dir"
    ;;
  device)
    out=${OUT:-$dir/out}
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
    "$dir/PureLlama.Cli" selftest --device cuda 2>&1 | tee "$out/selftest-cuda.txt"
    if [ -d "$dir/llama3-tiny" ]; then
      # The Llama forward on CUDA against Hugging Face's logits and greedy tokens (llama3-tiny fixture).
      fx="$dir/llama3-tiny"
      ids=$(python3 -c "import json;print(','.join(map(str,json.load(open('$fx/reference.json'))['prompt'])))")
      for w in f32 bf16; do
        "$dir/PureLlama.Cli" logits --model "$fx/$w" --device cuda --prompt-ids "$ids" --out "$out/logits-$w.npy"
        "$dir/PureLlama.Cli" generate --model "$fx/$w" --device cuda --prompt-ids "$ids" --max-new-tokens 20 --temperature 0 --print-ids \
          | grep -o 'ids: .*' | sed 's/ids: //' > "$out/greedy-$w.txt"
      done
      python3 "$dir/check_llama_fixture.py" "$fx" "$out/logits-f32.npy" "$out/logits-bf16.npy" "$out/greedy-f32.txt" "$out/greedy-bf16.txt" \
        2>&1 | tee "$out/llama-fixture-cuda.txt"
    fi
    # Device benchmarks, the decode GEMVs included (bf16; nf4, int8, int4group exact; int8 and int4group dp4a), then
    # PyTorch's matmul and its bf16/f16 GEMV of the same decode shape (torch_matmul.py) for the ratios.
    "$dir/PureLlama.Cli" bench --device cuda --repeats 9 2>&1 | tee "$out/bench-cuda.txt"
    "$dir/PureLlama.Cli" bench-decode --device cuda --loading copied --decode 64 2>&1 | tee "$out/bench-decode-cuda.txt"
    python3 "$dir/torch_matmul.py" 4096 20 2>&1 | tee "$out/torch-matmul.txt"
    python3 "$dir/attention.py" --device cuda --seq 512 1024 2048 4096 2>&1 | tee "$out/torch-attention.txt"
    ;;
  *) echo "usage: run.sh publish|device [DIR]" >&2; exit 2 ;;
esac
