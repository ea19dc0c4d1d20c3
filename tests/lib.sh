# tests/lib.sh — sourced by the shell tests (main/*_test.sh, tests/*.sh).
# check NAME COND: evaluates COND, prints "ok: NAME" or "FAIL: NAME" and returns COND's status, so
# `check ... || diagnostics` runs the diagnostics on a failure; any failure sets fail=1, which the
# script returns at its end (`exit $fail`).
fail=0
export OPENBLAS_NUM_THREADS=1 # one BLAS thread: the tests' processes share two cores
check() {
    if eval "$2"; then
        echo "ok: $1"
        return 0
    fi
    echo "FAIL: $1"
    fail=1
    return 1
}

# check_loss_drops NAME METRICS FACTOR: checks that the "loss" of the last row of the metrics file
# METRICS is below FACTOR times the first row's (NAME is printed with both).
check_loss_drops() {
    local first last
    first=$(head -n 1 "$2" | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
    last=$(tail -n 1 "$2" | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
    check "$1 ($first -> $last)" "awk -v a=\"$first\" -v b=\"$last\" 'BEGIN{exit !(b < $3*a)}'"
}

# The integration tests' small model ($small: --set options, unless the script set its own) and its
# base: small_base STEPS pretrains it into $tmp/base/pretrain/final (log $tmp/pre.log, printed
# with exit 1 on failure).
declare -p small > /dev/null 2>&1 || small=(--set model.dim=32 --set model.moe_hidden=32 --set eval.n=5 --set eval.k=2)
small_base() {
    "$AHA" pretrain --set run_dir="$tmp/base" --set pretrain.steps="$1" --set pretrain.batch_size=16 \
        --set pretrain.warmup=5 "${small[@]}" > "$tmp/pre.log" 2>&1 || { cat "$tmp/pre.log"; exit 1; }
}
# col RUN KEY: KEY's value in the last row of $tmp/RUN/rl/metrics.jsonl that has it.
col() { grep -o "\"$2\":[0-9.e+-]*" "$tmp/$1/rl/metrics.jsonl" | tail -n 1 | cut -d: -f2; }

# held_out CHECKPOINT OUT [--set key=value]...: the held-out evaluation of CHECKPOINT (200
# problems x 4 samples) into the JSON file OUT; exits the test with 1 if it fails.
held_out() {
    local checkpoint=$1 out=$2
    shift 2
    "$AHA" eval --checkpoint "$checkpoint" "$@" --n 200 --k 4 --out "$out" > /dev/null 2>&1 ||
        exit 1
}
# json_num FILE KEY: the number under "KEY" in the JSON file FILE (the first one).
json_num() { sed -n "s/.*\"$2\":[[:space:]]*\([0-9.e-]*\).*/\1/p" "$1" | head -n 1; }

# need_mpirun: exits the test with 77 (CTest: skipped; .ci/run fails on a skip) when mpirun is
# missing.
need_mpirun() {
    command -v mpirun >/dev/null 2>&1 && return 0
    echo "SKIP: mpirun not found (install openmpi-bin: deploy/install-deps.sh)"
    exit 77
}

# mpi_test_begin AHA_BINARY: the start of the MPI tests: need_mpirun, then AHA = the binary's
# absolute path (what the ranks start) and tmp = a new directory, removed at exit together with
# any process the test left running.
mpi_test_begin() {
    need_mpirun
    AHA=$(readlink -f "${1:?path to aha}")
    tmp=$(mktemp -d)
    trap 'kill -KILL $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
}
