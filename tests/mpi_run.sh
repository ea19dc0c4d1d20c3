#!/bin/bash
# tests/mpi_run.sh N PROGRAM [ARGS...]: runs PROGRAM on N MPI ranks with mpirun (Open MPI), with
# the settings a root user in a container needs (docs/mpi.md). Exit 77 (CTest: skipped) when
# mpirun is missing.
set -u
n=$1
shift
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun not found (install openmpi-bin: deploy/install-deps.sh)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shared-memory transport only (no network probing); one BLAS thread per rank
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# sanitizer settings (make sanitize) reach every rank
fwd=()
for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
    [ -n "${!v:-}" ] && fwd+=(-x "$v")
done
exec mpirun -np "$n" --oversubscribe --bind-to none "${fwd[@]}" "$@"
