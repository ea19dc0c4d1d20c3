#!/usr/bin/env bash
# guard: what a run must refuse before it starts or saves anything — an empty run_dir, a config
# file that sets nothing, rules between keys (naming the file and the keys), sizes out of range in
# a checkpoint's config.json, NaN/Inf weights in a checkpoint (eval and train), and a non-finite
# pretraining loss (stop: error, no checkpoint; skip: counted in the metrics).
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"
cd "$tmp" || exit 1
TINY=(--set model.dim=32 --set model.moe_hidden=32 --set model.max_seq_len=64
      --set eval.n=2 --set eval.k=1 --set eval.max_new_tokens=8 --set rl.max_new_tokens=8)

# 1. run_dir (through `aha eval` of a missing checkpoint: the config is refused first, and the old
# behaviour, a run under /pretrain, cannot happen here)
out=$("$AHA" eval --checkpoint none --set run_dir= 2>&1); rc=$?
check "--set run_dir= is refused naming the key" "[ $rc -ne 0 ] && grep -q -- '--set run_dir: must not be empty' <<<\"\$out\"" || echo "$out"
printf 'run_dir: ""\npretrain:\n  steps: 1\n' > empty_dir.yaml
out=$("$AHA" eval --checkpoint none --config empty_dir.yaml 2>&1); rc=$?
check "run_dir: \"\" names file:line and key" "[ $rc -ne 0 ] && grep -q 'empty_dir.yaml:1: run_dir: must not be empty' <<<\"\$out\"" || echo "$out"
printf 'run_dir:\n' > null_dir.yaml
out=$("$AHA" eval --checkpoint none --config null_dir.yaml 2>&1); rc=$?
check "run_dir with no value is refused" "[ $rc -ne 0 ] && grep -q 'null_dir.yaml:1: run_dir: must not be empty' <<<\"\$out\"" || echo "$out"
check "nothing was written for them" "[ ! -e pretrain ] && [ -z \"\$(ls -A | grep -v yaml)\" ]"

# 2. a config file that sets nothing
: > empty.yaml
out=$("$AHA" eval --checkpoint none --config empty.yaml 2>&1); rc=$?
check "an empty config file is an error naming it" "[ $rc -ne 0 ] && grep -q 'empty.yaml: the config file sets no keys' <<<\"\$out\"" || echo "$out"
printf '# nothing here\n' > comments.yaml
out=$("$AHA" eval --checkpoint x --config comments.yaml 2>&1); rc=$?
check "a comment-only config file is an error naming it" "[ $rc -ne 0 ] && grep -q 'comments.yaml: the config file sets no keys' <<<\"\$out\"" || echo "$out"

# 3. rules between keys name the file and the keys
xfield() { # NAME YAML WANT
    printf "$2" > x.yaml
    out=$("$AHA" eval --checkpoint none --config x.yaml 2>&1); rc=$?
    check "$1" "[ $rc -ne 0 ] && grep -qF -- \"x.yaml: $3\" <<<\"\$out\"" || echo "$out"
}
xfield "heads not dividing dim" 'model:\n  dim: 64\n  n_heads: 3\n' 'model.dim (64) must be divisible by model.n_heads (3)'
xfield "top_k above the experts" 'model:\n  n_routed_experts: 2\n  top_k: 3\n' 'model.top_k must be in [1, model.n_routed_experts=2] (got 3)'
xfield "dense layers above layers" 'model:\n  n_layers: 2\n  n_dense_layers: 3\n' 'model.n_dense_layers must be in [0, model.n_layers=2]'
xfield "min digits above max" 'task:\n  min_digits: 5\n  max_digits: 3\n' 'task.min_digits (5) must be <= task.max_digits (3)'
xfield "min numbers above max" 'task:\n  kind: countdown\n  min_numbers: 5\n  max_numbers: 3\n' 'task.min_numbers (5) must be <= task.max_numbers (3)'
xfield "unknown task" 'task:\n  kind: sorting\n' 'task.kind: expected addition or countdown'
out=$("$AHA" eval --checkpoint none --set model.n_heads=3 --set model.dim=64 2>&1); rc=$?
check "--set cross-field names the keys" "[ $rc -ne 0 ] && grep -qF 'with --set: model.dim (64) must be divisible by model.n_heads (3)' <<<\"\$out\"" || echo "$out"

# 4. a checkpoint: config.json sizes, NaN weights
"$AHA" pretrain --set run_dir=run --set pretrain.steps=2 --set pretrain.batch_size=4 "${TINY[@]}" > log 2>&1
check "tiny pretrain" "[ -s run/pretrain/final/model.safetensors ]" || cat log
cp -r run/pretrain/final big
sed -i 's/"num_hidden_layers":[^,]*/"num_hidden_layers": 1000000000/' big/config.json
out=$(timeout 20 "$AHA" eval --checkpoint big "${TINY[@]}" 2>&1); rc=$?
check "num_hidden_layers 1e9 refused naming file and key" "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF 'big/config.json: \"num_hidden_layers\" must be in [1, 64]' <<<\"\$out\"" || echo "$out"
cp -r run/pretrain/final long
sed -i 's/"max_position_embeddings":[^,]*/"max_position_embeddings": 2147483647/' long/config.json
out=$(timeout 20 "$AHA" eval --checkpoint long "${TINY[@]}" 2>&1); rc=$?
check "max_position_embeddings 2^31-1 refused naming file and key" "[ $rc -ne 0 ] && grep -qF 'long/config.json: \"max_position_embeddings\" must be in' <<<\"\$out\"" || echo "$out"
cp -r run/pretrain/final nan
# 16 NaN weights in the first tensor's data (header: u64 length + JSON)
python3 - nan/model.safetensors <<'PY'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
t = sorted((v['data_offsets'][0], k) for k, v in h.items() if k != '__metadata__')[0]
at = 8 + n + t[0] + 64
b[at:at + 64] = struct.pack('<16f', *([float('nan')] * 16))
open(p, 'wb').write(b)
PY
out=$("$AHA" eval --checkpoint nan "${TINY[@]}" 2>&1); rc=$?
check "aha eval refuses NaN weights naming the file" "[ $rc -ne 0 ] && grep -q 'nan/model.safetensors: tensor .* has 16 non-finite values' <<<\"\$out\"" || echo "$out"
out=$("$AHA" train --set run_dir=run --set rl.init=nan --set rl.steps=1 --set rl.prompts_per_step=2 --set rl.group_size=2 "${TINY[@]}" 2>&1); rc=$?
check "aha train refuses NaN weights naming the file" "[ $rc -ne 0 ] && grep -q 'nan/model.safetensors: tensor .* has 16 non-finite values' <<<\"\$out\"" || echo "$out"
check "...and saves nothing" "[ ! -e run/rl/final ] && [ ! -e run/rl/checkpoint ]"

# 5. a non-finite pretraining loss
out=$(AHA_FAULT_NONFINITE_STEP=3 "$AHA" pretrain --set run_dir=nf --set pretrain.steps=4 --set pretrain.batch_size=4 --set pretrain.checkpoint_every=3 "${TINY[@]}" 2>&1); rc=$?
check "a NaN loss stops pretraining with the step named" "[ $rc -ne 0 ] && grep -q 'pretrain step 3: non-finite loss' <<<\"\$out\"" || echo "$out"
check "...and no checkpoint is written" "[ ! -e nf/pretrain/final ] && [ ! -e nf/pretrain/checkpoint ]"
out=$(AHA_FAULT_NONFINITE_STEP=3 "$AHA" pretrain --set run_dir=nfs --set pretrain.on_nonfinite=skip --set pretrain.steps=4 --set pretrain.batch_size=4 --set pretrain.log_every=1 "${TINY[@]}" 2>&1); rc=$?
check "with skip the run completes" "[ $rc -eq 0 ] && [ -s nfs/pretrain/final/model.safetensors ]" || echo "$out"
check "...counting the skipped step" "tail -n 1 nfs/pretrain/metrics.jsonl | grep -q '\"nonfinite_skipped\":1'" || tail -n 2 nfs/pretrain/metrics.jsonl

exit $fail
