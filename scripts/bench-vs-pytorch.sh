#!/usr/bin/env bash
# Runs `purellama bench --vs-pytorch`: our SIMD kernels, then the same work in PyTorch, in one go.
#
#   scripts/bench-vs-pytorch.sh [bench options…]     e.g. --json perf.json --repeats 21
#
# PyTorch here is Debian 12's python3-torch (1.13, CPU) with OpenBLAS (libopenblas0-pthread,
# which becomes the system libblas.so.3 that torch links). Both are installed with apt-get when
# missing (needs root). The benchmark uses /usr/bin/python3 (Debian's), not a pyenv python on
# PATH. This machine sets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for old OpenBLAS builds, which hold
# OpenBLAS 0.3.21 to its Haswell (AVX2) kernels: they are unset for the benchmark command only
# (the bench command also drops them from PyTorch's environment; --keep-openblas-env keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
need=()
[[ -x $PY ]] || need+=(python3)
$PY -c 'import torch' 2>/dev/null || need+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
if (( ${#need[@]} )); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing: ${need[*]} — run as root, or: sudo apt-get install ${need[*]}" >&2
        exit 1
    fi
    echo "installing ${need[*]} with apt-get …" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

# Which BLAS torch will load (Debian's alternatives pick libblas.so.3).
if command -v update-alternatives >/dev/null; then
    echo "libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo '?')" >&2
fi
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (timings are only meaningful on an idle machine)" >&2

exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    dotnet run --project src/PureLlama.Cli -c Release -- bench --vs-pytorch --python "$PY" "$@"
