#!/usr/bin/env bash
# make demo: pretrain the tiny MoE on the addition corpus (reused when the config is unchanged),
# then evaluate it and show a few samples. Writes runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
AHA=${AHA:-build/aha}
RUN=runs/demo
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

echo "== 1. pretraining a ~1M-parameter MoE on addition (configs/demo.yaml) =="
"$AHA" pretrain configs/demo.yaml --cached-ok "$@"

echo
echo "== 2. a few samples from the base model (temperature 0.6) =="
"$AHA" sample --checkpoint "$RUN/pretrain/final" configs/demo.yaml --n 6 "$@" | head -n 6

echo
echo "== 3. held-out evaluation of the base model =="
"$AHA" eval --checkpoint "$RUN/pretrain/final" configs/demo.yaml --k 4 --out "$RUN/pretrain/final/eval.json" "$@"

echo
echo "== 4. plots =="
bash tools/plot_metrics.sh "$RUN/pretrain/metrics.jsonl" "$RUN/pretrain/loss.png" step loss
echo "metrics: $RUN/pretrain/metrics.jsonl  plot: $RUN/pretrain/loss.png"
