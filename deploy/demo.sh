#!/usr/bin/env bash
# make demo: pretrain the tiny MoE on the addition corpus (reused when the config is unchanged),
# run R1-Zero-style GRPO on it, evaluate base and trained models, and plot the curves.
# Writes runs/demo/. Extra arguments (e.g. --set rl.steps=20) go to every command.
set -euo pipefail
# shellcheck source=deploy/env.sh
. "$(dirname "$0")/env.sh"
CFG=configs/demo.yaml
RUN=runs/demo

echo "== 1/5 pretraining a ~1M-parameter MoE on addition ($CFG) =="
"$AHA" pretrain "$CFG" --cached-ok "$@"

echo
echo "== 2/5 a few samples from the base model (temperature 0.6) =="
"$AHA" sample --checkpoint "$RUN/pretrain/final" "$CFG" --n 6 "$@"

echo
echo "== 3/5 GRPO (R1-Zero template, rule rewards: 1 correct+formatted / 0.1 formatted / 0) =="
# asynchronous rollouts with one version of lag (docs/rl.md "Bounded staleness"): the actors sample
# step s+1 from version s while the learner trains step s; bit-identical to an in-process run with
# the same setting, it learns as well as k = 0, and --resume continues it exactly (the config
# file keeps k = 0 because it is also the embedded default config)
"$AHA" train "$CFG" --set rl.max_staleness=1 "$@"

echo
echo "== 4/5 held-out evaluation: base vs trained (pass@1 over k=8 samples, cons@8) =="
echo "-- base --"
"$AHA" eval --checkpoint "$RUN/pretrain/final" "$CFG" --k 8 --out "$RUN/eval_base.json" "$@"
echo "-- trained --"
"$AHA" eval --checkpoint "$RUN/rl/final" "$CFG" --k 8 --out "$RUN/eval_trained.json" "$@"
"$AHA" sample --checkpoint "$RUN/rl/final" "$CFG" --n 4 "$@"

echo
echo "== 5/5 plots =="
"$AHA" plot "$RUN"
echo "metrics: $RUN/pretrain/metrics.jsonl $RUN/rl/metrics.jsonl"
