#!/usr/bin/env bash
# Re-creates the demo model in models/demo from scratch with PureLlama alone:
#   fetch the KJV corpus (Debian's bible-kjv-text) → train a 4096-token byte-level BPE tokenizer →
#   pretrain a 3.8M-parameter Llama 3-architecture model (F32 master weights, AdamW, cosine) →
#   write it as BF16 safetensors in Hugging Face layout, with its tokenizer, generation config and
#   the demo instruction set.
#   usage: scripts/demo/recreate-demo-model.sh [WORK_DIR]   (default WORK_DIR: /tmp/purellama-demo-model)
# Pretraining takes about 35 minutes on 2 busy cores (see models/demo/README.md); it resumes from the
# latest checkpoint in WORK_DIR/pretrain if interrupted. Environment: STEPS (default 600), OUT (default models/demo).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/purellama-demo-model}"
steps="${STEPS:-600}"
out="${OUT:-$root/models/demo}"
mkdir -p "$work" "$out"
purellama() { dotnet run --project "$root/src/PureLlama.Cli" -c Release --no-build -- "$@"; }
dotnet build "$root/src/PureLlama.Cli" -c Release -v quiet -nologo

[ -s "$work/kjv.txt" ] || bash "$root/scripts/demo/fetch-corpus.sh" "$work/kjv.txt"
python3 "$root/scripts/demo/make-instructions.py" "$work/kjv.txt" "$out/instructions.jsonl"
purellama train-tokenizer --data "$work/kjv.txt" --vocab-size 4096 --out "$work/tokenizer"

# The architecture: Llama 3 (GQA, RoPE, SwiGLU, RMSNorm), tied embeddings, specials of the trained tokenizer.
cat > "$work/config.json" <<'JSON'
{
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "vocab_size": 4096,
  "hidden_size": 256,
  "intermediate_size": 688,
  "num_hidden_layers": 4,
  "num_attention_heads": 8,
  "num_key_value_heads": 2,
  "head_dim": 32,
  "hidden_act": "silu",
  "max_position_embeddings": 512,
  "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0,
  "tie_word_embeddings": true,
  "attention_bias": false,
  "mlp_bias": false,
  "initializer_range": 0.02,
  "bos_token_id": 4080,
  "eos_token_id": [4081, 4089],
  "torch_dtype": "bfloat16"
}
JSON
cat > "$work/generation_config.json" <<'JSON'
{
  "bos_token_id": 4080,
  "eos_token_id": [4081, 4089],
  "do_sample": false,
  "max_new_tokens": 64
}
JSON

start=$(date +%s)
resume=(); ls -d "$work"/pretrain/checkpoint-* >/dev/null 2>&1 && resume=(--resume)   # --resume with nothing to resume is an error
purellama pretrain --config "$work/config.json" --tokenizer "$work/tokenizer" --data "$work/kjv.txt" --output "$work/pretrain" \
  --max-steps "$steps" --batch-size 4 --max-seq-length 256 --eval-split 20 --eval-steps 200 --lr 1.5e-3 --warmup-steps 20 \
  --weight-decay 0.1 --save-steps 50 --save-total-limit 2 --seed 42 "${resume[@]}" | tee "$work/pretrain.log"
echo "pretraining: $(( $(date +%s) - start )) s"

cp "$work/generation_config.json" "$work/pretrain/model/"
purellama convert --model "$work/pretrain/model" --out "$out" --dtype bf16
cp "$work/pretrain/loss_curve.png" "$out/pretrain_loss.png"
echo "wrote $out:"; ls -la "$out"
