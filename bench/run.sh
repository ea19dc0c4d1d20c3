#!/usr/bin/env bash
# make bench: C model vs the PyTorch reference on the same config and thread count, measured in
# this run (machines differ; only the ratio means something).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" --target model_bench > /dev/null
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
B=${B:-16} T=${T:-64}
c_out=$("$BUILD/model_bench" "$B" "$T" 20)
echo "$c_out" | grep -v '^c_fwd'
t_out=$(/usr/bin/python3 bench/bench_torch.py "$B" "$T" 10)
c=$(echo "$c_out" | awk '/^c_fwd_bwd_tokens_per_s/ {print $2}')
t=$(echo "$t_out" | awk '/^torch_fwd_bwd_tokens_per_s/ {print $2}')
echo "PyTorch reference forward+backward: $t tokens/s (float32, 1 thread)"
awk -v c="$c" -v t="$t" 'BEGIN { printf "ratio C / PyTorch (forward+backward, B='"$B"' T='"$T"', 1 thread): %.2fx\n", c / t }'
