#!/usr/bin/env bash
# fuzz/run.sh BUILD SECONDS [RUNS] — runs every fuzz target of BUILD (a -DAHA_FUZZ=ON build) one
# after the other for SECONDS each (or until RUNS executions, -1 = no limit), starting from the
# committed seeds fuzz/corpus/<t> plus what earlier runs found (BUILD/fuzz-work/corpus/<t>, the
# only corpus libFuzzer writes to). Prints executions and exec/s per target from libFuzzer's final
# stats. Exits 1 if any target found something: the reproducer is in BUILD/fuzz-work/artifacts/<t>/
# (replay: BUILD/fuzz/fuzz_<t> FILE; once fixed, commit it to fuzz/corpus/<t>/).
# FUZZ_TARGETS="wire reward" limits the targets.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:?usage: fuzz/run.sh BUILD SECONDS [RUNS]}
SECS=${2:?usage: fuzz/run.sh BUILD SECONDS [RUNS]}
RUNS=${3:--1}
TARGETS=${FUZZ_TARGETS:-wire msg safetensors config_json config_yaml reward countdown}
work=$B/fuzz-work
fail=0
summary=()
for t in $TARGETS; do
  exe=$B/fuzz/fuzz_$t
  [ -x "$exe" ] || { echo "fuzz: $exe missing (make fuzz builds it)" >&2; exit 2; }
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  log=$work/$t.log
  echo "fuzz: $t for ${SECS}s$([ "$RUNS" != -1 ] && echo " or $RUNS runs") (log $log)"
  rc=0
  "$exe" "$work/corpus/$t" "fuzz/corpus/$t" -max_total_time="$SECS" -runs="$RUNS" \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" -timeout=10 -rss_limit_mb=2048 \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    fail=1
    echo "fuzz: $t FAILED (exit $rc):" >&2
    grep -E 'ERROR|SUMMARY|contract broken|Test unit written|runtime error' "$log" | head -20 >&2 || tail -30 "$log" >&2
    summary+=("$(printf '%-12s %12s %9s %6s  FINDING' "$t" "${execs:-?}" "${eps:-?}" "${units:-?}")")
  else
    summary+=("$(printf '%-12s %12s %9s %6s  ok' "$t" "${execs:-?}" "${eps:-?}" "${units:-?}")")
  fi
done
printf '%-12s %12s %9s %6s  %s\n' target executions exec/s new result
printf '%s\n' "${summary[@]}"
exit $fail
