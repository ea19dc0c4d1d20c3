# tests/lib.sh — sourced by the shell tests (main/*_test.sh, tests/*.sh).
# check NAME COND: evaluates COND, prints "ok: NAME" or "FAIL: NAME" and returns COND's status, so
# `check ... || diagnostics` runs the diagnostics on a failure; any failure sets fail=1, which the
# script returns at its end (`exit $fail`).
fail=0
check() {
    if eval "$2"; then
        echo "ok: $1"
        return 0
    fi
    echo "FAIL: $1"
    fail=1
    return 1
}
