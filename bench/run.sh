#!/usr/bin/env bash
# make bench: the model's throughput beside the bounds measured in this same run (machines differ
# and this one is shared: only the ratios mean something). Every figure is the best of several
# repetitions. Writes OUT/bench.txt (the table), OUT/bench.json (the numbers) and OUT/bench.png
# (each figure as a percentage of its bound, gnuplot). OUT defaults to BUILD/bench.
#   bounds: cblas_sgemm 512^3 GFLOP/s on 1 and 2 OpenBLAS threads, memory read bandwidth
#           (cblas_sasum over 256 MiB and over 24 MiB), the fair PyTorch model
#           (bench/bench_torch.py: experts gather their tokens as Hugging Face's DeepseekV3MoE)
#   figures: training step (forward + CE + backward) on the GRPO-sized config (128 x 96 tokens)
#            and the default one (16 x 64), 1 and 2 threads, also against the rate OpenBLAS
#            reaches on the step's own sgemm shapes timed alone (model_bench train); decoding (aha_decode_step, 1 thread):
#            the demo model with 1 and 16 rows (128 positions), a dense d288, 6-layer, ffn 768
#            model with 1 row (256 positions) against its weight-read bound; aha_generate of
#            groups of 8 with the prompt prefilled once and shared vs fed stepwise per row;
#            weight transfer (bench/weights_bench.c, the demo model's weights) to 1, 2 and 4
#            actors against raw ZeroMQ loopback for the same bytes, and the learner's publishing
#            time per step with 1 actor against 4 (100% = flat)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-$BUILD/bench}
ITERS=${ITERS:-5}
PY=${PY:-/usr/bin/python3}
mkdir -p "$OUT"
cmake --build "$BUILD" --target model_bench weights_bench > /dev/null
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
MB="$BUILD/model_bench"

declare -A R # key -> value
# collect PREFIX CMD...: every "key value" line of CMD's output becomes R[PREFIX.key]
collect() {
    local pre=$1
    shift
    local line
    while read -r k v; do R[$pre.$k]=$v; done < <("$@")
}
declare -A I # machine: simd_path, openblas_core
while read -r k v; do I[$k]=$v; done < <("$MB" info)
echo "measuring bounds..." >&2
collect peak "$MB" peak
for cfg in "grpo 128 96" "default 16 64"; do
    set -- $cfg
    for thr in 1 2; do
        echo "measuring training $1 ($2 x $3 tokens, $thr thread(s))..." >&2
        collect "train.$1.${thr}t" "$MB" train "$1" "$2" "$3" "$ITERS" "$thr"
        collect "torch.$1.${thr}t" "$PY" bench/bench_torch.py "$1" "$2" "$3" "$ITERS" "$thr"
    done
done
echo "measuring decoding..." >&2
collect dec.default.1 "$MB" decode default 1 128 5
collect dec.default.16 "$MB" decode default 16 128 5
collect dec.default.16p "$MB" decode default 16 128 5 64
collect dec.dense288.1 "$MB" decode dense288 1 256 3
collect gen.1 "$MB" generate default 8 40 40 5 1
collect gen.4 "$MB" generate default 8 40 40 3 4
echo "measuring weight transfer..." >&2
collect wts "$BUILD/weights_bench" default $((ITERS > 8 ? ITERS : 8))

f() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", 100 * a / b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# rows: label | value | unit | bound | bound label | percent of bound
ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5|$(pct "$2" "$4")"); }
p1=${R[peak.sgemm_gflops_1t]} p2=${R[peak.sgemm_gflops_2t]}
for c in grpo default; do
    for thr in 1 2; do
        k="train.$c.${thr}t" t="torch.$c.${thr}t"
        peak=$([ "$thr" = 1 ] && echo "$p1" || echo "$p2")
        row "train $c ${thr}t GFLOP/s" "${R[$k.train_gflops]}" "GFLOP/s" "$peak" "sgemm ${thr}t"
        row "train $c ${thr}t vs its shapes" "${R[$k.train_gflops]}" "GFLOP/s" \
            "${R[$k.shapes_sgemm_gflops]}" "sgemm, shapes"
        row "train $c ${thr}t tokens/s" "${R[$k.train_tokens_per_s]}" "tok/s" \
            "${R[$t.torch_train_tokens_per_s]}" "PyTorch ${thr}t"
    done
    row "train $c 2t vs 1t tokens/s" "${R[train.$c.2t.train_tokens_per_s]}" "tok/s" \
        "${R[train.$c.1t.train_tokens_per_s]}" "aha 1t"
done
# decoding: 16 rows of one group against 5x the 1-row rate (the goal), without and with a 64-token
# prompt the rows share (read once for all of them, docs/model.md); 1 row of the dense d288
# model against reading its weights once per token at the 24 MiB read bandwidth
row "decode demo 16 rows tokens/s" "${R[dec.default.16.decode_tokens_per_s]}" "tok/s" \
    "$(awk -v a="${R[dec.default.1.decode_tokens_per_s]}" 'BEGIN { print 5 * a }')" "5x 1 row"
row "decode demo 16 rows, 64 shared" "${R[dec.default.16p.decode_tokens_per_s]}" "tok/s" \
    "$(awk -v a="${R[dec.default.1.decode_tokens_per_s]}" 'BEGIN { print 5 * a }')" "5x 1 row"
row "decode d288 1 row tokens/s" "${R[dec.dense288.1.decode_tokens_per_s]}" "tok/s" \
    "$(awk -v bw="${R[peak.mem_read_24mib_gbs]}" -v b="${R[dec.dense288.1.weight_bytes]}" \
        'BEGIN { printf "%.0f", bw * 1e9 / b }')" "weight read"
# generation (aha_generate, G = 8, 40-token prompts, up to 40 new tokens): prompts prefilled once
# and shared by the group's rows against feeding every row's prompt stepwise; 4 groups per call
row "generate 1 group/call groups/s" "${R[gen.1.shared_groups_per_s]}" "groups/s" \
    "${R[gen.1.stepwise_groups_per_s]}" "no sharing"
row "generate 4 groups/call groups/s" "${R[gen.4.shared_groups_per_s]}" "groups/s" \
    "${R[gen.4.stepwise_groups_per_s]}" "no sharing"
# weight transfer: aha's chunked, checksummed fetch by N actors at once against raw ZeroMQ sending
# the same bytes in the same chunks to the same N threads; publishing time per step (pack +
# checksum + serving CPU) with 1 actor as a percentage of that with 4 (100% = flat)
for n in 1 2 4; do
    row "weights to $n actor(s) GB/s" "${R[wts.aha_gbs_$n]}" "GB/s" "${R[wts.raw_gbs_$n]}" "raw ZeroMQ"
done
row "publish/step 1 actor ms" "${R[wts.publish_step_ms_1]}" "ms" "${R[wts.publish_step_ms_4]}" \
    "4 actors"

{
    echo "model kernels: SIMD path ${I[simd_path]}, OpenBLAS core ${I[openblas_core]}"
    echo "bounds measured in this run: cblas_sgemm 512^3 $(f "$p1") GFLOP/s (1 thread), $(f "$p2") (2 threads);"
    echo "memory read $(f "${R[peak.mem_read_gbs]}") GB/s (256 MiB), $(f "${R[peak.mem_read_24mib_gbs]}") GB/s (24 MiB)"
    echo "decoding 1 row of the demo model: ${R[dec.default.1.decode_tokens_per_s]} tokens/s (the 16-row row's bound is 5x this)"
    echo "training FLOPs/token = 6 x active params + 12 x layers x dim x T (docs/model.md)"
    printf '%-34s %12s %-8s %12s %-14s %7s\n' figure value unit bound "bound is" "%"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r l v u b bl p <<< "$r"
        printf '%-34s %12s %-8s %12s %-14s %6s%%\n' "$l" "$v" "$u" "$b" "$bl" "$p"
    done
} | tee "$OUT/bench.txt"

# JSON of every raw number plus the table rows
{
    echo "{"
    echo "  \"machine\": {\"simd_path\": \"${I[simd_path]}\", \"openblas_core\": \"${I[openblas_core]}\"},"
    echo "  \"raw\": {"
    keys=$(printf '%s\n' "${!R[@]}" | sort)
    n=$(echo "$keys" | wc -l) i=0
    for k in $keys; do
        i=$((i + 1))
        printf '    "%s": %s%s\n' "$k" "${R[$k]}" "$([ $i -lt "$n" ] && echo ,)"
    done
    echo "  },"
    echo "  \"table\": ["
    n=${#ROWS[@]} i=0
    for r in "${ROWS[@]}"; do
        i=$((i + 1))
        IFS='|' read -r l v u b bl p <<< "$r"
        printf '    {"figure": "%s", "value": %s, "unit": "%s", "bound": %s, "bound_is": "%s", "percent_of_bound": %s}%s\n' \
            "$l" "$v" "$u" "$b" "$bl" "$p" "$([ $i -lt "$n" ] && echo ,)"
    done
    echo "  ]"
    echo "}"
} > "$OUT/bench.json"

# chart: each figure as a percentage of its bound
if command -v gnuplot > /dev/null; then
    for r in "${ROWS[@]}"; do
        IFS='|' read -r l v u b bl p <<< "$r"
        printf '"%s\\n(of %s)" %s\n' "$l" "$bl" "$p"
    done > "$OUT/bench.dat"
    gnuplot <<EOF
set terminal pngcairo size 1400,700 font ",9"
set output "$OUT/bench.png"
set title "aha make bench: each figure as % of its bound measured in the same run"
set style fill solid 0.8
set boxwidth 0.7
set ylabel "% of bound"
set yrange [0:*]
set xtics rotate by -35 left
set rmargin 14
set bmargin 9
set grid ytics
set arrow from graph 0, first 100 to graph 1, first 100 nohead dt 2
plot "$OUT/bench.dat" using 0:2:xtic(1) with boxes notitle, "" using 0:2:(sprintf("%d%%", \$2)) with labels offset 0,0.7 notitle
EOF
    echo "wrote $OUT/bench.txt, $OUT/bench.json, $OUT/bench.png" >&2
else
    echo "gnuplot not found: no chart; wrote $OUT/bench.txt, $OUT/bench.json" >&2
fi
