#!/usr/bin/env bash
# Peak resident memory of the learner and of an actor in a short `aha train` run (2 actors,
# 2 verifiers) against what they need, computed from the config (`model_bench memory`:
# parameters + gradients + AdamW moments + the activations of prompts_per_step x group_size rows
# x max_seq_len for the learner; parameters + the KV cache of group_size rows for an actor).
# Peak = VmHWM in /proc/PID/status, read every 50 ms until the process exits (VmHWM only grows,
# so the last reading is the peak as long as the process lives past its first steps). That
# includes ~10 MB of shared-library pages (libc, OpenBLAS, libzmq, MPI: the same pages in every
# process); the ratios use the process's own memory, the largest RssAnon seen in those readings.
#   bench/rss.sh [demo|grpo]...      (default: both)   prints "key value" lines
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" --target aha model_bench > /dev/null
AHA="$BUILD/aha"
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2> /dev/null || true; }
anon() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2> /dev/null || true; }

measure() { # NAME PRESET T SETTINGS...
    local name=$1 preset=$2 T=$3
    shift 3
    local set=(--set run_dir="$tmp/$name" --set eval.n=5 --set eval.k=1 "$@")
    "$AHA" pretrain "${set[@]}" --set pretrain.steps=3 --set pretrain.batch_size=8 \
        > "$tmp/$name.pre.log" 2>&1 || { cat "$tmp/$name.pre.log" >&2; exit 1; }
    "$AHA" train "${set[@]}" --set rl.steps=4 --set rl.eval_every=1000 --set rl.actors=2 \
        --set rl.verifiers=2 > "$tmp/$name.log" 2>&1 &
    local learner=$! lk=0 ak=0 la=0 aa=0 pid kb
    declare -A seen
    while kill -0 "$learner" 2> /dev/null; do
        kb=$(hwm "$learner")
        [ -n "$kb" ] && [ "$kb" -gt "$lk" ] && lk=$kb
        kb=$(anon "$learner")
        [ -n "$kb" ] && [ "$kb" -gt "$la" ] && la=$kb
        for pid in $(pgrep -P "$learner" || true); do
            if [ -z "${seen[$pid]:-}" ]; then
                seen[$pid]=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null || true)
            fi
            case "${seen[$pid]}" in *" actor "*)
                kb=$(hwm "$pid")
                [ -n "$kb" ] && [ "$kb" -gt "$ak" ] && ak=$kb
                kb=$(anon "$pid")
                [ -n "$kb" ] && [ "$kb" -gt "$aa" ] && aa=$kb ;;
            esac
        done
        sleep 0.05
    done
    wait "$learner" || { cat "$tmp/$name.log" >&2; exit 1; }
    local G P
    G=$(grep -o 'group_size[^0-9]*[0-9]*' "$tmp/$name/rl/config.yaml" 2> /dev/null | head -1 | grep -o '[0-9]*$' || true)
    P=$(grep -o 'prompts_per_step[^0-9]*[0-9]*' "$tmp/$name/rl/config.yaml" 2> /dev/null | head -1 | grep -o '[0-9]*$' || true)
    G=${G:-8} P=${P:-16}
    declare -A need
    while read -r k v; do need[$k]=$v; done < <("$BUILD/model_bench" memory "$preset" $((G * P)) "$T" "$G")
    awk -v n="$name" -v lk="$lk" -v ak="$ak" -v la="$la" -v aa="$aa" -v ln="${need[learner_need_bytes]}" \
        -v an="${need[actor_need_bytes]}" -v pb="${need[param_bytes]}" -v ab="${need[acts_bytes]}" \
        -v kb="${need[kv_bytes]}" 'BEGIN {
        printf "%s.param_mb %.1f\n%s.acts_mb %.1f\n%s.kv_mb %.2f\n", n, pb / 1048576, n, ab / 1048576, n, kb / 1048576
        printf "%s.learner_peak_rss_mb %.1f\n%s.learner_peak_anon_mb %.1f\n", n, lk / 1024, n, la / 1024
        printf "%s.learner_need_mb %.1f\n%s.learner_ratio %.2f\n", n, ln / 1048576, n, la * 1024 / ln
        printf "%s.actor_peak_rss_mb %.1f\n%s.actor_peak_anon_mb %.1f\n", n, ak / 1024, n, aa / 1024
        printf "%s.actor_need_mb %.1f\n%s.actor_ratio %.2f\n", n, an / 1048576, n, aa * 1024 / an
    }'
}

for what in "${@:-demo grpo}"; do
    for w in $what; do
        case $w in
        demo) measure demo default 128 ;;
        grpo) measure grpo grpo 96 --set model.n_layers=4 --set model.max_seq_len=96 ;;
        *) echo "rss.sh: unknown config '$w' (demo | grpo)" >&2; exit 2 ;;
        esac
    done
done
