#!/usr/bin/env bash
# Data-parallel scaling on one machine: `purellama finetune` (LoRA r 16, all projections) as 1 process × 2 threads
# against `mpirun -np 2` × 1 thread each, same global batch, interleaved rounds. Prints tokens/s (global) per run
# step and the all-reduce time of rank 0 per step (waiting for the other rank included).  Usage: scripts/bench-distributed.sh [rounds] [models...]
# models: demo (models/demo) and 1b (a random Llama-3.2-1B-shaped BF16 checkpoint with the demo tokenizer).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}; shift || true
models=("${@:-demo 1b}")
cli=src/PureLlama.Cli/bin/Release/net10.0/PureLlama.Cli
[ -x "$cli" ] || dotnet build src/PureLlama.Cli -c Release >/dev/null
command -v mpirun >/dev/null || { echo "mpirun not found: apt-get install openmpi-bin libopenmpi-dev" >&2; exit 1; }
work=${BENCH_DIR:-/tmp/purellama-bench-distributed}
mkdir -p "$work"
one_b="$work/random-1b"
if [[ " ${models[*]} " == *" 1b "* ]] && [ ! -f "$one_b/tokenizer.json" ]; then
  "$cli" bench-decode --dir "$one_b" --layers 16 --prompt 1 --decode 1 --loading copied >/dev/null
  cp models/demo/tokenizer.json models/demo/tokenizer_config.json "$one_b/"
fi
args_for() {   # model → finetune arguments
  case $1 in
    demo) echo "--model models/demo --max-seq-length 128 --grad-accum 4 --batch-size 2 --max-steps 6" ;;
    1b) echo "--model $one_b --max-seq-length 128 --grad-accum 2 --batch-size 1 --max-steps 3" ;;
  esac
}
common="--data models/demo/instructions.jsonl --lora-r 16 --packing --save-steps 0 --overwrite --seed 3"
printf "%-5s %-16s %10s %22s  %s\n" model layout "tok/s" "all-reduce s/step" "load (1 min)"
for ((r = 1; r <= rounds; r++)); do
  for m in ${models[@]}; do
    for layout in "1x2" "2x1"; do
      out="$work/out-$m-$layout"
      if [ "$layout" = 1x2 ]; then
        log=$(PURELLAMA_THREADS=2 "$cli" finetune $(args_for "$m") $common --output "$out" --distributed none 2>&1)
      else
        log=$(PURELLAMA_THREADS=1 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 -x PURELLAMA_THREADS "$cli" finetune $(args_for "$m") $common --output "$out" 2>&1)
      fi
      tps=$(echo "$log" | sed -n 's/.*steps *\([0-9]*\), \([0-9.]*\) tokens\/s.*/\2/p' | tail -1)
      steps=$(echo "$log" | sed -n 's/.*steps *\([0-9]*\), .*/\1/p' | tail -1)
      ar=$(echo "$log" | sed -n 's/.*all-reduce *\([0-9.]*\) s.*/\1/p' | tail -1)
      per=$([ -n "$ar" ] && [ -n "$steps" ] && awk "BEGIN{printf \"%.3f\", $ar/$steps}" || echo -)
      printf "%-5s %-16s %10s %22s  %s\n" "$m" "$layout (round $r)" "${tps:-?}" "$per" "$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
