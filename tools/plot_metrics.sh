#!/usr/bin/env bash
# plot_metrics.sh METRICS.jsonl OUT.png XKEY YKEY [YKEY...] — line plot of JSONL metric keys (gnuplot).
set -euo pipefail
in=$1; out=$2; x=$3; shift 3
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# one column per key, in order; missing/null -> NaN
awk -v keys="$x $*" 'BEGIN { n = split(keys, k, " ") }
{ line = "";
  for (i = 1; i <= n; i++) {
    v = "NaN"; pat = "\"" k[i] "\":";
    p = index($0, pat);
    if (p) { s = substr($0, p + length(pat)); sub(/[,}].*/, "", s); if (s != "null") v = s }
    line = line (i > 1 ? "\t" : "") v }
  print line }' "$in" > "$tmp"
plots=""
i=2
for y in "$@"; do
  plots="$plots${plots:+, }'$tmp' using 1:$i with lines lw 2 title '$y'"
  i=$((i + 1))
done
gnuplot -e "set terminal png size 900,500; set output '$out'; set xlabel '$x'; set grid; set key top right; plot $plots"
