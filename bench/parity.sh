#!/usr/bin/env bash
# Learning parity (docs/rl.md "Learning parity"): aha against the PyTorch twin of the same recipe
# (../shared/reference/torch_grpo_addition.py, kept outside the repository) on 3-5 digit addition,
# at equal pretraining wall time, one thread each, one after the other on a quiet machine.
#   1. aha pretrain configs/addition35.yaml (400 steps); its wall time W is the budget;
#   2. the twin pretrains for W seconds (its learning-rate schedule spans its budget);
#   3. both bases evaluated on 200 held-out problems at temperature 0.6 (aha: 4 samples each);
#   4. GRPO on aha's base (150 steps) and a random-reward control from the same base, 8 samples;
#   5. where the base and the GRPO model fail (bench/addition_failures.py on the samples).
#   bash bench/parity.sh [TWIN_SCRIPT]        (~12 min on 2 cores)
# Writes runs/parity/. Needs the build (make build) and /usr/bin/python3 with Debian's torch.
set -euo pipefail
cd "$(dirname "$0")/.."
AHA=${AHA:-${BUILD:-build}/aha}
TWIN=${1:-../shared/reference/torch_grpo_addition.py}
CFG=configs/addition35.yaml
OUT=runs/parity
export OPENBLAS_NUM_THREADS=1
rm -rf "$OUT" && mkdir -p "$OUT"
[ -f "$TWIN" ] || { echo "parity: twin script $TWIN not found" >&2; exit 2; }

echo "== aha pretrain ($CFG) =="
"$AHA" pretrain "$CFG" --set run_dir="$OUT/aha" > "$OUT/aha_pretrain.log" 2>&1
W=$(sed -n 's/.*pretrain\(ing\)\{0,1\} done in \([0-9.]*\)s.*/\2/p' "$OUT/aha_pretrain.log")
echo "aha: 400 steps in ${W}s"
echo "== twin pretrain for ${W}s =="
/usr/bin/python3 "$TWIN" --mode pretrain --threads 1 --minutes "$(awk -v w="$W" 'BEGIN{print w/60}')" \
  --ckpt "$OUT/twin/base.pt" --log "$OUT/twin_pretrain.log" > /dev/null
twin_steps=$(sed -n 's/^pretrain done steps \([0-9]*\).*/\1/p' "$OUT/twin_pretrain.log")
twin_acc=$(sed -n 's/^EVAL base .*"acc": \([0-9.]*\).*/\1/p' "$OUT/twin_pretrain.log")
twin_trace=$(sed -n 's/^EVAL base .*"acc_in_trace": \([0-9.]*\).*/\1/p' "$OUT/twin_pretrain.log")

echo "== aha GRPO and random-reward control =="
"$AHA" train "$CFG" --set run_dir="$OUT/aha" > "$OUT/aha_grpo.log" 2>&1
"$AHA" train "$CFG" --set run_dir="$OUT/control" --set rl.init="$OUT/aha/pretrain/final" \
  --set rl.random_reward=true > "$OUT/aha_control.log" 2>&1
ev() { "$AHA" eval --checkpoint "$1" "$CFG" --k 8 --out "$2.json" --samples "$2.jsonl" > /dev/null 2>&1; }
ev "$OUT/aha/pretrain/final" "$OUT/base"
ev "$OUT/aha/rl/final" "$OUT/grpo"
ev "$OUT/control/rl/final" "$OUT/control"
get() { sed -n "s/.*\"$2\":[[:space:]]*\([0-9.e-]*\).*/\1/p" "$1" | head -n 1; }
pct() { awk -v x="$1" 'BEGIN{printf "%.1f%%", 100*x}'; }
echo
echo "| model (3-5 digits, held-out) | pretraining | pass@1 | format | response tokens |"
echo "|---|---|---|---|---|"
echo "| PyTorch twin base | ${twin_steps} steps, ${W}s | $(pct "$twin_acc") (traces $(pct "$twin_trace") correct) | | |"
for r in base grpo control; do
  echo "| aha $r | 400 steps, ${W}s | $(pct "$(get "$OUT/$r.json" 'pass@1')") | $(pct "$(get "$OUT/$r.json" format_rate)") | $(get "$OUT/$r.json" response_len_mean) |"
done
echo
/usr/bin/python3 bench/addition_failures.py "$OUT/base.jsonl" "$OUT/grpo.jsonl"
