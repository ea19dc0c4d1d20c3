#!/usr/bin/env bash
# RL ablations on the demo config, all from the same pretrained base and seed: the random-reward
# control, bounded staleness k = 1, 2 with each off-policy correction, R3 on/off and grpo vs gspo with several optimisation steps per batch (where the policy
# moves away from the rollout's and routing can drift), dapo and dr_grpo. Prints one table:
# held-out accuracy at every periodic eval (rl.eval_n problems, 1 sample each: noisy, +-5 points),
# the final model's pass@1 over 200 problems x 8 samples and its format rate, mean/max clip
# fraction, mean behaviour-to-current KL (ppo_kl), last-10-step reward and the largest
# routed-expert share at the end.
#   bash bench/rl_ablations.sh [variant ...]      (default: all; ~15 min on 2 cores)
# Writes runs/ablations/<variant>/. Needs the build (make build) — uses $BUILD/aha.
set -euo pipefail
# shellcheck source=deploy/env.sh
. "$(dirname "$0")/../deploy/env.sh"
CFG=configs/demo.yaml
OUT=runs/ablations

declare -A SETS=(
  [grpo]=""
  [random_reward]="rl.random_reward=true"
  [grpo_2x4_r3]="rl.epochs=2 rl.minibatches=4 rl.r3=true"
  [grpo_2x4_nor3]="rl.epochs=2 rl.minibatches=4 rl.r3=false"
  [gspo_2x4]="rl.loss=gspo rl.epochs=2 rl.minibatches=4"
  [dapo]="rl.loss=dapo rl.eps_high=0.28 rl.dynamic_sampling=true rl.w_overlong=1 rl.overlong_cache=16"
  [dr_grpo]="rl.loss=dr_grpo rl.normalize_std=false"
  [k1_clip]="rl.max_staleness=1 rl.off_policy=clip"
  [k1_tis]="rl.max_staleness=1 rl.off_policy=tis"
  [k1_decoupled]="rl.max_staleness=1 rl.off_policy=decoupled"
  [k2_clip]="rl.max_staleness=2 rl.off_policy=clip"
  [k2_tis]="rl.max_staleness=2 rl.off_policy=tis"
  [k2_decoupled]="rl.max_staleness=2 rl.off_policy=decoupled"
)
ORDER=(grpo random_reward grpo_2x4_r3 grpo_2x4_nor3 gspo_2x4 dapo dr_grpo k1_clip k1_tis
       k1_decoupled k2_clip k2_tis k2_decoupled)
[ $# -gt 0 ] && ORDER=("$@")
mkdir -p "$OUT"

"$AHA" pretrain "$CFG" --cached-ok >/dev/null
BASE=$(sed -n 's/^run_dir: *//p' "$CFG")/pretrain/final
for v in "${ORDER[@]}"; do
  [ -n "${SETS[$v]+x}" ] || { echo "rl_ablations: unknown variant '$v' (known: ${!SETS[*]})" >&2; exit 2; }
  args=(--set "run_dir=$OUT/$v" --set "rl.init=$BASE")
  for s in ${SETS[$v]}; do args+=(--set "$s"); done
  echo "== $v: ${SETS[$v]:-demo config} =="
  start=$(date +%s)
  log="$OUT/$v.log"
  "$AHA" train "$CFG" "${args[@]}" >"$log" 2>&1 || { echo "  failed, see $log" >&2; exit 1; }
  "$AHA" eval --checkpoint "$OUT/$v/rl/final" "$CFG" "${args[@]}" --k 8 --out "$OUT/$v/eval.json" >>"$log" 2>&1 ||
    { echo "  eval failed, see $log" >&2; exit 1; }
  echo "  $(( $(date +%s) - start )) s"
done

/usr/bin/python3 - "$OUT" "${ORDER[@]}" <<'PY'
import json, sys
out, variants = sys.argv[1], sys.argv[2:]
print(f"\n{'variant':<15} {'accuracy at each eval':<30} {'pass@1':>6} {'format':>6} {'clip mean/max':>13} {'ppo_kl':>8} {'reward':>6} {'max share':>9}")
for v in variants:
    rows = [json.loads(l) for l in open(f"{out}/{v}/rl/metrics.jsonl")]
    ev = [r["eval_accuracy"] for r in rows if "eval_accuracy" in r]
    tr = [r for r in rows if "reward_mean" in r]
    clip = [r["clip_frac"] for r in tr]
    kl = [r["ppo_kl"] for r in tr]
    last = tr[-10:]
    curve = " ".join(f"{round(100 * a):d}" for a in ev)
    final = json.load(open(f"{out}/{v}/eval.json"))
    print(f"{v:<15} {curve:<30} {100 * final['pass@1']:5.1f}% {100 * final['format_rate']:5.1f}% "
          f"{sum(clip)/len(clip):6.3f}/{max(clip):5.3f} {sum(kl)/len(kl):8.1e} "
          f"{sum(r['reward_mean'] for r in last)/len(last):6.3f} {tr[-1]['expert_load_max_share']:9.3f}")
PY
