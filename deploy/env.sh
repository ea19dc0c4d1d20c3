# deploy/env.sh — sourced by the scripts that run the built aha from the checkout (deploy/demo.sh,
# bench/rl_ablations.sh, bench/roles_bench.sh, bench/score_bench.sh): they work from the project
# root, AHA is the binary ($AHA, else $BUILD/aha, else build/aha) and OpenBLAS runs one thread
# unless OPENBLAS_NUM_THREADS says otherwise.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AHA=${AHA:-${BUILD:-build}/aha}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
