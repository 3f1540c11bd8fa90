#!/usr/bin/env bash
# PureLlama against llama.cpp on the same Llama-3.2-1B-shaped random model, on the CPU, same thread count,
# rounds interleaved (one PureLlama run, then one llama-bench run, per format), and the ratio table of issue 14.
#
#   scripts/bench-vs-llamacpp.sh [--rounds N] [--threads N] [--formats "bf16 nf4 …"] [--build-only]
#
# llama.cpp is not a dependency of the project and never enters the repository or CI: its source ships in the
# npm package node-llama-cpp@3.21.1 as a git bundle (llama/gitRelease.bundle). The script clones that bundle,
# builds llama-bench and llama-quantize with -DGGML_NATIVE=ON, and caches everything under .llamacpp/ (gitignored;
# LLAMACPP_CACHE moves it). The model: bench-decode's random BF16 checkpoint (16 layers, hidden 2048), exported
# to GGUF BF16 by `purellama export-gguf`, then Q4_0 and Q8_0 made by llama.cpp's own llama-quantize.
#
# Pairs: BF16 vs BF16; NF4 (lm_head too) vs Q4_0; INT4 RTN g128 (GPTQ layout, lm_head Q6_K on load: the format llama.cpp
# gives the head of its Q4_0 file) vs Q4_0; INT8 (lm_head
# too) vs Q8_0; and both engines on the same GGUF files, llama.cpp's Q4_0, Q8_0 and Q4_K_M (gguf-q4_0, gguf-q8_0,
# gguf-q4_k_m). --formats picks a subset (default: all seven). Both engines do the same work: a 128-token prefill from an
# empty cache, and 32 decode steps after 128 tokens of context. llama-bench: -t THREADS -mmp 0 -r 1 --poll 50,0 (the better
# of its two wait modes), once -p 128 -n 0 and once -p 0 -n 32 -d 128 (its tg test at depth 128; before 2026-12-06 10:00 the
# script ran llama.cpp's decode from an empty cache, i.e. with less attention work than ours); PureLlama: bench-decode
# --prompt 128 --decode 32 --runs 2 with its defaults (copied weights on transparent huge pages): two timed runs, the best
# prefill and decode kept, as llama-bench's two (before 2026-12-06 12:40 PureLlama had one timed run against its two).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LLAMACPP_CACHE:-$ROOT/.llamacpp}
ROUNDS=3 THREADS=2 BUILD_ONLY=0 FORMATS="bf16 nf4 int4 int8 gguf-q4_0 gguf-q8_0 gguf-q4_k_m"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --formats) FORMATS=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
mkdir -p "$CACHE"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# 1. llama.cpp source from the npm package's git bundle.
BUNDLE=$ROOT/tests/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle
if [ ! -f "$BUNDLE" ]; then
  BUNDLE=$CACHE/npm/package/llama/gitRelease.bundle
  if [ ! -f "$BUNDLE" ]; then
    log "fetching node-llama-cpp@3.21.1 with npm pack"
    mkdir -p "$CACHE/npm"
    (cd "$CACHE/npm" && npm pack --silent node-llama-cpp@3.21.1 >/dev/null && tar xzf node-llama-cpp-3.21.1.tgz package/llama/gitRelease.bundle)
  fi
fi
if [ ! -d "$CACHE/src/.git" ]; then
  log "cloning $BUNDLE"
  rm -rf "$CACHE/src"
  git -c advice.detachedHead=false clone -q "$BUNDLE" "$CACHE/src"
fi
VERSION="$(git -C "$CACHE/src" describe --tags --always 2>/dev/null) ($(git -C "$CACHE/src" log -1 --format=%cs))"

# 2. Build llama-bench and llama-quantize only.
if [ ! -x "$CACHE/build/bin/llama-bench" ] || [ ! -x "$CACHE/build/bin/llama-quantize" ]; then
  log "building llama.cpp $VERSION (llama-bench, llama-quantize; GGML_NATIVE=ON)"
  cmake -S "$CACHE/src" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF >"$CACHE/cmake.log" 2>&1 || { tail -20 "$CACHE/cmake.log" >&2; exit 1; }
  cmake --build "$CACHE/build" --target llama-bench llama-quantize -j "$THREADS" >"$CACHE/build.log" 2>&1 || { tail -30 "$CACHE/build.log" >&2; exit 1; }
fi
[ "$BUILD_ONLY" = 1 ] && { log "built llama.cpp $VERSION in $CACHE/build/bin"; exit 0; }

# 3. The models.
PL=(dotnet "$ROOT/src/PureLlama.Cli/bin/Release/net10.0/PureLlama.Cli.dll")
[ -f "${PL[1]}" ] || dotnet build "$ROOT/src/PureLlama.Cli" -c Release >/dev/null
export PURELLAMA_THREADS=$THREADS
DENSE=$CACHE/random-1b RTN=$CACHE/random-1b-rtn
if [ ! -f "$DENSE/config.json" ]; then
  log "writing the random 1B-shaped checkpoint"
  "${PL[@]}" bench-decode --dir "$DENSE" --prompt 8 --decode 2 --loading mapped --bandwidth-gbs 60 >/dev/null
fi
# llama.cpp needs a tokenizer in the GGUF whose vocabulary matches the model (128256): the Llama 3 tokenizer.
if [ ! -f "$DENSE/tokenizer.json" ]; then
  TOK=${LLAMA3_TOKENIZER_DIR:-$ROOT/../shared/fixtures/llama3-tokenizer}
  [ -f "$TOK/tokenizer.json" ] || { echo "set LLAMA3_TOKENIZER_DIR to a folder with Llama 3's tokenizer.json and tokenizer_config.json" >&2; exit 2; }
  cp "$TOK/tokenizer.json" "$TOK/tokenizer_config.json" "$DENSE/"
fi
[ -f "$RTN/config.json" ] || { log "INT4 RTN copy"; "${PL[@]}" quantize --model "$DENSE" --format rtn --group-size 128 --out "$RTN" --force >/dev/null; }
[ -f "$CACHE/1b-bf16.gguf" ] || { log "GGUF BF16 export"; "${PL[@]}" export-gguf --model "$DENSE" --type bf16 --out "$CACHE/1b-bf16.gguf" >/dev/null; }
for q in Q4_0 Q8_0 Q4_K_M; do
  [ -f "$CACHE/1b-$q.gguf" ] || "$CACHE/build/bin/llama-quantize" "$CACHE/1b-bf16.gguf" "$CACHE/1b-$q.gguf" "$q" "$THREADS" >"$CACHE/quantize-$q.log" 2>&1
done

# 4. Interleaved rounds. Each line of $RESULTS: round format engine prefill_tok_s decode_tok_s load read_gbs_2mib read_gbs_4kib.
RESULTS=$CACHE/results-$(date -u +%Y%m%dT%H%M%S).tsv
pl_run() {  # args: bench-decode options; prints "prefill decode"; bench-decode's whole report goes to $RESULTS.log
  # Two timed runs, the best prefill and the best decode kept: as many as llama-bench gets below (one per wait mode).
  "${PL[@]}" bench-decode --loading copied --prompt 128 --decode 32 --runs 2 "$@" | tee -a "${RESULTS%.tsv}.log" |
    sed -n 's/.*prefill [0-9]* tok: \([0-9.]*\) tok\/s | decode [0-9]* tok: \([0-9.]*\) tok\/s.*/\1 \2/p' | head -1
}
lc_run() {  # args: gguf; prints "prefill decode"
  # Both of llama.cpp's wait modes, the better of each kept: --poll 50 (its default: workers spin between ops, fastest
  # on an idle machine) and --poll 0 (workers sleep: what holds up when other processes share the cores).
  # Prefill from an empty cache, decode at depth 128 (as bench-decode: 32 steps after a 128-token prompt).
  { "$CACHE/build/bin/llama-bench" -m "$1" -t "$THREADS" -p 128 -n 0 -mmp 0 -r 1 --poll 50,0 -o csv 2>/dev/null
    "$CACHE/build/bin/llama-bench" -m "$1" -t "$THREADS" -p 0 -n 32 -d 128 -mmp 0 -r 1 --poll 50,0 -o csv 2>/dev/null; } |
    awk -F, '/n_prompt/ { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); c[$i] = i } next }
             { gsub(/"/, ""); v = $c["avg_ts"] + 0; if ($c["n_prompt"] > 0) { if (v > p) p = v } else if (v > d) d = v } END { print p, d }'
}
load() { cut -d' ' -f1 /proc/loadavg; }
probe() {  # the host's read bandwidth now, GB/s: "on 2 MiB pages  on 4 KiB pages" (PureLlama's weights get the former)
  "${PL[@]}" bench --roofline-only --bandwidth-mib 512 | sed -n 's/.* read \([0-9.]*\) GB\/s (4 KiB pages: \([0-9.]*\)).*/\1 \2/p'
}
for r in $(seq 1 "$ROUNDS"); do
  for f in $FORMATS; do
    case $f in
      bf16) pl=(--dir "$DENSE"); gguf=$CACHE/1b-bf16.gguf ;;
      nf4) pl=(--dir "$DENSE" --quantize nf4 --quantize-lm-head); gguf=$CACHE/1b-Q4_0.gguf ;;
      int4) pl=(--model "$RTN" --quantize int8 --lm-head-format q6_k); gguf=$CACHE/1b-Q4_0.gguf ;;
      int8) pl=(--dir "$DENSE" --quantize int8 --quantize-lm-head); gguf=$CACHE/1b-Q8_0.gguf ;;
      gguf-q4_0) gguf=$CACHE/1b-Q4_0.gguf; pl=(--model "$gguf") ;;
      gguf-q8_0) gguf=$CACHE/1b-Q8_0.gguf; pl=(--model "$gguf") ;;
      gguf-q4_k_m) gguf=$CACHE/1b-Q4_K_M.gguf; pl=(--model "$gguf") ;;
      *) echo "unknown format $f" >&2; exit 2 ;;
    esac
    log "round $r $f"
    echo "$r $f purellama $(pl_run "${pl[@]}") $(load) $(probe)" >>"$RESULTS"
    echo "$r $f llama.cpp $(lc_run "$gguf") $(load) $(probe)" >>"$RESULTS"
  done
done

# 5. The table: medians over the rounds, ratio PureLlama / llama.cpp.
echo "llama.cpp $VERSION (node-llama-cpp@3.21.1 bundle), $THREADS threads, $ROUNDS interleaved rounds, $(date -u +%Y-%m-%d); load during runs: $(awk '{print $6}' "$RESULTS" | sort -n | sed -n '1p;$p' | paste -sd-)"
echo
"${PL[@]}" versus-report --results "$RESULTS" --png "${RESULTS%.tsv}.png"
echo "(PureLlama's weights sit on 2 MiB pages; llama.cpp's on 4 KiB pages unless THP is 'always': $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null))"
echo
echo "raw rounds: $RESULTS; PureLlama's reports (step vs sweep, sweep vs the read bandwidth): ${RESULTS%.tsv}.log"
